"""ZeroTrustMesh: STRICT mTLS, deny by default, ALLOW only what an intent says (by SPIFFE
principal), JWT required at external entry points, SPIRE as the identity source."""
from __future__ import annotations

import pytest

from components.config import ConfigError, parse_stack_config
from components.mesh import (MeshConfig, MeshIntent, MeshWorkload, ZeroTrustMeshArgs, _cni_values, _values,
                             mesh_policies, network_policies, principal)
from components.spire import CSI_DRIVER

from .conftest import charts, k8s

TD = "lego-mcp.io"
JWT = {"issuer": "https://login.example/realms/prod", "jwksUri": "https://login.example/realms/prod/certs"}


def _wl(ns, name, port, external=False, sid=None):
    return MeshWorkload(namespace=ns, name=name, port=port, external=external,
                        spiffe_id=sid or f"spiffe://{TD}/ns/{ns}/sa/{name}")


def _args(intents=(), workloads=None, jwt=JWT, **cfg) -> ZeroTrustMeshArgs:
    workloads = workloads if workloads is not None else [
        _wl("shop", "web", 8080, external=True), _wl("shop", "api", 9000), _wl("shop", "db", 5432)]
    return ZeroTrustMeshArgs(
        config=MeshConfig.model_validate({**({"jwt": jwt} if jwt else {}), **cfg}), trust_domain=TD,
        tenant_namespaces=["shop"], workloads=workloads,
        intents=[MeshIntent(source=s, destination=d, port=p) for s, d, p in intents])


def _by_kind(manifests, kind):
    return [m for _, m in manifests if m["kind"] == kind]


# --- mTLS --------------------------------------------------------------------------------------

def test_peer_authentication_is_strict_mesh_wide_in_the_root_namespace():
    (pa,) = _by_kind(mesh_policies(_args()), "PeerAuthentication")
    assert pa["metadata"]["namespace"] == "istio-system" and pa["metadata"]["name"] == "default"
    assert pa["spec"] == {"mtls": {"mode": "STRICT"}}, "no selector, no portLevelMtls: STRICT everywhere"


# --- authorization -----------------------------------------------------------------------------

def test_every_tenant_namespace_denies_by_default():
    (deny,) = [m for m in _by_kind(mesh_policies(_args()), "AuthorizationPolicy")
               if m["metadata"]["name"] == "default-deny"]
    assert deny["metadata"]["namespace"] == "shop"
    assert deny["spec"] == {}, "an empty AuthorizationPolicy allows nothing"


def test_no_intents_means_no_allow_rules():
    allows = [m for m in _by_kind(mesh_policies(_args(jwt=None, requireJwtOnExternal=False)), "AuthorizationPolicy")
              if m["spec"].get("action") == "ALLOW"]
    assert allows == []


def test_intent_becomes_allow_for_the_source_principal_on_the_port_only():
    out = mesh_policies(_args([("shop/web", "shop/api", 9000)]))
    (allow,) = [m for m in _by_kind(out, "AuthorizationPolicy") if m["metadata"]["name"] == "allow-api-9000"]
    spec = allow["spec"]
    assert spec["selector"] == {"matchLabels": {"app": "api"}}
    assert spec["action"] == "ALLOW"
    (rule,) = spec["rules"]
    assert rule["from"] == [{"source": {"principals": [f"{TD}/ns/shop/sa/web"]}}]
    assert rule["to"] == [{"operation": {"ports": ["9000"]}}]


def test_namespace_wide_source_uses_namespaces_not_principals():
    out = mesh_policies(_args([("istio-ingress/*", "shop/web", 8080)]))
    (allow,) = [m for m in _by_kind(out, "AuthorizationPolicy") if m["metadata"]["name"] == "allow-web-8080"]
    assert allow["spec"]["rules"][0]["from"] == [{"source": {"namespaces": ["istio-ingress"]}}]


def test_intents_to_one_port_merge_into_one_policy_with_every_source():
    out = mesh_policies(_args([("shop/web", "shop/db", 5432), ("shop/api", "shop/db", 5432)]))
    (allow,) = [m for m in _by_kind(out, "AuthorizationPolicy") if m["metadata"]["name"] == "allow-db-5432"]
    assert allow["spec"]["rules"][0]["from"][0]["source"]["principals"] == [
        f"{TD}/ns/shop/sa/api", f"{TD}/ns/shop/sa/web"]


def test_spiffe_id_override_is_the_principal():
    wls = [_wl("shop", "web", 8080, sid=f"spiffe://{TD}/frontend"), _wl("shop", "api", 9000)]
    out = mesh_policies(_args([("shop/web", "shop/api", 9000)], workloads=wls, jwt=None, requireJwtOnExternal=False))
    (allow,) = [m for m in _by_kind(out, "AuthorizationPolicy") if m["metadata"]["name"] == "allow-api-9000"]
    assert allow["spec"]["rules"][0]["from"][0]["source"]["principals"] == [f"{TD}/frontend"]


