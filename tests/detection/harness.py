"""Shared helpers for the detection and compliance tests: the prod config document, whole-program
renders under mocks, record lookups, and everything a render writes as one text."""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Optional

import pytest
import yaml

from components.config import ConfigError, parse_stack_config

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "hardened-stack:"


def prod_document() -> dict:
    raw = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())["config"]
    return copy.deepcopy({k[len(PREFIX):]: v for k, v in raw.items() if k.startswith(PREFIX)})


def render(overrides: Optional[dict[str, Any]] = None, program=None, stack: str = "prod"):
    from hardened.render import run_program

    return run_program(stack, ROOT, overrides={(k if ":" in k else PREFIX + k): v
                                               for k, v in (overrides or {}).items()}, program=program)


def k8s(records, kind: str, name: Optional[str] = None, namespace: Optional[str] = None) -> list[dict]:
    out = []
    for r in records:
        if not r.is_kubernetes_object:
            continue
        meta = r.inputs.get("metadata", {})
        if r.inputs["kind"] == kind and name in (None, meta.get("name")) and namespace in (None, meta.get("namespace")):
            out.append(r.inputs)
    return out


def one(records, typ: str, name_suffix: str = ""):
    found = [r for r in records if r.type == typ and r.name.endswith(name_suffix)]
    assert len(found) == 1, f"expected one {typ} *{name_suffix}, got {[r.name for r in found]}"
    return found[0]


def all_text(records, out_dir: Path) -> str:
    """Every file a render writes (manifests/**, resources.json) plus the recorded inputs."""
    from hardened.render import write_output

    write_output(records, out_dir, "prod")
    return "\n".join(p.read_text() for p in out_dir.rglob("*") if p.is_file()) + json.dumps(
        [r.inputs for r in records])


def config_error(mutate) -> str:
    doc = prod_document()
    mutate(doc)
    with pytest.raises(ConfigError) as exc:
        parse_stack_config(doc)
    return str(exc.value)
