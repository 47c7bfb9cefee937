"""``python -m hardened policy-config [--stack prod] [--output FILE]``

The policy pack's configuration for one stack: the ``--policy-pack-config`` document that makes
the pack judge with the same settings the stack gives its Gatekeeper constraints, so the two
layers never disagree about what is allowed::

    python -m hardened policy-config --stack prod -o policy-config.json
    pulumi preview --stack prod --policy-pack policy_pack --policy-pack-config policy-config.json

``render`` writes the same document as ``policy-config.json`` next to its manifests, and
``check`` uses it when it reads that directory (unless ``--config`` names another).

Only the settings a stack legitimately extends are taken from it, each from the exact parameters
of the twin Gatekeeper constraint (``AdmissionConfig.parameters``):

- ``pod-disallow-untrusted-registries.allowedRegistries``: ``trustedRegistries`` (a registry the
  stack adds for a new workload is trusted by both layers at once);
- ``container-missing-resource-limits.maxCpu``/``maxMemory``: ``admission.maxContainerCpu``/``Memory``;
- ``container-missing-probes.probes``: ``admission.requiredProbes``, and ``namespaces``: the stack's
  tenant namespaces (the constraint's ``match.namespaces``).

Floors stay the pack's own (Vault replicas, audit retention, HSTS max-age, enforcement levels):
a change under review cannot lower them by editing the stack configuration it is reviewed with.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Optional

#: The file ``render`` writes next to its manifests and ``check`` picks up from that directory.
FILE_NAME = "policy-config.json"

#: Gatekeeper constraint -> (its twin CrossGuard policy's property for each constraint parameter).
PARAMETERS: dict[str, dict[str, str]] = {
    "images-enforce-trusted-registries": {"registries": "allowedRegistries"},
    "containers-enforce-limits": {"cpu": "maxCpu", "memory": "maxMemory"},
    "containers-enforce-probes": {"probes": "probes"},
}


def policy_config(cfg: Any) -> dict[str, dict[str, Any]]:
    """The ``--policy-pack-config`` document for a validated ``StackConfig``."""
    from components.admission import TEMPLATES_BY_CONSTRAINT

    document: dict[str, dict[str, Any]] = {}
    for constraint, properties in PARAMETERS.items():
        template = TEMPLATES_BY_CONSTRAINT[constraint]
        parameters = cfg.admission.parameters(template, cfg.trusted_registries)
        document[template.crossguard_policy] = {properties[k]: v for k, v in sorted(parameters.items())
                                                if k in properties}
    document["container-missing-probes"]["namespaces"] = sorted(ns.name for ns in cfg.namespaces)
    return document


def stack_policy_config(stack: str, root: Optional[Path] = None,
                        overrides: Optional[dict[str, Any]] = None) -> dict[str, dict[str, Any]]:
    """:func:`policy_config` of ``Pulumi.<stack>.yaml`` (plus *overrides*, as ``render`` takes
    them); ConfigError naming the key when the configuration is invalid."""
    from components.config import PROJECT, parse_stack_config

    from .stackfile import REPO_ROOT, read_stack_config

    config, secret_keys = read_stack_config(stack, root or REPO_ROOT, overrides)
    prefix = f"{PROJECT}:"
    document = {}
    for key, value in config.items():
        if not key.startswith(prefix) or key in secret_keys:
            continue
        try:
            document[key[len(prefix):]] = json.loads(value)
        except ValueError:
            document[key[len(prefix):]] = value
    return policy_config(parse_stack_config(document))


def dumps(document: dict) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def write(out_dir: Path, document: dict) -> Path:
    path = Path(out_dir) / FILE_NAME
    path.write_text(dumps(document), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", default="prod", help="stack name: reads Pulumi.<stack>.yaml (default prod)")
    parser.add_argument("--output", "-o", metavar="FILE", help="write the document here instead of stdout")
    parser.add_argument("--root", default=None, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    import pulumi

    from .stackfile import RenderError

    try:
        document = stack_policy_config(args.stack, Path(args.root) if args.root else None)
    except (RenderError, pulumi.RunError) as e:
        print(f"policy-config: error: {e}", file=sys.stderr)
        return 2
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(dumps(document), encoding="utf-8")
        print(f"policy-config: wrote {args.output} for stack {args.stack}", file=sys.stderr)
    else:
        sys.stdout.write(dumps(document))
    return 0
