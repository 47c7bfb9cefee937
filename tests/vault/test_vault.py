"""VaultHA: HA raft, TLS 1.3 on every listener, KMS auto-unseal through IRSA with least privilege,
bad input rejected naming the field, and the server HCL snapshot-tested."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import jinja2
import pytest

from components.config import ConfigError, parse_stack_config
from components.vault import (AUDIT_FILE, KEY_ADMIN_ACTIONS, UNSEAL_ACTIONS, VaultConfig, VaultHAArgs,
                              _values, bootstrap_script, key_policy, network_policies, role_name,
                              server_config, server_certificate)

from .harness import KEY_ARN, k8s, of_type, one, policy_doc, prod_document, render

SNAPSHOTS = Path(__file__).parent / "snapshots"
ADMIN = "arn:aws:iam::123456789012:role/platform-admin"
ISSUER = "https://oidc.eks.us-east-1.amazonaws.com/id/ABCDEF0123456789"


def _args(**vault) -> VaultHAArgs:
    cfg = parse_stack_config(prod_document())
    return VaultHAArgs(config=cfg.vault.model_copy(update=vault) if vault else cfg.vault, secrets=cfg.secrets,
                       cluster_name=cfg.cluster.name, region=cfg.cluster.region,
                       oidc_issuer_url=cfg.cluster.oidc_issuer_url or ISSUER,
                       control_plane_cidrs=cfg.admission.control_plane_cidrs)


def _error(mutate) -> str:
    doc = prod_document()
    mutate(doc)
    with pytest.raises(ConfigError) as exc:
        parse_stack_config(doc)
    return str(exc.value)


# --- snapshots -------------------------------------------------------------------------------

@pytest.mark.parametrize("name, produce", [
    ("vault.hcl", lambda: server_config(_args())),
    ("bootstrap.sh", lambda: bootstrap_script(_args())),
], ids=["server-hcl", "bootstrap-script"])
def test_rendered_text_matches_snapshot(name, produce):
    text = produce()
    path = SNAPSHOTS / name
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.write_text(text)
    assert text == path.read_text(), f"{name} changed; review and rerun with UPDATE_SNAPSHOTS=1"


def test_template_is_strict_about_missing_variables():
    from components.vault import _ENV

    with pytest.raises(jinja2.UndefinedError):
        _ENV.get_template("vault.hcl.j2").render(ui=True)


# --- the server configuration -----------------------------------------------------------------

def test_listener_requires_tls13_and_never_disables_tls():
    hcl = server_config(_args())
    listener = re.search(r'listener "tcp" \{(.*?)\n\}', hcl, re.S).group(1)
    assert 'tls_min_version = "tls13"' in listener
    assert "tls_disable = false" in listener
    assert "tls_disable = true" not in hcl and "tls_disable = 1" not in hcl
    assert "tls_cert_file" in listener and "tls_key_file" in listener


@pytest.mark.parametrize("replicas", [3, 5, 7], ids=["three", "five", "seven"])
def test_every_raft_peer_joins_over_verified_tls(replicas):
    hcl = server_config(_args(replicas=replicas))
    joins = re.findall(r"retry_join \{(.*?)\}", hcl, re.S)
    assert len(joins) == replicas
    for i, j in enumerate(joins):
        assert f'leader_api_addr = "https://vault-{i}.vault-internal:8200"' in j
        assert "leader_ca_cert_file" in j and f'leader_tls_servername = "vault-{i}.vault-internal"' in j
    assert "http://" not in hcl


def _seal(hcl: str) -> str:
    return re.search(r'seal "awskms" \{(.*?)\}', hcl, re.S).group(1)


def test_seal_is_awskms_with_the_key_alias_and_no_static_credentials():
    """The seal names the alias the stack creates (Vault's awskms seal accepts alias/<name> as
    kms_key_id), which is known before the key exists, never the key's computed ARN."""
    hcl = server_config(_args())
    seal = _seal(hcl)
    assert 'region = "us-east-1"' in seal
    assert 'kms_key_id = "alias/lego-mcp-prod-vault-unseal"' in seal
    assert "access_key" not in hcl and "secret_key" not in hcl
    env = _values(_args())["server"]["extraEnvironmentVars"]
    assert not any("AWS_ACCESS_KEY" in k or "AWS_SECRET" in k or k.startswith("VAULT_AWSKMS") for k in env)


def test_a_brought_key_is_named_by_its_arn():
    assert f'kms_key_id = "{KEY_ARN}"' in _seal(server_config(_args(kms_mode="byok", kms_key_arn=KEY_ARN)))


