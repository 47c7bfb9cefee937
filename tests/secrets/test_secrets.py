"""SecretDelivery: the internal CA chain, the vault-backend ClusterSecretStore, pull-only External
Secrets, rotation periods that drive what they can, and no secret literal in any tenant namespace."""
from __future__ import annotations

import pytest

from components.config import ConfigError, parse_stack_config
from components.secrets import (CA_ISSUER, ESO_API_VERSION, ROOT_CA_SECRET, SecretDeliveryArgs, SecretsConfig,
                                ca_manifests, cert_manager_values, cluster_secret_store, eso_values, hours,
                                network_policies, tls_certificate)

from tests.vault.harness import k8s, one, prod_document, render
from tests.harness import reviewed


def _cfg(**update) -> SecretsConfig:
    doc = prod_document()
    doc["secrets"].update(update)
    return parse_stack_config(doc).secrets


def _error(mutate) -> str:
    doc = prod_document()
    mutate(doc)
    with pytest.raises(ConfigError) as exc:
        parse_stack_config(doc)
    return str(exc.value)


@pytest.fixture(scope="module")
def prod():
    return render()


# --- the ClusterSecretStore ---------------------------------------------------------------------

def test_store_reads_vault_over_verified_https_with_kubernetes_auth():
    store = cluster_secret_store(_cfg())
    assert store["apiVersion"] == ESO_API_VERSION == "external-secrets.io/v1"
    assert store["kind"] == "ClusterSecretStore" and store["metadata"]["name"] == "vault-backend"
    vault = store["spec"]["provider"]["vault"]
    assert vault["server"] == "https://vault.vault.svc:8200"
    assert vault["version"] == "v2" and vault["path"] == "secret"
    assert vault["caProvider"] == {"type": "Secret", "name": "vault-server-tls", "namespace": "vault",
                                   "key": "ca.crt"}
    auth = vault["auth"]["kubernetes"]
    assert auth["role"] == "external-secrets" and auth["mountPath"] == "kubernetes"
    assert auth["serviceAccountRef"]["namespace"] == "external-secrets"
    assert "tokenSecretRef" not in str(store) and "token" not in vault["auth"]


def test_store_role_and_mount_come_from_config():
    doc = prod_document()
    doc["secrets"]["externalSecrets"].update(vaultRole="eso-prod", kvMount="apps")
    vault = cluster_secret_store(parse_stack_config(doc).secrets)["spec"]["provider"]["vault"]
    assert vault["auth"]["kubernetes"]["role"] == "eso-prod" and vault["path"] == "apps"


def test_workload_external_secrets_use_their_namespace_store_the_stack_creates(prod):
    records, deps = prod
    (store,) = k8s(records, "ClusterSecretStore", "vault-ltmc-production")
    (es,) = k8s(records, "ExternalSecret", "ltmc-mcp-server-secrets", "ltmc-production")
    assert es["apiVersion"] == store["apiVersion"]
    assert es["spec"]["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": "vault-ltmc-production"}
    assert store["spec"]["conditions"] == [{"namespaces": ["ltmc-production"]}]
    assert [d["remoteRef"] for d in es["spec"]["data"]] == [{"key": "ltmc-production/database", "property": "url"}]


def test_workloads_with_secrets_wait_for_secret_delivery_and_vault(prod):
    records, deps = prod
    # The SDK expands a dependency on a component to the custom resources inside it.
    store = one(records, "kubernetes:external-secrets.io/v1:ClusterSecretStore", "ltmc-production-store")
    vault_chart = one(records, "kubernetes:helm.sh/v4:Chart", "vault-chart")
    ca_issuer = one(records, "kubernetes:cert-manager.io/v1:ClusterIssuer", "ca-issuer")
    ltmc = one(records, "hardened:index:HardenedWorkload", "ltmc-production-ltmc-mcp-server")
    assert {store.urn, vault_chart.urn} <= set(deps[ltmc.urn])
    vault = one(records, "hardened:index:VaultHA")
    assert ca_issuer.urn in deps[vault.urn]


def test_no_tenant_namespace_holds_a_literal_secret(prod):
    records, _ = prod
    tenants = {n["name"] for n in prod_document()["namespaces"]}
    literal = [m["metadata"]["name"] for m in k8s(records, "Secret")
               if m["metadata"].get("namespace") in tenants and (m.get("data") or m.get("stringData"))]
    assert literal == []
    assert k8s(records, "ExternalSecret", namespace="ltmc-production")


