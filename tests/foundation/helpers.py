"""Helpers shared by the foundation tests."""
from __future__ import annotations

import json


def manifests(records) -> list[dict]:
    return [r.inputs for r in records if r.is_kubernetes_object]


def find(records, kind: str, name: str | None = None, namespace: str | None = None) -> list[dict]:
    out = []
    for m in manifests(records):
        meta = m.get("metadata", {})
        if m["kind"] == kind and (name is None or meta.get("name") == name) and (
                namespace is None or meta.get("namespace") == namespace):
            out.append(m)
    return out


def dumps(obj) -> str:
    return json.dumps(obj, sort_keys=True)
