"""Value keys proven by render: every leaf of the values the stack passes to a Helm chart must
change what the chart renders (what ``helm.v4.Chart`` registers), or be listed as intentionally
inert, with why, in ``tests/judges/inert_values.yaml``.

A leaf is a scalar, an empty map or an empty list. Removing it deletes its key from its map, or
its element from its list (a map inside a list loses only that key). The chart is re-rendered
with :func:`hardened.engine.render_chart` exactly as the prod render does (same release,
namespace, kube version), and the objects compared. Hooks are dropped by ``helm.v4.Chart``, so a
value that only reaches a hook changes nothing deployed and counts as inert. The charts' own
``crds/`` folders are left out of these renders (Helm never templates them, so no value can change
them); CRDs a chart renders from templates are compared like any object.

A value that equals the chart's default also changes nothing: the message says so, and the fix
is to drop it or to list it as inert (e.g. "pinned so a chart upgrade cannot change it").
"""
from __future__ import annotations

import copy
import functools
import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional

import yaml

INERT_FILE = Path(__file__).with_name("inert_values.yaml")
Path_ = tuple  # of str (map keys) and int (list indexes)


@dataclass(frozen=True)
class ChartCall:
    """One ``helm.v4.Chart`` of the render: what the stack asks the provider to render."""

    resource: str
    chart: str
    version: str
    release: str
    namespace: str
    values: Mapping[str, Any]


def chart_calls(resources_json: Path) -> list[ChartCall]:
    from hardened import engine

    doc = json.loads(Path(resources_json).read_text())
    out = []
    for r in doc["resources"]:
        if r["type"] != engine.CHART_TOKEN:
            continue
        i = r["inputs"]
        out.append(ChartCall(r["name"], str(i["chart"]), str(i["version"]), str(i.get("name") or r["name"]),
                             str(i.get("namespace") or "default"), i.get("values") or {}))
    return out


def leaves(value: Any, path: Path_ = ()) -> Iterator[tuple[Path_, Any]]:
    if isinstance(value, Mapping) and value:
        for k, v in value.items():
            yield from leaves(v, path + (k,))
    elif isinstance(value, list) and value:
        for i, v in enumerate(value):
            yield from leaves(v, path + (i,))
    elif path:
        yield path, value


def without(values: Mapping[str, Any], path: Path_) -> dict:
    """*values* with the leaf at *path* removed (its key, or its list element)."""
    out = copy.deepcopy(dict(values))
    node: Any = out
    for step in path[:-1]:
        node = node[step]
    del node[path[-1]]
    return out


def dotted(path: Path_) -> str:
    """``a.b[0].c``; a key holding a dot or a bracket is quoted: ``podAnnotations["x.io/y"]``."""
    text = ""
    for step in path:
        if isinstance(step, int):
            text += f"[{step}]"
        elif any(ch in step for ch in '.[]"') or not step:
            text += f'["{step}"]'
        else:
            text += f".{step}" if text else step
    return text


def chart_default(call: ChartCall, path: Path_, cache: Optional[str] = None) -> tuple[bool, Any]:
    """(found, value) of *path* in the chart's values.yaml (or a subchart's, under its name)."""
    from hardened import engine

    directory = engine.chart_dir(call.chart, call.version, cache)
    candidates = [(directory / "values.yaml", path)]
    if path and isinstance(path[0], str) and (directory / "charts" / path[0] / "values.yaml").is_file():
        candidates.append((directory / "charts" / path[0] / "values.yaml", path[1:]))
    for file, rest in candidates:
        try:
            doc: Any = yaml.safe_load(file.read_text()) or {}
        except (OSError, yaml.YAMLError):
            continue
        # Istio's charts keep their defaults under _internal_defaults_do_not_set
        for node in (doc, doc.get("_internal_defaults_do_not_set") if isinstance(doc, Mapping) else None):
            found, value = _lookup(node, rest)
            if found:
                return True, value
    return False, None


def _lookup(node: Any, path: Path_) -> tuple[bool, Any]:
    if node is None:
        return False, None
    for step in path:
        if isinstance(node, Mapping) and step in node:
            node = node[step]
        elif isinstance(node, list) and isinstance(step, int) and step < len(node):
            node = node[step]
        else:
            return False, None
    return True, node


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _decode(text: str) -> str:
    return json.dumps(_ORIGINAL_DECODE(text))


_ORIGINAL_DECODE = None


