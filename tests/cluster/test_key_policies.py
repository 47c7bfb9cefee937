"""Issue 23 item 2, attacked: a policy simulation on every rendered key policy.

Each key the stack creates (audit, volume, Vault unseal, EKS Secrets) is judged with the IAM
evaluator of the pack (policy_pack/policies/_lib/iam.py) for the principals an attacker would be
or would become: a key administrator whose IAM policy says ``kms:*``, any other principal of the
account with ``kms:*``, the break-glass role with and without MFA, the root user, and the key's
legitimate users. AWS's evaluation logic: an explicit deny wins, a statement naming the account
needs the principal's IAM policy to allow too (``iam_allows``).
"""
from __future__ import annotations

import json

import pytest

from components.kms import ADMIN_ACTIONS, BREAK_GLASS_ACTIONS, key_policy, role_use, via_service_use
from policy_pack.policies._lib.iam import Request, allowed, decide, wildcard_actions
from tests.harness import of_type, prod_document

ACCOUNT = "123456789012"
BREAK_GLASS = f"arn:aws:iam::{ACCOUNT}:role/lego-mcp-prod-break-glass"
ROOT_USER = f"arn:aws:iam::{ACCOUNT}:root"
OTHER_ADMIN = f"arn:aws:iam::{ACCOUNT}:role/AWSReservedSSO_AdministratorAccess_0123"
USE = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext",
       "kms:ReEncryptFrom", "kms:ReEncryptTo"]
SELF_GRANTING = ["kms:CreateGrant", "kms:PutKeyPolicy"]
KEYS = ["-compliance-audit-key", "-cluster-volume-key", "-vault-unseal-key", "-cluster-secrets-key"]


def request(principal: str, action: str, mfa: bool = True, **context) -> Request:
    ctx = {"aws:PrincipalArn": principal, "kms:CallerAccount": ACCOUNT}
    if mfa:
        ctx["aws:MultiFactorAuthPresent"] = "true"
    return Request(principal, action, {**ctx, **context})


@pytest.fixture(scope="module")
def policies(prod):
    records, _ = prod
    out = {}
    for suffix in KEYS:
        (key,) = [r for r in of_type(records, "aws:kms/key:Key") if r.name.endswith(suffix)]
        out[suffix] = json.loads(key.inputs["policy"])
        assert key.inputs["bypassPolicyLockoutSafetyCheck"] is True  # see components/kms.py
    return out


def admins_of(suffix: str) -> list[str]:
    doc = prod_document()
    extra = doc["vault"]["keyAdmins"] if suffix == "-vault-unseal-key" else []
    return sorted(set(doc["cluster"]["keyAdmins"]) | set(extra))


def test_every_key_of_the_stack_has_an_explicit_policy(prod):
    records, _ = prod
    keys = of_type(records, "aws:kms/key:Key")
    assert sorted(k.name for k in keys) == sorted(k for k in (r.name for r in keys) if any(k.endswith(s) for s in KEYS))
    assert len(keys) == len(KEYS) and all(k.inputs.get("policy") for k in keys)


@pytest.mark.parametrize("suffix", KEYS)
@pytest.mark.parametrize("action", USE + SELF_GRANTING + BREAK_GLASS_ACTIONS)
def test_administrators_cannot_use_regrant_or_destroy_the_key(policies, suffix, action):
    for admin in admins_of(suffix):
        for via in ({}, {"kms:ViaService": "s3.us-east-1.amazonaws.com"},
                    {"kms:ViaService": "ec2.us-east-1.amazonaws.com", "kms:GrantIsForAWSResource": "true"}):
            assert not allowed(policies[suffix], request(admin, action, **via), iam_allows=True), (admin, via)


@pytest.mark.parametrize("suffix", KEYS)
@pytest.mark.parametrize("action", ["kms:DescribeKey", "kms:EnableKeyRotation", "kms:TagResource",
                                    "kms:CancelKeyDeletion", "kms:GetKeyPolicy"])
def test_administrators_can_still_administer(policies, suffix, action):
    assert all(allowed(policies[suffix], request(a, action)) for a in admins_of(suffix))


