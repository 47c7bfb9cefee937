"""A stack's configuration file as the Pulumi engine hands it to the program: one module that
``render``, ``policy-config`` and ``report`` all read it through (and that imports none of them,
so none of them imports another to get it).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Optional

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
PROJECT = "hardened-stack"
#: What a ``secure:`` value (or a required secret the file lacks) becomes offline: a marked
#: placeholder that stays a Pulumi secret.
OFFLINE_SECRET_PLACEHOLDER = "offline-placeholder-secret"

try:  # libyaml: the same documents as yaml.safe_load, parsed in C
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]

_PARSED: dict[str, tuple[bytes, Any]] = {}


def read_yaml(path: Path) -> Any:
    """The document of the YAML file *path*, as ``yaml.safe_load`` reads it, parsed once per
    process and content of the file (a render reads the stack file and charts.lock several
    times; reading and hashing them is a hundredth of parsing them). Callers copy what they
    change. Raises ``OSError`` and ``yaml.YAMLError``."""
    data = path.read_bytes()
    digest = hashlib.sha256(data).digest()
    key = str(path.resolve())
    hit = _PARSED.get(key)
    if hit is not None and hit[0] == digest:
        return hit[1]
    document = yaml.load(data, Loader=_SafeLoader)  # noqa: S506 - a safe loader
    _PARSED[key] = (digest, document)
    return document


class RenderError(Exception):
    """A render that cannot proceed; the message says why and what to do."""


def stack_file(stack: str, root: Path = REPO_ROOT) -> Path:
    return root / f"Pulumi.{stack}.yaml"


def read_stack_config(stack: str, root: Path = REPO_ROOT,
                      overrides: Optional[dict[str, Any]] = None,
                      placeholders: Optional[dict[str, str]] = None) -> tuple[dict[str, str], list[str]]:
    """``Pulumi.<stack>.yaml`` as the engine hands config to a program: ``{"ns:key": str}``
    (objects JSON-encoded) plus the list of secret keys. Secrets the configuration requires but
    the file does not set get a marked placeholder (hardened/secret_placeholders.py), recorded in
    *placeholders* (``{key: the setting that needs it}``)."""
    path = stack_file(stack, root)
    if not path.exists():
        choices = sorted(p.name for p in root.glob("Pulumi.*.yaml") if p.name != "Pulumi.yaml")
        raise RenderError(f"no stack file {path.name} in {root}; stacks here: {', '.join(choices) or 'none'}")
    try:
        doc = read_yaml(path) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path.name}:{mark.line + 1}:{mark.column + 1}" if mark else path.name
        raise RenderError(f"{where}: not valid YAML: {getattr(e, 'problem', None) or e}") from None
    raw = dict((doc.get("config") or {}))
    raw.update(overrides or {})
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in raw.items():
        full = key if ":" in key else f"{PROJECT}:{key}"
        if isinstance(value, dict) and set(value) == {"secure"}:
            config[full] = OFFLINE_SECRET_PLACEHOLDER
            secret_keys.append(full)
        elif isinstance(value, str):
            config[full] = value
        else:
            config[full] = json.dumps(value)
    from .secret_placeholders import fill

    added = fill(config, secret_keys)
    if placeholders is not None:
        placeholders.update(added)
    return config, secret_keys
