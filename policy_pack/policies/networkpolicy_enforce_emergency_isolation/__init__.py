"""networkpolicy-enforce-emergency-isolation: a workload under emergency isolation can reach
nothing and be reached by nothing.

The seed's incident procedure isolates a compromised workload with ``emergency-isolate-<app>``, a
NetworkPolicy that selects its pods for Ingress and Egress and allows nothing. NetworkPolicies are
additive: any other policy that still selects those pods keeps what it opens (the union of the
rules of every selecting policy), so a namespace-wide ``allow-dns`` leaves the isolated pod a DNS
tunnel out, and a namespace-wide istiod egress leaves it the control plane. Judged with the
NetworkPolicy evaluator (``policy_pack/policies/_lib/reach.py``, the same model the tests use on
the rendered prod stack): for every pod template of the namespace that an ``emergency-isolate-*``
policy selects, no rule may apply in either direction.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import Severity
from pulumi_policy.proxy import UnknownValueError

from .._lib.framework import cannot_verify, nist_800_171, stack_policy
from .._lib.k8s import POD_SPEC_PATHS, Unverifiable, get_map, is_list
from .._lib.reach import EGRESS, INGRESS, Network, Pod
from .._lib.wiring import ANY, inventory, selector_matches

PREFIX = "emergency-isolate-"
KINDS = (("networking.k8s.io", "NetworkPolicy"), ("core", "Namespace"), *sorted(POD_SPEC_PATHS))


def _plain(value: Any) -> Any:
    """A policy's inputs as plain data (reading every value: an unknown one raises)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if is_list(value):
        return [_plain(v) for v in value]
    return value


def check(objects, config):
    policies = [o for o in objects if o.kind == "NetworkPolicy"]
    isolations = [p for p in policies if str(p.name).startswith(PREFIX)]
    if not isolations:
        return
    inv = inventory(objects)
    for iso in isolations:
        ns = iso.namespace or "default"
        plain = []
        for q in policies:
            if (q.namespace or "default") != ns:
                continue
            try:
                plain.append(_plain(q.props))
            except UnknownValueError as e:
                yield iso, cannot_verify(e, q.props, subject=f"NetworkPolicy {ns}/{q.name}'s ")
                return
        pods = [Pod(ns, g.owner, {k: v for k, v in g.labels.items() if v is not ANY}) for g in inv.pods_in(ns)]
        net = Network(policies=plain, pods=pods)
        selector = get_map(iso.spec, "podSelector", "spec")
        for pod in pods:
            if not selector_matches(selector, pod.labels, "spec.podSelector"):
                continue
            for direction in (INGRESS, EGRESS):
                opened = sorted({name for name, _ in net.rules(pod, direction)})
                if not opened:
                    continue
                if opened == ["(not isolated)"]:
                    what = f"they are not isolated for {direction} (no policy of that type selects them)"
                else:
                    verb = "selects" if len(opened) == 1 else "select"
                    what = f"{', '.join(opened)} still {verb} them for {direction}"
                yield iso, (f"the pods of {pod.name} are under emergency isolation ({iso.name}), but {what}: "
                            "NetworkPolicies are additive, so the isolated pods keep that traffic (a namespace-wide "
                            "allow-dns is a tunnel out); exclude the isolated workload from every allow policy "
                            "(podSelector app NotIn [...]) and isolate both directions")


POLICY = stack_policy(
    name="networkpolicy-enforce-emergency-isolation",
    description="A workload under emergency isolation (emergency-isolate-*) is selected by no allow rule, in or out.",
    kinds=KINDS,
    severity=Severity.HIGH,
    control=nist_800_171("3.6.1"),
    tags=["cmmc:IR.L2-3.6.1", "iec62443:SR 5.1", "nist800-171:3.13.1", "nist800-207:tenet-7", "seed:emergency-isolation"],
    remediation="""
List the workload under hardened-stack:isolate and run pulumi up: HardenedNamespace renders
emergency-isolate-<app> (Ingress and Egress, no rules) and narrows every allow policy of the
namespace (allow-dns, the istiod egress, namespace-wide intents) with app NotIn [<app>]. A policy
written by hand must do the same: no other NetworkPolicy may select the isolated pods.""",
    check=check,
)
