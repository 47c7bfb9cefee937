"""namespace-missing-default-deny: every Namespace of the stack has a default-deny-all
NetworkPolicy.

A stack policy, because the proof spans resources: for each Namespace there must be a
NetworkPolicy in it with ``podSelector: {}``, ``policyTypes: [Ingress, Egress]`` and no rules, so
every flow not explicitly allowed is denied.
"""
from __future__ import annotations

from pulumi_policy import Severity
from pulumi_policy.proxy import UnknownValueError

from .._lib.framework import finding, MAKE_IT_KNOWN, CannotVerify, cannot_verify, field_path, nist_800_171, stack_policy
from .._lib.k8s import Unverifiable, get_list, get_map, selector_is_empty, strings

NETWORKING = "networking.k8s.io"


def is_default_deny(policy) -> bool:
    spec = policy.spec
    if "podSelector" not in spec or not selector_is_empty(get_map(spec, "podSelector", "spec"), "spec.podSelector"):
        return False
    if not {"Ingress", "Egress"} <= set(strings(spec, "policyTypes", "spec")):
        return False
    return not get_list(spec, "ingress", "spec") and not get_list(spec, "egress", "spec")


def _label(obj) -> str:
    try:
        namespace = obj.namespace
        return f"{obj.kind} {namespace + '/' if namespace else ''}{obj.name}"
    except (UnknownValueError, Unverifiable):
        return f"{obj.kind} {obj.resource_name}"


def check(objects, config):
    namespaces = [o for o in objects if o.kind == "Namespace"]
    covered: set = set()
    # An unknown value defers only the namespaces it could cover: a policy whose spec is unknown,
    # its own namespace; a default-deny policy whose namespace is unknown, every namespace that
    # nothing else covers. A policy known not to be a default deny covers nothing, whatever its
    # namespace.
    maybe: dict = {}
    anywhere: list = []
    for policy in objects:
        if policy.kind != "NetworkPolicy":
            continue
        spec_unknown = None
        try:
            deny = is_default_deny(policy)
        except UnknownValueError as e:
            deny, spec_unknown = None, e
        except Unverifiable:
            continue  # a malformed policy denies nothing for sure
        if deny is False:
            continue
        try:
            namespace = policy.namespace or "default"
        except UnknownValueError as e:
            anywhere.append(f"{_label(policy)} ({field_path(e.props, policy.props)})")
            continue
        except Unverifiable:
            continue
        if deny:
            covered.add(namespace)
        else:
            maybe.setdefault(namespace, []).append(f"{_label(policy)} ({field_path(spec_unknown.props, policy.props)})")
    named = []
    for ns in namespaces:
        try:
            named.append((ns.name, ns.urn or "", ns))
        except UnknownValueError as e:
            yield ns, cannot_verify(e, ns.props)
        except Unverifiable as e:
            yield ns, e.message
    for name, _, ns in sorted(named, key=lambda t: t[:2]):
        if name in covered:
            continue
        unknowns = maybe.get(name, []) + anywhere
        if unknowns:
            message = CannotVerify(
                f"cannot verify that Namespace {name} has a default-deny NetworkPolicy at preview: "
                f"{'; '.join(unknowns)} {'is' if len(unknowns) == 1 else 'are'} unknown and could be it; "
                f"{MAKE_IT_KNOWN}")
            message.path = "metadata.namespace"
            yield ns, message
            continue
        yield ns, finding("missing-default-deny", f"Namespace {name} has no default-deny NetworkPolicy: add one in it with podSelector: {{}}, "
                   "policyTypes: [Ingress, Egress] and no rules, then allow each needed flow explicitly")


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