# --- cert-manager and the CA --------------------------------------------------------------------

def test_ca_chain_is_selfsigned_root_then_ca_issuer():
    objs = dict(ca_manifests(_cfg()))
    assert objs["bootstrap-issuer"]["spec"] == {"selfSigned": {}}
    root = objs["root-ca"]["spec"]
    assert root["isCA"] is True and root["secretName"] == ROOT_CA_SECRET
    assert root["issuerRef"]["name"] == objs["bootstrap-issuer"]["metadata"]["name"]
    assert root["privateKey"] == {"algorithm": "ECDSA", "size": 384, "rotationPolicy": "Always"}
    assert root["duration"] == hours(1825)
    assert objs["ca-issuer"]["metadata"]["name"] == CA_ISSUER
    assert objs["ca-issuer"]["spec"] == {"ca": {"secretName": ROOT_CA_SECRET}}


@pytest.mark.parametrize("duration, renew, expect", [
    (30, 14, ("720h", "336h")), (7, 3, ("168h", "72h")), (90, 30, ("2160h", "720h")),
], ids=["seed-30-days", "one-week", "ninety-days"])
def test_certificate_lifetime_follows_the_rotation_policy(duration, renew, expect):
    doc = prod_document()
    doc["secrets"]["rotation"]["tls"] = {"durationDays": duration, "renewBeforeDays": renew,
                                         "alertBeforeDays": renew - 1}
    rotation = parse_stack_config(doc).secrets.rotation.tls
    spec = tls_certificate("x", "ns", ["x.ns.svc"], rotation)["spec"]
    assert (spec["duration"], spec["renewBefore"]) == expect
    assert spec["issuerRef"] == {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": CA_ISSUER}


def test_cert_manager_values_install_crds_with_restricted_ha_pods():
    v = cert_manager_values(_cfg())
    assert v["crds"] == {"enabled": True, "keep": True}
    for part in (v, v["webhook"], v["cainjector"]):
        assert part["replicaCount"] == 2 and part["podDisruptionBudget"]["enabled"] is True
        c = part["containerSecurityContext"]
        assert c["readOnlyRootFilesystem"] is True and c["capabilities"] == {"drop": ["ALL"]}
        assert c["allowPrivilegeEscalation"] is False
        assert part["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}


def test_external_secrets_is_pull_only_with_restricted_pods():
    v = eso_values(_cfg())
    assert v["processPushSecret"] is False and v["processClusterPushSecret"] is False
    assert v["processClusterExternalSecret"] is False and v["processClusterStore"] is True
    assert v["installCRDs"] is True and v["serviceAccount"]["name"] == "external-secrets"
    for part in (v, v["webhook"], v["certController"]):
        assert part["securityContext"]["readOnlyRootFilesystem"] is True
        assert part["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        assert part["podSecurityContext"]["runAsNonRoot"] is True


DIGEST = "sha256:" + "ab" * 32


def test_chart_objects_have_names_that_do_not_follow_the_resource_name():
    assert cert_manager_values(_cfg())["fullnameOverride"] == "cert-manager"
    assert eso_values(_cfg())["fullnameOverride"] == "external-secrets"


def test_every_cert_manager_part_has_requests_limits_and_a_non_root_uid():
    v = cert_manager_values(_cfg())
    for part in (v, v["webhook"], v["cainjector"]):
        assert set(part["resources"]) == {"requests", "limits"}
        assert set(part["resources"]["limits"]) == {"cpu", "memory"} == set(part["resources"]["requests"])
        assert part["securityContext"]["runAsNonRoot"] is True and part["securityContext"]["runAsUser"] > 0


def test_cert_manager_pods_ask_for_their_token_and_their_service_accounts_mount_none():
    v = cert_manager_values(_cfg())
    for part in (v, v["webhook"], v["cainjector"]):
        assert part["automountServiceAccountToken"] is True
        assert part["serviceAccount"] == {"automountServiceAccountToken": False}


def test_cert_manager_images_are_pinned_by_digest_where_given():
    c = _cfg(certManager={**prod_document()["secrets"]["certManager"], "imageDigest": DIGEST,
                          "webhookImageDigest": DIGEST, "cainjectorImageDigest": DIGEST,
                          "acmesolverImageDigest": DIGEST})
    v = cert_manager_values(c)
    for part in (v, v["webhook"], v["cainjector"], v["acmesolver"]):
        assert part["image"] == {"tag": "v1.21.1", "digest": DIGEST}
    assert c.cert_manager.tag_only_images == []
    bare = cert_manager_values(_cfg())
    assert "image" not in bare and "acmesolver" not in bare
    assert _cfg().cert_manager.tag_only_images == [f"cert-manager-{p}" for p in
                                                   ("controller", "webhook", "cainjector", "acmesolver")]


def test_external_secrets_parts_have_limits_own_service_accounts_and_one_digest():
    from components.secrets import eso_service_accounts

    c = _cfg(externalSecrets={**prod_document()["secrets"]["externalSecrets"], "imageDigest": DIGEST})
    v = eso_values(c)
    accounts = {m["metadata"]["name"]: m for _, m in eso_service_accounts()}
    for part in (v, v["webhook"], v["certController"]):
        assert set(part["resources"]["limits"]) == {"cpu", "memory"} == set(part["resources"]["requests"])
        assert part["image"] == {"tag": f"v2.9.0@{DIGEST}"}
        sa = part["serviceAccount"]
        assert sa["create"] is False and sa["automount"] is True
        assert accounts[sa["name"]]["automountServiceAccountToken"] is False
    assert len(accounts) == 3 and {m["metadata"]["namespace"] for m in accounts.values()} == {"external-secrets"}
    assert "image" not in eso_values(_cfg())


@pytest.mark.parametrize("section, key", [("certManager", "imageDigest"), ("certManager", "acmesolverImageDigest"),
                                          ("externalSecrets", "imageDigest")])
def test_a_digest_that_is_not_one_is_refused(section, key):
    msg = _error(lambda d: d["secrets"][section].update({key: "latest"}))
    assert f"secrets.{section}.{key}" in msg and "sha256:" in msg, msg


def test_extra_values_merge_last():
    doc = prod_document()
    doc["secrets"]["externalSecrets"]["extraValues"] = {"processPushSecret": True}
    doc["secrets"]["certManager"]["extraValues"] = {"webhook": {"replicaCount": 3}}
    c = parse_stack_config(reviewed(doc, whole=True)).secrets
    assert eso_values(c)["processPushSecret"] is True
    assert cert_manager_values(c)["webhook"]["replicaCount"] == 3
    assert cert_manager_values(c)["webhook"]["podDisruptionBudget"]["enabled"] is True


def test_charts_are_pinned_to_their_upstream_repositories(prod):
    records, _ = prod
    cm = one(records, "kubernetes:helm.sh/v4:Chart", "secrets-cert-manager").inputs
    eso = one(records, "kubernetes:helm.sh/v4:Chart", "secrets-external-secrets").inputs
    assert (cm["chart"], cm["repositoryOpts"]["repo"], cm["namespace"]) == (
        "cert-manager", "https://charts.jetstack.io", "cert-manager")
    assert (eso["chart"], eso["repositoryOpts"]["repo"], eso["namespace"]) == (
        "external-secrets", "https://charts.external-secrets.io", "external-secrets")
    assert cm["version"] and eso["version"]


def test_namespaces_are_restricted_and_reach_vault_only_on_8200(prod):
    records, _ = prod
    for ns in ("cert-manager", "external-secrets"):
        (n,) = k8s(records, "Namespace", ns)
        assert n["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
        assert k8s(records, "NetworkPolicy", "default-deny-all", ns)
    pols = dict(network_policies(SecretDeliveryArgs(config=_cfg())))
    (rule,) = pols["eso-to-vault"]["spec"]["egress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 8200}]
    assert rule["to"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "vault"}
    for _, pol in pols.items():
        for r in pol["spec"].get("egress", []) + pol["spec"].get("ingress", []):
            for peer in r.get("to", []) + r.get("from", []):
                assert peer.get("ipBlock", {}).get("cidr") != "0.0.0.0/0"


# --- rotation drives what it can -----------------------------------------------------------------

def test_encryption_key_days_drive_the_kms_rotation_period():
    doc = prod_document()
    doc["secrets"]["rotation"]["encryptionKeyDays"] = 180
    records, _ = render({"secrets": doc["secrets"]})
    assert one(records, "aws:kms/key:Key", "vault-unseal-key").inputs["rotationPeriodInDays"] == 180


def test_rotation_defaults_are_the_seed_policy():
    r = SecretsConfig().rotation
    assert (r.tls.duration_days, r.signing_key_days, r.encryption_key_days, r.api_key_days) == (30, 90, 365, 90)
    assert r.tls.renew_before_days == 14


# --- bad input -------------------------------------------------------------------------------------

@pytest.mark.parametrize("mutate, path, fragment", [
    (lambda d: d["secrets"]["rotation"].update(encryptionKeyDays=89), "secrets.rotation.encryptionKeyDays", "90 to 2560"),
    (lambda d: d["secrets"]["rotation"].update(encryptionKeyDays=2561), "secrets.rotation.encryptionKeyDays",
     "90 to 2560"),
    (lambda d: d["secrets"]["rotation"]["tls"].update(durationDays=0), "secrets.rotation.tls.durationDays", "1"),
    (lambda d: d["secrets"]["rotation"]["tls"].update(renewBeforeDays=30), "secrets.rotation.tls.renewBeforeDays",
     "shorter than durationDays"),
    (lambda d: d["secrets"]["rotation"]["tls"].update(alertBeforeDays=14), "secrets.rotation.tls.alertBeforeDays",
     "shorter than renewBeforeDays"),
    (lambda d: d["secrets"].update(vaultAddress="http://vault.vault.svc:8200"), "secrets.vaultAddress", "https"),
    (lambda d: d["secrets"]["externalSecrets"].update(kvMount="/secret"), "secrets.externalSecrets.kvMount", "'/'"),
    (lambda d: d["secrets"]["rotation"].update(apiKeyDays=0), "secrets.rotation.apiKeyDays", "1"),
    (lambda d: d["secrets"].update(certManagerr={}), "secrets.certManagerr", "unknown key"),
], ids=["kms-below-90", "kms-above-2560", "tls-zero-days", "renew-not-shorter", "alert-not-shorter",
        "plain-http-vault", "kv-mount-slash", "api-key-zero", "typo"])
def test_bad_secrets_input_names_the_field(mutate, path, fragment):
    msg = _error(mutate)
    assert f"hardened-stack:{path}:" in msg and fragment in msg, msg


def test_workload_secrets_without_secret_delivery_are_rejected():
    def mutate(d):
        d["cluster"]["environment"] = "dev"
        d["secrets"]["enabled"] = False
        d["vault"]["enabled"] = False
    assert "hardened-stack:workloads[2].secrets:" in _error(mutate)


def test_built_in_objects_of_the_secret_namespaces_are_valid_kubernetes(prod):
    kv = pytest.importorskip("kubernetes_validate")
    records, _ = prod
    checked = 0
    for r in records:
        m = r.inputs
        if r.is_kubernetes_object and m.get("metadata", {}).get("namespace") in (
                "vault", "cert-manager", "external-secrets") and "/" not in m["apiVersion"].replace(
                "networking.k8s.io/v1", "v1"):
            kv.validate(m, "1.33", strict=True)
            checked += 1
    assert checked >= 20


def test_acme_egress_exists_only_when_the_ingress_uses_acme(prod):
    from components.secrets import network_policies
    records, _ = prod
    # with the mesh (prod), the controller leaves through the egress gateway only (tests/paths/test_egress.py)
    assert k8s(records, "NetworkPolicy", "allow-egress-acme") == []
    (pol,) = k8s(records, "NetworkPolicy", "allow-egress-egress-gateway", "cert-manager")
    assert pol["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "controller"
    # without the mesh: the ACME CA and the self-check straight, never the cluster or IMDS
    (pol,) = [m for _, m in network_policies(SecretDeliveryArgs(acme_egress=True))
              if m["metadata"]["name"] == "allow-egress-acme"]
    (rule,) = pol["spec"]["egress"]
    assert {p["port"] for p in rule["ports"]} == {80, 443}
    assert "169.254.0.0/16" in rule["to"][0]["ipBlock"]["except"]
    assert pol["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "controller"
    doc = prod_document()
    ingress = {k: v for k, v in doc["ingress"].items() if k != "acme"}
    ingress["clusterIssuer"] = "hardened-internal-ca"
    records, _ = render({"ingress": ingress})
    assert k8s(records, "NetworkPolicy", "allow-egress-acme") == []


@pytest.mark.parametrize("controller, expected", [("istio", True), ("nginx", False)], ids=["gateway-api", "nginx"])
def test_cert_manager_watches_gateway_routes_only_with_the_gateway_controller(controller, expected):
    doc = prod_document()
    records, _ = render({"ingress": {**doc["ingress"], "controller": controller}})
    values = one(records, "kubernetes:helm.sh/v4:Chart", "secrets-cert-manager").inputs["values"]
    assert values["config"]["enableGatewayAPI"] is expected
