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


def manifest_corpus(rendered: Path, n: int, out: Path, crds: bool = True) -> int:
    """*n* manifests, one per file, cycling through the rendered prod manifests with a numbered
    suffix on every name (so both tools see n distinct, realistic objects). Without *crds*, the
    charts' CustomResourceDefinitions (nine tenths of the bytes, judged by no policy) are left
    out. Each template is dumped once (libyaml), so 100,000 files are written in seconds. Returns n."""
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    templates = []
    for p in sorted((rendered / "manifests").rglob("*.yaml")):
        obj = yaml.load(p.read_text(), Loader=loader)
        if not crds and obj.get("kind") == "CustomResourceDefinition":
            continue
        meta = obj.setdefault("metadata", {})
        name = meta.get("name", "x")
        meta["name"] = f"{name}-@N@"
        templates.append((obj["kind"].lower(), name, yaml.dump(obj, Dumper=dumper, sort_keys=True)))
    out.mkdir(parents=True, exist_ok=True)
    width = max(5, len(str(n)))
    for i in range(n):
        kind, name, text = templates[i % len(templates)]
        copy_no = i // len(templates)
        (out / f"{i:0{width}d}-{kind}-{name}-{copy_no}.yaml"[:200]).write_text(
            text.replace("-@N@", f"-{copy_no}", 1))
    return n


def manifest_stream(rendered: Path, n: int, out: Path) -> int:
    """One YAML stream of *n* documents (``---`` between them), cycling through the rendered prod
    manifests with a numbered suffix on every name, as ``manifest_corpus`` does. Each template is
    dumped once, so a 200,000-document stream is written in seconds. Returns n."""
    try:
        from yaml import CSafeDumper as Dumper
    except ImportError:  # pragma: no cover
        from yaml import SafeDumper as Dumper  # type: ignore[assignment]
    templates = []
    for p in sorted((rendered / "manifests").rglob("*.yaml")):
        obj = yaml.load(p.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        if obj.get("kind") == "CustomResourceDefinition":
            continue  # the charts' CRDs are nine tenths of the bytes and judged by no policy
        meta = obj.setdefault("metadata", {})
        meta["name"] = f"{meta.get('name', 'x')}-@N@"
        templates.append(yaml.dump(obj, Dumper=Dumper, sort_keys=True))
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        for i in range(n):
            f.write("---\n")
            f.write(templates[i % len(templates)].replace("-@N@", f"-{i // len(templates)}", 1))
    return n


#: Small objects of the kinds a repository holds by the thousand, one after another in a stream.
_SMALL = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings-{i}\n  namespace: team-{ns}\n"
    "  labels: {{app: web-{i}}}\ndata:\n  LOG_LEVEL: info\n  REPLICA: \"{i}\"\n",
    "apiVersion: v1\nkind: Service\nmetadata:\n  name: web-{i}\n  namespace: team-{ns}\nspec:\n"
    "  selector: {{app: web-{i}}}\n  ports:\n  - {{name: http, port: 80, targetPort: 8080, protocol: TCP}}\n",
    "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: web-{i}\n  namespace: team-{ns}\n"
    "automountServiceAccountToken: false\n",
)


def small_stream(n: int, out: Path) -> int:
    """A YAML stream of *n* small, distinct objects (ConfigMaps, Services, ServiceAccounts in 100
    namespaces), about 200 bytes each: the shape of a large repository's manifests. Returns n."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        for i in range(n):
            f.write("---\n")
            f.write(_SMALL[i % len(_SMALL)].format(i=i, ns=i % 100))
    return n
