"""gateway-disallow-plaintext-streams: no gateway listener accepts a plaintext TCP or UDP stream
from outside.

Gateway API listener protocols (gateway.networking.k8s.io/v1 ``Listener.protocol``): ``HTTPS`` and
``TLS`` carry TLS (gateway-missing-tls13-minimum judges its version, passthrough included),
``HTTP`` is judged by gateway-disallow-plaintext-http, and ``TCP`` and ``UDP`` (the listeners
``TCPRoute`` and ``UDPRoute`` attach to) carry whatever the client sends, in the clear: refused.
Istio's Gateway servers (networking.istio.io ``Server.port.protocol``) likewise: a ``TCP``,
``MONGO``, ``REDIS`` or ``MYSQL`` server without a ``tls`` block is refused. Listeners and servers
whose hosts are all internal (``.cluster.local``, ``.svc``, ``.local``, ``.internal``) are not an
edge and are not judged, as in gateway-disallow-plaintext-http.
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import finding, nist_800_171, resource_policy
from .._lib.k8s import get_map, get_str, maps, strings
from ..gateway_disallow_plaintext_http import GATEWAY, ISTIO_GATEWAY, internal

STREAMS = ("TCP", "UDP")
ISTIO_STREAMS = ("TCP", "MONGO", "REDIS", "MYSQL")


def check(obj, config):
    spec = obj.spec
    if obj.info is not None and obj.info.group == GATEWAY[0]:
        for _, listener, path in maps(spec, "listeners", "spec"):
            protocol = get_str(listener, "protocol", path)
            hostname = get_str(listener, "hostname", path)
            if protocol in STREAMS and not (hostname and internal([hostname])):
                yield finding("plaintext-stream", f"{path}.protocol is {protocol}: the gateway accepts a plaintext "
                                                  f"{protocol} stream from outside; use a TLS listener (protocol TLS, "
                                                  "mode Terminate, with a TLSRoute) instead")
        return
    for _, server, path in maps(spec, "servers", "spec"):
        port = get_map(server, "port", path)
        protocol = (get_str(port, "protocol", f"{path}.port") or "").upper()
        if protocol in ISTIO_STREAMS and "tls" not in server and not internal(strings(server, "hosts", path)):
            yield finding("plaintext-stream", f"{path}.port.protocol is {protocol} with no tls: the gateway accepts "
                                              "a plaintext stream from outside; use protocol TLS with a tls block "
                                              "(mode SIMPLE, minProtocolVersion TLSV1_3)")


POLICY = resource_policy(
    name="gateway-disallow-plaintext-streams",
    description="Gateway listeners and Istio Gateway servers accept no plaintext TCP or UDP stream from outside.",
    kinds=[GATEWAY, ISTIO_GATEWAY],
    severity=Severity.HIGH,
    control=nist_800_171("3.13.8"),
    tags=["cmmc:SC.L2-3.13.8", "iec62443:SR 4.1", "nist800-207:tenet-2"],
    remediation="""
Terminate TLS at the gateway: a listener with protocol TLS (tls.mode Terminate) and a TLSRoute
instead of TCP/UDP with a TCPRoute/UDPRoute; on an Istio Gateway, protocol TLS with a tls block.""",
    check=check,
)
