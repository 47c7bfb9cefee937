"""Spire: HA server on SQL, CSI driver, declared identities only, and config that fails early."""
from __future__ import annotations

from pathlib import Path

import pytest

from components.config import ConfigError, parse_stack_config
from components.spire import (CSI_DRIVER, DATASTORE_CA_CONFIGMAP, DATASTORE_CA_KEY, Identity, SpireArgs, SpireConfig, _values, check_trust_domain,
                              cluster_spiffe_id, datastore_ca_configmap, workload_spiffe_id)

from .conftest import charts, k8s

TD = "lego-mcp.io"


def _error(doc) -> str:
    with pytest.raises(ConfigError) as exc:
        parse_stack_config(doc)
    return str(exc.value)


# --- chart values ------------------------------------------------------------------------------

def _ha_args(**over) -> SpireArgs:
    cfg = SpireConfig.model_validate({
        "trustDomain": TD, "serverReplicas": 3,
        "datastore": {"type": "postgres", "host": "db.example", "cidrs": ["10.0.64.0/20"]}, **over})
    return SpireArgs(config=cfg, cluster_name="c")


def test_values_run_three_servers_on_a_shared_tls_verified_datastore():
    v = _values(_ha_args())
    server = v["spire-server"]
    assert server["replicaCount"] == 3
    sql = server["dataStore"]["sql"]
    assert sql["databaseType"] == "postgres" and sql["host"] == "db.example"
    # the chart's template ranges over each option's keys: {key: value} maps, never "key=value" strings
    assert sql["options"] == [{"sslmode": "verify-full"}]


def test_custom_datastore_options_become_one_map_each_and_bad_ones_name_the_field():
    v = _values(_ha_args(datastore={"type": "mysql", "host": "db.example", "cidrs": ["10.0.64.0/20"],
                                    "tlsOptions": ["tls=custom", "timeout=5s"]}))
    assert v["spire-server"]["dataStore"]["sql"]["options"] == [{"tls": "custom"}, {"timeout": "5s"}]
    with pytest.raises(Exception, match=r"tlsOptions\[0\] 'sslmode' must be key=value"):
        _ha_args(datastore={"type": "postgres", "host": "db.example", "cidrs": ["10.0.64.0/20"],
                            "tlsOptions": ["sslmode"]})


def test_values_disable_every_catch_all_identity_and_the_oidc_provider():
    v = _values(_ha_args())
    ids = v["spire-server"]["controllerManager"]["identities"]["clusterSPIFFEIDs"]
    assert v["spire-server"]["controllerManager"]["enabled"] is True
    assert ids["default"]["enabled"] is False, "a catch-all identity would give every pod an SVID"
    assert ids["test-keys"]["enabled"] is False
    assert v["spiffe-oidc-discovery-provider"]["enabled"] is False


def test_values_use_the_csi_driver_and_the_configured_trust_domain():
    v = _values(_ha_args())
    assert v["spiffe-csi-driver"]["enabled"] is True
    assert v["global"]["spire"]["trustDomain"] == TD
    assert v["global"]["spire"]["namespaces"]["create"] is False, "HardenedNamespace creates them, locked down"


def test_agent_attests_pods_whose_app_container_waits_for_its_proxy():
    """istiod holds each app container until the proxy is ready; with container selectors the k8s
    attestor waits for a container that has not started and the proxy never gets its SVID."""
    from components.mesh import MeshConfig, ZeroTrustMeshArgs, _values as mesh_values

    mesh = mesh_values(ZeroTrustMeshArgs(config=MeshConfig(), trust_domain=TD))
    assert mesh["meshConfig"]["defaultConfig"]["holdApplicationUntilProxyStarts"] is True
    k8s_attestor = _values(_ha_args())["spire-agent"]["workloadAttestors"]["k8s"]
    assert k8s_attestor == {"disableContainerSelectors": True}
    # the identities never depend on a container selector
    spec = cluster_spiffe_id(Identity(name="web", namespace="shop", pod_labels={"app": "web"}), TD)["spec"]
    assert "workloadSelectorTemplates" not in spec


def test_hooks_are_off_so_the_controller_manager_webhook_fails_closed():
    """helm.v4.Chart drops hooks; with installAndUpgradeHook on, the chart would create its webhook
    with failurePolicy Ignore for a post-install Job (never run) to patch."""
    v = _values(_ha_args())
    assert v["spire-server"]["controllerManager"]["installAndUpgradeHook"] == {"enabled": False}
    from hardened import engine

    render = engine.render_chart("spire", _ha_args().config.chart_version, release="spire",
                                 namespace="spire-server", values=v, kube_version="1.33")
    (webhook,) = [o for o in render.objects if o["kind"] == "ValidatingWebhookConfiguration"]
    policies = {w["name"]: w["failurePolicy"] for w in webhook["webhooks"]}
    assert policies["vclusterfederatedtrustdomain.kb.io"] == "Fail"
    # Known limit (README): spire 0.30.0 creates the ClusterSPIFFEID webhook with Ignore whatever the
    # values say, and only its (dropped) hook would patch it to Fail.
    assert policies["vclusterspiffeid.kb.io"] == "Ignore"
    assert not [o for o in render.objects if o["kind"] == "Job"]


