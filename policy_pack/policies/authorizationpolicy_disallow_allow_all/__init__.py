"""authorizationpolicy-disallow-allow-all: no AuthorizationPolicy ALLOW rule admits any caller.

Istio ALLOW policies are additive, like NetworkPolicies: a rule that admits everyone undoes the
namespace's default-deny for the workloads the policy selects. In an ALLOW rule the ``from``
sources are alternatives (any one matching is enough) and every field of a source must match, so a
rule admits **any caller** when:

- it is empty (``{}``) or has none of ``from``, ``to`` and ``when`` (every request);
- it has no ``from`` (``to`` alone names what may be called, not who may call);
- one of its sources names no caller positively: it is empty, or has only negative fields
  (``notPrincipals``, ``notNamespaces``, ``notRequestPrincipals``, ``notIpBlocks``,
  ``notRemoteIpBlocks``: everyone but a few), or its positive fields hold a wildcard (``*``,
  ``0.0.0.0/0``, ``::/0``);

unless a ``when`` condition names the caller (a key ``source.principal``, ``source.namespace``,
``source.ip``, ``remote.ip``, ``request.auth.principal``, ``request.auth.audiences``,
``request.auth.presenter`` or ``request.auth.claims[...]`` with ``values`` and no wildcard).
(An ALLOW policy with no ``rules`` at all matches nothing: that is the default-deny, and is
allowed.)

The public entry point: on an ingress gateway (a policy in one of ``ingressGatewayNamespaces``, or
whose selector names gateway pods, or whose targetRefs name a Gateway) requests come from the
internet and carry no peer identity, so a rule there may omit ``from`` if it has a ``to``.
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.k8s import get_list, get_map, get_str, maps, strings
from ..networkpolicy_disallow_allow_all import DEFAULT_GATEWAY_NAMESPACES, GATEWAY_LABELS, NGINX_CONTROLLER

CALLER_FIELDS = ("principals", "namespaces", "requestPrincipals", "ipBlocks", "remoteIpBlocks")
CALLER_KEYS = ("source.principal", "source.namespace", "source.ip", "remote.ip", "request.auth.principal",
               "request.auth.audiences", "request.auth.presenter")
WILDCARDS = {"*", "0.0.0.0/0", "::/0"}


def _source_names_caller(source, path) -> bool:
    for key in CALLER_FIELDS:
        values = strings(source, key, path)
        if values and not any(v.strip() in WILDCARDS for v in values):
            return True
    return False


def _unrestricted_source(rule, path):
    """The path of the first source that admits any caller, or None."""
    for _, entry, epath in maps(rule, "from", path):
        source = get_map(entry, "source", epath)
        if not _source_names_caller(source, f"{epath}.source"):
            return f"{epath}.source"
    return None


def _when_names_caller(rule, path) -> bool:
    for _, cond, cpath in maps(rule, "when", path):
        key = get_str(cond, "key", cpath) or ""
        if key in CALLER_KEYS or key.startswith("request.auth.claims["):
            values = strings(cond, "values", cpath)
            if values and not any(v.strip() in WILDCARDS for v in values):
                return True
    return False


def on_gateway(obj, gateway_namespaces) -> bool:
    if (obj.namespace or "default") in gateway_namespaces:
        return True
    labels = get_map(get_map(obj.spec, "selector", "spec"), "matchLabels", "spec.selector")
    if any(key in labels and (value is None or labels.get(key) == value) for key, value in GATEWAY_LABELS):
        return True
    if labels and all(labels.get(k) == v for k, v in NGINX_CONTROLLER.items()):
        return True
    refs = [get_map(obj.spec, "targetRef", "spec")] + [r for _, r, _ in maps(obj.spec, "targetRefs", "spec")]
    return any(get_str(r, "kind", "spec.targetRefs") == "Gateway" for r in refs if r)


def check(obj, config):
    spec = obj.spec
    action = get_str(spec, "action", "spec") or "ALLOW"
    if action != "ALLOW":
        return
    gateway = None
    for _, rule, path in maps(spec, "rules", "spec"):
        if not any(get_list(rule, k, path) for k in ("from", "to", "when")):
            yield f"{path} has no from, to or when, so it allows every request; name the sources and ports"
            continue
        if _when_names_caller(rule, path):
            continue
        if not get_list(rule, "from", path):
            if gateway is None:
                gateway = on_gateway(obj, config["ingressGatewayNamespaces"])
            if gateway and get_list(rule, "to", path):
                continue  # the public entry point
            yield (f"{path} has no from, so it admits any caller (to and when only narrow what is called); add "
                   "from.source.principals (<trust domain>/ns/<ns>/sa/<sa>) or namespaces")
            continue
        where = _unrestricted_source(rule, path)
        if where is not None:
            yield (f"{where} admits any caller (it is empty, holds a wildcard, or only excludes callers with "
                   "not* fields); name the principals (<trust domain>/ns/<ns>/sa/<sa>) or namespaces that need access")


POLICY = resource_policy(
    name="authorizationpolicy-disallow-allow-all",
    description="AuthorizationPolicies must not contain an ALLOW rule that admits any caller.",
    kinds=[("security.istio.io", "AuthorizationPolicy")],
    severity=Severity.HIGH,
    control=nist_800_171("3.1.3"),
    tags=["cmmc:AC.L2-3.1.3", "iec62443:SR 2.1", "iec62443:SR 5.2", "nist800-207:tenet-3", "nist800-207:tenet-6"],
    remediation="""
Give every ALLOW rule a `from` naming the callers by SPIFFE principal (`<trust domain>/ns/<ns>/sa/<sa>`)
or namespace and a `to` naming the ports (ZeroTrustMesh derives both from hardened-stack:intents);
never only `notPrincipals`/`notNamespaces`. To deny everything, use an AuthorizationPolicy with an
empty spec, not a rule.""",
    config={
        "ingressGatewayNamespaces": {
            "type": "array", "items": {"type": "string", "minLength": 1}, "uniqueItems": True,
            "default": DEFAULT_GATEWAY_NAMESPACES,
            "description": "Namespaces that hold only ingress gateway pods: their ALLOW rules may omit `from`.",
        },
    },
    check=check,
)
