"""service-disallow-external-exposure: no Service opens a way into the cluster around the gateway.

Type ``LoadBalancer`` or ``NodePort`` (and ``externalIPs``) expose pods outside the cluster,
bypassing the TLS ingress gateway and its WAF; only a named exemption (the gateway's own Service)
may do so.
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.k8s import get_list, get_str

EXTERNAL = ("LoadBalancer", "NodePort")


def check(obj, config):
    spec = obj.spec
    kind = get_str(spec, "type", "spec")
    if kind in EXTERNAL:
        yield (f"the Service is of type {kind} (spec.type), which exposes it outside the cluster around "
               "the TLS ingress gateway; use ClusterIP and route through the gateway, or add a named exemption")
    if get_list(spec, "externalIPs", "spec"):
        yield ("the Service sets spec.externalIPs, which lets it claim traffic for arbitrary addresses; "
               "remove them")


POLICY = resource_policy(
    name="service-disallow-external-exposure",
    description="Services must not be of type LoadBalancer or NodePort (or set externalIPs) unless exempted.",
    kinds=[("core", "Service")],
    severity=Severity.MEDIUM,
    control=nist_800_171("3.13.1"),
    tags=["cmmc:SC.L1-b.1.x", "cmmc:SC.L1-b.1.xi", "iec62443:SR 5.2", "nist800-207:tenet-2"],
    remediation="""
Make the Service type ClusterIP and publish it through the TLS ingress gateway (an HTTPRoute on
the Gateway). The gateway's own load balancer Service gets a named, expiring exemption in the
policy configuration.""",
    check=check,
)