@pytest.mark.parametrize("cluster", ["prod", "c" * 51, "c" * 52, "a-very-long-cluster-name-" * 4],
                         ids=["short", "at-the-limit", "one-over", "long"])
def test_role_name_is_explicit_and_fits_iam(cluster):
    name = role_name(cluster)
    assert len(name) <= 64 and name.endswith("-vault-unseal")
    assert name == f"{cluster}-vault-unseal" if len(cluster) <= 51 else name.startswith(cluster[:40])
    assert role_name(cluster + "x") != name


def test_max_lease_ttl_follows_the_api_key_rotation_period():
    doc = prod_document()
    doc["secrets"]["rotation"]["apiKeyDays"] = 30
    cfg = parse_stack_config(doc)
    args = VaultHAArgs(config=cfg.vault, secrets=cfg.secrets, oidc_issuer_url=ISSUER)
    assert 'max_lease_ttl = "720h"' in server_config(args)


def test_bootstrap_enables_the_file_audit_device_on_the_audit_volume():
    script = bootstrap_script(_args())
    assert f"vault audit enable file file_path={AUDIT_FILE}" in script
    assert AUDIT_FILE.startswith(_values(_args())["server"]["auditStorage"]["mountPath"])
    assert "bound_service_account_namespaces=external-secrets" in script
    assert script.rstrip().endswith("vault token revoke -self")


# --- chart values --------------------------------------------------------------------------------

def test_values_run_ha_raft_with_tls_and_no_injector():
    v = _values(_args(), role_arn="arn:role")
    assert v["global"]["tlsDisable"] is False
    assert v["server"]["ha"]["enabled"] is True and v["server"]["ha"]["raft"]["enabled"] is True
    assert v["server"]["ha"]["replicas"] == 5
    assert v["server"]["standalone"]["enabled"] is False
    assert v["server"]["ha"]["raft"]["config"] == server_config(_args())
    assert v["injector"]["enabled"] is False and v["csi"]["enabled"] is False
    assert v["server"]["serviceAccount"]["annotations"] == {"eks.amazonaws.com/role-arn": "arn:role"}
    assert v["server"]["serviceAccount"]["name"] == "vault"


def test_values_leave_to_the_chart_what_the_chart_already_sets():
    """vault-helm (0.31.0 and 0.34.1) sets SKIP_CHOWN and SKIP_SETCAP on the container (a second entry of the same
    name fails server-side apply) and appends ``disable_mlock = true`` to the HCL (Vault >= 1.21
    refuses a setting given twice)."""
    s = _values(_args())["server"]
    assert not {"SKIP_CHOWN", "SKIP_SETCAP"} & set(s["extraEnvironmentVars"])
    assert "disable_mlock" not in s["ha"]["raft"]["config"]


def test_sealed_pods_are_not_ready_but_are_not_restarted():
    s = _values(_args())["server"]
    ready, live = s["readinessProbe"]["path"], s["livenessProbe"]["path"]
    assert "sealedcode" not in ready and "uninitcode=204" in ready and "standbyok=true" in ready
    assert "sealedcode=204" in live and "uninitcode=204" in live


