"""The AWS-side pack policies on the rendered cluster itself: each of the stack's cluster
resources passes, and breaking one field at a time (pulumi/compliance-policies' resource.ts
pattern) makes exactly the policy that judges that field fail, through the pack's gRPC path."""
from __future__ import annotations

import copy
import json

import pytest
import yaml

from hardened.analyzer import PolicyPackProcess
from hardened.manifests import load_text

AWS_POLICIES = {"eks-disallow-public-endpoint", "eks-enable-secrets-encryption", "eks-enable-control-plane-logging",
                "launchtemplate-enforce-imdsv2-encrypted-volumes", "nodegroup-disallow-remote-access",
                "addon-enforce-network-policy", "iampolicy-disallow-wildcard-actions", "kms-enforce-separation-of-duties"}


@pytest.fixture(scope="module")
def pack():
    with PolicyPackProcess() as process:
        yield process


def verdicts(pack, typ: str, inputs: dict) -> set[str]:
    text = yaml.safe_dump({"pulumiType": typ, "name": "probe", "inputs": inputs})
    return {v.policy for v in pack.analyze(load_text(text, "probe.yaml")).verdicts} & AWS_POLICIES


def rendered(prod, typ: str, suffix: str = "") -> dict:
    records, _ = prod
    found = [r for r in records if r.type == typ and r.name.endswith(suffix)]
    return copy.deepcopy(found[0].inputs)


def test_the_stacks_cluster_resources_pass(pack, prod):
    records, _ = prod
    judged = [r for r in records if r.type in (
        "aws:eks/cluster:Cluster", "aws:ec2/launchTemplate:LaunchTemplate", "aws:eks/nodeGroup:NodeGroup",
        "aws:eks/addon:Addon", "aws:iam/policy:Policy", "aws:iam/rolePolicy:RolePolicy", "aws:kms/key:Key")]
    assert len(judged) >= 16
    for r in judged:
        assert verdicts(pack, r.type, r.inputs) == set(), r.name


def _cluster_public(c):
    c["vpcConfig"]["endpointPublicAccess"] = True
    c["vpcConfig"].pop("publicAccessCidrs", None)


def _lt_hops(lt):
    lt["metadataOptions"]["httpPutResponseHopLimit"] = 2


def _lt_tokens(lt):
    lt["metadataOptions"]["httpTokens"] = "optional"


def _lt_unencrypted(lt):
    lt["blockDeviceMappings"][1]["ebs"]["encrypted"] = "false"


@pytest.mark.parametrize("typ, suffix, mutate, policy", [
    ("aws:eks/cluster:Cluster", "", _cluster_public, "eks-disallow-public-endpoint"),
    ("aws:eks/cluster:Cluster", "", lambda c: c["vpcConfig"].update(publicAccessCidrs=["0.0.0.0/0"],
                                                                      endpointPublicAccess=True),
     "eks-disallow-public-endpoint"),
    ("aws:eks/cluster:Cluster", "", lambda c: c.pop("encryptionConfig"), "eks-enable-secrets-encryption"),
    ("aws:eks/cluster:Cluster", "", lambda c: c["enabledClusterLogTypes"].remove("audit"),
     "eks-enable-control-plane-logging"),
    ("aws:ec2/launchTemplate:LaunchTemplate", "", _lt_hops, "launchtemplate-enforce-imdsv2-encrypted-volumes"),
    ("aws:ec2/launchTemplate:LaunchTemplate", "", _lt_tokens, "launchtemplate-enforce-imdsv2-encrypted-volumes"),
    ("aws:ec2/launchTemplate:LaunchTemplate", "", _lt_unencrypted, "launchtemplate-enforce-imdsv2-encrypted-volumes"),
    ("aws:ec2/launchTemplate:LaunchTemplate", "", lambda lt: lt.update(keyName="ops"),
     "launchtemplate-enforce-imdsv2-encrypted-volumes"),
    ("aws:eks/nodeGroup:NodeGroup", "", lambda ng: ng.update(remoteAccess={"ec2SshKey": "ops"}),
     "nodegroup-disallow-remote-access"),
    ("aws:eks/addon:Addon", "-addon-vpc-cni", lambda a: a.update(configurationValues="{}"),
     "addon-enforce-network-policy"),
    ("aws:iam/rolePolicy:RolePolicy", "-unseal-policy",
     lambda p: p.update(policy=json.dumps({"Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]})),
     "iampolicy-disallow-wildcard-actions"),
    ("aws:kms/key:Key", "-compliance-audit-key", lambda k: k.pop("policy"), "kms-enforce-separation-of-duties"),
    ("aws:kms/key:Key", "-vault-unseal-key", lambda k: k.update(policy=json.dumps({"Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/lego-mcp-platform-admin"},
         "Action": ["kms:Describe*", "kms:Put*"], "Resource": "*"}]})), "kms-enforce-separation-of-duties"),
], ids=["public-default", "public-world", "no-secrets-encryption", "no-audit-log", "hop-limit-2", "imdsv1",
        "unencrypted-volume", "ssh-key", "remote-access", "cni-without-network-policy", "kms-star",
        "default-key-policy", "admin-with-put"])
def test_breaking_one_field_fails_exactly_its_policy(pack, prod, typ, suffix, mutate, policy):
    inputs = rendered(prod, typ, suffix)
    mutate(inputs)
    assert verdicts(pack, typ, inputs) == {policy}
