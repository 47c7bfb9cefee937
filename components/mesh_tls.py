"""The mesh's TLS floor (issue 17): TLS 1.3 for every mesh mTLS connection, and the key exchange
the edge offers.

* ``meshConfig.meshMTLS.minProtocolVersion: TLSV1_3`` in istiod's values: every ISTIO_MUTUAL
  connection (sidecar to sidecar, gateway to backend) refuses TLS 1.2. Istio's default minimum is
  TLS 1.2 so that proxyless workloads can join; this mesh has none (every tenant pod gets the
  sidecar, the gateway is an Envoy), so 1.3 costs nothing. Merged *under* the chart values
  (:func:`with_tls13_floor`): an ``extraValues`` override stays visible, and the pack's
  ``mesh-enforce-tls13-hybrid-kex`` reports it.
* The edge's key exchange: X25519MLKEM768 (the hybrid of X25519 and ML-KEM-768, RFC draft
  draft-ietf-tls-ecdhe-mlkem) first, X25519 as the fallback for clients without ML-KEM. Envoy
  takes the list as ``tls_params.ecdh_curves`` of the gateway's DownstreamTlsContext
  (:data:`EDGE_ECDH_CURVES`, set by :func:`components.ingress.tls_envoy_filter`); the pinned Istio
  1.27 proxy is Envoy built on BoringSSL, which knows the group by that name (Envoy offers it only
  when configured: its default list is X25519 and P-256). Behind the stack's ALB, clients negotiate
  with the ALB, whose default policy (``ELBSecurityPolicy-TLS13-1-3-PQ-2025-09``) offers the same
  hybrid group; docs/mesh.md and docs/ingress.md say what each hop negotiates.
"""
from __future__ import annotations

from typing import Any

from .base import deep_merge

#: Istio's name of the TLS 1.3 floor (MeshConfig.TLSConfig.TLSProtocol).
MESH_MIN_TLS = "TLSV1_3"
#: Hybrid post-quantum first, classical X25519 as the fallback (BoringSSL/Envoy group names).
EDGE_ECDH_CURVES = ("X25519MLKEM768", "X25519")


def mesh_tls_values() -> dict[str, Any]:
    """The istiod values that set the mesh's TLS floor."""
    return {"meshConfig": {"meshMTLS": {"minProtocolVersion": MESH_MIN_TLS}}}


def with_tls13_floor(values: dict[str, Any]) -> dict[str, Any]:
    """istiod *values* over the TLS floor: the floor applies unless the values say otherwise."""
    return deep_merge(mesh_tls_values(), values)
