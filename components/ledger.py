"""The ledger of opt-outs (issue 27.2): every stack-config setting that weakens a secure default.

A config field that can weaken one carries the marker ``json_schema_extra=weakens(what, when)``
(:func:`components.base.weakens`). :func:`opt_outs` walks a validated :class:`StackConfig` and lists
each marked field whose value weakens, by its config key path (``mesh.outboundRegistryOnly``,
``admission.constraints.pods-disallow-privileged.enforcementAction``, ``namespaces[0].labels``).

- ``render`` prints the ledger and writes it to ``opt-outs.json``; ``report`` lists it
  (hardened/ledger.py).
- In a prod stack (``cluster.environment: prod``) every opt-out must be covered by an active
  entry of ``hardened-stack:optOuts``: the exemptions file's format (``id``, ``owner``, ``reason``,
  ``expires``, validated by the pack's own parser) with ``setting`` (the exact key path) in place of
  ``policies`` and ``resource``. An uncovered, expired or stale entry is a config error.
"""
from __future__ import annotations

import re
import typing
from dataclasses import dataclass
from typing import Any, Iterator, Optional

from pydantic import BaseModel

#: Labels the stack sets on namespaces; a config label with one of these keys overrides it.
MANAGED_LABEL_PREFIXES = ("istio-injection", "istio.io/", "pod-security.kubernetes.io/", "policy.sigstore.dev/",
                          "admission.gatekeeper.sh/", "kubernetes.io/metadata.name")
FALCO_PRIORITIES = ("emergency", "alert", "critical", "error", "warning", "notice", "informational", "debug")


@dataclass(frozen=True)
class OptOut:
    """One weakened setting: its config key path, its value, the default and what it weakens."""

    setting: str
    value: Any
    default: Any
    weakens: str

    def line(self) -> str:
        return f"{self.setting} = {_show(self.value)} (default {_show(self.default)}): {self.weakens}"

    def as_dict(self) -> dict:
        return {"setting": self.setting, "value": self.value, "default": self.default, "weakens": self.weakens}


def _show(value: Any) -> str:
    import json

    return json.dumps(value, default=str, sort_keys=True)


# --- predicates: when a marked field weakens ---------------------------------------------------

def _differs(value, default, model, field) -> bool:
    return _plain(value) != _plain(default)


def _tls_unverified(value, default, model, field) -> bool:
    """SPIRE datastore options that do not verify the server (postgres sslmode other than
    verify-full, mysql without tls=true or with skip-verify)."""
    if value is None:
        return False
    options = {o.split("=", 1)[0].strip().lower(): o.split("=", 1)[1].strip().lower() for o in value if "=" in o}
    kind = getattr(model, "type", None)
    if kind == "postgres":
        return options.get("sslmode") != "verify-full"
    if kind == "mysql":
        return options.get("tls") not in ("true",) or "skip-verify" in " ".join(value).lower()
    return False


def _widens_parameters(value, default, model, field) -> bool:
    """Constraint parameters beyond the stack's own (any ``registries`` given here, or maxima)."""
    return bool(value) and any(k in value for k in ("registries", "cpu", "memory", "exemptImages", "probes"))


def _priority_raised(value, default, model, field) -> bool:
    try:
        return FALCO_PRIORITIES.index(str(value).lower()) < FALCO_PRIORITIES.index(str(default).lower())
    except ValueError:
        return True


def _managed_labels(value, default, model, field) -> bool:
    return any(str(k).startswith(MANAGED_LABEL_PREFIXES) for k in (value or {}))


def _raised(value, default, model, field) -> bool:
    return value is not None and default is not None and value > default


def _lowered(value, default, model, field) -> bool:
    return value is not None and default is not None and value < default


def _drops_defaults(value, default, model, field) -> bool:
    return bool(set(default or []) - set(value or []))


PREDICATES = {"differs": _differs, "raised": _raised, "lowered": _lowered, "drops_defaults": _drops_defaults, "tls_unverified": _tls_unverified, "widens_parameters": _widens_parameters,
              "priority_raised": _priority_raised, "managed_labels": _managed_labels}


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _default(info) -> Any:
    from pydantic_core import PydanticUndefined

    if info.default_factory is not None:
        return info.default_factory()
    return None if info.default is PydanticUndefined else info.default


# --- the walk ------------------------------------------------------------------------------------