def _memoise_decoding() -> None:
    """The Go YAML decoder the engine uses is a pure function of the text; re-renders decode the
    same large documents (templated CRDs) again and again, so remember them (a copy each time:
    the engine normalises objects in place)."""
    global _ORIGINAL_DECODE
    import helm_python

    if _ORIGINAL_DECODE is None:
        _ORIGINAL_DECODE = helm_python.values_from_yaml
        helm_python.values_from_yaml = lambda text: json.loads(_decode(text))


def fingerprint(call: ChartCall, values: Mapping[str, Any], kube_version: str, cache: Optional[str]) -> str:
    """What the provider would register for *call* rendered with *values*, as one string (a
    render error is a fingerprint too: a value the chart requires is certainly not inert)."""
    from hardened import engine

    try:
        render = engine.render_chart(call.chart, call.version, release=call.release, namespace=call.namespace,
                                     values=values, kube_version=kube_version, skip_crds=True, cache=cache)
    except engine.ChartError as e:
        return f"error: {e}"
    return json.dumps(render.objects, sort_keys=True)


@dataclass(frozen=True)
class Outcome:
    chart: ChartCall
    path: Path_
    value: Any
    changes: bool


def prove_chart(call: ChartCall, kube_version: str, cache: Optional[str] = None) -> list[Outcome]:
    """Remove each leaf of *call*'s values in turn; say whether the render changed."""
    _memoise_decoding()
    base = fingerprint(call, call.values, kube_version, cache)
    return [Outcome(call, path, value, fingerprint(call, without(call.values, path), kube_version, cache) != base)
            for path, value in leaves(call.values)]


def _worker_init(root: str, cache: Optional[str]) -> None:
    import sys

    if root not in sys.path:
        sys.path.insert(0, root)
    if cache:
        os.environ["HARDENED_CHART_CACHE"] = cache


def _prove(args) -> list[Outcome]:
    return prove_chart(*args)


def prove_all(calls: list[ChartCall], kube_version: str, cache: Optional[str] = None,
              workers: int = 2) -> list[Outcome]:
    """Every chart's leaves; charts spread over *workers* processes (spawned: the Helm SDK's Go
    runtime does not survive a fork), the most expensive first."""
    order = sorted(calls, key=lambda c: -len(list(leaves(c.values))))
    if workers <= 1:
        return [o for c in order for o in prove_chart(c, kube_version, cache)]
    import multiprocessing

    root = str(Path(__file__).resolve().parents[2])
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init, initargs=(root, cache)) as pool:
        results = pool.map(_prove, [(c, kube_version, cache) for c in order])
        return [o for chunk in results for o in chunk]


# ---------------------------------------------------------------------------------------------
# The verdict
# ---------------------------------------------------------------------------------------------

def load_inert(path: Path = INERT_FILE) -> dict[str, dict[str, str]]:
    """chart -> dotted key path -> why it is inert on purpose."""
    if not path.is_file():
        return {}
    doc = yaml.safe_load(path.read_text()) or {}
    bad = [f"{c}.{k}" for c, keys in doc.items() for k, why in (keys or {}).items()
           if not isinstance(why, str) or len(why.strip()) < 10]
    if bad:
        raise ValueError(f"{path.name}: every inert key needs a reason (a sentence): {', '.join(bad)}")
    return {c: dict(keys or {}) for c, keys in doc.items()}


def verdict(outcomes: list[Outcome], inert: Mapping[str, Mapping[str, str]],
            cache: Optional[str] = None) -> list[str]:
    """Failures: inert leaves not listed, listed leaves that are not inert, listed keys the stack
    no longer passes."""
    failures = []
    seen: dict[str, set[str]] = {}
    for o in outcomes:
        key = dotted(o.path)
        seen.setdefault(o.chart.chart, set()).add(key)
        listed = key in (inert.get(o.chart.chart) or {})
        if not o.changes and not listed:
            found, default = chart_default(o.chart, o.path, cache)
            hint = " (it equals the chart's default)" if found and default == o.value else (
                " (not a key of the chart's values.yaml: a typo, a key of another version, or one the "
                "templates read without a default)" if not found else "")
            failures.append(f"{o.chart.chart} {o.chart.version}: {key} = {json.dumps(o.value)} changes nothing in "
                            f"the render{hint}; remove it, fix the key, or list it in {INERT_FILE.name} with why")
        elif o.changes and listed:
            failures.append(f"{o.chart.chart} {o.chart.version}: {key} is listed as inert in {INERT_FILE.name} but "
                            "removing it changes the render: drop the entry")
    for chart, keys in inert.items():
        for key in keys:
            if key not in seen.get(chart, set()):
                failures.append(f"{INERT_FILE.name}: {chart}: {key} is not a value the stack passes: drop the entry")
    return failures
