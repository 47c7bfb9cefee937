"""Input built to exhaust the reader (issue 16, robustness): a YAML alias bomb ("billion laughs")
or nesting thousands of levels deep ends ``python -m hardened check`` with exit 2 and a message
naming the file and line, quickly and in bounded memory; never exit 0, never a traceback. Nesting
up to the documented limit (MAX_DEPTH) still goes through the whole pipeline."""
from __future__ import annotations

import json
import subprocess
import sys
import time
import tracemalloc

import pytest
import yaml

from hardened.cli import main
from hardened.manifests import MAX_DEPTH, ManifestError, load_path, load_text

from .conftest import ROOT

HEAD = "apiVersion: example.com/v1\nkind: Thing\nmetadata: {name: t, namespace: shop}\n"


def billion_laughs(levels: int = 9) -> str:
    lines = [HEAD + "spec:", '  a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels + 1):
        name, previous = chr(ord("a") + i), chr(ord("a") + i - 1)
        lines.append(f"  {name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def deep_flow(depth: int) -> str:
    return HEAD + "spec: {x: " + "[" * (depth - 2) + "]" * (depth - 2) + "}\n"


def deep_compact(depth: int) -> str:
    return HEAD + "spec:\n  x:\n  " + "- " * (depth - 2) + "v\n"


def deep_indented(depth: int) -> str:
    return HEAD + "spec:\n" + "".join("  " * i + "k:\n" for i in range(1, depth)) + "  " * depth + "v\n"


def deep_json(depth: int) -> str:
    return json.dumps({"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "t"}})[:-1] + \
        ', "spec": ' + '{"a": ' * (depth - 1) + "1" + "}" * (depth - 1) + "}\n"


HOSTILE = {
    "billion-laughs.yaml": (billion_laughs(), "YAML aliases expand this document"),
    "flow-5000.yaml": (deep_flow(5000), f"nested more than {MAX_DEPTH} levels"),
    "compact-5000.yaml": (deep_compact(5000), f"nested more than {MAX_DEPTH} levels"),
    "indented-1500.yaml": (deep_indented(1500), f"nested more than {MAX_DEPTH} levels"),
    "flow-100000.yaml": (deep_flow(100_000), f"nested more than {MAX_DEPTH} levels"),
    "json-5000.json": (deep_json(5000), f"nested more than {MAX_DEPTH} levels"),
    "json-600.json": (deep_json(600), f"nested more than {MAX_DEPTH} levels"),
    "flow-300.yaml": (deep_flow(300), f"nested more than {MAX_DEPTH} levels"),
    "recursive-alias.yaml": (HEAD + "spec:\n  a: &a\n    b: [1, *a]\n", "holds an alias to itself"),
}

MEASURE = """
import json, resource, subprocess, sys, time
started = time.perf_counter()
proc = subprocess.run([sys.executable, "-m", "hardened", "check", sys.argv[1]], capture_output=True, text=True)
print(json.dumps({"status": proc.returncode, "stderr": proc.stderr, "seconds": time.perf_counter() - started,
                  "peak_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_input_exits_2_quickly_in_bounded_memory(tmp_path, name):
    text, problem = HOSTILE[name]
    path = tmp_path / name
    path.write_text(text)
    proc = subprocess.run([sys.executable, "-c", MEASURE, str(path)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    result = json.loads(proc.stdout)
    assert result["status"] == 2, result["stderr"]
    assert f"{name}:" in result["stderr"] and problem in result["stderr"]
    assert "Traceback" not in result["stderr"]
    # Generous bounds for a shared CI machine: the command (interpreter, pack start-up) takes about
    # a second here even on a loaded machine (the input is refused before the pack has started).
    assert result["seconds"] < 10 and result["peak_kb"] < 400 * 1024, result


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_the_reader_refuses_hostile_input_in_well_under_a_second_and_a_few_megabytes(tmp_path, name):
    text, problem = HOSTILE[name]
    path = tmp_path / name
    path.write_text(text)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(ManifestError) as raised:
            load_path(path)
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert problem in raised.value.problems[0]
    assert seconds < 3 and peak < 10 * len(text) + 32 * 2 ** 20, (seconds, peak)


def depth_of(value) -> int:
    """Levels of mappings and lists, the outermost counting one (an empty one counts too)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


@pytest.mark.parametrize("shape", [deep_flow, deep_compact, deep_indented, deep_json],
                         ids=lambda f: f.__name__)
def test_nesting_just_past_the_limit_is_refused_and_at_the_limit_read(shape):
    [thing] = load_text(shape(MAX_DEPTH), "limit.yaml")
    assert depth_of(thing.inputs) == MAX_DEPTH
    with pytest.raises(ManifestError) as raised:
        load_text(shape(MAX_DEPTH + 1), "over.yaml")
    assert f"nested more than {MAX_DEPTH} levels" in raised.value.problems[0]


def test_an_object_at_the_depth_limit_goes_through_the_whole_check(capsys, tmp_path):
    (tmp_path / "deep.yaml").write_text(deep_flow(MAX_DEPTH))
    status = main(["check", str(tmp_path / "deep.yaml")])
    out, err = capsys.readouterr()
    assert status == 0 and "1 resource," in out, err


def test_ordinary_anchors_and_aliases_are_expanded(tmp_path):
    text = HEAD + "spec:\n  a: &limits {cpu: '1', memory: 1Gi}\n  b: *limits\n  c: {<<: *limits, cpu: '2'}\n"
    [thing] = load_text(text)
    assert thing.inputs["spec"] == {"a": {"cpu": "1", "memory": "1Gi"}, "b": {"cpu": "1", "memory": "1Gi"},
                                    "c": {"cpu": "2", "memory": "1Gi"}}


def test_many_aliases_to_a_small_anchor_are_not_a_bomb():
    """A big manifest that reuses an anchor a thousand times expands to a few times what is written."""
    docs = [HEAD.replace("name: t", f"name: t{i}") + "spec:\n  env: &env [{name: A, value: '1'}]\n"
            + "".join(f"  c{j}: *env\n" for j in range(200)) for i in range(5)]
    assert len(load_text("---\n".join(docs))) == 5
    assert yaml.safe_load(docs[0])["spec"]["c199"] == [{"name": "A", "value": "1"}]


def test_a_lone_surrogate_escape_in_json_reads_as_kubectl_reads_it(capsys, tmp_path):
    """Go's encoding/json (kubectl's JSON reader) decodes an escaped UTF-16 surrogate that pairs
    with nothing as U+FFFD (encoding/json/decode.go ``unquote``: "Invalid surrogate; fall back to
    replacement rune"); a pair is one character. Python's reader would keep the lone half, which no
    UTF-8 text can carry to the pack: check crashed on it."""
    doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "odd", "namespace": "default"},
           "data": {"lone": "a\ud800b", "pair": "\ud83d\ude00", "\udfffkey": "x"}}
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(doc))  # ensure_ascii: every character as a \u escape
    assert "\\ud800" in path.read_text()
    [thing] = load_path(path)
    assert thing.inputs["data"] == {"lone": "a\ufffdb", "pair": "\U0001F600", "\ufffdkey": "x"}
    status = main(["check", str(path)])
    out, err = capsys.readouterr()
    assert status in (0, 1) and "1 resource" in out and "bug" not in err, err
    # an escaped backslash before "ud800" is no escape: the text stays as written
    path.write_text(json.dumps({**doc, "data": {"text": "\\ud800"}}))
    assert load_path(path)[0].inputs["data"] == {"text": "\\ud800"}
