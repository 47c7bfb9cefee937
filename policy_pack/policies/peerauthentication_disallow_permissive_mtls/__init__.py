"""peerauthentication-disallow-permissive-mtls: no PeerAuthentication weakens mutual TLS.

The mesh runs STRICT mTLS from one PeerAuthentication in the root namespace; a namespace- or
workload-scoped PeerAuthentication overrides it for what it selects. ``PERMISSIVE`` accepts
plaintext next to mTLS and ``DISABLE`` turns mTLS off, for the whole policy (``mtls.mode``) or for
one port (``portLevelMtls``): either way an unauthenticated client is let in and the
AuthorizationPolicies lose the peer identity they judge.
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.k8s import get_map, get_str

WEAK = ("PERMISSIVE", "DISABLE")


def check(obj, config):
    spec = obj.spec
    mode = get_str(get_map(spec, "mtls", "spec"), "mode", "spec.mtls")
    if mode in WEAK:
        yield f"spec.mtls.mode is {mode}, which accepts plaintext; use STRICT (or leave it unset to inherit the mesh's STRICT)"
    ports = get_map(spec, "portLevelMtls", "spec")
    for port in sorted(ports, key=str):
        entry = get_map(ports, port, "spec.portLevelMtls")
        port_mode = get_str(entry, "mode", f"spec.portLevelMtls.{port}")
        if port_mode in WEAK:
            yield (f"spec.portLevelMtls.{port}.mode is {port_mode}, which accepts plaintext on port {port}; "
                   f"use STRICT or remove the port entry")


POLICY = resource_policy(
    name="peerauthentication-disallow-permissive-mtls",
    description="PeerAuthentications must not set PERMISSIVE or DISABLE mTLS, for the workload or any port.",
    kinds=[("security.istio.io", "PeerAuthentication")],
    severity=Severity.HIGH,
    control=nist_800_171("3.13.8"),
    tags=["nist800-171:3.13.15", "cmmc:SC.L2-3.13.8", "iec62443:SR 4.1", "iec62443:SR 1.2", "nist800-207:tenet-2", "nist800-207:tenet-6"],
    remediation="""
Set `spec.mtls.mode: STRICT` (or omit it to inherit the mesh-wide STRICT policy in istio-system)
and remove PERMISSIVE/DISABLE entries from `spec.portLevelMtls`. A client outside the mesh reaches
the workload through a gateway, not around mTLS.""",
    check=check,
)
