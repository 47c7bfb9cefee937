"""Property: any mutation of the prod config document (a key dropped or renamed, a value of the
wrong type, a number out of range) either validates or fails with ConfigError whose message
names a ``hardened-stack:<key path>``; never another exception."""
from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.config import SECRET_KEYS, ConfigError, config_keys, parse_stack_config

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "hardened-stack:"
KNOWN_KEYS = set(config_keys()) | set(SECRET_KEYS)
KEY_PATH = re.compile(r"hardened-stack:([A-Za-z][A-Za-z0-9_]*)")


def names_a_key(message: str, doc: dict) -> bool:
    """The message names ``hardened-stack:<key>...`` for a known key, or for the unknown key the
    document holds (a rename)."""
    return any(m in KNOWN_KEYS or m in doc for m in KEY_PATH.findall(message))


def prod_document() -> dict:
    raw = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())["config"]
    return {k[len(PREFIX):]: v for k, v in raw.items() if k.startswith(PREFIX)}


PROD = prod_document()


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            out += paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += paths(v, prefix + (i,))
    return out


ALL_PATHS = paths(PROD)


def get(doc: Any, path: tuple) -> Any:
    for p in path:
        doc = doc[p]
    return doc


NUMERIC_PATHS = [p for p in ALL_PATHS if isinstance(get(PROD, p), (int, float)) and not isinstance(get(PROD, p), bool)]

WRONG_TYPES = [None, True, 0, -1, 3.5, "", "not-a-valid-value", [], {}, [1, "x"], {"unexpected": 1}]
OUT_OF_RANGE = [-1, 0, 1, 2, 10**9, -(10**9), 0.5]


@st.composite
def mutated_documents(draw) -> tuple[str, dict]:
    doc = copy.deepcopy(PROD)
    op = draw(st.sampled_from(["drop", "rename", "wrong-type", "out-of-range", "two-at-once"]))
    steps = 2 if op == "two-at-once" else 1
    done = []
    for _ in range(steps):
        kind = op if op != "two-at-once" else draw(st.sampled_from(["drop", "rename", "wrong-type", "out-of-range"]))
        candidates = NUMERIC_PATHS if kind == "out-of-range" else paths(doc)
        if not candidates:
            continue
        path = draw(st.sampled_from(candidates))
        try:
            parent = get(doc, path[:-1])
        except (KeyError, IndexError, TypeError):
            continue
        key = path[-1]
        if kind == "drop":
            if isinstance(parent, dict):
                del parent[key]
            else:
                parent.pop(key)
        elif kind == "rename" and isinstance(parent, dict):
            parent[str(key) + draw(st.sampled_from(["x", "_", "s", "Enabled"]))] = parent.pop(key)
        elif kind == "wrong-type":
            parent[key] = draw(st.sampled_from(WRONG_TYPES))
        elif kind == "out-of-range":
            parent[key] = draw(st.sampled_from(OUT_OF_RANGE))
        done.append(f"{kind} {'.'.join(map(str, path))}")
    return "; ".join(done), doc


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=mutated_documents())
def test_any_config_mutation_validates_or_names_the_field(case):
    what, doc = case
    try:
        parse_stack_config(doc)
    except ConfigError as e:
        message = str(e)
        assert names_a_key(message, doc), f"{what}: ConfigError names no hardened-stack:<key>: {message}"
    # any other exception propagates and fails the property, with the mutation in the report


def test_unmutated_prod_document_validates():
    parse_stack_config(copy.deepcopy(PROD))


@pytest.mark.parametrize("path", [("cluster", "name"), ("admission", "replicas"), ("namespaces",)],
                         ids=lambda p: ".".join(p))
def test_wrong_type_fails_naming_the_key(path):
    doc = copy.deepcopy(PROD)
    get(doc, path[:-1])[path[-1]] = {"unexpected": 1}
    with pytest.raises(ConfigError, match=re.escape(PREFIX + path[0])):
        parse_stack_config(doc)


def test_out_of_range_numbers_are_generated():
    assert NUMERIC_PATHS, "the prod document has no numbers to push out of range"


@pytest.fixture(scope="module")
def fuzz_root(tmp_path_factory) -> Path:
    """A project root whose program is the real one (symlinks) and whose Pulumi.fuzz.yaml we write,
    so a dropped top-level key is really absent."""
    root = tmp_path_factory.mktemp("fuzz-root")
    for entry in ROOT.iterdir():
        if not entry.name.startswith(("Pulumi.", ".")) or entry.name == "Pulumi.yaml":
            (root / entry.name).symlink_to(entry)
    return root


def parses(doc: dict) -> bool:
    try:
        parse_stack_config(copy.deepcopy(doc))
    except ConfigError:
        return False
    return True


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                                              HealthCheck.function_scoped_fixture])
@given(case=mutated_documents())
def test_whole_program_with_a_mutated_config_runs_or_fails_naming_the_field(fuzz_root, case):
    # Components validate their own args and cross-section rules too: run the real program under
    # mocks on mutants that pass the config model (the others are covered above, cheaply).
    import pulumi
    from hypothesis import assume

    from hardened.render import run_program

    what, doc = case
    assume(parses(doc))
    raw = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())["config"]
    config = {k: v for k, v in raw.items() if not k.startswith(PREFIX)} | {PREFIX + k: v for k, v in doc.items()}
    (fuzz_root / "Pulumi.fuzz.yaml").write_text(yaml.safe_dump({"config": config}))
    try:
        run_program("fuzz", fuzz_root)
    except pulumi.RunError as e:
        assert names_a_key(str(e), doc), f"{what}: {type(e).__name__} names no hardened-stack:<key>: {e}"