def marked_fields(model: type) -> Iterator[tuple[str, type, str, dict]]:
    """``(config path pattern, model, field name, marker)`` of every marked field reachable from
    *model* (StackConfig: this module imports no config, components.config imports it) (``[]`` for
    a list index, ``<name>`` for a map key)."""
    seen: set = set()

    def walk(m, prefix):
        for name, info in m.model_fields.items():
            key = f"{prefix}{info.alias or name}"
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            if "weakens" in extra:
                yield key, m, name, extra
            for sub, suffix in _submodels(info.annotation):
                if (sub, key) not in seen:
                    seen.add((sub, key))
                    yield from walk(sub, f"{key}{suffix}.")

    yield from walk(model, "")


def _submodels(annotation) -> Iterator[tuple[type, str]]:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation, ""
    elif origin in (list, tuple):
        for sub, suffix in _submodels(args[0]) if args else ():
            yield sub, "[]" + suffix
    elif origin is dict and len(args) == 2:
        for sub, suffix in _submodels(args[1]):
            yield sub, ".<name>" + suffix
    else:
        for a in args:
            if a is not type(None):
                yield from _submodels(a)


def opt_outs(cfg: Any) -> list[OptOut]:
    """Every weakened setting of *cfg* (a StackConfig), in config order."""
    out: list[OptOut] = []

    def walk(obj, prefix):
        for name, info in type(obj).model_fields.items():
            key = f"{prefix}{info.alias or name}"
            value = getattr(obj, name)
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            if "weakens" in extra:
                default = _default(info)
                if PREDICATES[extra.get("weakensWhen", "differs")](value, default, obj, name):
                    out.append(OptOut(key, _plain(value), _plain(default), extra["weakens"]))
            if isinstance(value, BaseModel):
                walk(value, key + ".")
            elif isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    if isinstance(item, BaseModel):
                        walk(item, f"{key}[{i}].")
            elif isinstance(value, dict):
                for k, item in value.items():
                    if isinstance(item, BaseModel):
                        walk(item, f"{key}.{k}.")

    walk(cfg, "")
    return out


# --- coverage by optOuts entries -----------------------------------------------------------------

@dataclass(frozen=True)
class OptOutEntry:
    setting: str
    exemption: Any  # the pack's Exemption (id, owner, reason, expires)


def parse_entries(entries: list[dict], source: str = "hardened-stack:optOuts") -> list[OptOutEntry]:
    """Validate ``optOuts`` entries with the exemptions file's own parser (id, owner, reason and
    expires required and checked exactly as there). Raises ValueError naming the entry."""
    from .admission import _exemptions_module

    ex = _exemptions_module()
    out = []
    for i, entry in enumerate(entries or []):
        if not isinstance(entry, dict):
            raise ValueError(f"optOuts[{i}] must be a mapping {{id, owner, setting, reason, expires}}")
        unknown = sorted(set(entry) - {"id", "owner", "setting", "reason", "expires", "controls"})
        if unknown:
            raise ValueError(f"optOuts[{i}]: unknown key(s) {unknown}; allowed: id, owner, setting, reason, "
                             "expires, controls")
        setting = entry.get("setting")
        if not isinstance(setting, str) or not setting or re.search(r"[*?]|\[(?!\d+\])", setting):
            raise ValueError(f"optOuts[{i}]: 'setting' must be the exact config key path of one opt-out, e.g. "
                             "'mesh.outboundRegistryOnly'")
        shaped = {k: v for k, v in entry.items() if k != "setting"}
        shaped.update(policies=["stack-config"], resource={"kind": "StackSetting", "name": setting})
        try:
            exemption = ex.parse_exemption(shaped, f"optOuts[{i}]", source=source)
        except ex.ExemptionError as e:
            raise ValueError(str(e)) from None
        out.append(OptOutEntry(setting, exemption))
    return out


def uncovered(found: list[OptOut], entries: list[OptOutEntry]) -> tuple[list[OptOut], list[str]]:
    """The opt-outs no active entry covers, and problems with the entries (expired, stale)."""
    problems = []
    active = {}
    for e in entries:
        if e.exemption.expired():
            problems.append(f"optOuts entry {e.exemption.id!r} ({e.setting}) expired on {e.exemption.expires}: renew "
                            "it with a fresh review, or restore the secure default")
        else:
            active[e.setting] = e
    settings = {o.setting for o in found}
    for setting, e in active.items():
        if setting not in settings:
            problems.append(f"optOuts entry {e.exemption.id!r} names {setting!r}, which weakens nothing here "
                            f"(opt-outs: {sorted(settings) or 'none'}); remove it")
    return [o for o in found if o.setting not in active], problems


def covering(entries: list[OptOutEntry], setting: str) -> Optional[OptOutEntry]:
    return next((e for e in entries if e.setting == setting and not e.exemption.expired()), None)
