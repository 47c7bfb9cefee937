"""mesh-enforce-tls13-hybrid-kex: the mesh refuses TLS 1.2, and the edge offers a hybrid
post-quantum key exchange.

Judged in three places:

* the mesh configuration istiod reads: the ``mesh`` key of its ConfigMap (``istio``, or
  ``istio-<revision>``, as the istiod chart renders ``meshConfig``) sets
  ``meshMTLS.minProtocolVersion: TLSV1_3``. Istio's default minimum for mesh mTLS is TLS 1.2, so a
  mesh without the key accepts TLS 1.2 between workloads and from gateways. (A ``helm.v4.Chart``
  reaches the pack with no properties, so the rendered ConfigMap is what is judged; a
  ``helm.sh/v3:Release`` of ``istiod`` carries its values and is judged on them);
* an Istio ``EnvoyFilter`` that sets the TLS parameters of a gateway's listeners (a patch in the
  ``GATEWAY`` context whose value carries ``tls_params``): ``ecdh_curves`` lists ``X25519MLKEM768``
  first and ``X25519`` after it. Without the key Envoy offers X25519 and P-256 only (no
  post-quantum protection of recorded traffic); with ML-KEM alone, clients without it fail;
* an AWS load balancer listener (``aws:lb/listener:Listener`` or ``aws:alb/listener:Listener``) on
  HTTPS or TLS: its ``sslPolicy`` is TLS 1.3-only and hybrid post-quantum
  (``ELBSecurityPolicy-TLS13-1-3-*PQ*``, e.g. ``ELBSecurityPolicy-TLS13-1-3-PQ-2025-09``).

A value unknown during preview (a policy name computed from another resource) makes the verdict
advisory.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Iterator

import yaml
from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.k8s import Obj, Unverifiable, get_map, get_str, maps, strings, wrong

PQ_FIRST = "X25519MLKEM768"
FALLBACK = "X25519"
_TLS13_PQ_POLICY = re.compile(r"^ELBSecurityPolicy-TLS13-1-3-(?:[A-Za-z0-9]+-)*PQ-[0-9-]+$")


def _minimum(mesh: Mapping, where: str) -> Iterator[str]:
    mtls = get_map(mesh, "meshMTLS", where)
    minimum = get_str(mtls, "minProtocolVersion", f"{where}.meshMTLS")
    if minimum != "TLSV1_3":
        yield (f"{where}.meshMTLS.minProtocolVersion is {minimum or 'not set'} (Istio's default is TLS 1.2): "
               "workloads and gateways would accept TLS 1.2 for mesh mTLS; set meshConfig.meshMTLS."
               "minProtocolVersion: TLSV1_3")


def _release(obj: Obj) -> Iterator[str]:
    chart = get_str(obj.props, "chart", "") or ""
    if chart != "istiod" and not chart.endswith("/istiod"):
        return
    values = get_map(obj.props, "values", "")
    yield from _minimum(get_map(values, "meshConfig", "values"), "values.meshConfig")


def _mesh_config_map(obj: Obj) -> Iterator[str]:
    if not (obj.name == "istio" or obj.name.startswith("istio-")):
        return
    data = get_map(obj.props, "data", "data")
    text = data.get("mesh")
    if text is None:
        return
    if not isinstance(text, str):
        raise wrong("data.mesh", text, "a string of YAML (the mesh configuration)")
    try:
        mesh = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise Unverifiable("data.mesh", f"is not YAML ({e.__class__.__name__})", "render the mesh configuration as "
                                                                                  "the istiod chart does") from None
    if not isinstance(mesh, Mapping):
        raise wrong("data.mesh", mesh, "a mapping")
    yield from _minimum(mesh, "data.mesh")


def _first(value: Mapping, *keys: str) -> Any:
    for key in keys:
        if key in value and value[key] is not None:
            return value[key]
    return None


def _tls_params(value: Mapping, path: str) -> tuple[Mapping, str]:
    socket = get_map(value, "transport_socket", path) or get_map(value, "transportSocket", path)
    typed = get_map(socket, "typed_config", path) or get_map(socket, "typedConfig", path)
    common = get_map(typed, "common_tls_context", path) or get_map(typed, "commonTlsContext", path)
    params = get_map(common, "tls_params", path) or get_map(common, "tlsParams", path)
    key = "ecdh_curves" if "tls_params" in common else "ecdhCurves"
    return params, f"{path}.transport_socket.typed_config.common_tls_context.tls_params.{key}"


def _envoy_filter(obj: Obj) -> Iterator[str]:
    for _, patch, path in maps(obj.spec, "configPatches", "spec"):
        match = get_map(patch, "match", path)
        if get_str(match, "context", f"{path}.match") != "GATEWAY":
            continue
        value = get_map(get_map(patch, "patch", path), "value", f"{path}.patch")
        params, where = _tls_params(value, f"{path}.patch.value")
        if not params:
            continue
        curves = (strings(params, "ecdh_curves", where.rsplit(".", 1)[0])
                  or strings(params, "ecdhCurves", where.rsplit(".", 1)[0]))
        if not curves:
            yield (f"{where} is not set: the gateway offers X25519 and P-256 only; set it to "
                   f"[{PQ_FIRST}, {FALLBACK}] (hybrid post-quantum first, X25519 fallback)")
        elif curves[0] != PQ_FIRST:
            yield (f"{where} is {curves}: {PQ_FIRST} must come first, or clients that support it still negotiate a "
                   f"classical group")
        elif FALLBACK not in curves:
            yield f"{where} is {curves}: add {FALLBACK} after {PQ_FIRST} so clients without ML-KEM can connect"


def _listener(obj: Obj) -> Iterator[str]:
    protocol = (get_str(obj.props, "protocol", "") or "").upper()
    if protocol not in ("HTTPS", "TLS"):
        return
    policy = get_str(obj.props, "sslPolicy", "")
    if policy is None:
        yield ("sslPolicy is not set: AWS applies ELBSecurityPolicy-2016-08 (TLS 1.0 to 1.2, no post-quantum key "
               "exchange); set ELBSecurityPolicy-TLS13-1-3-PQ-2025-09")
    elif not _TLS13_PQ_POLICY.match(policy):
        what = "accepts TLS 1.2 or older" if not policy.startswith("ELBSecurityPolicy-TLS13-1-3-") else \
            "offers no hybrid post-quantum key exchange"
        yield f"sslPolicy {policy} {what}; set ELBSecurityPolicy-TLS13-1-3-PQ-2025-09 (TLS 1.3 only, X25519MLKEM768)"


def check(obj: Obj, config):
    if obj.info is not None and (obj.info.group, obj.info.kind) == ("helm.sh", "Release"):
        yield from _release(obj)
    elif obj.info is not None and (obj.info.group, obj.info.kind) == ("core", "ConfigMap"):
        yield from _mesh_config_map(obj)
    elif obj.info is not None and obj.info.kind == "EnvoyFilter":
        yield from _envoy_filter(obj)
    else:
        yield from _listener(obj)


POLICY = resource_policy(
    name="mesh-enforce-tls13-hybrid-kex",
    description="Mesh mTLS refuses TLS 1.2 (istiod meshMTLS minimum TLSV1_3); gateway and ALB listeners offer "
                "X25519MLKEM768 first with an X25519 fallback.",
    kinds=[("helm.sh", "Release"), ("core", "ConfigMap"), ("networking.istio.io", "EnvoyFilter"), ("aws:lb", "Listener"),
           ("aws:alb", "Listener")],
    severity=Severity.HIGH,
    control=nist_800_171("3.13.8"),
    tags=["cmmc:SC.L2-3.13.8", "iec62443:SR 4.1", "nist800-171:3.13.11", "nist800-207:tenet-2"],
    remediation="""
Set meshConfig.meshMTLS.minProtocolVersion: TLSV1_3 in the istiod chart values (ZeroTrustMesh
does; the chart writes it into the istio ConfigMap's mesh key); give the gateway's EnvoyFilter tls_params.ecdh_curves [X25519MLKEM768, X25519] next to
tls_minimum_protocol_version TLSv1_3 (TlsIngress does); put HTTPS listeners of load balancers on
ELBSecurityPolicy-TLS13-1-3-PQ-2025-09 (EdgeProtection does).""",
    check=check,
)
