"""Issue 21 item 2: the API server's audit log -> the audit bucket, from the log group EKS writes
to the Object-Locked prefix, with the identities and permissions AWS documents:

* CloudWatch Logs subscription filter -> Firehose: a role trusted by ``logs.<region>.amazonaws.com``
  for this account's log groups (aws:SourceArn), allowed firehose:PutRecord(Batch) on the stream
  (CloudWatch Logs user guide, "Subscription filters with Amazon Data Firehose");
* Firehose -> S3 with a KMS-encrypted bucket: a role trusted by ``firehose.amazonaws.com``, with the
  S3 write actions of Firehose's documented S3 destination policy (AbortMultipartUpload,
  GetBucketLocation, ListBucketMultipartUploads, PutObject; not its GetObject/ListBucket, which
  would read the archive) and kms:GenerateDataKey + kms:Decrypt through S3 for this bucket
  (Firehose developer guide, "Grant Firehose access to an Amazon S3 destination").
Enabling the control-plane log type ``audit`` is the cluster's (issue 22); this is the path from
the group onwards.
"""
from __future__ import annotations

import json

from components.audit import AUDIT_FILTER, EKS_PREFIX
from tests.harness import of_type
from tests.paths import iam
from tests.paths.upstream import allows


def _one(records, typ: str, suffix: str):
    (r,) = [r for r in of_type(records, typ) if r.name.endswith(suffix)]
    return r


def test_the_log_group_feeds_the_stream_with_audit_events_only(prod):
    # prod creates its cluster, which owns the group EKS writes (made before the cluster, with its
    # retention): the audit trail only subscribes to it, once it exists
    (group,) = [g for g in of_type(prod, "aws:cloudwatch/logGroup:LogGroup")
                if g.inputs["name"] == "/aws/eks/lego-mcp-prod/cluster"]
    assert "hardened:index:HardenedCluster$" in group.urn
    sub = _one(prod, "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter", "-eks-audit-subscription")
    assert group.urn in sub.dependencies
    stream = _one(prod, "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream", "-eks-audit")
    assert sub.inputs["logGroup"] == group.inputs["name"] and sub.inputs["filterPattern"] == AUDIT_FILTER
    assert sub.inputs["destinationArn"].endswith(f"/{stream.name}")
    logs_role = iam.role_by_arn(prod, sub.inputs["roleArn"])
    (statement,) = iam.trust(logs_role)["Statement"]
    assert statement["Principal"] == {"Service": "logs.us-east-1.amazonaws.com"}
    assert statement["Condition"]["ArnLike"]["aws:SourceArn"] == "arn:aws:logs:us-east-1:123456789012:*"
    feed = iam.merged(prod, logs_role)
    stream_arn = sub.inputs["destinationArn"]
    assert allows(feed, "firehose:PutRecordBatch", stream_arn) and allows(feed, "firehose:PutRecord", stream_arn)
    assert not allows(feed, "firehose:DeleteDeliveryStream", stream_arn)


def test_firehose_writes_its_prefix_with_the_documented_permissions(prod):
    stream = _one(prod, "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream", "-eks-audit")
    s3 = stream.inputs["extendedS3Configuration"]
    bucket_arn = iam.audit_bucket_arn(prod)
    assert s3["bucketArn"] == bucket_arn and s3["prefix"] == EKS_PREFIX
    assert s3["errorOutputPrefix"].startswith(EKS_PREFIX)
    role = iam.role_by_arn(prod, s3["roleArn"])
    (statement,) = iam.trust(role)["Statement"]
    assert statement["Principal"] == {"Service": "firehose.amazonaws.com"}
    assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == "123456789012"
    policy = iam.merged(prod, role)
    obj = f"{bucket_arn}/{EKS_PREFIX}2026/12/04/23/lego-mcp-prod-eks-audit-1"
    for action in ("s3:PutObject", "s3:AbortMultipartUpload"):
        assert allows(policy, action, obj)
    for action in ("s3:GetBucketLocation", "s3:ListBucketMultipartUploads"):
        assert allows(policy, action, bucket_arn)
    for action, resource in [("s3:GetObject", obj), ("s3:ListBucket", bucket_arn), ("s3:DeleteObject", obj),
                             ("s3:PutObject", f"{bucket_arn}/falco/x")]:
        assert not allows(policy, action, resource)
    key_arn = iam.audit_sse(prod)["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"]
    context = iam.s3_put_context(prod, key_arn)
    assert allows(policy, "kms:GenerateDataKey", key_arn, context) and allows(policy, "kms:Decrypt", key_arn, context)
    assert not allows(policy, "kms:Decrypt", key_arn, {**context, "kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::x"})


def test_the_prefix_is_locked_for_the_retention_period(prod):
    lock = iam.object_lock(prod, f"{iam.audit_bucket(prod).name}-id")
    assert lock["rule"]["defaultRetention"] == {"mode": "COMPLIANCE", "days": 2555}
    versioning = _one(prod, "aws:s3/bucketVersioning:BucketVersioning", "compliance-audit-versioning")
    lock_record = _one(prod, "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
                       "compliance-audit-object-lock")
    assert versioning.urn in lock_record.dependencies
    (tls,) = [json.loads(r.inputs["policy"]) for r in of_type(prod, "aws:s3/bucketPolicy:BucketPolicy")
              if r.name.endswith("compliance-audit-tls-only")]
    assert tls["Statement"][0]["Effect"] == "Deny"
