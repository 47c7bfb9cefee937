"""Exemptions: the named, justified, expiring exceptions to the policies.

There are two sources, with one shape:

- ``policy_pack/exemptions.yaml``: the ONE place where system components (Falco's driver, the
  SPIRE agent, the SPIFFE CSI driver, the Istio CNI node agent) get the narrowest exemption they
  need, and where a namespace may be allowed a Pod Security level below ``restricted``;
- the ``exemptions`` property of one policy's configuration (``--policy-pack-config``), for a
  stack's own exceptions; there the policy is implied by the key the entry sits under.

An entry names the resource (``kind``, ``namespace``, a glob on ``name``), the reason and an
expiry date. An expired exemption no longer exempts anything, and the policies report it as a
violation of its own until it is renewed (with a fresh reason) or removed.

This module depends on the standard library and PyYAML only: the components import it from the
repository root (``from policy_pack.policies._lib.exemptions import namespace_pod_security``).
"""
from __future__ import annotations

import datetime as _dt
import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence

import yaml

#: The built-in exemptions file.
DEFAULT_PATH = Path(__file__).resolve().parents[2] / "exemptions.yaml"
DEFAULT_SOURCE = "policy_pack/exemptions.yaml"

#: Pod Security Standards levels, strictest first.
POD_SECURITY_LEVELS = ("restricted", "baseline", "privileged")

_ENTRY_KEYS = {"id", "policies", "resource", "namespacePodSecurity", "reason", "controls", "expires"}
_RESOURCE_KEYS = {"kind", "namespace", "name"}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MIN_REASON = 10


