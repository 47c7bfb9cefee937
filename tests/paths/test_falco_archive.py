"""Issue 21 item 2: Falco -> the audit bucket, read as falcosidekick reads it.

falcosidekick 2.32.0 (outputs/aws.go, NewAWSClient) built ``&aws.Config{Region: region}`` with no
credentials and, with ``AWS.RoleARN`` set, called ``sts:AssumeRole`` from it: the call fails (no
credentials; the role trusts only AssumeRoleWithWebIdentity anyway), NewAWSClient returns an error
and main.go clears ``AWS.S3.Bucket``: the output is off from start-up. From 2.33.0 NewAWSClient
calls ``awsconfig.LoadDefaultConfig``, whose chain reads the web identity the EKS pod identity
webhook injects. The tests below rebuild the container's environment as the cluster would
(the rendered env + the webhook's variables), resolve falcosidekick's settings with its own keys and
viper's rules, and follow the identity to IAM and KMS.
"""
from __future__ import annotations

import re

import pytest

from components.audit import FALCO_PREFIX, SIDEKICK_IRSA_MIN_VERSION
from components.config import ConfigError, parse_stack_config
from tests.harness import k8s, of_type, prod_document
from tests.paths import iam
from tests.paths.upstream import (DEFAULT_AUDIENCE, SIDEKICK_AWS_DEFAULTS, allows, sidekick_s3_key, sidekick_settings,
                                  trusts_web_identity, upstream_text, web_identity_role, webhook_env)



def _container(prod) -> dict:
    (dep,) = k8s(prod, "Deployment", "falcosidekick", "falco")
    (c,) = dep["spec"]["template"]["spec"]["containers"]
    return c


def _env(prod) -> dict[str, str]:
    """The container's environment on a node: the rendered values plus the webhook's."""
    (dep,) = k8s(prod, "Deployment", "falcosidekick", "falco")
    (sa,) = k8s(prod, "ServiceAccount", dep["spec"]["template"]["spec"]["serviceAccountName"], "falco")
    rendered = {e["name"]: e["value"] for e in _container(prod)["env"] if "value" in e}
    return {**rendered, **webhook_env(sa)}


def _version(image: str) -> tuple[int, ...]:
    tag = image.rsplit(":", 1)[1].split("@")[0]
    return tuple(int(x) for x in re.findall(r"\d+", tag)[:3])


def test_the_image_builds_its_aws_client_from_the_default_chain(prod):
    assert _version(_container(prod)["image"]) >= SIDEKICK_IRSA_MIN_VERSION == (2, 33, 0)


def test_the_s3_output_is_on_at_start_up_with_the_web_identity(prod):
    settings = sidekick_settings(_env(prod))
    # main.go enables the S3 output when AWS.S3.Bucket is set and NewAWSClient succeeds
    assert settings["AWS_S3_BUCKET"] == iam.audit_bucket(prod).inputs["bucket"]
    assert settings["AWS_REGION"] == "us-east-1"
    # no sts:AssumeRole path (2.32.0's AWS.RoleARN), no static keys: the web identity it is
    assert settings["AWS_ROLEARN"] == "" and "AWS_ACCESS_KEY_ID" not in _env(prod)
    role_arn = web_identity_role(_env(prod))
    assert role_arn == "arn:aws:iam::123456789012:role/lego-mcp-prod-falco-audit"
    role = iam.role_by_arn(prod, role_arn)
    assert trusts_web_identity(iam.trust(role), iam.issuer_host(prod), "falco", "falcosidekick", DEFAULT_AUDIENCE)
    assert not trusts_web_identity(iam.trust(role), iam.issuer_host(prod), "falco", "falco")