def test_extra_values_merge_last():
    v = _values(_ha_args(extraValues={"spire-server": {"replicaCount": 5}}))
    assert v["spire-server"]["replicaCount"] == 5
    assert v["spire-server"]["dataStore"]["sql"]["databaseType"] == "postgres"


# --- identities --------------------------------------------------------------------------------

def test_cluster_spiffe_id_selects_only_the_workloads_namespace_and_pods():
    m = cluster_spiffe_id(Identity(name="lego-mcp-prod-dashboard", namespace="lego-mcp-prod",
                                   pod_labels={"app": "dashboard"}), TD)
    assert m["apiVersion"] == "spire.spiffe.io/v1alpha1" and m["kind"] == "ClusterSPIFFEID"
    spec = m["spec"]
    assert spec["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "lego-mcp-prod"}}
    assert spec["podSelector"] == {"matchLabels": {"app": "dashboard"}}
    # The Istio form, from the pod's own namespace and service account.
    assert spec["spiffeIDTemplate"].endswith("/ns/{{ .PodMeta.Namespace }}/sa/{{ .PodSpec.ServiceAccountName }}")


def _workload_ids(prod_records):
    """The workloads' ClusterSPIFFEIDs (the Istio gateways', ingress and egress, aside)."""
    return [m for m in k8s(prod_records, "ClusterSPIFFEID") if "app" in m["spec"]["podSelector"]["matchLabels"]
            and m["metadata"]["name"] != "istio-egress-egress-gateway"]


def test_prod_render_registers_one_identity_per_workload_and_the_gateway_and_no_other(prod_records, prod_doc):
    ids = k8s(prod_records, "ClusterSPIFFEID")
    expected = {f"{w['namespace']}-{w['name']}" for w in prod_doc["workloads"]}
    # plus the egress gateway and its clients' injected pods (components/egress.py)
    # (falcosidekick is a client too: its Splunk HEC traffic leaves through the gateway)
    egress = {"istio-egress-egress-gateway", "cert-manager-cert-manager-egress-client",
              "cosign-system-policy-controller-egress-client", "falco-falcosidekick-egress-client"}
    assert {m["metadata"]["name"] for m in ids} == expected | {"istio-ingress-public-gateway"} | egress
    assert {m["metadata"]["name"] for m in _workload_ids(prod_records)} == expected
    for m in _workload_ids(prod_records):
        ns = m["spec"]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        app = m["spec"]["podSelector"]["matchLabels"]["app"]
        assert m["metadata"]["name"] == f"{ns}-{app}"


def test_prod_render_principal_service_account_is_the_one_the_workload_runs_as(prod_records):
    """The ID template names the pod's service account; the golden path runs each workload as a
    service account named after it, so the SPIFFE ID is ns/<ns>/sa/<workload>."""
    deployments = {(d["metadata"]["namespace"], d["metadata"]["name"]): d
                   for kind in ("Deployment", "StatefulSet") for d in k8s(prod_records, kind)}
    for m in _workload_ids(prod_records):
        ns = m["spec"]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        app = m["spec"]["podSelector"]["matchLabels"]["app"]
        d = deployments[(ns, app)]
        assert d["spec"]["template"]["spec"]["serviceAccountName"] == app
        assert d["spec"]["template"]["metadata"]["labels"]["app"] == app


def test_prod_render_pins_both_charts_and_delivers_the_password_from_vault(prod_records):
    """The datastore password never passes through the stack: the chart reads the Secret External
    Secrets writes from Vault, so no literal Secret is rendered (secret-disallow-literal-data)."""
    (chart,) = charts(prod_records, "spire")
    (crds,) = charts(prod_records, "spire-crds")
    assert chart.inputs["version"] == "0.30.0" and crds.inputs["version"] == "0.6.0"
    assert chart.inputs["repositoryOpts"]["repo"] == "https://spiffe.github.io/helm-charts-hardened/"
    sql = chart.inputs["values"]["spire-server"]["dataStore"]["sql"]
    assert chart.inputs["values"]["spire-server"]["replicaCount"] == 3
    assert "password" not in sql
    assert sql["externalSecret"] == {"enabled": True, "name": "spire-datastore", "key": "DBPW"}
    (es,) = k8s(prod_records, "ExternalSecret", "spire-datastore")
    assert es["metadata"]["namespace"] == "spire-server"
    assert es["spec"]["data"] == [{"secretKey": "DBPW",
                                   "remoteRef": {"key": "spire-server/datastore", "property": "password"}}]
    children = [r.inputs for r in prod_records if r.parent == chart.urn]
    assert not [o for o in children if o["kind"] == "Secret"], "the chart rendered a literal Secret"
    (server,) = [o for o in children if o["kind"] == "StatefulSet"]
    env = {e["name"]: e for c in server["spec"]["template"]["spec"]["containers"] for e in c.get("env", [])}
    assert env["DBPW"]["valueFrom"]["secretKeyRef"] == {"name": "spire-datastore", "key": "DBPW"}


def test_only_spire_system_is_exempted_from_restricted(prod_records):
    levels = {m["metadata"]["name"]: m["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
              for m in k8s(prod_records, "Namespace")}
    assert levels["spire-server"] == "restricted"
    assert levels["spire-system"] == "privileged"  # agent + CSI driver, named in exemptions.yaml


def test_csi_driver_name_is_the_spiffe_driver():
    assert CSI_DRIVER == "csi.spiffe.io"


# --- bad input fails at config validation, naming the field -----------------------------------

@pytest.mark.parametrize("td", ["spiffe://lego-mcp.io", "Lego-MCP.io", "lego-mcp.io:8443", "lego-mcp.io/x", "",
                                "-lego.io", "lego..io", "lego mcp.io"],
                         ids=["scheme", "uppercase", "port", "path", "empty", "leading-dash", "empty-label", "space"])
def test_rejects_invalid_trust_domain_naming_the_field(prod_doc, td):
    prod_doc["spire"]["trustDomain"] = td
    msg = _error(prod_doc)
    assert "spire.trustDomain" in msg and "trust domain" in msg


@pytest.mark.parametrize("td", ["lego-mcp.io", "prod.lego_mcp.io", "example"], ids=["dns", "underscore", "single"])
def test_accepts_valid_trust_domains(td):
    assert check_trust_domain(td) == td


def test_rejects_two_workloads_with_one_spiffe_id(prod_doc):
    prod_doc["workloads"][1]["spiffeId"] = f"spiffe://{TD}/ns/lego-mcp-prod/sa/dashboard"
    msg = _error(prod_doc)
    assert "workloads[1].spiffeId" in msg and "lego-mcp-prod/dashboard" in msg


def test_rejects_duplicate_spiffe_id_between_two_overrides(prod_doc):
    prod_doc["workloads"][0]["spiffeId"] = f"spiffe://{TD}/shared"
    prod_doc["workloads"][2]["spiffeId"] = f"spiffe://{TD}/shared"
    assert "workloads[2].spiffeId" in _error(prod_doc)


@pytest.mark.parametrize("sid", ["spiffe://other.io/ns/a/sa/b", "https://lego-mcp.io/x", "spiffe://lego-mcp.io/",
                                 "spiffe://lego-mcp.io/a/../b"], ids=["foreign-domain", "scheme", "no-path", "dotdot"])
def test_rejects_bad_spiffe_id_override(prod_doc, sid):
    prod_doc["workloads"][0]["spiffeId"] = sid
    assert "workloads[0].spiffeId" in _error(prod_doc)


def test_rejects_ha_on_sqlite(prod_doc):
    prod_doc["spire"]["datastore"] = {"type": "sqlite3"}
    msg = _error(prod_doc)
    assert "spire.datastore.type" in msg


def test_rejects_sqlite_in_prod_even_with_one_replica(prod_doc):
    prod_doc["spire"]["datastore"] = {"type": "sqlite3"}
    prod_doc["spire"]["serverReplicas"] = 1
    msg = _error(prod_doc)
    assert "spire.datastore.type" in msg and "prod" in msg


def test_default_spiffe_id_is_the_istio_form():
    class W:
        namespace, name, spiffe_id = "lego-mcp-prod", "dashboard", None
    assert workload_spiffe_id(W, TD) == "spiffe://lego-mcp.io/ns/lego-mcp-prod/sa/dashboard"


# --- the datastore's CA -------------------------------------------------------------------------

CA_PEM = (Path(__file__).parent / "data" / "datastore-ca.pem").read_text()


def _render_with_progress(doc_spire: dict) -> tuple[list, list[str]]:
    from hardened.render import run_program
    from tests.harness import ROOT, full_keys

    messages: list[str] = []
    records = run_program("prod", ROOT, overrides=full_keys({"spire": doc_spire}), progress=messages.append)
    return records, messages


@pytest.mark.parametrize("db, where", [("postgres", "sslrootcert option"), ("mysql", "rootCAPath")])
def test_ca_bundle_is_mounted_and_given_to_the_chart_the_way_it_reads_it(db, where):
    """spire 0.30 takes rootCAPath for mysql only (its template fails the render for postgres), so a
    postgres CA goes into the connection options as sslrootcert; both render (hardened.engine)."""
    from hardened import engine

    args = _ha_args(datastore={"type": db, "host": "db.example", "cidrs": ["10.0.64.0/20"], "caBundle": CA_PEM})
    values = _values(args)
    server = values["spire-server"]
    sql = server["dataStore"]["sql"]
    path = sql["rootCAPath"] if db == "mysql" else next(o["sslrootcert"] for o in sql["options"] if "sslrootcert" in o)
    assert (db == "mysql") == ("rootCAPath" in sql)
    mount, = server["extraVolumeMounts"]
    volume, = server["extraVolumes"]
    assert path == f"{mount['mountPath']}/{DATASTORE_CA_KEY}" and mount["readOnly"] is True
    assert volume == {"name": mount["name"], "configMap": {"name": DATASTORE_CA_CONFIGMAP}}
    cm = datastore_ca_configmap(CA_PEM)
    assert cm["data"][DATASTORE_CA_KEY] == CA_PEM.strip() + "\n"
    assert "rootCAPath" not in _values(_ha_args())["spire-server"]["dataStore"]["sql"]
    render = engine.render_chart("spire", args.config.chart_version, release="spire", namespace="spire-server",
                                 values=values, kube_version="1.33")
    config = next(o for o in render.objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "spire-server")
    assert path in next(iter(config["data"].values())), f"the server configuration does not name the CA ({where})"


#: SHA-256 fingerprints of the roots in AWS RDS's us-east-1 bundle
#: (https://truststore.pki.rds.amazonaws.com/us-east-1/us-east-1-bundle.pem; two independently kept
#: copies of the bundle agree on these three certificates).
RDS_US_EAST_1_ROOTS = {
    "Amazon RDS us-east-1 Root CA RSA2048 G1": "e4ce41d069f4bdcdb714259058961ee42ed18cf2bf627a3d647aff25437d4b68",
    "Amazon RDS us-east-1 Root CA RSA4096 G1": "1c753cf0334ff82a47e0d3205839c8549b7d9a8a3d9a685cccecc80f82fe97e6",
    "Amazon RDS us-east-1 Root CA ECC384 G1": "82d99e9e409703044c3f886f87a0408c96cd74dee2c9ba920e6553a32e372539",
}


def test_prod_trusts_exactly_the_rds_roots_of_its_region(prod_doc):
    """prod's database is RDS in us-east-1: its caBundle holds that region's current RDS roots, so
    the servers verify it (verify-full) and render does not warn that they cannot connect."""
    import re

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    datastore = prod_doc["spire"]["datastore"]
    assert ".us-east-1.rds.amazonaws.com" in datastore["host"]
    pems = re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", datastore["caBundle"], re.S)
    certs = [x509.load_pem_x509_certificate(p.encode()) for p in pems]
    found = {c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value: c.fingerprint(hashes.SHA256()).hex()
             for c in certs}
    assert found == RDS_US_EAST_1_ROOTS
    assert all(c.subject == c.issuer for c in certs)                  # roots, not intermediates
    records, messages = _render_with_progress(prod_doc["spire"])
    assert not any("caBundle" in m for m in messages), messages
    assert k8s(records, "ConfigMap", DATASTORE_CA_CONFIGMAP)


def test_prod_without_ca_bundle_warns_and_with_one_the_chart_waits_for_it(prod_doc):
    without = {**prod_doc["spire"], "datastore": {k: v for k, v in prod_doc["spire"]["datastore"].items()
                                                  if k != "caBundle"}}
    records, messages = _render_with_progress(without)
    assert any("spire.datastore.caBundle is not set" in m for m in messages), messages
    assert not k8s(records, "ConfigMap", DATASTORE_CA_CONFIGMAP)

    spire = {**prod_doc["spire"], "datastore": {**prod_doc["spire"]["datastore"], "caBundle": CA_PEM}}
    records, messages = _render_with_progress(spire)
    assert not any("caBundle" in m for m in messages)
    cm = next(r for r in records if r.is_kubernetes_object and r.inputs["kind"] == "ConfigMap"
              and r.inputs["metadata"]["name"] == DATASTORE_CA_CONFIGMAP)
    chart = next(r for r in records if r.type.endswith("Chart") and r.name.endswith("spire-chart"))
    assert cm.urn in chart.dependencies


def test_ca_bundle_that_is_not_pem_names_the_field(prod_doc):
    prod_doc["spire"]["datastore"]["caBundle"] = "not a certificate"
    assert "spire.datastore.caBundle" in _error(prod_doc) and "PEM" in _error(prod_doc)