class _Loader(yaml.SafeLoader):
    """YAML without implicit dates: ``expires`` is checked by :func:`parse_date`, which names the
    entry when the date is impossible (2030-13-01) instead of failing inside the YAML parser."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class ExemptionError(ValueError):
    """A malformed exemption; the message names the entry, the field and the fix."""


@dataclass(frozen=True)
class Exemption:
    """One exemption: *policies* do not apply to the resources it names until *expires*."""

    id: str
    policies: tuple[str, ...]
    kind: str
    namespace: Optional[str]
    name: str
    reason: str
    expires: _dt.date
    controls: tuple[str, ...] = ()
    namespace_pod_security: Optional[str] = None
    source: str = DEFAULT_SOURCE

    def applies_to(self, policy: str) -> bool:
        return policy in self.policies

    def matches(self, kind: str, namespace: Optional[str], name: str) -> bool:
        """Whether this exemption names the resource ``kind namespace/name``.

        ``kind`` and ``name`` are globs; ``namespace`` is a glob too, and an entry without a
        namespace matches cluster-scoped resources only (the narrowest reading).
        """
        if not fnmatch.fnmatchcase(kind or "", self.kind):
            return False
        if self.namespace is None:
            if namespace:
                return False
        elif not fnmatch.fnmatchcase(namespace or "", self.namespace):
            return False
        return fnmatch.fnmatchcase(name or "", self.name)

    def expired(self, today: Optional[_dt.date] = None) -> bool:
        return (today or utc_today()) > self.expires

    @property
    def target(self) -> str:
        where = f"{self.namespace}/" if self.namespace is not None else ""
        return f"{self.kind} {where}{self.name}"

    def describe(self) -> str:
        return f"exemption {self.id!r} ({self.source})"


def utc_today() -> _dt.date:
    return _dt.datetime.now(_dt.timezone.utc).date()


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------

def _fail(where: str, message: str) -> ExemptionError:
    return ExemptionError(f"{where}: {message}")


def _string(entry: Mapping[str, Any], key: str, where: str, required: bool = True) -> Optional[str]:
    value = entry.get(key)
    if value is None:
        if required:
            raise _fail(where, f"'{key}' is required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise _fail(where, f"'{key}' must be a non-empty string, got {value!r}")
    return value


def parse_date(value: Any, where: str) -> _dt.date:
    """``expires`` as a date: a YAML date or a ``YYYY-MM-DD`` string."""
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    if isinstance(value, str) and _DATE.match(value):
        try:
            return _dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise _fail(where, f"'expires' must be a date written YYYY-MM-DD, got {value!r}")


def parse_exemption(entry: Any, where: str, *, source: str = DEFAULT_SOURCE,
                    policy: Optional[str] = None) -> Exemption:
    """One entry as an :class:`Exemption`.

    With *policy* (an entry from that policy's configuration) ``policies`` is implied and ``id``
    is optional; otherwise both are required.
    """
    if not isinstance(entry, Mapping):
        raise _fail(where, f"an exemption must be a mapping, got {type(entry).__name__}")
    unknown = sorted(set(entry) - _ENTRY_KEYS)
    if unknown:
        raise _fail(where, f"unknown field(s) {', '.join(map(repr, unknown))}; "
                           f"allowed: {', '.join(sorted(_ENTRY_KEYS))}")
    ident = _string(entry, "id", where, required=policy is None)
    label = f"{where} ({ident})" if ident else where
    if policy is None:
        policies = entry.get("policies")
        if (not isinstance(policies, Sequence) or isinstance(policies, str) or not policies
                or not all(isinstance(p, str) and p for p in policies)):
            raise _fail(label, f"'policies' must be a non-empty list of policy names, got {policies!r}")
        policies_t = tuple(policies)
    else:
        extra = entry.get("policies")
        if extra is not None and (isinstance(extra, str) or not isinstance(extra, Sequence)
                                  or list(extra) != [policy]):
            raise _fail(label, f"'policies' is implied by the policy this entry configures ({policy}); remove it")
        policies_t = (policy,)
    resource = entry.get("resource")
    if not isinstance(resource, Mapping):
        raise _fail(label, "'resource' is required: {kind: <Kind>, namespace: <namespace>, name: <name or glob>}")
    unknown = sorted(set(resource) - _RESOURCE_KEYS)
    if unknown:
        raise _fail(label, f"unknown resource field(s) {', '.join(map(repr, unknown))}; allowed: kind, namespace, name")
    kind = _string(resource, "kind", f"{label} resource")
    name = _string(resource, "name", f"{label} resource")
    namespace = _string(resource, "namespace", f"{label} resource", required=False)
    reason = _string(entry, "reason", label)
    if len(reason.strip()) < _MIN_REASON:
        raise _fail(label, "'reason' must say why the exemption is needed and why it is the narrowest form")
    expires = parse_date(entry.get("expires"), label)
    controls = entry.get("controls") or ()
    if isinstance(controls, str) or not isinstance(controls, Sequence) or not all(isinstance(c, str) for c in controls):
        raise _fail(label, f"'controls' must be a list of control references, got {controls!r}")
    level = _string(entry, "namespacePodSecurity", label, required=False)
    if level is not None:
        if level not in POD_SECURITY_LEVELS:
            raise _fail(label, f"'namespacePodSecurity' must be one of {', '.join(POD_SECURITY_LEVELS)}, got {level!r}")
        if namespace is None or any(ch in namespace for ch in "*?["):
            raise _fail(label, "'namespacePodSecurity' needs resource.namespace to name exactly one namespace")
    return Exemption(id=ident or f"{policies_t[0]}:{kind}/{namespace or ''}/{name}", policies=policies_t,
                     kind=kind, namespace=namespace, name=name, reason=reason.strip(), expires=expires,
                     controls=tuple(controls), namespace_pod_security=level, source=source)


def parse_exemptions(entries: Any, *, source: str = DEFAULT_SOURCE, policy: Optional[str] = None,
                     where: str = "exemptions") -> list[Exemption]:
    """A list of entries; raises :class:`ExemptionError` on the first malformed one."""
    if entries is None:
        return []
    if isinstance(entries, str) or not isinstance(entries, Sequence):
        raise ExemptionError(f"{where}: must be a list of exemptions, got {type(entries).__name__}")
    out: list[Exemption] = []
    seen: dict[str, str] = {}
    for i, entry in enumerate(entries):
        ex = parse_exemption(entry, f"{where}[{i}]", source=source, policy=policy)
        if ex.id in seen:
            raise ExemptionError(f"{where}[{i}]: duplicate id {ex.id!r} (also {seen[ex.id]})")
        seen[ex.id] = f"{where}[{i}]"
        out.append(ex)
    return out


def load_exemptions(path: Optional[Path | str] = None) -> list[Exemption]:
    """The exemptions of *path* (default: ``policy_pack/exemptions.yaml``).

    A missing default file means no exemptions (the narrowest reading); a malformed file raises
    :class:`ExemptionError` naming the file, the entry and the field.
    """
    file = Path(path) if path is not None else DEFAULT_PATH
    if path is None and not file.exists():
        return []
    source = DEFAULT_SOURCE if path is None else str(file)
    try:
        doc = yaml.load(file.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 (a safe loader)
    except yaml.YAMLError as e:
        raise ExemptionError(f"{source}: not valid YAML: {e}") from None
    if doc is None:
        return []
    if not isinstance(doc, Mapping) or set(doc) - {"exemptions"}:
        raise ExemptionError(f"{source}: the file must be a mapping with one key, 'exemptions'")
    return parse_exemptions(doc.get("exemptions"), source=source, where=f"{source}: exemptions")


# ---------------------------------------------------------------------------------------------
# Queries
# ---------------------------------------------------------------------------------------------

def for_policy(exemptions: Iterable[Exemption], policy: str) -> tuple[Exemption, ...]:
    return tuple(e for e in exemptions if e.applies_to(policy))


def namespace_pod_security(namespace: str, exemptions: Optional[Iterable[Exemption]] = None,
                           today: Optional[_dt.date] = None) -> str:
    """The Pod Security Standards level *namespace* may enforce: ``restricted`` unless an
    unexpired exemption for that namespace says otherwise (the least strict such level)."""
    entries = load_exemptions() if exemptions is None else exemptions
    level = POD_SECURITY_LEVELS.index("restricted")
    for e in entries:
        if (e.namespace_pod_security and e.namespace == namespace and not e.expired(today)):
            level = max(level, POD_SECURITY_LEVELS.index(e.namespace_pod_security))
    return POD_SECURITY_LEVELS[level]
