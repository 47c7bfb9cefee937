"""Issue 17, item 4: the 7-year audit bucket received nothing. Each source the seed names now has
a complete, write-only path into it: API server audit log, Vault's audit device, Falco's events."""
from __future__ import annotations

import json

import pytest

from components.audit import (AUDIT_FILTER, EKS_PREFIX, FALCO_PREFIX, VAULT_PREFIX, falco_archive_env,
                              fluent_bit_config, write_only_policy)
from components.config import ConfigError, parse_stack_config
from tests.harness import charts, k8s, of_type, prod_document, render_records


@pytest.fixture(scope="module")
def prod():
    return render_records()


def _bucket(records):
    (b,) = [r for r in of_type(records, "aws:s3/bucket:Bucket") if r.name.endswith("compliance-audit-logs")]
    return b


def _audit_key_arn(records) -> str:
    (sse,) = [r for r in of_type(records, "aws:s3/bucketServerSideEncryptionConfiguration:"
                                          "BucketServerSideEncryptionConfiguration") if r.name.endswith("compliance-audit-sse")]
    return sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"]


def _bucket_arn(records) -> str:
    return f"arn:aws:s3:::{_bucket(records).inputs['bucket']}"


def _policies(records) -> list[tuple[str, dict]]:
    return [(r.name, json.loads(r.inputs["policy"])) for r in of_type(records, "aws:iam/rolePolicy:RolePolicy")]


def _writer_policy(records, role_suffix: str) -> dict:
    (doc,) = [d for n, d in _policies(records) if n.endswith(f"{role_suffix}-write")]
    return doc


#: What a writer may do on the bucket: put (and, for Firehose, abort its own multipart uploads and
#: find the bucket), set the bucket-owner ACL on what it puts; never read, list objects or delete.
WRITE_ACTIONS = {"s3:PutObject", "s3:AbortMultipartUpload", "s3:PutObjectAcl", "s3:GetBucketLocation",
                 "s3:ListBucketMultipartUploads"}


def _assert_write_only(doc: dict, bucket_arn: str, prefix: str, key_arn: str) -> None:
    s3 = [s for s in doc["Statement"] if any(a.startswith("s3:") for a in s["Action"])]
    assert {a for s in s3 for a in s["Action"]} <= WRITE_ACTIONS
    (put,) = [s for s in s3 if "s3:PutObject" in s["Action"]]
    assert put["Resource"] == f"{bucket_arn}/{prefix}*" and "Condition" not in put
    for s in s3:
        if "s3:PutObjectAcl" in s["Action"]:
            assert s["Condition"] == {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}
        if s["Resource"] == bucket_arn:
            assert set(s["Action"]) <= {"s3:GetBucketLocation", "s3:ListBucketMultipartUploads"}
        else:
            assert s["Resource"] == f"{bucket_arn}/{prefix}*"
    (kms,) = [s for s in doc["Statement"] if any(a.startswith("kms:") for a in s["Action"])]
    assert kms["Resource"] == key_arn and "kms:GenerateDataKey" in kms["Action"]
    assert set(kms["Action"]) <= {"kms:GenerateDataKey", "kms:Decrypt"}
    assert kms["Condition"]["StringEquals"]["kms:ViaService"] == "s3.us-east-1.amazonaws.com"
    assert kms["Condition"]["StringEquals"]["kms:EncryptionContext:aws:s3:arn"] == bucket_arn


def test_the_bucket_is_the_object_locked_one(prod):
    b = _bucket(prod)
    assert b.inputs["objectLockEnabled"] is True and b.inputs["bucket"] == "lego-mcp-prod-audit-logs-123456789012"
    for lock in of_type(prod, "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"):
        # the archive and the ALB's access-log bucket alike
        assert lock.inputs["rule"]["defaultRetention"] == {"mode": "COMPLIANCE", "days": 2555}