def test_values_spread_replicas_and_bound_disruption():
    s = _values(_args())["server"]
    anti = s["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert anti[0]["topologyKey"] == "kubernetes.io/hostname"
    assert anti[0]["labelSelector"]["matchLabels"] == {"app.kubernetes.io/name": "vault", "component": "server"}
    assert s["ha"]["disruptionBudget"] == {"enabled": True, "maxUnavailable": 1}
    assert s["topologySpreadConstraints"][0]["topologyKey"] == "topology.kubernetes.io/zone"


def test_values_keep_pods_restricted_with_a_readonly_root():
    sc = _values(_args())["server"]["statefulSet"]["securityContext"]
    assert sc["pod"]["runAsNonRoot"] is True and sc["pod"]["seccompProfile"] == {"type": "RuntimeDefault"}
    c = sc["container"]
    assert c["allowPrivilegeEscalation"] is False and c["capabilities"] == {"drop": ["ALL"]}
    assert c["readOnlyRootFilesystem"] is True
    mounts = {m["mountPath"] for m in _values(_args())["server"]["volumeMounts"]}
    assert "/tmp" in mounts  # the chart's entrypoint writes the final config there


def test_values_persist_data_and_audit():
    s = _values(_args())["server"]
    assert s["dataStorage"]["enabled"] is True and s["auditStorage"]["enabled"] is True


def test_extra_values_merge_last_but_keep_the_rest():
    v = _values(_args(extra_values={"server": {"resources": {"limits": {"cpu": "3"}}}}))
    assert v["server"]["resources"]["limits"]["cpu"] == "3"
    assert v["server"]["resources"]["limits"]["memory"] == "4Gi"
    assert v["global"]["tlsDisable"] is False


def test_server_certificate_covers_service_and_peers_and_rotates_on_policy():
    cert = server_certificate(_args())["spec"]
    assert {"vault.vault.svc", "*.vault-internal"} <= set(cert["dnsNames"])
    assert cert["ipAddresses"] == ["127.0.0.1"]
    assert cert["duration"] == "720h" and cert["renewBefore"] == "336h"
    assert cert["issuerRef"]["name"] == "hardened-internal-ca"
    assert cert["privateKey"]["rotationPolicy"] == "Always"


# --- KMS key, IAM role, policies (whole program under mocks) ------------------------------------

@pytest.fixture(scope="module")
def prod():
    return render()


def test_kms_key_rotates_on_the_encryption_key_period(prod):
    records, _ = prod
    key = one(records, "aws:kms/key:Key", "-vault-unseal-key").inputs
    assert key["enableKeyRotation"] is True
    assert key["rotationPeriodInDays"] == 365
    assert key["keyUsage"] == "ENCRYPT_DECRYPT" and key["customerMasterKeySpec"] == "SYMMETRIC_DEFAULT"
    assert key["deletionWindowInDays"] == 30


def test_key_policy_separates_administration_from_use(prod):
    """Issue 23: admins administer without use, policy rewrites or grants; Vault's role uses; the
    account root gets only the break-glass lifeline (tests/cluster/test_key_policies.py simulates it)."""
    records, _ = prod
    policy = policy_doc(one(records, "aws:kms/key:Key", "-vault-unseal-key").inputs["policy"])
    role_arn = one(records, "aws:iam/role:Role", "-unseal-role").name
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert {"KeyAdministrationWithoutUse", "VaultAutoUnseal", "BreakGlassOnlyWithMfa",
            "DenyAdministratorsUseAndGrants"} <= set(by_sid)
    admin = by_sid["KeyAdministrationWithoutUse"]
    doc = prod_document()
    assert admin["Principal"]["AWS"] == sorted(set(doc["vault"]["keyAdmins"]) | set(doc["cluster"]["keyAdmins"]))
    assert not {"kms:Encrypt", "kms:Decrypt", "kms:*", "kms:GenerateDataKey*", "kms:ReEncrypt*", "kms:Create*",
                "kms:Put*", "kms:CreateGrant", "kms:PutKeyPolicy", "kms:ScheduleKeyDeletion",
                "kms:DisableKey"} & set(admin["Action"])
    use = by_sid["VaultAutoUnseal"]
    assert sorted(use["Action"]) == ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt"]
    assert use["Principal"]["AWS"].endswith(role_arn)
    root = [s for s in policy["Statement"] if s["Effect"] == "Allow" and ":root" in json.dumps(s["Principal"])]
    assert [s["Sid"] for s in root] == ["BreakGlassOnlyWithMfa"]
    assert root[0]["Condition"]["ArnEquals"]["aws:PrincipalArn"]


def test_role_is_assumable_only_by_the_vault_service_account(prod):
    records, _ = prod
    trust = policy_doc(one(records, "aws:iam/role:Role", "-unseal-role").inputs["assumeRolePolicy"])
    (stmt,) = trust["Statement"]
    # the created cluster's IAM OIDC provider (components.cluster), the only one in the stack
    provider = one(records, "aws:iam/openIdConnectProvider:OpenIdConnectProvider").inputs
    issuer = provider["url"].removeprefix("https://")
    assert stmt["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert stmt["Condition"] == {"StringEquals": {
        f"{issuer}:sub": "system:serviceaccount:vault:vault", f"{issuer}:aud": "sts.amazonaws.com"}}
    assert stmt["Principal"]["Federated"].endswith(f":oidc-provider/{issuer}")
    assert provider["clientIdLists"] == ["sts.amazonaws.com"]


