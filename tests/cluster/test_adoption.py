"""Adopted clusters are checked, not assumed (issue 21 item 3).

With ``cluster.create: false`` the program looks the cluster up (``aws.eks.get_cluster``,
``aws.eks.get_addon`` for vpc-cni, Cloud Control for the encryption configuration, which the
get_cluster data source does not return) and refuses, naming the fix, before any resource of the
stack. Offline the look-ups answer from ``cluster.offlineLookup`` (hardened/render.py's mocks), so
both outcomes run here through the real program."""
from __future__ import annotations

import json

import pytest

from components.base import ConfigError
from components.cluster import LOG_TYPES, OfflineLookup, offline_answers, preflight_findings
from tests.harness import of_type, prod_document, render_records

ISSUER = "https://oidc.eks.us-east-1.amazonaws.com/id/4F1C2B7E9A0D3E6F8B5A1C2D3E4F5A6B"


def adopted(**lookup) -> dict:
    cluster = {**prod_document()["cluster"], "create": False, "oidcIssuerUrl": ISSUER, "offlineLookup": lookup}
    return {"cluster": cluster}


@pytest.mark.parametrize("lookup, fragment, fix", [
    ({"networkPolicy": False}, "NetworkPolicy is not enforced", "enableNetworkPolicy"),
    ({"logTypes": ["api", "authenticator"]}, "audit logging is off", "update-cluster-config"),
    ({"logTypes": []}, "audit logging is off", "--logging"),
    ({"secretsKeyArn": None}, "not envelope-encrypted", "associate-encryption-config"),
    ({"endpointPublicAccess": True}, "public to 0.0.0.0/0", "endpointPublicAccess=false"),
    ({"endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24", "::/0"]}, "public to 0.0.0.0/0",
     "publicAccessCidrs"),
], ids=["no-network-policy", "no-audit-log", "no-logs", "no-secrets-encryption", "public-endpoint",
        "public-ipv6-any"])
def test_an_adopted_cluster_lacking_a_guarantee_is_refused_with_the_fix(lookup, fragment, fix):
    with pytest.raises(ConfigError) as exc:
        render_records(adopted(**lookup))
    msg = str(exc.value)
    assert "lego-mcp-prod" in msg and "cannot be adopted" in msg and fragment in msg and fix in msg, msg
    assert "cluster.create: true" in msg


def test_every_missing_guarantee_is_reported_at_once():
    with pytest.raises(ConfigError) as exc:
        render_records(adopted(networkPolicy=False, logTypes=[], secretsKeyArn=None, endpointPublicAccess=True))
    assert str(exc.value).count("\n  - ") == 4


def test_a_compliant_adopted_cluster_is_adopted_and_its_api_feeds_the_provider():
    records = render_records(adopted(endpointPublicAccess=True, publicAccessCidrs=["203.0.113.0/24"]))
    assert of_type(records, "aws:eks/cluster:Cluster") == []  # nothing is created
    assert of_type(records, "aws:ec2/vpc:Vpc") == []
    assert len(of_type(records, "pulumi:providers:kubernetes")) == 1
    assert [r.inputs["name"] for r in of_type(records, "aws:iam/role:Role") if r.name.endswith("-break-glass")] == [
        "lego-mcp-prod-break-glass"]
    # the stack's own keys and IRSA still come from the config (the adopted cluster's issuer)
    trust = json.loads(next(r for r in of_type(records, "aws:iam/role:Role")
                            if r.name.endswith("-unseal-role")).inputs["assumeRolePolicy"])
    assert ISSUER.removeprefix("https://") + ":sub" in trust["Statement"][0]["Condition"]["StringEquals"]


# --- the pure preflight, on AWS-shaped answers ------------------------------------------------

def _answers(**facts):
    return offline_answers("c", "us-east-1", "123456789012", OfflineLookup(**facts))


def _findings(**facts) -> list[str]:
    a = _answers(**facts)
    cluster = a["aws:eks/getCluster:getCluster"]
    encryption = json.loads(a["aws:cloudcontrol/getResource:getResource"]["properties"])["EncryptionConfig"]
    return preflight_findings(cluster, a["aws:eks/getAddon:getAddon"]["configurationValues"], encryption)


def test_the_default_offline_answers_describe_a_cluster_that_passes():
    assert _findings() == []
    assert OfflineLookup().log_types == LOG_TYPES


@pytest.mark.parametrize("cni, ok", [
    ('{"enableNetworkPolicy": "true"}', True), ('{"enableNetworkPolicy": true}', True),
    ('{"enableNetworkPolicy": "false"}', False), ("{}", False), (None, False), ("not json", False),
], ids=["string-true", "bool-true", "string-false", "absent", "no-configuration", "garbage"])
def test_network_policy_enforcement_is_read_from_the_vpc_cni_configuration(cni, ok):
    findings = preflight_findings({"name": "c", "enabledClusterLogTypes": LOG_TYPES},
                                  cni, [{"Resources": ["secrets"]}])
    assert (findings == []) is ok, findings


def test_only_a_secrets_encryption_entry_counts():
    cluster = {"name": "c", "enabledClusterLogTypes": LOG_TYPES}
    cni = '{"enableNetworkPolicy": "true"}'
    assert preflight_findings(cluster, cni, [{"Resources": ["configmaps"]}])
    assert not preflight_findings(cluster, cni, [{"resources": ["secrets"], "provider": {"keyArn": "k"}}])


def test_a_private_endpoint_with_a_leftover_any_cidr_is_not_public():
    cluster = {"name": "c", "enabledClusterLogTypes": LOG_TYPES,
               "vpcConfig": {"endpointPublicAccess": False, "publicAccessCidrs": ["0.0.0.0/0"]}}
    assert not preflight_findings(cluster, '{"enableNetworkPolicy": "true"}', [{"Resources": ["secrets"]}])