def test_api_server_audit_log_path(prod):
    bucket_arn, key = _bucket_arn(prod), _audit_key_arn(prod)
    (group,) = of_type(prod, "aws:cloudwatch/logGroup:LogGroup")
    assert group.inputs["name"] == "/aws/eks/lego-mcp-prod/cluster" and group.inputs["retentionInDays"] == 90
    (sub,) = of_type(prod, "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter")
    (stream,) = [r for r in of_type(prod, "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream")
                 if r.name.endswith("-eks-audit")]
    assert sub.inputs["logGroup"] == group.inputs["name"] and sub.inputs["filterPattern"] == AUDIT_FILTER
    assert sub.inputs["destinationArn"].endswith(f"/{stream.name}")
    s3 = stream.inputs["extendedS3Configuration"]
    assert s3["bucketArn"] == bucket_arn and s3["prefix"] == EKS_PREFIX
    assert s3["errorOutputPrefix"].startswith(EKS_PREFIX)
    assert s3["roleArn"].endswith("/lego-mcp-prod-audit-eks-firehose")
    _assert_write_only(_writer_policy(prod, "eks-firehose"), bucket_arn, EKS_PREFIX, key)
    (feed,) = [d for n, d in _policies(prod) if n.endswith("eks-logs-feed")]
    assert feed["Statement"][0]["Action"] == ["firehose:PutRecord", "firehose:PutRecordBatch"]
    assert feed["Statement"][0]["Resource"].endswith(f"/{stream.name}")
    assert sub.inputs["roleArn"].endswith("/lego-mcp-prod-audit-eks-logs-to-firehose")


def test_vault_audit_device_path(prod):
    """The file device -> the shipper sidecar in Vault's pods -> S3 with Vault's role; the deep
    end-to-end proof is tests/paths/test_vault_audit.py."""
    bucket_arn, key = _bucket_arn(prod), _audit_key_arn(prod)
    (conf,) = k8s(prod, "ConfigMap", "vault-audit-shipper", "vault")
    text = conf["data"]["fluent-bit.conf"]
    assert f"bucket           {_bucket(prod).inputs['bucket']}" in text
    assert f"s3_key_format    /{VAULT_PREFIX}" in text and "use_put_object   On" in text
    assert "send_content_md5 true" in text  # Object Lock buckets require an integrity header
    _assert_write_only(_writer_policy(prod, "vault-audit"), bucket_arn, VAULT_PREFIX, key)
    assert not k8s(prod, "Deployment", "vault-audit-shipper", "vault")  # no network hop any more


def test_falco_events_path(prod):
    bucket_arn, key = _bucket_arn(prod), _audit_key_arn(prod)
    # the falcosidekick the stack deploys (RuntimeDetection writes it: the chart's subchart is off)
    (sidekick,) = k8s(prod, "Deployment", "falcosidekick", "falco")
    env = {e["name"]: e.get("value") for e in sidekick["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["AWS_S3_BUCKET"] == _bucket(prod).inputs["bucket"] and env["AWS_S3_PREFIX"] == "falco"
    assert "AWS_ROLEARN" not in env  # sts:AssumeRole, which the role does not trust (tests/paths)
    (role,) = [r for r in of_type(prod, "aws:iam/role:Role") if r.inputs.get("name") == "lego-mcp-prod-falco-audit"]
    (sa,) = k8s(prod, "ServiceAccount", "falcosidekick", "falco")
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == \
        "arn:aws:iam::123456789012:role/lego-mcp-prod-falco-audit"
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Condition"]["StringEquals"]
    assert "system:serviceaccount:falco:falcosidekick" in trust.values()
    _assert_write_only(_writer_policy(prod, "falco-audit"), bucket_arn, FALCO_PREFIX, key)
    assert k8s(prod, "NetworkPolicy", "allow-egress-falcosidekick-s3", "falco")


def test_nothing_can_read_or_delete_from_the_bucket(prod):
    bucket_arn = _bucket_arn(prod)
    for name, doc in _policies(prod):
        for s in doc["Statement"]:
            resources = s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
            if any(str(r).startswith(bucket_arn) for r in resources):
                assert set(s["Action"]) <= WRITE_ACTIONS, (name, s)


def test_every_source_has_its_own_prefix():
    assert len({EKS_PREFIX, VAULT_PREFIX, FALCO_PREFIX}) == 3
    doc = write_only_policy("arn:aws:s3:::b", "x/", "k", "eu-west-1")
    assert doc["Statement"][0]["Resource"] == "arn:aws:s3:::b/x/*"
    _, env = falco_archive_env("c", "us-east-1", "123456789012", "b")
    assert {"name": "AWS_S3_PREFIX", "value": "falco"} in env
    assert "region           eu-west-1" in fluent_bit_config("b", "eu-west-1")


@pytest.mark.parametrize("mutate, key", [
    (lambda d: d["cluster"].pop("accountId"), "cluster.accountId"),
    (lambda d: d["compliance"]["auditRetention"].pop("bucketName"), "compliance.auditRetention.bucketName"),
])
def test_falco_archive_needs_values_known_at_preview(mutate, key):
    doc = prod_document()
    mutate(doc)
    with pytest.raises(ConfigError) as exc:
        parse_stack_config(doc)
    assert f"hardened-stack:{key}" in str(exc.value)
