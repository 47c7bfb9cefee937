"""authorizationpolicy-disallow-allow-all: no AuthorizationPolicy ALLOW rule matches every request.

Istio ALLOW policies are additive, like NetworkPolicies: a rule that matches everything undoes the
namespace's default-deny for the workloads the policy selects. An ALLOW rule matches everything
when it is empty (``{}``) or has none of ``from``, ``to`` and ``when``; and a rule whose only
source is ``principals: ["*"]``/``namespaces: ["*"]`` admits every authenticated caller. (An
ALLOW policy with no ``rules`` at all matches nothing: that is the default-deny, and is allowed.)
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.k8s import get_list, get_map, get_str, maps


def _wildcard_sources(rule, path):
    froms = [f for _, f, _ in maps(rule, "from", path)]
    if not froms:
        return False
    for i, f in enumerate(froms):
        source = get_map(f, "source", f"{path}.from[{i}]")
        keys = {k for k in source if source.get(k)}
        if not keys:
            return True
        if keys <= {"principals", "namespaces", "requestPrincipals"} and all(
                list(get_list(source, k, f"{path}.from[{i}].source")) == ["*"] for k in keys):
            return True
    return False


def check(obj, config):
    spec = obj.spec
    action = get_str(spec, "action", "spec") or "ALLOW"
    if action != "ALLOW":
        return
    for _, rule, path in maps(spec, "rules", "spec"):
        if not any(get_list(rule, k, path) for k in ("from", "to", "when")):
            yield f"{path} has no from, to or when, so it allows every request; name the sources and ports"
        elif _wildcard_sources(rule, path) and not get_list(rule, "when", path):
            yield (f"{path}.from admits every caller (an empty source or '*'); name the principals "
                   f"(<trust domain>/ns/<ns>/sa/<sa>) or namespaces that need access")


POLICY = resource_policy(
    name="authorizationpolicy-disallow-allow-all",
    description="AuthorizationPolicies must not contain an ALLOW rule that matches every request or every caller.",
    kinds=[("security.istio.io", "AuthorizationPolicy")],
    severity=Severity.HIGH,
    control=nist_800_171("3.1.3"),
    tags=["cmmc:AC.L2-3.1.3", "iec62443:SR 2.1", "iec62443:SR 5.2", "nist800-207:tenet-3", "nist800-207:tenet-6"],
    remediation="""
Give every ALLOW rule a `from` naming the callers by SPIFFE principal (`<trust domain>/ns/<ns>/sa/<sa>`)
or namespace and a `to` naming the ports (ZeroTrustMesh derives both from hardened-stack:intents).
To deny everything, use an AuthorizationPolicy with an empty spec, not a rule.""",
    check=check,
)