def test_the_chart_names_the_role_and_key_by_what_is_known_at_preview(prod):
    """The role ARN in the values is built from the role's explicit name and the account id (an
    invoke), and the seal names the alias the stack creates: AWS's own ARN format for the name the
    role really gets, and the alias the stack really creates."""
    records, _ = prod
    role = one(records, "aws:iam/role:Role", "-vault-unseal-role")
    values = one(records, "kubernetes:helm.sh/v4:Chart", "vault-chart").inputs["values"]["server"]
    arn = values["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert arn == f"arn:aws:iam::123456789012:role/{role.inputs['name']}"
    alias = one(records, "aws:kms/alias:Alias", "-vault-unseal-alias").inputs["name"]
    assert f'kms_key_id = "{alias}"' in _seal(values["ha"]["raft"]["config"])


def test_the_chart_waits_for_the_alias_it_names(prod):
    records, deps = prod
    chart = one(records, "kubernetes:helm.sh/v4:Chart", "vault-chart")
    assert one(records, "aws:kms/alias:Alias", "-vault-unseal-alias").urn in deps[chart.urn]


def test_role_policy_allows_only_unseal_actions_on_the_key(prod):
    records, _ = prod
    policy = policy_doc(one(records, "aws:iam/rolePolicy:RolePolicy", "-unseal-policy").inputs["policy"])
    (stmt,) = policy["Statement"]
    assert stmt["Action"] == UNSEAL_ACTIONS
    assert stmt["Resource"].startswith("arn:aws:kms:") and "*" not in stmt["Resource"]


def test_bring_your_own_key_creates_no_key_and_scopes_the_role_to_it():
    doc = prod_document()
    vault = {**doc["vault"], "kmsMode": "byok", "kmsKeyArn": KEY_ARN}
    vault.pop("keyAdmins")
    records, _ = render({"vault": vault, "cluster": {
        **doc["cluster"], "create": False,
        "oidcProviderArn": "arn:aws:iam::123456789012:oidc-provider/oidc.example.com/id/XYZ"}})
    assert [r for r in of_type(records, "aws:kms/key:Key") if "vault" in r.name] == []
    assert [r for r in of_type(records, "aws:kms/alias:Alias") if "vault" in r.name] == []
    assert of_type(records, "aws:iam/openIdConnectProvider:OpenIdConnectProvider") == []
    stmt = policy_doc(one(records, "aws:iam/rolePolicy:RolePolicy", "-unseal-policy").inputs["policy"])["Statement"][0]
    assert stmt["Resource"] == KEY_ARN
    trust = policy_doc(one(records, "aws:iam/role:Role", "-unseal-role").inputs["assumeRolePolicy"])["Statement"][0]
    assert "oidc.example.com/id/XYZ:sub" in trust["Condition"]["StringEquals"]
    chart = one(records, "kubernetes:helm.sh/v4:Chart", "vault-chart")
    assert f'kms_key_id = "{KEY_ARN}"' in _seal(chart.inputs["values"]["server"]["ha"]["raft"]["config"])


def test_key_admins_default_to_the_clusters_never_to_the_account_root():
    doc = prod_document()
    vault = {k: v for k, v in doc["vault"].items() if k != "keyAdmins"}
    records, _ = render({"vault": vault})
    admin = policy_doc(one(records, "aws:kms/key:Key", "-vault-unseal-key").inputs["policy"])["Statement"][0]
    assert admin["Sid"] == "KeyAdministrationWithoutUse"
    assert admin["Principal"]["AWS"] == sorted(doc["cluster"]["keyAdmins"])


def test_the_chart_is_pinned_and_waits_for_tls_and_kms_access(prod):
    records, deps = prod
    chart = one(records, "kubernetes:helm.sh/v4:Chart", "vault-chart")
    assert chart.inputs["chart"] == "vault" and re.fullmatch(r"\d+\.\d+\.\d+", chart.inputs["version"])
    assert chart.inputs["repositoryOpts"]["repo"] == "https://helm.releases.hashicorp.com"
    cert = next(r for r in records if r.is_kubernetes_object and r.inputs["kind"] == "Certificate"
                and r.inputs["metadata"]["name"] == "vault-server-tls")
    policy = one(records, "aws:iam/rolePolicy:RolePolicy", "-unseal-policy")
    assert {cert.urn, policy.urn} <= set(deps[chart.urn])


# --- network ----------------------------------------------------------------------------------------

def test_vault_accepts_8200_only_from_external_secrets_and_8201_only_from_peers():
    pols = dict(network_policies(_args()))
    clients = pols["clients"]["spec"]["ingress"]
    assert clients[0]["ports"] == [{"protocol": "TCP", "port": 8200}]
    assert [p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] for p in clients[0]["from"]] == [
        "external-secrets"]
    peers = pols["peers-in"]["spec"]["ingress"][0]
    assert peers["from"] == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "vault",
                                                              "component": "server"}}}]
    assert {p["port"] for p in peers["ports"]} == {8200, 8201}


