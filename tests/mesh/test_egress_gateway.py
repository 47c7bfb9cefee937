"""The egress gateway's builders (components/egress.py), one property at a time; the prod render's
paths and authorization are attacked in tests/paths/test_egress.py."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from components import egress
from components.egress import EgressClient, EgressGatewayArgs, EgressGatewayConfig, egress_manifests

PROXY = "registry.istio.io/release/proxyv2:1.30.3"
DIGEST = "sha256:" + "ab" * 32


def _args(clients=None, **kw) -> EgressGatewayArgs:
    clients = clients if clients is not None else [
        EgressClient(name="cm", namespace="cert-manager", service_account="cert-manager",
                     pod_labels={"app": "cm"}, tls_hosts=["acme.example.org"], http_hosts=["www.example.org"]),
        EgressClient(name="pc", namespace="cosign-system", service_account="pc", pod_labels={"app": "pc"},
                     tls_hosts=["ghcr.io", "acme.example.org"])]
    return EgressGatewayArgs(clients=clients, trust_domain="td.example", proxy_image=PROXY, **kw)


def _one(manifests, kind, name=None, namespace=None):
    found = [m for _, m in manifests if m["kind"] == kind and name in (None, m["metadata"]["name"])
             and namespace in (None, m["metadata"]["namespace"])]
    assert len(found) == 1, (kind, name, [m["metadata"]["name"] for m in found])
    return found[0]


def _pod(args):
    return _one(egress_manifests(args), "Deployment")["spec"]["template"]


def test_the_gateway_proxy_runs_restricted_with_limits_and_probes():
    (c,) = _pod(_args())["spec"]["containers"]
    sc = c["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["runAsNonRoot"] is True and sc["runAsUser"] >= 1000 and sc["readOnlyRootFilesystem"] is True
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"} and sc["privileged"] is False
    assert c["resources"]["limits"] and c["readinessProbe"]["httpGet"]["port"] == 15021
    assert _pod(_args())["spec"]["automountServiceAccountToken"] is False


def test_the_gateway_pods_are_injected_with_the_gateway_template():
    meta = _pod(_args())["metadata"]
    assert meta["labels"][egress.INJECT_LABEL] == "true"
    assert meta["annotations"][egress.TEMPLATES_ANNOTATION] == "gateway,spire"
    assert _pod(_args(spire=False))["metadata"]["annotations"][egress.TEMPLATES_ANNOTATION] == "gateway"


def test_a_digest_pins_the_image_and_tells_the_injector():
    pinned = _pod(_args(config=EgressGatewayConfig(image_digest=DIGEST)))
    assert pinned["spec"]["containers"][0]["image"] == f"{PROXY}@{DIGEST}"
    assert pinned["metadata"]["annotations"][egress.PROXY_IMAGE_ANNOTATION] == f"{PROXY}@{DIGEST}"
    tagged = _pod(_args())
    assert tagged["spec"]["containers"][0]["image"] == PROXY
    assert egress.PROXY_IMAGE_ANNOTATION not in tagged["metadata"]["annotations"]
    with pytest.raises(ValidationError, match="imageDigest"):
        EgressGatewayConfig(image_digest="sha256:short")


def test_one_mutual_tls_server_per_host_and_port():
    gw = _one(egress_manifests(_args()), "Gateway")
    servers = {(s["hosts"][0], s["port"]["number"], s["port"]["protocol"]) for s in gw["spec"]["servers"]}
    assert servers == {("acme.example.org", 443, "TLS"), ("ghcr.io", 443, "TLS"), ("www.example.org", 80, "HTTPS")}
    assert all(len(s["hosts"]) == 1 and s["tls"] == {"mode": "ISTIO_MUTUAL"} for s in gw["spec"]["servers"])


def test_a_shared_host_is_one_route_exported_to_both_clients_and_authorized_per_client():
    m = egress_manifests(_args())
    se = _one(m, "ServiceEntry", "acme-example-org")
    assert se["spec"]["exportTo"] == ["cert-manager", "cosign-system", egress.NAMESPACE]
    assert _one(m, "ServiceEntry", "ghcr-io")["spec"]["exportTo"] == ["cosign-system", egress.NAMESPACE]
    rules = _one(m, "AuthorizationPolicy", "allow-egress-clients")["spec"]["rules"]
    by_principal = {}
    for r in rules:
        by_principal.setdefault(r["from"][0]["source"]["principals"][0], []).append(
            (r["to"][0]["operation"]["ports"], r["when"][0]["values"]))
    assert by_principal == {
        "td.example/ns/cert-manager/sa/cert-manager": [(["443"], ["acme.example.org"]), (["80"], ["www.example.org"])],
        "td.example/ns/cosign-system/sa/pc": [(["443"], ["acme.example.org", "ghcr.io"])]}


def test_port_80_exists_only_for_a_client_with_http_hosts():
    only_tls = _args([EgressClient(name="pc", namespace="cosign-system", service_account="pc",
                                   pod_labels={"app": "pc"}, tls_hosts=["ghcr.io"])])
    m = egress_manifests(only_tls)
    assert [p["port"] for p in _one(m, "Service")["spec"]["ports"]] == [443]
    (rule,) = _one(m, "NetworkPolicy", "allow-egress-internet")["spec"]["egress"]
    assert [p["port"] for p in rule["ports"]] == [443]
    assert "http" not in _one(m, "VirtualService", "ghcr-io")["spec"]


def test_each_client_reaches_only_the_gateway_and_istiod():
    m = egress_manifests(_args())
    pol = _one(m, "NetworkPolicy", "allow-egress-egress-gateway", "cert-manager")
    assert pol["spec"]["podSelector"] == {"matchLabels": {"app": "cm"}}
    to_gateway, to_istiod = pol["spec"]["egress"]
    assert to_gateway["to"][0]["podSelector"] == {"matchLabels": egress.POD_LABELS}
    assert [p["port"] for p in to_gateway["ports"]] == [443, 80]
    assert to_istiod["ports"] == [{"protocol": "TCP", "port": 15012}]
    assert not any("ipBlock" in peer for r in pol["spec"]["egress"] for peer in r["to"])
    pc = _one(m, "NetworkPolicy", "allow-egress-egress-gateway", "cosign-system")
    assert [p["port"] for p in pc["spec"]["egress"][0]["ports"]] == [443]


def test_the_gateways_internet_egress_never_reaches_private_ranges_or_metadata():
    (rule,) = _one(egress_manifests(_args()), "NetworkPolicy", "allow-egress-internet")["spec"]["egress"]
    assert {"10.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"} <= set(
        rule["to"][0]["ipBlock"]["except"])


@pytest.mark.parametrize("url, host", [("https://acme-v02.api.letsencrypt.org/directory", "acme-v02.api.letsencrypt.org"),
                                       ("https://ACME.Example.org:443/dir", "acme.example.org")])
def test_url_host(url, host):
    assert egress.url_host(url) == host


@pytest.mark.parametrize("url", ["https://10.0.0.1/directory", "https://[::1]/x", "https://localhost/x"])
def test_a_url_without_a_dns_name_is_refused(url):
    with pytest.raises(ValueError):
        egress.url_host(url)


def test_an_acme_server_the_gateway_cannot_name_is_refused_naming_the_field():
    from components.ingress import AcmeConfig
    with pytest.raises(ValidationError, match="server"):
        AcmeConfig(email="a@b.io", server="https://10.0.0.1/directory")


# --- TLS on another port (falcosidekick's Splunk HEC on 8088) --------------------------------------

def _siem_args():
    return _args(_args().clients + [EgressClient(name="sk", namespace="falco", service_account="falcosidekick",
                                                 pod_labels={"app": "sk"}, tls_ports={8088: ["siem.example.org"]})])


def test_a_tls_host_on_another_port_is_served_routed_and_authorized_on_that_port_only():
    m = egress_manifests(_siem_args())
    svc_ports = {p["port"]: p["name"] for p in _one(m, "Service")["spec"]["ports"]}
    assert svc_ports == {80: "http2", 443: "tls", 8088: "tls-8088"}  # Istio reads TLS from the name
    gw = _one(m, "Gateway")
    (server,) = [s for s in gw["spec"]["servers"] if s["hosts"] == ["siem.example.org"]]
    assert server["port"]["number"] == 8088 and server["port"]["protocol"] == "TLS"
    vs = _one(m, "VirtualService", "siem-example-org")["spec"]
    assert [(r["match"][0]["port"], r["match"][0]["sniHosts"], r["route"][0]["destination"]["port"]["number"])
            for r in vs["tls"]] == [(8088, ["siem.example.org"], 8088)]
    assert [r["route"][0]["destination"] for r in vs["tcp"]] == [{"host": "siem.example.org", "port": {"number": 8088}}]
    assert "http" not in vs and vs["exportTo"] == ["falco", egress.NAMESPACE]
    se = _one(m, "ServiceEntry", "siem-example-org")["spec"]
    assert se["ports"] == [{"name": "tls-8088", "number": 8088, "protocol": "TLS"}]
    rules = [r for r in _one(m, "AuthorizationPolicy", "allow-egress-clients")["spec"]["rules"]
             if r["from"][0]["source"]["principals"] == ["td.example/ns/falco/sa/falcosidekick"]]
    assert rules == [{"from": [{"source": {"principals": ["td.example/ns/falco/sa/falcosidekick"]}}],
                      "to": [{"operation": {"ports": ["8088"]}}],
                      "when": [{"key": "connection.sni", "values": ["siem.example.org"]}]}]
    sk = _one(m, "NetworkPolicy", "allow-egress-egress-gateway", "falco")
    assert [p["port"] for p in sk["spec"]["egress"][0]["ports"]] == [8088]
    (rule,) = _one(m, "NetworkPolicy", "allow-egress-internet")["spec"]["egress"]
    assert [p["port"] for p in rule["ports"]] == [80, 443, 8088]
    # the other clients do not get the new port
    assert [p["port"] for p in _one(m, "NetworkPolicy", "allow-egress-egress-gateway", "cosign-system")
            ["spec"]["egress"][0]["ports"]] == [443]


@pytest.mark.parametrize("port", [443, 80, 0, 65536, 15001, 15021])
def test_tls_ports_refuse_the_classic_and_istios_reserved_ports(port):
    with pytest.raises(ValidationError, match="tls_ports"):
        EgressClient(name="sk", namespace="falco", service_account="sk", pod_labels={"app": "sk"},
                     tls_ports={port: ["siem.example.org"]})