@pytest.mark.parametrize("suffix", KEYS)
@pytest.mark.parametrize("action", BREAK_GLASS_ACTIONS)
def test_only_break_glass_with_mfa_disables_deletes_or_rewrites(policies, suffix, action):
    policy = policies[suffix]
    assert allowed(policy, request(BREAK_GLASS, action), iam_allows=True)
    assert not allowed(policy, request(BREAK_GLASS, action, mfa=False), iam_allows=True)
    assert not allowed(policy, request(BREAK_GLASS, action, **{"aws:MultiFactorAuthPresent": "false"}),
                       iam_allows=True)
    assert allowed(policy, request(ROOT_USER, action))  # the account's own lifeline, with MFA
    for other in [OTHER_ADMIN, *admins_of(suffix), f"arn:aws:iam::{ACCOUNT}:role/lego-mcp-prod-vault-unseal-role"]:
        assert decide(policy, request(other, action), iam_allows=True) != "Allow", other


@pytest.mark.parametrize("suffix", KEYS)
def test_break_glass_cannot_use_the_key_directly(policies, suffix):
    for action in ("kms:Decrypt", "kms:Encrypt"):
        assert not allowed(policies[suffix], request(BREAK_GLASS, action), iam_allows=True)


@pytest.mark.parametrize("suffix", KEYS)
def test_kms_star_in_iam_gives_another_account_principal_no_direct_use(policies, suffix):
    for action in USE + SELF_GRANTING + BREAK_GLASS_ACTIONS:
        assert not allowed(policies[suffix], request(OTHER_ADMIN, action), iam_allows=True), action


def test_the_audit_key_is_used_only_through_s3_and_by_log_delivery(policies):
    policy = policies["-compliance-audit-key"]
    writer = f"arn:aws:iam::{ACCOUNT}:role/lego-mcp-prod-audit-eks-firehose"
    s3 = {"kms:ViaService": "s3.us-east-1.amazonaws.com"}
    assert allowed(policy, request(writer, "kms:GenerateDataKey", **s3), iam_allows=True)
    assert not allowed(policy, request(writer, "kms:GenerateDataKey", **s3), iam_allows=False)  # IAM decides who
    assert not allowed(policy, request(writer, "kms:GenerateDataKey"), iam_allows=True)  # not directly
    assert not allowed(policy, request(writer, "kms:GenerateDataKey",
                                       **{"kms:ViaService": "s3.us-east-1.amazonaws.com", "kms:CallerAccount":
                                          "999999999999"}), iam_allows=True)
    delivery = Request("delivery.logs.amazonaws.com", "kms:GenerateDataKey",
                       {"aws:SourceAccount": ACCOUNT}, service=True)
    assert allowed(policy, delivery)
    assert not allowed(policy, Request("delivery.logs.amazonaws.com", "kms:GenerateDataKey",
                                       {"aws:SourceAccount": "999999999999"}, service=True))


def test_the_volume_key_is_used_through_ebs_and_grants_only_for_aws_resources(policies):
    policy = policies["-cluster-volume-key"]
    csi = f"arn:aws:iam::{ACCOUNT}:role/lego-mcp-prod-ebs-csi"
    ec2 = {"kms:ViaService": "ec2.us-east-1.amazonaws.com"}
    assert allowed(policy, request(csi, "kms:CreateGrant", **ec2, **{"kms:GrantIsForAWSResource": "true"}),
                   iam_allows=True)
    assert not allowed(policy, request(csi, "kms:CreateGrant", **ec2), iam_allows=True)
    assert not allowed(policy, request(csi, "kms:Decrypt"), iam_allows=True)
    asg = (f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling")
    assert allowed(policy, request(asg, "kms:GenerateDataKeyWithoutPlaintext"))
    assert allowed(policy, request(asg, "kms:CreateGrant", **{"kms:GrantIsForAWSResource": "true"}))
    assert not allowed(policy, request(asg, "kms:CreateGrant"))


def test_the_unseal_key_is_used_by_vaults_role_only(policies, prod):
    records, _ = prod
    policy = policies["-vault-unseal-key"]
    (role,) = [r for r in of_type(records, "aws:iam/role:Role") if r.name.endswith("-vault-unseal-role")]
    vault = f"arn:aws:iam::{ACCOUNT}:role/{role.name}"
    for action in ("kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"):
        assert allowed(policy, request(vault, action, mfa=False))
    for action in ("kms:CreateGrant", "kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:GenerateDataKey"):
        assert not allowed(policy, request(vault, action, mfa=False), iam_allows=True)


def test_the_secrets_key_is_used_by_the_eks_cluster_role(policies, prod):
    records, _ = prod
    policy = policies["-cluster-secrets-key"]
    (role,) = [r for r in of_type(records, "aws:iam/role:Role") if r.name.endswith("-cluster-cluster-role")]
    eks = f"arn:aws:iam::{ACCOUNT}:role/{role.name}"
    assert allowed(policy, request(eks, "kms:Encrypt", mfa=False))
    assert allowed(policy, request(eks, "kms:CreateGrant", mfa=False, **{"kms:GrantIsForAWSResource": "true"}))
    assert not allowed(policy, request(eks, "kms:CreateGrant", mfa=False))
    assert not allowed(policy, request(eks, "kms:ScheduleKeyDeletion", mfa=False), iam_allows=True)


def test_no_key_policy_allows_star_actions(policies):
    for suffix, policy in policies.items():
        assert wildcard_actions(policy) == [], suffix


# --- the evaluator itself (one case per rule it models) ------------------------------------------

def test_the_default_key_policy_lets_any_kms_star_principal_destroy_the_key():
    """The hole issue 23 names: AWS's default policy gives the account kms:*, so IAM decides."""
    default = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": ROOT_USER}, "Action": "kms:*",
                              "Resource": "*"}]}
    assert allowed(default, request(OTHER_ADMIN, "kms:ScheduleKeyDeletion", mfa=False), iam_allows=True)
    assert not allowed(default, request(OTHER_ADMIN, "kms:ScheduleKeyDeletion"), iam_allows=False)