def test_client_namespaces_widen_ingress_only_when_listed():
    pols = dict(network_policies(_args(client_namespaces=["lego-mcp-prod"])))
    names = [p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
             for p in pols["clients"]["spec"]["ingress"][0]["from"]]
    assert names == ["external-secrets", "lego-mcp-prod"]


def test_internet_egress_is_443_only_and_excludes_cluster_and_metadata_ranges():
    for _, pol in network_policies(_args()):
        for rule in pol["spec"].get("egress", []):
            for peer in rule.get("to", []):
                if peer.get("ipBlock", {}).get("cidr") == "0.0.0.0/0":
                    assert rule["ports"] == [{"protocol": "TCP", "port": 443}]
                    assert {"169.254.0.0/16", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"} <= set(
                        peer["ipBlock"]["except"])


def test_vault_namespace_is_restricted_with_default_deny(prod):
    records, _ = prod
    (ns,) = k8s(records, "Namespace", "vault")
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert k8s(records, "NetworkPolicy", "default-deny-all", "vault")
    (quota,) = k8s(records, "ResourceQuota", namespace="vault")
    assert int(quota["spec"]["hard"]["limits.cpu"]) >= 2 * 6  # five replicas at 2 CPU plus one surge


# --- bad input ----------------------------------------------------------------------------------

@pytest.mark.parametrize("mutate, path, fragment", [
    (lambda d: d["vault"].update(replicas=1), "vault.replicas", "at least 3"),
    (lambda d: d["vault"].update(replicas=2), "vault.replicas", "at least 3"),
    (lambda d: d["vault"].update(replicas=4), "vault.replicas", "even"),
    (lambda d: d["vault"].update(kmsMode="byok"), "vault.kmsKeyArn", "needs the ARN"),
    (lambda d: d["vault"].update(kmsMode="byok", kmsKeyArn="alias/vault"), "vault.kmsKeyArn", "not a KMS key ARN"),
    (lambda d: d["vault"].update(kmsMode="create", kmsKeyArn=KEY_ARN), "vault.kmsKeyArn", "kmsMode byok"),
    (lambda d: d["vault"].update(keyAdmins=["admin"]), "vault.keyAdmins", "IAM principal ARN"),
    (lambda d: d["vault"].update(kmsDeletionWindowDays=3), "vault.kmsDeletionWindowDays", "greater than"),
    (lambda d: d["vault"].update(clientNamespaces=["nope"]), "vault.clientNamespaces[0]", "not declared"),
    # an adopted cluster (a created one brings its own OIDC provider)
    (lambda d: d["cluster"].update(create=False), "cluster.oidcIssuerUrl", "IRSA"),
    (lambda d: d["cluster"].update(create=False, oidcIssuerUrl="http://oidc.example.com"), "cluster.oidcIssuerUrl",
     "https"),
    (lambda d: d["secrets"].update(enabled=False) or d["cluster"].update(environment="dev"),
     "secrets.enabled", "cert-manager"),
], ids=["one-replica", "two-replicas", "even-replicas", "byok-without-arn", "byok-alias", "create-with-arn",
        "admin-not-arn", "deletion-window", "unknown-client-namespace", "no-oidc", "oidc-http",
        "vault-without-secrets"])
def test_bad_vault_input_names_the_field(mutate, path, fragment):
    msg = _error(mutate)
    assert f"hardened-stack:{path}:" in msg and fragment in msg, msg


def test_enterprise_without_a_license_fails_before_any_resource(monkeypatch):
    from hardened import secret_placeholders

    # The offline render fills a missing required secret with a placeholder; the program's own check
    # is what runs under the real CLI.
    monkeypatch.setattr(secret_placeholders, "fill", lambda config, keys: {})
    doc = prod_document()
    with pytest.raises(ConfigError) as exc:
        render({"vault": {**doc["vault"], "edition": "enterprise"}})
    assert "hardened-stack:vaultLicense" in str(exc.value) and "--secret" in str(exc.value)


def test_defaults_are_ha_and_valid():
    c = VaultConfig()
    assert c.replicas == 5 and c.resolved_kms_mode == "create"
    pol = key_policy([ADMIN], "arn:aws:iam::123456789012:role/vault")
    assert pol["Statement"][0]["Action"] == KEY_ADMIN_ACTIONS
