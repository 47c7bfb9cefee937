"""TlsIngress and EdgeProtection: TLS 1.3 only with the AEAD suites, HSTS one year with
includeSubDomains and preload, plain HTTP only redirects, rate limits at the gateway and at the
WAF, AWS managed rules with metrics on, Shield Advanced only when switched on; bad TLS config
refused naming the field."""
from __future__ import annotations

import pytest

from components.config import ConfigError, parse_stack_config
from components.edge import MANAGED_RULE_GROUPS, WafConfig, web_acl_rules
from components.ingress import (AEAD_SUITES, ExternalService, IngressConfig, TlsIngressArgs, ingress_manifests)
from tests.admission.harness import k8s, prod_document, render

LB_ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/ingress/0123456789abcdef"
DASHBOARD = ExternalService(name="dashboard", namespace="lego-mcp-prod", port=5000, hostname="dashboard.lego-mcp.io")


@pytest.fixture(scope="module")
def prod_render():
    return render()


def by_kind(manifests, kind):
    return [m for _, m in manifests if m["kind"] == kind]


# --- bad input ---------------------------------------------------------------------------------

@pytest.mark.parametrize("key,value,loc,fragment", [
    ("minTlsVersion", "TLSv1.2", "ingress.minTlsVersion", "TLSv1.3 only"),
    ("cipherSuites", ["TLS_AES_256_GCM_SHA384", "ECDHE-RSA-AES128-SHA"], "ingress.cipherSuites",
     "'ECDHE-RSA-AES128-SHA' is not allowed"),
    ("cipherSuites", [], "ingress.cipherSuites", "at least one"),
    ("hstsMaxAgeSeconds", 86400, "ingress.hstsMaxAgeSeconds", "greater than or equal to 31536000"),
    ("controller", "traefik", "ingress.controller", "'istio' or 'nginx'"),
], ids=["tls12", "cbc-cipher", "no-cipher", "short-hsts", "unknown-controller"])
def test_weak_tls_config_is_refused_naming_the_field(key, value, loc, fragment):
    doc = prod_document()
    doc["ingress"][key] = value
    with pytest.raises(ConfigError) as e:
        parse_stack_config(doc)
    assert f"hardened-stack:{loc}" in str(e.value) and fragment in str(e.value)


@pytest.mark.parametrize("arn", ["arn:aws:ec2:us-east-1:123456789012:instance/i-1", "my-alb"])
def test_waf_association_needs_a_load_balancer_arn(arn):
    doc = prod_document()
    doc["ingress"]["waf"]["loadBalancerArn"] = arn
    with pytest.raises(ConfigError, match=r"ingress\.waf\.loadBalancerArn"):
        parse_stack_config(doc)


def test_non_managed_rule_group_is_refused():
    with pytest.raises(ValueError, match="not an AWS managed rule group"):
        WafConfig(managed_rule_groups=["MyRules"])


# --- Gateway API (istio) -----------------------------------------------------------------------

def test_every_https_listener_terminates_tls_with_a_cert_manager_certificate():
    m = ingress_manifests(TlsIngressArgs(services=[DASHBOARD]))
    (gw,) = by_kind(m, "Gateway")
    https = [lst for lst in gw["spec"]["listeners"] if lst["protocol"] == "HTTPS"]
    assert [lst["hostname"] for lst in https] == ["dashboard.lego-mcp.io"]
    assert https[0]["tls"] == {"mode": "Terminate",
                               "certificateRefs": [{"group": "", "kind": "Secret", "name": "dashboard-tls"}]}
    (cert,) = by_kind(m, "Certificate")
    assert cert["metadata"]["namespace"] == gw["metadata"]["namespace"] == "istio-ingress"
    assert cert["spec"]["secretName"] == "dashboard-tls"
    assert cert["spec"]["issuerRef"] == {"group": "cert-manager.io", "kind": "ClusterIssuer",
                                         "name": "letsencrypt-prod"}
    assert cert["spec"]["privateKey"]["rotationPolicy"] == "Always"


