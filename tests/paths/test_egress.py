"""Issue 23 item 8 (egress): the platform's AWS clients reach named destinations only.

Vault (KMS, STS, its audit shipper's S3) and falcosidekick (S3, STS) leave the cluster on 443 to the
VPC interface endpoints' subnets (awsEndpointCidrs), never to an internet address. What still
reaches the internet on 443, and why, is a closed list: a new entry fails this test."""
from __future__ import annotations

import ipaddress

import pytest

from components.config import ConfigError, parse_stack_config
from tests.harness import k8s, prod_document

#: (namespace, policy): the destinations have no fixed addresses NetworkPolicy could name; an
#: egress proxy or gateway would (docs/paths.md, "What remains").
INTERNET_443 = {
    ("cert-manager", "allow-egress-acme"): "the ACME CA (Let's Encrypt) for the public certificate",
    ("cosign-system", "allow-egress-https"): "registries, Fulcio/Rekor and the Sigstore TUF root",
}


def _internet(peer: dict) -> bool:
    block = peer.get("ipBlock")
    return bool(block) and not ipaddress.ip_network(block["cidr"]).is_private


def test_only_the_listed_components_reach_an_internet_address_on_443(prod):
    found = {}
    for np in k8s(prod, "NetworkPolicy"):
        for rule in np["spec"].get("egress", []):
            ports = [p.get("port") for p in rule.get("ports", [])]
            if (not ports or 443 in ports) and any(_internet(p) for p in rule.get("to", [])):
                found[(np["metadata"]["namespace"], np["metadata"]["name"])] = ports
    assert set(found) == set(INTERNET_443)


@pytest.mark.parametrize("namespace, policy", [("vault", "allow-egress-aws-kms-sts"),
                                               ("falco", "allow-egress-falcosidekick-s3")])
def test_aws_clients_reach_the_vpc_endpoints_only(prod, namespace, policy):
    (np,) = k8s(prod, "NetworkPolicy", policy, namespace)
    (rule,) = np["spec"]["egress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 443}]
    assert [p["ipBlock"] for p in rule["to"]] == [{"cidr": c} for c in prod_document()["awsEndpointCidrs"]]


def test_a_prod_stack_without_vpc_endpoints_is_refused():
    doc = prod_document()
    doc.pop("awsEndpointCidrs")
    with pytest.raises(ConfigError) as exc:
        parse_stack_config(doc)
    assert "hardened-stack:awsEndpointCidrs" in str(exc.value)
