"""Whom Istio lets through: a small evaluator of ``AuthorizationPolicy`` (security.istio.io/v1) for
one connection at one workload, the model the tests share with any policy that needs it.

Semantics, as Istio documents and builds them (istio.io reference/config/security/authorization-policy,
"Authorization Policy"; pilot/pkg/security/authz/builder and model):

- A policy applies to a workload when it is in the workload's namespace (or the root namespace) and
  its ``selector`` (absent: every workload) matches the workload's labels.
- DENY policies are evaluated first: any matching rule denies. Then, when any ALLOW policy applies,
  the request is allowed only if one of their rules matches; with none, it is allowed. An ALLOW
  policy with no rules (``spec: {}``) matches nothing, so it denies everything not allowed elsewhere.
- A rule matches when each of its parts does: ``from`` (any source), ``to`` (any operation),
  ``when`` (every condition). Within a source or an operation every set field must match, and a
  field matches when any of its values does and none of its ``not`` values does.
- Strings match exactly, or with one ``*`` as a prefix or suffix (``*`` alone: any non-empty value;
  pilot/pkg/security/authz/matcher ``StringMatcher``).

Only what a TCP or TLS connection carries is modelled: ``principals``, ``namespaces``, ``ipBlocks``
are not, nor HTTP attributes; ``ports`` and the ``connection.sni`` and ``destination.port``
conditions are. An attribute this model does not know makes the rule not match (an ALLOW stays
closed, a DENY is reported by :func:`unknown_attributes`), never silently open.
"""
from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Mapping
from typing import Any, Iterable, Optional

from .wiring import selector_matches

ROOT_NAMESPACE = "istio-system"
KNOWN_WHEN = {"connection.sni", "destination.port", "source.principal", "source.namespace"}
KNOWN_SOURCE = {"principals", "notPrincipals", "namespaces", "notNamespaces"}
KNOWN_OPERATION = {"ports", "notPorts"}


@dataclass(frozen=True)
class Connection:
    """One connection arriving at a workload: who (mTLS principal, e.g. ``td/ns/<ns>/sa/<sa>``),
    to which port, with which TLS server name."""

    principal: Optional[str]
    port: int
    sni: Optional[str] = None

    @property
    def namespace(self) -> Optional[str]:
        parts = (self.principal or "").split("/")
        return parts[parts.index("ns") + 1] if "ns" in parts[:-1] else None


def string_matches(pattern: str, value: Optional[str]) -> bool:
    if value is None:
        return False
    if pattern == "*":
        return value != ""
    if pattern.startswith("*"):
        return value.endswith(pattern[1:])
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    return value == pattern


def _field(values: Optional[Iterable[str]], not_values: Optional[Iterable[str]], value: Optional[str]) -> bool:
    if values is not None and not any(string_matches(str(v), value) for v in values):
        return False
    return not (not_values is not None and any(string_matches(str(v), value) for v in not_values))


def _source(src: Mapping[str, Any], c: Connection) -> bool:
    if set(src) - KNOWN_SOURCE:
        return False
    return (_field(src.get("principals"), src.get("notPrincipals"), c.principal)
            and _field(src.get("namespaces"), src.get("notNamespaces"), c.namespace))


def _operation(op: Mapping[str, Any], c: Connection) -> bool:
    if set(op) - KNOWN_OPERATION:
        return False
    return _field(op.get("ports"), op.get("notPorts"), str(c.port))


def _condition(cond: Mapping[str, Any], c: Connection) -> bool:
    value = {"connection.sni": c.sni, "destination.port": str(c.port), "source.principal": c.principal,
             "source.namespace": c.namespace}.get(cond.get("key"))
    if cond.get("key") not in KNOWN_WHEN:
        return False
    return _field(cond.get("values"), cond.get("notValues"), value)


def rule_matches(rule: Mapping[str, Any], c: Connection) -> bool:
    sources = [f.get("source") or {} for f in rule.get("from") or []]
    operations = [t.get("operation") or {} for t in rule.get("to") or []]
    return ((not sources or any(_source(s, c) for s in sources))
            and (not operations or any(_operation(o, c) for o in operations))
            and all(_condition(w, c) for w in rule.get("when") or []))


def applies(policy: Mapping[str, Any], namespace: str, labels: Mapping[str, str],
            root_namespace: str = ROOT_NAMESPACE) -> bool:
    meta = policy.get("metadata") or {}
    if meta.get("namespace") not in (namespace, root_namespace):
        return False
    selector = (policy.get("spec") or {}).get("selector")
    return selector is None or selector_matches(selector, labels, "spec.selector")


def allowed(policies: Iterable[Mapping[str, Any]], namespace: str, labels: Mapping[str, str],
            c: Connection, root_namespace: str = ROOT_NAMESPACE) -> bool:
    """Whether the workload (*namespace*, *labels*) accepts connection *c* under *policies*."""
    mine = [p for p in policies if p.get("kind") == "AuthorizationPolicy"
            and applies(p, namespace, labels, root_namespace)]
    by_action: dict[str, list] = {"DENY": [], "ALLOW": []}
    for p in mine:
        spec = p.get("spec") or {}
        by_action.setdefault(spec.get("action") or "ALLOW", []).append(spec)
    if any(rule_matches(r, c) for spec in by_action["DENY"] for r in spec.get("rules") or []):
        return False
    if not by_action["ALLOW"]:
        return True
    return any(rule_matches(r, c) for spec in by_action["ALLOW"] for r in spec.get("rules") or [])


def unknown_attributes(policies: Iterable[Mapping[str, Any]]) -> list[str]:
    """Attributes the model does not evaluate, per policy (a proof over them would be unsound)."""
    out = []
    for p in policies:
        for rule in (p.get("spec") or {}).get("rules") or []:
            for f in rule.get("from") or []:
                out += [f"{p['metadata']['name']}: from.source.{k}" for k in set(f.get("source") or {}) - KNOWN_SOURCE]
            for t in rule.get("to") or []:
                out += [f"{p['metadata']['name']}: to.operation.{k}"
                        for k in set(t.get("operation") or {}) - KNOWN_OPERATION]
            out += [f"{p['metadata']['name']}: when.{w.get('key')}" for w in rule.get("when") or []
                    if w.get("key") not in KNOWN_WHEN]
    return sorted(out)
