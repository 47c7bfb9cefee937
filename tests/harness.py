"""Helpers every area's tests share: the stack config as a plain document, whole-program renders
under the SDK mocks, and look-ups in what a render registered."""
from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any, Callable, Optional

import yaml

ROOT = Path(__file__).resolve().parents[1]
PREFIX = "hardened-stack:"


def prod_document(stack: str = "prod") -> dict:
    """The stack's ``hardened-stack:`` config as a plain (camelCase) document, a fresh copy."""
    raw = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    return copy.deepcopy({k[len(PREFIX):]: v for k, v in raw.items() if k.startswith(PREFIX)})


def full_keys(sections: Optional[dict[str, Any]]) -> dict[str, Any]:
    """Section overrides (``{"vault": {...}}``) as config keys (``hardened-stack:vault``)."""
    return {(k if ":" in k else PREFIX + k): v for k, v in (sections or {}).items()}


def render_records(overrides: Optional[dict[str, Any]] = None, program: Optional[Callable[[], Any]] = None,
                   stack: str = "prod") -> list:
    """Run the real program (or *program*) under mocks with the stack's config plus *overrides*
    (the stack as written: rendered once per test run, tests/rendercache.py)."""
    from hardened.render import run_program

    if not overrides and program is None:
        from tests.rendercache import cached_run_program

        return cached_run_program(stack, ROOT)
    return run_program(stack, ROOT, overrides=full_keys(overrides), program=program)


def render_with_dependencies(overrides: Optional[dict[str, Any]] = None, program=None, stack: str = "prod"):
    """Like :func:`render_records`, also returning each resource's dependencies by URN."""
    records = render_records(overrides, program, stack)
    return records, {r.urn: list(r.dependencies) for r in records}


def k8s(records, kind: str, name: Optional[str] = None, namespace: Optional[str] = None) -> list[dict]:
    """The manifests of *kind* (optionally with that name / namespace)."""
    out = []
    for r in records:
        if not r.is_kubernetes_object:
            continue
        meta = r.inputs.get("metadata", {})
        if r.inputs["kind"] == kind and name in (None, meta.get("name")) and namespace in (None, meta.get("namespace")):
            out.append(r.inputs)
    return out


def of_type(records, typ: str) -> list:
    return [r for r in records if r.type == typ]


def one(records, typ: str, name_suffix: str = ""):
    found = [r for r in records if r.type == typ and r.name.endswith(name_suffix)]
    assert len(found) == 1, f"expected one {typ} *{name_suffix}, got {[r.name for r in found]}"
    return found[0]


def charts(records, chart: str) -> list:
    return [r for r in records if r.type == "kubernetes:helm.sh/v4:Chart" and r.inputs.get("chart") == chart]


def all_text(records, out_dir: Path) -> str:
    """Every file a render writes (manifests/**, resources.json) plus the recorded inputs."""
    from hardened.render import write_output

    write_output(records, out_dir, "prod")
    return "\n".join(p.read_text() for p in out_dir.rglob("*") if p.is_file()) + json.dumps(
        [r.inputs for r in records])


OPT_OUT_OWNER = {"team": "platform-security", "contact": "platform-security@lego-mcp.io"}


def reviewed(overrides: dict[str, Any], stack: str = "prod", whole: bool = False) -> dict[str, Any]:
    """*overrides* (section overrides, or with *whole* a whole config document) plus an ``optOuts``
    entry for every opt-out they make (components.ledger): for tests whose subject is what the chart
    or the pack does with a weakened setting, which a prod stack accepts only once reviewed."""
    from components.config import parse_stack_config
    from components.ledger import opt_outs

    doc = copy.deepcopy(overrides if whole else {**prod_document(stack), **overrides})
    doc["cluster"] = {**doc["cluster"], "environment": "dev"}
    entries = [{"id": f"test-{i}", "owner": OPT_OUT_OWNER, "setting": o.setting,
                "reason": "reviewed weakening under test", "expires": "2099-12-31"}
               for i, o in enumerate(opt_outs(parse_stack_config(doc)))]
    return {**overrides, "optOuts": entries}


def assert_generated_section(path: Path, start: str, end: str, body: str, what: str, markers: str,
                             test_file: str) -> None:
    """The part of *path* between the *start* and *end* markers is exactly *body* (a table a test
    generates from the code); ``HARDENED_UPDATE_DOCS=1`` rewrites it instead of failing."""
    text = path.read_text()
    assert start in text and end in text, f"docs/{path.name} lacks the {markers} markers"
    before, rest = text.split(start, 1)
    current, after = rest.split(end, 1)
    expected = f"\n{body}\n"
    if os.environ.get("HARDENED_UPDATE_DOCS") == "1":
        path.write_text(f"{before}{start}{expected}{end}{after}")
        current = expected
    assert current == expected, (f"docs/{path.name}'s {what} is stale; rerun with "
                                 f"HARDENED_UPDATE_DOCS=1 pytest {test_file}")
