"""Inputs for the benchmarks: stack configs with N tenants, and directories of N manifests."""
from __future__ import annotations

import copy
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PREFIX = "hardened-stack:"
DIGEST = "sha256:" + "5f0c" * 16


def prod_config() -> dict:
    return yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())["config"]


def tenant_config(n: int) -> dict:
    """The prod config with *n* tenant namespaces in all: prod's own plus generated ones, each
    generated tenant with one workload and one intent (its namespace's pods may call it)."""
    config = copy.deepcopy(prod_config())
    namespaces = config[PREFIX + "namespaces"]
    workloads = config[PREFIX + "workloads"]
    intents = config[PREFIX + "intents"]
    for i in range(n - len(namespaces)):
        ns = f"tenant-{i:04d}"
        namespaces.append({"name": ns, "quota": {"cpu": "4", "memory": "8Gi", "pods": 20}})
        workloads.append({"name": "api", "namespace": ns, "image": f"ghcr.io/lego-mcp/tenant-api@{DIGEST}",
                          "port": 8080, "replicas": 2,
                          "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                                        "limits": {"cpu": "500m", "memory": "512Mi"}},
                          "writablePaths": ["/tmp"]})
        intents.append({"from": f"{ns}/*", "to": f"{ns}/api", "port": 8080})
    return config


def project_root(tmp: Path, stacks: dict[str, dict]) -> Path:
    """A project root running the real program (symlinks) with extra Pulumi.<stack>.yaml files."""
    tmp.mkdir(parents=True, exist_ok=True)
    for entry in ROOT.iterdir():
        target = tmp / entry.name
        if (not entry.name.startswith(("Pulumi.", ".")) or entry.name == "Pulumi.yaml") and not target.exists():
            target.symlink_to(entry)
    for stack, config in stacks.items():
        (tmp / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": config}, sort_keys=False))
    return tmp


def manifest_corpus(rendered: Path, n: int, out: Path) -> int:
    """*n* manifests, one per file, cycling through the rendered prod manifests with a numbered
    suffix on every name (so both tools see n distinct, realistic objects). Returns n."""
    templates = [yaml.safe_load(p.read_text()) for p in sorted((rendered / "manifests").rglob("*.yaml"))]
    out.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        obj = copy.deepcopy(templates[i % len(templates)])
        copy_no = i // len(templates)
        meta = obj.setdefault("metadata", {})
        meta["name"] = f"{meta.get('name', 'x')}-{copy_no}"
        kind = obj["kind"].lower()
        (out / f"{i:05d}-{kind}-{meta['name']}.yaml"[:200]).write_text(yaml.safe_dump(obj, sort_keys=True))
    return n
