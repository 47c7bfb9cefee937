"""Shared helpers for the vault and secrets tests: the prod config document, a render of the whole
program that also records each resource's dependencies, and record lookups."""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Optional

import yaml

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "hardened-stack:"
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def prod_document() -> dict:
    raw = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())["config"]
    return copy.deepcopy({k[len(PREFIX):]: v for k, v in raw.items() if k.startswith(PREFIX)})


def render(overrides: Optional[dict[str, Any]] = None, program=None):
    """Run the real program (or *program*) under mocks with prod config plus *overrides*
    (section -> value). Returns (records, dependencies by URN)."""
    import hardened.render as hr

    deps: dict[str, list[str]] = {}
    original = hr._make_mocks

    def make(records):
        mocks, monitor = original(records)
        register = monitor.RegisterResource

        def recording(request):
            response = register(request)
            deps[response.urn] = list(request.dependencies)
            return response

        monitor.RegisterResource = recording
        return mocks, monitor

    hr._make_mocks = make
    try:
        records = hr.run_program("prod", ROOT, overrides={
            (k if ":" in k else PREFIX + k): v for k, v in (overrides or {}).items()}, program=program)
    finally:
        hr._make_mocks = original
    return records, deps


def k8s(records, kind: str, name: Optional[str] = None, namespace: Optional[str] = None) -> list[dict]:
    out = []
    for r in records:
        if not r.is_kubernetes_object:
            continue
        m = r.inputs
        meta = m.get("metadata", {})
        if m["kind"] == kind and name in (None, meta.get("name")) and namespace in (None, meta.get("namespace")):
            out.append(m)
    return out


def of_type(records, typ: str) -> list:
    return [r for r in records if r.type == typ]


def one(records, typ: str, name_suffix: str = ""):
    found = [r for r in records if r.type == typ and r.name.endswith(name_suffix)]
    assert len(found) == 1, f"expected one {typ} *{name_suffix}, got {[r.name for r in found]}"
    return found[0]


def policy_doc(value: Any) -> dict:
    return json.loads(value) if isinstance(value, str) else value