def test_the_old_vault_admin_statement_let_admins_grant_themselves_decrypt():
    old = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:role/a"},
                          "Action": ["kms:Create*", "kms:Put*"], "Resource": "*"}]}
    assert allowed(old, Request("arn:aws:iam::1:role/a", "kms:CreateGrant", {}))
    assert allowed(old, Request("arn:aws:iam::1:role/a", "kms:PutKeyPolicy", {}))


@pytest.mark.parametrize("condition, context, expected", [
    ({"Bool": {"k": "true"}}, {"k": "true"}, True),
    ({"Bool": {"k": "true"}}, {}, False),
    ({"BoolIfExists": {"k": "false"}}, {}, True),
    ({"BoolIfExists": {"k": "false"}}, {"k": "true"}, False),
    ({"ArnNotEquals": {"k": ["a", "b"]}}, {"k": "a"}, False),
    ({"ArnNotEquals": {"k": ["a", "b"]}}, {"k": "c"}, True),
    ({"ArnNotEquals": {"k": ["a"]}}, {}, True),
    ({"StringEquals": {"k": "x", "j": "y"}}, {"k": "x"}, False),
    ({"StringLike": {"k": "arn:*:role/x*"}}, {"k": "arn:aws:iam::1:role/xy"}, True),
    ({"NumericLessThan": {"k": "3600"}}, {"k": "60"}, True),
    ({"NumericLessThan": {"k": "3600"}}, {"k": "7200"}, False),
], ids=["bool", "bool-missing", "ifexists-missing", "ifexists-present", "not-equals-listed", "not-equals-other",
        "not-equals-missing", "and-of-keys", "like", "numeric-lt", "numeric-ge"])
def test_conditions_evaluate_as_aws_does(condition, context, expected):
    policy = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Condition": condition}]}
    assert allowed(policy, Request("arn:aws:iam::1:role/r", "kms:Decrypt", context)) is expected


def test_explicit_deny_wins_and_wildcards_match_case_insensitively():
    policy = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:*"},
                            {"Effect": "Deny", "Principal": "*", "Action": "KMS:Re*"}]}
    assert allowed(policy, Request("r", "kms:Decrypt", {}))
    assert decide(policy, Request("r", "kms:ReEncryptFrom", {})) == "Deny"
    assert wildcard_actions(policy) == [(0, "kms:*")]


def test_the_pure_builder_gives_admins_only_the_listed_actions():
    policy = key_policy(account=ACCOUNT, admins=["arn:aws:iam::123456789012:role/a"], break_glass_arn=BREAK_GLASS,
                        users=[via_service_use("s3", "us-east-1", ACCOUNT, ["kms:Decrypt"], "S3"),
                               *role_use("arn:aws:iam::123456789012:role/u", ["kms:Encrypt"], "U")])
    assert policy["Statement"][0]["Action"] == ADMIN_ACTIONS
    assert not {a for a in ADMIN_ACTIONS if a.startswith(("kms:Create", "kms:Put", "kms:Disable", "kms:Schedule"))} - {
        "kms:CreateAlias"}
