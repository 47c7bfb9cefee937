"""gateway-missing-tls13-minimum: every TLS listener of a Gateway terminates TLS itself, and
TLS 1.3 is pinned as the minimum protocol for the gateway's pods.

Gateway API v1 has no field for the TLS protocol version, so on Istio the minimum is set by an
``EnvoyFilter`` (networking.istio.io) that selects the Gateway's pods (label
``gateway.networking.k8s.io/gateway-name: <gateway>``) and merges
``common_tls_context.tls_params.tls_minimum_protocol_version: TLSv1_3`` into their filter chains
(see docs/ingress.md). A listener in ``Passthrough`` mode hands TLS to the backend, where the
gateway can enforce nothing. A stack policy: it needs the Gateway and the EnvoyFilter together.

Istio's own ``Gateway`` (networking.istio.io) has the field: each server that terminates TLS
(``tls.mode`` SIMPLE, MUTUAL or OPTIONAL_MUTUAL, on an HTTPS or TLS port) must set
``tls.minProtocolVersion: TLSV1_3`` (unset means Envoy's default, TLS 1.2), and no
``maxProtocolVersion`` below it; ``PASSTHROUGH`` and ``AUTO_PASSTHROUGH`` hand TLS to the backend
and are refused like a Passthrough listener. ``ISTIO_MUTUAL`` servers speak the mesh's own mTLS
(east-west) and follow the mesh's TLS settings, so they are not judged here.
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, stack_policy
from .._lib.k8s import get_list, get_map, get_str, maps

GATEWAY = ("gateway.networking.k8s.io", "Gateway")
ENVOY_FILTERS = (("networking.istio.io", "EnvoyFilter"),)
ISTIO_GATEWAY = ("networking.istio.io", "Gateway")
ISTIO_PASSTHROUGH = ("PASSTHROUGH", "AUTO_PASSTHROUGH")
SELECTOR_LABEL = "gateway.networking.k8s.io/gateway-name"
TLS_PROTOCOLS = {"HTTPS", "TLS"}


def _pins_tls13(envoy_filter) -> bool:
    for _, patch, path in maps(envoy_filter.spec, "configPatches", "spec"):
        if get_str(patch, "applyTo", path) not in ("FILTER_CHAIN", "LISTENER"):
            continue
        value = get_map(get_map(patch, "patch", path), "value", f"{path}.patch")
        socket = get_map(value, "transport_socket", "value") or get_map(value, "transportSocket", "value")
        typed = get_map(socket, "typed_config", "transport_socket") or get_map(socket, "typedConfig", "transportSocket")
        common = get_map(typed, "common_tls_context", "typed_config") or get_map(typed, "commonTlsContext", "typedConfig")
        params = get_map(common, "tls_params", "common_tls_context") or get_map(common, "tlsParams", "commonTlsContext")
        minimum = (get_str(params, "tls_minimum_protocol_version", "tls_params")
                   or get_str(params, "tlsMinimumProtocolVersion", "tlsParams"))
        if minimum == "TLSv1_3":
            return True
    return False


def _selects(envoy_filter, gateway) -> bool:
    if envoy_filter.namespace != gateway.namespace:
        return False
    selector = get_map(envoy_filter.spec, "workloadSelector", "spec")
    labels = get_map(selector, "labels", "spec.workloadSelector")
    if labels.get(SELECTOR_LABEL) == gateway.name:
        return True
    for _, ref, path in maps(envoy_filter.spec, "targetRefs", "spec"):
        if get_str(ref, "kind", path) == "Gateway" and get_str(ref, "name", path) == gateway.name:
            return True
    return False


def istio_gateway_findings(gw):
    for _, server, path in maps(gw.spec, "servers", "spec"):
        port = get_map(server, "port", path)
        protocol = (get_str(port, "protocol", f"{path}.port") or "").upper()
        tls = get_map(server, "tls", path)
        mode = (get_str(tls, "mode", f"{path}.tls") or "").upper()
        if protocol not in TLS_PROTOCOLS and not (mode and protocol not in ("HTTP", "HTTP2", "GRPC", "TCP")):
            continue
        if mode in ISTIO_PASSTHROUGH:
            yield (f"{path}.tls.mode is {mode}: the gateway hands TLS to the backend and cannot enforce TLS 1.3; "
                   "terminate TLS at the gateway (mode SIMPLE with credentialName)")
            continue
        if mode == "ISTIO_MUTUAL":
            continue
        minimum = get_str(tls, "minProtocolVersion", f"{path}.tls")
        if minimum != "TLSV1_3":
            shown = minimum or "unset (Envoy's default, TLS 1.2)"
            yield f"{path}.tls.minProtocolVersion is {shown}; set it to TLSV1_3"
        maximum = get_str(tls, "maxProtocolVersion", f"{path}.tls")
        if maximum not in (None, "TLSV1_3", "TLS_AUTO"):
            yield f"{path}.tls.maxProtocolVersion is {maximum}, below TLS 1.3; remove it or set TLSV1_3"


def check(objects, config):
    for gw in objects:
        if (gw.info.group, gw.info.kind) == ISTIO_GATEWAY:
            for message in istio_gateway_findings(gw):
                yield gw, f"Istio Gateway {gw.namespace}/{gw.name}: {message}"
    gateways = [o for o in objects if (o.info.group, o.info.kind) == GATEWAY]
    filters = [o for o in objects if (o.info.group, o.info.kind) in ENVOY_FILTERS]
    for gw in gateways:
        tls_listeners = []
        for _, listener, path in maps(gw.spec, "listeners", "spec"):
            if get_str(listener, "protocol", path) not in TLS_PROTOCOLS:
                continue
            tls_listeners.append(path)
            tls = get_map(listener, "tls", path)
            mode = get_str(tls, "mode", f"{path}.tls") or "Terminate"
            if mode != "Terminate":
                yield gw, (f"{path} ({get_str(listener, 'name', path)}) uses tls.mode {mode}: the gateway cannot "
                           "enforce TLS 1.3; terminate TLS at the gateway (mode Terminate with certificateRefs)")
            elif not get_list(tls, "certificateRefs", f"{path}.tls"):
                yield gw, f"{path} terminates TLS without tls.certificateRefs; reference the certificate Secret"
        if tls_listeners and not any(_selects(f, gw) and _pins_tls13(f) for f in filters):
            yield gw, (f"Gateway {gw.namespace}/{gw.name} has TLS listeners but no EnvoyFilter in its namespace pins "
                       f"TLS 1.3 for its pods (workloadSelector {SELECTOR_LABEL}: {gw.name}, "
                       "tls_params.tls_minimum_protocol_version: TLSv1_3); clients may negotiate TLS 1.2 or older")


POLICY = stack_policy(
    name="gateway-missing-tls13-minimum",
    description="Gateway TLS listeners (Gateway API and Istio) terminate TLS and accept TLS 1.3 only.",
    kinds=[GATEWAY, *ENVOY_FILTERS, ISTIO_GATEWAY],
    severity=Severity.HIGH,
    control=nist_800_171("3.13.8"),
    tags=["cmmc:SC.L2-3.13.8", "iec62443:SR 4.1", "nist800-207:tenet-2"],
    remediation="""
Terminate TLS at the Gateway (listeners with tls.mode Terminate and certificateRefs) and add an
EnvoyFilter in the Gateway's namespace with workloadSelector
{labels: {gateway.networking.k8s.io/gateway-name: <gateway>}} that merges
transport_socket.typed_config.common_tls_context.tls_params.tls_minimum_protocol_version: TLSv1_3
into the gateway's FILTER_CHAINs (TlsIngress creates it as <gateway>-tls13). On an Istio Gateway
(networking.istio.io), give every TLS server tls.mode SIMPLE with credentialName and
tls.minProtocolVersion: TLSV1_3.""",
    check=check,
)
