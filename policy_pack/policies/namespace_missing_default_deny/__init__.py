"""namespace-missing-default-deny: every Namespace of the stack has a default-deny-all
NetworkPolicy.

A stack policy, because the proof spans resources: for each Namespace there must be a
NetworkPolicy in it with ``podSelector: {}``, ``policyTypes: [Ingress, Egress]`` and no rules, so
every flow not explicitly allowed is denied.
"""
from __future__ import annotations

from pulumi_policy import Severity
from pulumi_policy.proxy import UnknownValueError

from .._lib.framework import nist_800_171, stack_policy
from .._lib.k8s import Unverifiable, get_list, get_map, selector_is_empty, strings

NETWORKING = "networking.k8s.io"


def is_default_deny(policy) -> bool:
    spec = policy.spec
    if "podSelector" not in spec or not selector_is_empty(get_map(spec, "podSelector", "spec"), "spec.podSelector"):
        return False
    if not {"Ingress", "Egress"} <= set(strings(spec, "policyTypes", "spec")):
        return False
    return not get_list(spec, "ingress", "spec") and not get_list(spec, "egress", "spec")


def check(objects, config):
    namespaces = [o for o in objects if o.kind == "Namespace"]
    covered: set = set()
    unknown_anywhere = None
    unknown_in: dict = {}
    for policy in objects:
        if policy.kind != "NetworkPolicy":
            continue
        try:
            namespace = policy.namespace or "default"
        except UnknownValueError as e:
            unknown_anywhere = unknown_anywhere or e
            continue
        except Unverifiable:
            continue
        try:
            if is_default_deny(policy):
                covered.add(namespace)
        except UnknownValueError as e:
            unknown_in.setdefault(namespace, e)
        except Unverifiable:
            continue  # a malformed policy denies nothing for sure
    pending = None
    named = []
    for ns in namespaces:
        try:
            named.append((ns.name, ns.urn or "", ns))
        except Unverifiable as e:
            yield ns, e.message
    for name, _, ns in sorted(named, key=lambda t: t[:2]):
        if name in covered:
            continue
        if unknown_anywhere or name in unknown_in:
            pending = pending or unknown_anywhere or unknown_in[name]
            continue
        yield ns, (f"Namespace {name} has no default-deny NetworkPolicy: add one in it with podSelector: {{}}, "
                   "policyTypes: [Ingress, Egress] and no rules, then allow each needed flow explicitly")
    if pending is not None:
        raise pending


POLICY = stack_policy(
    name="namespace-missing-default-deny",
    description="Every Namespace must have a default-deny-all NetworkPolicy (ingress and egress).",
    kinds=[("core", "Namespace"), (NETWORKING, "NetworkPolicy")],
    severity=Severity.HIGH,
    control=nist_800_171("3.13.6"),
    tags=["cmmc:SC.L2-3.13.6", "iec62443:SR 5.1", "nist800-207:3.1.2", "cis-k8s:5.3.2"],
    remediation="""
Create, in every Namespace, a NetworkPolicy named default-deny-all with podSelector: {} and
policyTypes: [Ingress, Egress] and no rules (HardenedNamespace does this), then allow each needed
flow (DNS, the mesh, named peers) with its own narrow policy.""",
    check=check,
)