def test_the_object_it_writes_is_allowed_encrypted_and_locked(prod):
    settings = sidekick_settings(_env(prod))
    bucket_arn = iam.audit_bucket_arn(prod)
    key = sidekick_s3_key(settings)
    assert key.startswith(FALCO_PREFIX)
    policy = iam.merged(prod, iam.role_by_arn(prod, web_identity_role(_env(prod))))
    assert allows(policy, "s3:PutObject", f"{bucket_arn}/{key}")
    # falcosidekick always sends its canned ACL (default bucket-owner-full-control); S3 authorises
    # that header as s3:PutObjectAcl: allowed for that ACL only
    acl = settings["AWS_S3_OBJECTCANNEDACL"]
    assert acl == "bucket-owner-full-control"
    assert allows(policy, "s3:PutObjectAcl", f"{bucket_arn}/{key}", {"s3:x-amz-acl": acl})
    assert not allows(policy, "s3:PutObjectAcl", f"{bucket_arn}/{key}", {"s3:x-amz-acl": "public-read"})
    # S3 generates the data key with the audit key on its behalf (SSE-KMS default encryption)
    key_arn = iam.audit_sse(prod)["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"]
    assert allows(policy, "kms:GenerateDataKey", key_arn, iam.s3_put_context(prod, key_arn))
    assert not allows(policy, "kms:GenerateDataKey", key_arn, {"kms:ViaService": "ec2.us-east-1.amazonaws.com"})
    # write-only: nothing to read, list, delete or put elsewhere
    for action, resource in [("s3:GetObject", f"{bucket_arn}/{key}"), ("s3:DeleteObject", f"{bucket_arn}/{key}"),
                             ("s3:ListBucket", bucket_arn), ("s3:PutObject", f"{bucket_arn}/vault-audit/x")]:
        assert not allows(policy, action, resource, {"s3:x-amz-acl": acl})
    lock = iam.object_lock(prod, f"{iam.audit_bucket(prod).name}-id")
    assert lock["rule"]["defaultRetention"] == {"mode": "COMPLIANCE", "days": 2555}


def test_it_reaches_s3_and_sts_through_the_vpc_endpoints_only(prod):
    (np,) = k8s(prod, "NetworkPolicy", "allow-egress-falcosidekick-s3", "falco")
    peers = [p["ipBlock"]["cidr"] for rule in np["spec"]["egress"] for p in rule["to"]]
    assert peers == prod_document()["awsEndpointCidrs"]


def test_an_old_falcosidekick_with_the_archive_is_refused():
    doc = prod_document()
    doc["runtimeDetection"]["sidekickImageTag"] = "2.32.0"
    with pytest.raises(ConfigError) as exc:
        parse_stack_config(doc)
    assert "hardened-stack:runtimeDetection.sidekickImageTag" in str(exc.value) and "IRSA" in str(exc.value)


def test_recorded_falcosidekick_facts_match_its_source():
    """The keys and defaults above, and the two client constructions, at the tags that matter."""
    config = upstream_text("falcosecurity/falcosidekick", "2.34.1", "config.go")
    if config is None:
        pytest.skip("no falcosidekick mirror on this machine; the recorded facts stand")
    for env, default in SIDEKICK_AWS_DEFAULTS.items():
        key = {"AWS_ROLEARN": "AWS.RoleARN", "AWS_EXTERNALID": "AWS.ExternalID",
               "AWS_CHECKIDENTITY": "AWS.CheckIdentity", "AWS_S3_MINIMUMPRIORITY": "AWS.S3.MinimumPriority",
               "AWS_S3_OBJECTCANNEDACL": "AWS.S3.ObjectCannedACL", "AWS_S3_BUCKET": "AWS.S3.Bucket",
               "AWS_S3_PREFIX": "AWS.S3.Prefix", "AWS_S3_ENDPOINT": "AWS.S3.Endpoint", "AWS_REGION": "AWS.Region"}[env]
        literal = default if default in ("true",) else f'"{default}"'
        assert f'v.SetDefault("{key}", {literal})' in config, key
    assert 'v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))' in config and "AllowEmptyEnv" not in config
    new = upstream_text("falcosecurity/falcosidekick", "2.34.1", "outputs/aws.go")
    old = upstream_text("falcosecurity/falcosidekick", "2.32.0", "outputs/aws.go")
    assert "awsconfig.LoadDefaultConfig(context.TODO())" in new.split("func (c *Client) InvokeLambda")[0]
    assert "awscfg := &aws.Config{Region: region}" in old and "stsSvc.AssumeRole(" in old
    assert 'key := fmt.Sprintf("%s/%s/%s.json", prefix, t.Format("2006-01-02"), t.Format(time.RFC3339Nano))' in new
