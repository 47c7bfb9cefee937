"""Fixtures for the workload identity and mesh tests: the prod config document and a whole-program
render under mocks."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "hardened-stack:"


def prod_document() -> dict:
    raw = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())["config"]
    return copy.deepcopy({k[len(PREFIX):]: v for k, v in raw.items() if k.startswith(PREFIX)})


def render(overrides=None):
    import hardened.render as hr

    return hr.run_program("prod", ROOT, overrides={PREFIX + k: v for k, v in (overrides or {}).items()})


@pytest.fixture
def prod_doc() -> dict:
    return prod_document()


@pytest.fixture(scope="package")
def prod_records():
    return render()


def k8s(records, kind: str, name=None, namespace=None) -> list[dict]:
    out = []
    for r in records:
        if not r.is_kubernetes_object:
            continue
        m = r.inputs
        meta = m.get("metadata", {})
        if m["kind"] == kind and name in (None, meta.get("name")) and namespace in (None, meta.get("namespace")):
            out.append(m)
    return out


def charts(records, chart: str) -> list:
    return [r for r in records if r.type == "kubernetes:helm.sh/v4:Chart" and r.inputs.get("chart") == chart]
