"""destinationrule-disallow-tls-downgrade: no DestinationRule turns the mesh's mutual TLS off, or
swaps it for TLS without the mesh's identities, toward a service of the mesh.

Istio's clients use ISTIO_MUTUAL (auto mTLS) toward every service of the mesh unless a
DestinationRule's ``trafficPolicy.tls`` says otherwise (istio.io/latest/docs/ops/best-practices/security,
"Mutual TLS"; networking/v1 DestinationRule ``ClientTLSSettings``). Refused, in ``spec.trafficPolicy``,
every ``portLevelSettings[]`` and every ``subsets[].trafficPolicy``:

- ``tls.mode: DISABLE`` toward a host of the mesh (a short name, ``*.svc``, ``*.svc.cluster.local``,
  ``*.cluster.local``, or ``*``): plaintext, and the server's AuthorizationPolicies lose the caller's
  identity (or refuse it under STRICT, a self-inflicted outage);
- ``tls.mode: SIMPLE`` or ``MUTUAL`` toward such a host: TLS without the mesh's SPIFFE identities,
  which the server side cannot authorise by principal;
- ``tls.insecureSkipVerify: true`` toward any host: the server certificate is not verified.

Toward external hosts, ``SIMPLE`` and ``MUTUAL`` are TLS origination (the recommended way to call
an external service) and ``DISABLE`` is Istio's default for them: both pass.
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import finding, nist_800_171, resource_policy
from .._lib.k8s import get_bool, get_map, get_str, maps

MESH_SUFFIXES = (".svc", ".svc.cluster.local", ".cluster.local")


def in_mesh(host: str) -> bool:
    """Whether *host* names services of the mesh (Istio expands a short name in the rule's namespace)."""
    host = host.rstrip(".")
    return host == "*" or "." not in host or host.endswith(MESH_SUFFIXES) or host == "*.local"


def _policies(spec):
    yield get_map(spec, "trafficPolicy", "spec"), "spec.trafficPolicy"
    for _, subset, path in maps(spec, "subsets", "spec"):
        yield get_map(subset, "trafficPolicy", path), f"{path}.trafficPolicy"


def _tls_settings(spec):
    for policy, path in _policies(spec):
        if "tls" in policy:
            yield get_map(policy, "tls", path), f"{path}.tls"
        for _, port, ppath in maps(policy, "portLevelSettings", path):
            if "tls" in port:
                yield get_map(port, "tls", ppath), f"{ppath}.tls"


def check(obj, config):
    spec = obj.spec
    host = get_str(spec, "host", "spec") or ""
    mesh = in_mesh(host)
    for tls, path in _tls_settings(spec):
        mode = get_str(tls, "mode", path)
        if get_bool(tls, "insecureSkipVerify", path) is True:
            yield finding("insecure-skip-verify", f"{path}.insecureSkipVerify is true: the client does not verify "
                                                  f"{host}'s certificate; remove it and set caCertificates or a "
                                                  "credentialName")
        if mesh and mode == "DISABLE":
            yield finding("mtls-disabled", f"{path}.mode is DISABLE toward {host}, a service of the mesh: plaintext, "
                                           "and the server loses the caller's identity; remove the tls block (auto "
                                           "mTLS) or set ISTIO_MUTUAL")
        elif mesh and mode in ("SIMPLE", "MUTUAL"):
            yield finding("mtls-replaced", f"{path}.mode is {mode} toward {host}, a service of the mesh: TLS without "
                                           "the mesh's SPIFFE identities, so the server cannot authorise the caller by "
                                           "principal; use ISTIO_MUTUAL")


POLICY = resource_policy(
    name="destinationrule-disallow-tls-downgrade",
    description="DestinationRules keep the mesh's mutual TLS toward its services and verify servers' certificates.",
    kinds=[("networking.istio.io", "DestinationRule")],
    severity=Severity.HIGH,
    control=nist_800_171("3.13.8"),
    tags=["cmmc:SC.L2-3.13.8", "iec62443:SR 1.2", "iec62443:SR 4.1", "nist800-171:3.13.15", "nist800-207:tenet-2",
          "nist800-207:tenet-6"],
    remediation="""
Toward services of the mesh, remove trafficPolicy.tls (auto mTLS) or set mode: ISTIO_MUTUAL, in
the rule, its portLevelSettings and its subsets. Never set insecureSkipVerify: give caCertificates
or a credentialName instead.""",
    check=check,
)
