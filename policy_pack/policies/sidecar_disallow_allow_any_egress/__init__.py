"""sidecar-disallow-allow-any-egress: no Sidecar lets its workloads reach any external host.

The mesh sets ``outboundTrafficPolicy.mode: REGISTRY_ONLY`` (istio.io/latest/docs/ops/best-practices/security,
"Egress": only hosts the registry knows, ServiceEntries included, are reachable). A Sidecar's own
``spec.outboundTrafficPolicy.mode: ALLOW_ANY`` overrides that for the workloads it selects
(networking/v1 Sidecar ``OutboundTrafficPolicy``): every address of the internet, the cloud
metadata endpoint included, passes through the proxy as an unknown TCP stream. Refused in any
namespace; ``REGISTRY_ONLY`` or no outboundTrafficPolicy (the mesh's) passes.
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import finding, nist_800_171, resource_policy
from .._lib.k8s import get_map, get_str


def check(obj, config):
    policy = get_map(obj.spec, "outboundTrafficPolicy", "spec")
    if get_str(policy, "mode", "spec.outboundTrafficPolicy") == "ALLOW_ANY":
        yield finding("allow-any", "spec.outboundTrafficPolicy.mode is ALLOW_ANY: the selected workloads reach any "
                                   "external host, past the mesh's REGISTRY_ONLY egress; remove it and declare the "
                                   "external hosts they need as ServiceEntries")


POLICY = resource_policy(
    name="sidecar-disallow-allow-any-egress",
    description="Sidecars do not override the mesh's REGISTRY_ONLY egress with ALLOW_ANY.",
    kinds=[("networking.istio.io", "Sidecar")],
    severity=Severity.HIGH,
    control=nist_800_171("3.13.6"),
    tags=["cmmc:SC.L2-3.13.6", "iec62443:SR 5.1", "iec62443:SR 5.2", "nist800-207:tenet-5"],
    remediation="""
Remove spec.outboundTrafficPolicy (the mesh's REGISTRY_ONLY applies) and declare each external
host the workloads need with a ServiceEntry, routed through the egress gateway where the stack
has one.""",
    check=check,
)