def test_every_allow_rule_names_its_source_and_port():
    out = mesh_policies(_args([("shop/web", "shop/api", 9000), ("other/*", "shop/web", 8080)]))
    for m in _by_kind(out, "AuthorizationPolicy"):
        if m["spec"].get("action") != "ALLOW":
            continue
        for rule in m["spec"]["rules"]:
            assert rule.get("from") and rule.get("to"), m["metadata"]["name"]


@pytest.mark.parametrize("sid,expected", [("spiffe://lego-mcp.io/ns/a/sa/b", "lego-mcp.io/ns/a/sa/b"),
                                          ("spiffe://lego-mcp.io/x", "lego-mcp.io/x")], ids=["istio-form", "custom"])
def test_principal_drops_the_scheme(sid, expected):
    assert principal(sid) == expected


# --- JWT at external entry points --------------------------------------------------------------

def test_external_workload_requires_a_verified_jwt():
    out = mesh_policies(_args())
    (ra,) = _by_kind(out, "RequestAuthentication")
    assert ra["metadata"]["namespace"] == "shop" and ra["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    assert ra["spec"]["jwtRules"][0]["issuer"] == JWT["issuer"]
    assert ra["spec"]["jwtRules"][0]["jwksUri"] == JWT["jwksUri"]
    (deny,) = [m for m in _by_kind(out, "AuthorizationPolicy") if m["metadata"]["name"] == "require-jwt-web"]
    assert deny["spec"]["action"] == "DENY"
    assert deny["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    assert deny["spec"]["rules"] == [{"from": [{"source": {"notRequestPrincipals": ["*"]}}]}]


def test_internal_workloads_get_no_jwt_requirement():
    out = mesh_policies(_args())
    apps = {m["spec"]["selector"]["matchLabels"]["app"] for m in _by_kind(out, "RequestAuthentication")}
    assert apps == {"web"}


@pytest.mark.parametrize("field", ["issuer", "jwksUri"])
def test_jwt_urls_must_be_https(field):
    with pytest.raises(ValueError, match="https"):
        MeshConfig.model_validate({"jwt": {**JWT, field: "http://login.example/x"}})


def test_external_workload_without_issuer_fails_naming_mesh_jwt(prod_doc):
    del prod_doc["mesh"]["jwt"]
    with pytest.raises(ConfigError) as exc:
        parse_stack_config(prod_doc)
    assert "mesh.jwt" in str(exc.value)


# --- istiod values -----------------------------------------------------------------------------

def test_istiod_uses_spire_trust_domain_and_csi_socket():
    v = _values(_args())
    assert v["meshConfig"]["trustDomain"] == TD
    assert "spire" in v["sidecarInjectorWebhook"]["defaultTemplates"]
    template = v["sidecarInjectorWebhook"]["templates"]["spire"]
    assert CSI_DRIVER in template and "/run/secrets/workload-spiffe-uds" in template and "readOnly: true" in template
    assert "hostPath" not in template


def test_istiod_defaults_are_closed():
    v = _values(_args())
    assert v["meshConfig"]["outboundTrafficPolicy"]["mode"] == "REGISTRY_ONLY"
    assert v["global"]["proxy"]["privileged"] is False
    assert v["cni"]["enabled"] is True, "without CNI every tenant pod needs NET_ADMIN (istio-init)"


def test_istiod_values_use_the_top_level_keys_chart_1_27_reads():
    """istiod 1.24+ reads replicaCount, autoscale*, cni and env at the top level; a `pilot:` block
    is dropped silently (the injector would then add istio-init with NET_ADMIN to every pod, and the
    HPA would keep one istiod)."""
    v = _values(_args(istiodReplicas=3))
    assert "pilot" not in v
    assert (v["replicaCount"], v["autoscaleMin"], v["autoscaleEnabled"]) == (3, 3, True)
    assert v["autoscaleMax"] >= v["autoscaleMin"]
    assert v["env"] == {"PILOT_ENABLE_ALPHA_GATEWAY_API": "false"}
    # the deprecated global.proxy.holdApplicationUntilProxyStarts gives way to the mesh default
    assert "holdApplicationUntilProxyStarts" not in v["global"]["proxy"]
    assert v["meshConfig"]["defaultConfig"]["holdApplicationUntilProxyStarts"] is True


def test_istiod_escape_hatch_merges_at_the_top_level():
    v = _values(_args(extraValues={"autoscaleMax": 9, "env": {"PILOT_FOO": "1"}}))
    assert v["autoscaleMax"] == 9
    assert v["env"] == {"PILOT_ENABLE_ALPHA_GATEWAY_API": "false", "PILOT_FOO": "1"}


def test_cni_values_exclude_system_namespaces_at_the_top_level():
    v = _cni_values(_args())
    assert v["excludeNamespaces"] == ["kube-system", "istio-system"]
    assert "cni" not in v, "the cni chart (1.24+) ignores a `cni:` block"


def test_istiod_network_policies_admit_only_injected_namespaces_and_the_api_server():
    args = ZeroTrustMeshArgs(config=MeshConfig(), trust_domain=TD, control_plane_cidrs=["10.0.0.0/16"],
                             gateway_namespaces=["istio-ingress"])
    pols = {m["metadata"]["name"]: m for _, m in network_policies(args)}
    xds = pols["allow-ingress-istiod-xds"]["spec"]["ingress"][0]
    assert xds["ports"] == [{"protocol": "TCP", "port": 15012}]
    assert {"namespaceSelector": {"matchLabels": {"istio-injection": "enabled"}}, "podSelector": {}} in xds["from"]
    assert pols["allow-ingress-apiserver-webhooks"]["spec"]["ingress"][0]["from"] == [{"ipBlock": {"cidr": "10.0.0.0/16"}}]


# --- the whole program: one intent, two enforcement layers --------------------------------------

def test_prod_every_intent_has_both_a_networkpolicy_and_an_authorization_rule(prod_records, prod_doc):
    authz = k8s(prod_records, "AuthorizationPolicy")
    netpols = k8s(prod_records, "NetworkPolicy")
    for intent in prod_doc["intents"]:
        dst_ns, dst_app = intent["to"].split("/")
        port = intent["port"]
        assert any(m["metadata"]["namespace"] == dst_ns and m["spec"].get("action") == "ALLOW"
                   and m["spec"]["selector"]["matchLabels"]["app"] == dst_app
                   and [str(port)] == m["spec"]["rules"][0]["to"][0]["operation"]["ports"] for m in authz), intent
        assert any(m["metadata"]["namespace"] == dst_ns and "Ingress" in m["spec"]["policyTypes"]
                   and m["spec"]["podSelector"].get("matchLabels", {}).get("app") == dst_app
                   and any(p.get("port") == port for r in m["spec"].get("ingress", []) for p in r.get("ports", []))
                   for m in netpols), intent


def test_prod_principals_are_the_service_accounts_the_workloads_run_as(prod_records):
    sas = {(d["metadata"]["namespace"], d["spec"]["template"]["spec"]["serviceAccountName"])
           for d in k8s(prod_records, "Deployment")}
    for m in k8s(prod_records, "AuthorizationPolicy"):
        for rule in m["spec"].get("rules", []):
            for src in rule.get("from", []):
                for p in src["source"].get("principals", []):
                    td, _, ns, _, sa = p.split("/")
                    assert td == TD and (ns, sa) in sas, p


def test_prod_default_deny_in_every_tenant_namespace(prod_records, prod_doc):
    denied = {m["metadata"]["namespace"] for m in k8s(prod_records, "AuthorizationPolicy", name="default-deny")
              if m["spec"] == {}}
    # every tenant namespace, and the egress gateway's (components/egress.py, tests/paths/test_egress.py)
    assert denied == {n["name"] for n in prod_doc["namespaces"]} | {"istio-egress"}


def test_prod_isolated_workload_loses_its_authorization_rules(prod_doc):
    from .conftest import render
    records = render({"isolate": ["lego-mcp-prod/mcp-server"]})
    assert not k8s(records, "AuthorizationPolicy", name="allow-mcp-server-8080")
    assert k8s(records, "AuthorizationPolicy", name="default-deny", namespace="lego-mcp-prod")


def test_prod_pins_istio_charts_from_the_official_repo(prod_records):
    for chart in ("base", "cni", "istiod"):
        (c,) = charts(prod_records, chart)
        assert c.inputs["repositoryOpts"]["repo"] == "https://istio-release.storage.googleapis.com/charts"
        assert c.inputs["version"] == "1.30.3"
        assert c.inputs["namespace"] == "istio-system"


def test_prod_tenant_namespaces_keep_injection_and_reach_istiod(prod_records, prod_doc):
    for n in prod_doc["namespaces"]:
        (ns,) = k8s(prod_records, "Namespace", name=n["name"])
        assert ns["metadata"]["labels"]["istio-injection"] == "enabled"
        assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
        assert k8s(prod_records, "NetworkPolicy", name="allow-egress-proxy-to-istiod-15012", namespace=n["name"])


def test_proxy_image_is_the_one_the_injector_builds_from_the_values():
    """istiod 1.27 builds <global.hub>/<global.proxy.image or proxyv2>:<global.tag>[-<variant>];
    the digest constraint exempts exactly this name, so it must follow the values."""
    from components.mesh import image_repositories, proxy_image

    default = MeshConfig()
    v = _values(_args())
    assert proxy_image(default) == f"{v['global']['hub']}/proxyv2:{v['global']['tag']}" \
        == "registry.istio.io/release/proxyv2:1.30.3"
    mirrored = MeshConfig.model_validate({"chartVersion": "1.27.9", "extraValues": {
        "global": {"hub": "registry.example.com/istio", "variant": "distroless"}}})
    assert proxy_image(mirrored) == "registry.example.com/istio/proxyv2:1.27.9-distroless"
    assert image_repositories(mirrored) == tuple(f"registry.example.com/istio/{i}"
                                                 for i in ("pilot", "install-cni", "proxyv2"))
    assert _values(_args(chartVersion="1.27.9"))["global"]["tag"] == "1.27.9"