def test_https_listener_only_accepts_routes_from_the_workloads_namespace():
    (gw,) = by_kind(ingress_manifests(TlsIngressArgs(services=[DASHBOARD])), "Gateway")
    https = next(lst for lst in gw["spec"]["listeners"] if lst["protocol"] == "HTTPS")
    sel = https["allowedRoutes"]["namespaces"]
    assert sel["from"] == "Selector"
    assert sel["selector"]["matchExpressions"][0]["values"] == ["lego-mcp-prod"]


def test_plain_http_only_redirects_to_https():
    m = ingress_manifests(TlsIngressArgs(services=[DASHBOARD]))
    (gw,) = by_kind(m, "Gateway")
    http = [lst for lst in gw["spec"]["listeners"] if lst["protocol"] == "HTTP"]
    assert [lst["allowedRoutes"]["namespaces"]["from"] for lst in http] == ["Same"]
    redirect = next(r for r in by_kind(m, "HTTPRoute") if r["metadata"]["name"] == "https-redirect")
    (rule,) = redirect["spec"]["rules"]
    assert rule["filters"] == [{"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 301}}]
    assert "backendRefs" not in rule


def test_route_adds_hsts_one_year_with_subdomains_and_preload():
    m = ingress_manifests(TlsIngressArgs(services=[DASHBOARD]))
    route = next(r for r in by_kind(m, "HTTPRoute") if r["metadata"]["name"] == "dashboard")
    assert route["metadata"]["namespace"] == "lego-mcp-prod"
    assert route["spec"]["parentRefs"][0]["sectionName"] == "https-dashboard"
    (rule,) = route["spec"]["rules"]
    assert rule["filters"] == [{"type": "ResponseHeaderModifier", "responseHeaderModifier": {"set": [{
        "name": "Strict-Transport-Security", "value": "max-age=31536000; includeSubDomains; preload"}]}}]
    assert rule["backendRefs"] == [{"group": "", "kind": "Service", "name": "dashboard", "port": 5000}]


def test_gateway_tls_is_pinned_to_tls13():
    m = ingress_manifests(TlsIngressArgs(services=[DASHBOARD]))
    tls = next(f for f in by_kind(m, "EnvoyFilter") if f["metadata"]["name"] == "public-tls13")
    assert tls["spec"]["workloadSelector"] == {"labels": {"gateway.networking.k8s.io/gateway-name": "public"}}
    (patch,) = tls["spec"]["configPatches"]
    assert patch["match"] == {"context": "GATEWAY", "listener": {"portNumber": 443}}
    params = patch["patch"]["value"]["transport_socket"]["typed_config"]["common_tls_context"]["tls_params"]
    assert params == {"tls_minimum_protocol_version": "TLSv1_3", "tls_maximum_protocol_version": "TLSv1_3",
                      "ecdh_curves": ["X25519MLKEM768", "X25519"]}


def test_gateway_rate_limit_is_a_local_token_bucket():
    cfg = IngressConfig(rate_limit={"requests_per_second": 50, "burst": 80})
    m = ingress_manifests(TlsIngressArgs(config=cfg, services=[DASHBOARD]))
    rl = next(f for f in by_kind(m, "EnvoyFilter") if f["metadata"]["name"] == "public-local-rate-limit")
    value = rl["spec"]["configPatches"][0]["patch"]["value"]
    assert value["name"] == "envoy.filters.http.local_ratelimit"
    assert value["typed_config"]["token_bucket"] == {"max_tokens": 80, "tokens_per_fill": 50, "fill_interval": "1s"}
    assert value["typed_config"]["filter_enforced"]["default_value"]["numerator"] == 100


def test_gateway_pods_reach_only_istiod_and_the_exposed_backends():
    m = ingress_manifests(TlsIngressArgs(services=[DASHBOARD]))
    egress = [p for p in by_kind(m, "NetworkPolicy") if "Egress" in p["spec"]["policyTypes"]]
    targets = sorted((p["spec"]["egress"][0]["to"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
                      p["spec"]["egress"][0]["ports"][0]["port"]) for p in egress)
    assert targets == [("istio-system", 15012), ("lego-mcp-prod", 5000)]


# --- ingress-nginx (legacy) --------------------------------------------------------------------

def test_nginx_controller_configmap_has_the_seeds_tls13_and_hsts_settings():
    m = ingress_manifests(TlsIngressArgs(config=IngressConfig(controller="nginx", namespace="ingress-nginx"),
                                         services=[DASHBOARD]))
    (cm,) = by_kind(m, "ConfigMap")
    assert cm["metadata"] == {**cm["metadata"], "name": "ingress-nginx-controller", "namespace": "ingress-nginx"}
    d = cm["data"]
    assert d["ssl-protocols"] == "TLSv1.3"
    assert d["ssl-ciphers"] == ":".join(AEAD_SUITES)
    assert (d["hsts"], d["hsts-max-age"], d["hsts-include-subdomains"], d["hsts-preload"]) == (
        "true", "31536000", "true", "true")
    assert not by_kind(m, "Gateway") and not by_kind(m, "EnvoyFilter")


def test_nginx_ingress_always_has_tls_for_its_host():
    m = ingress_manifests(TlsIngressArgs(config=IngressConfig(controller="nginx", namespace="ingress-nginx"),
                                         services=[DASHBOARD]))
    (ing,) = by_kind(m, "Ingress")
    assert ing["spec"]["tls"] == [{"hosts": ["dashboard.lego-mcp.io"], "secretName": "dashboard-tls"}]
    assert ing["spec"]["rules"][0]["host"] == "dashboard.lego-mcp.io"
    (cert,) = by_kind(m, "Certificate")
    assert cert["metadata"]["namespace"] == "lego-mcp-prod"


def test_nginx_objects_are_valid_kubernetes():
    kv = pytest.importorskip("kubernetes_validate")
    m = ingress_manifests(TlsIngressArgs(config=IngressConfig(controller="nginx", namespace="ingress-nginx"),
                                         services=[DASHBOARD]))
    for _, obj in m:
        if obj["kind"] in ("Ingress", "ConfigMap", "NetworkPolicy"):
            kv.validate(obj, "1.33", strict=True)


# --- WAF -----------------------------------------------------------------------------------------

def test_web_acl_has_every_managed_group_and_a_rate_rule_with_metrics():
    rules = web_acl_rules(WafConfig(rate_limit=1500), "c")
    names = [r["name"] for r in rules]
    assert names == [*MANAGED_RULE_GROUPS, "rate-limit-per-ip"]
    assert [r["priority"] for r in rules] == list(range(len(rules)))
    for r in rules[:-1]:
        assert r["overrideAction"] == {"none": {}}
        assert r["statement"]["managedRuleGroupStatement"]["vendorName"] == "AWS"
    rate = rules[-1]
    assert rate["action"] == {"block": {}}
    assert rate["statement"]["rateBasedStatement"] == {"limit": 1500, "aggregateKeyType": "IP",
                                                       "evaluationWindowSec": 300}
    assert all(r["visibilityConfig"]["cloudwatchMetricsEnabled"] and r["visibilityConfig"]["sampledRequestsEnabled"]
               for r in rules)


def test_count_mode_is_an_explicit_opt_out():
    rules = web_acl_rules(WafConfig(mode="count"), "c")
    assert rules[0]["overrideAction"] == {"count": {}} and rules[-1]["action"] == {"count": {}}


# --- the rendered prod stack ---------------------------------------------------------------------

def _api_gateways(records):
    """The Gateway API Gateways (the egress gateway's is Istio's own networking.istio.io Gateway)."""
    return [m for m in k8s(records, "Gateway") if m["apiVersion"].startswith("gateway.networking.k8s.io/")]


def test_prod_exposes_the_dashboard_over_tls13_with_hsts(prod_render):
    records, _ = prod_render
    (gw,) = _api_gateways(records)
    assert {lst["hostname"] for lst in gw["spec"]["listeners"] if lst["protocol"] == "HTTPS"} == {
        "dashboard.lego-mcp.io"}
    (route,) = k8s(records, "HTTPRoute", name="dashboard", namespace="lego-mcp-prod")
    assert "preload" in route["spec"]["rules"][0]["filters"][0]["responseHeaderModifier"]["set"][0]["value"]
    assert k8s(records, "EnvoyFilter", name="public-tls13", namespace="istio-ingress")


def test_prod_web_acl_is_regional_and_protects_the_stacks_alb(prod_render):
    records, _ = prod_render
    (acl,) = [r for r in records if r.type == "aws:wafv2/webAcl:WebAcl"]
    assert acl.inputs["scope"] == "REGIONAL" and acl.inputs["defaultAction"] == {"allow": {}}
    assert acl.inputs["visibilityConfig"]["cloudwatchMetricsEnabled"] is True
    names = {r["name"] for r in acl.inputs["rules"]}
    assert set(MANAGED_RULE_GROUPS) | {"rate-limit-per-ip"} == names
    (assoc,) = [r for r in records if r.type == "aws:wafv2/webAclAssociation:WebAclAssociation"]
    (alb,) = [r for r in records if r.type == "aws:lb/loadBalancer:LoadBalancer"]
    assert assoc.inputs["resourceArn"].endswith(f"/{alb.name}")
    assert not [r for r in records if r.type == "aws:shield/protection:Protection"]


def test_shield_advanced_is_off_by_default_and_protects_the_lb_when_on():
    assert WafConfig.model_fields["shield_advanced"].default is False
    assert "US$3,000 per month" in WafConfig.model_fields["shield_advanced"].description
    doc = prod_document()
    waf = {**doc["ingress"]["waf"], "loadBalancerArn": LB_ARN, "shieldAdvanced": True}
    doc["ingress"].pop("alb")
    records, _ = render({"ingress": {**doc["ingress"], "waf": waf}})
    (assoc,) = [r for r in records if r.type == "aws:wafv2/webAclAssociation:WebAclAssociation"]
    assert assoc.inputs["resourceArn"] == LB_ARN and assoc.inputs["webAclArn"].startswith("arn:aws:wafv2:")
    (shield,) = [r for r in records if r.type == "aws:shield/protection:Protection"]
    assert shield.inputs["resourceArn"] == LB_ARN


def test_nginx_mode_renders_in_the_full_stack():
    doc = prod_document()
    alb = {**doc["ingress"]["alb"], "targetService": "ingress-nginx-controller"}
    records, _ = render({"ingress": {**doc["ingress"], "controller": "nginx", "namespace": "ingress-nginx",
                                     "alb": alb}})
    (ing,) = k8s(records, "Ingress")
    assert ing["spec"]["tls"][0]["hosts"] == ["dashboard.lego-mcp.io"]
    assert not _api_gateways(records)


def test_acme_issuer_solves_http01_through_the_gateways_port_80_listener(prod_render):
    records, _ = prod_render
    (issuer,) = k8s(records, "ClusterIssuer", name="letsencrypt-prod")
    acme = issuer["spec"]["acme"]
    assert acme["server"] == "https://acme-v02.api.letsencrypt.org/directory"
    assert acme["email"] == "security@lego-mcp.io"
    (solver,) = acme["solvers"]
    assert solver["http01"]["gatewayHTTPRoute"]["parentRefs"] == [{
        "group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "public", "namespace": "istio-ingress",
        "sectionName": "http-redirect"}]


def test_without_acme_the_issuer_is_expected_to_exist():
    m = ingress_manifests(TlsIngressArgs(config=IngressConfig(cluster_issuer="hardened-internal-ca"),
                                         services=[DASHBOARD]))
    assert not by_kind(m, "ClusterIssuer")
    assert by_kind(m, "Certificate")[0]["spec"]["issuerRef"]["name"] == "hardened-internal-ca"


# --- the gateway in a SPIRE-backed mesh ----------------------------------------------------------

def _merge_by_name(base: list[dict], patch: list[dict], key: str) -> list[dict]:
    """Strategic merge of a list with a merge key, as istiod applies the overlay: entries with the
    same key merge field by field, and a null field is deleted."""
    out = [dict(b) for b in base]
    for p in patch:
        target = next((o for o in out if o.get(key) == p[key]), None)
        if target is None:
            out.append({k: v for k, v in p.items() if v is not None})
            continue
        for k, v in p.items():
            if v is None:
                target.pop(k, None)
            else:
                target[k] = v
    return out


def test_spire_gateway_gets_the_workload_api_socket_through_its_infrastructure_overlay():
    import yaml

    args = TlsIngressArgs(services=[DASHBOARD], spire_csi_driver="csi.spiffe.io")
    manifests = dict(ingress_manifests(args))
    gw = manifests["gateway"]
    ref = gw["spec"]["infrastructure"]["parametersRef"]
    assert ref == {"group": "", "kind": "ConfigMap", "name": "public-infrastructure"}
    cm = manifests["gateway-infrastructure"]
    assert (cm["metadata"]["name"], cm["metadata"]["namespace"]) == (ref["name"], gw["metadata"]["namespace"])
    overlay = yaml.safe_load(cm["data"]["deployment"])["spec"]["template"]["spec"]
    # istiod 1.27's kube-gateway template: the socket volume is an emptyDir, mounted at this path
    volumes = _merge_by_name([{"name": "workload-socket", "emptyDir": {}}, {"name": "istio-data", "emptyDir": {}}],
                             overlay["volumes"], "name")
    assert volumes[0] == {"name": "workload-socket", "csi": {"driver": "csi.spiffe.io", "readOnly": True}}, \
        "a volume with both emptyDir and csi is invalid"
    (proxy,) = overlay["containers"]
    mounts = _merge_by_name([{"name": "workload-socket", "mountPath": "/var/run/secrets/workload-spiffe-uds"}],
                            proxy["volumeMounts"], "mountPath")
    assert proxy["name"] == "istio-proxy" and len(mounts) == 1 and mounts[0]["readOnly"] is True


def test_without_spire_the_gateway_keeps_istios_defaults():
    manifests = dict(ingress_manifests(TlsIngressArgs(services=[DASHBOARD])))
    assert "infrastructure" not in manifests["gateway"]["spec"]
    assert "gateway-infrastructure" not in manifests


def test_prod_gateway_pods_get_an_svid_that_tenant_policies_admit(prod_render):
    records, _ = prod_render
    (gw,) = _api_gateways(records)
    name = gw["metadata"]["name"]
    assert k8s(records, "ConfigMap", name=gw["spec"]["infrastructure"]["parametersRef"]["name"],
               namespace="istio-ingress")
    (sid,) = k8s(records, "ClusterSPIFFEID", name=f"istio-ingress-{name}-gateway")
    assert sid["spec"]["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "istio-ingress"}}
    assert sid["spec"]["podSelector"] == {"matchLabels": {"gateway.networking.k8s.io/gateway-name": name}}
    assert sid["spec"]["spiffeIDTemplate"].startswith("spiffe://{{ .TrustDomain }}/ns/{{ .PodMeta.Namespace }}/sa/")
    allow = k8s(records, "AuthorizationPolicy", name="allow-dashboard-5000", namespace="lego-mcp-prod")[0]
    assert {"source": {"namespaces": ["istio-ingress"]}} in allow["spec"]["rules"][0]["from"]
