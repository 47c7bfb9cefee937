"""The IAM side of a rendered stack: roles by ARN, their trust, and the policies attached to them."""
from __future__ import annotations

import json

from tests.harness import of_type


def role_by_arn(records, arn: str):
    """The role an ARN names: its explicit ``name``, else its resource name (the mocks' ARNs)."""
    last = arn.rsplit("/", 1)[1]
    found = [r for r in of_type(records, "aws:iam/role:Role") if (r.inputs.get("name") or r.name) == last]
    assert len(found) == 1, f"no single IAM role of the stack is {arn}"
    return found[0]


def issuer_host(records) -> str:
    """The host and path of the issuer the stack's IAM trusts: the OIDC provider HardenedCluster
    registers for the cluster it creates (its URL is the issuer EKS assigned the cluster)."""
    (provider,) = of_type(records, "aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    return provider.inputs["url"].removeprefix("https://")


def trust(role) -> dict:
    return json.loads(role.inputs["assumeRolePolicy"])


def attached(records, role) -> list[dict]:
    """The inline policies of *role* (a RolePolicy names the role by id or by its explicit name)."""
    refs = {f"{role.name}-id", role.inputs.get("name")} - {None}
    return [json.loads(p.inputs["policy"]) for p in of_type(records, "aws:iam/rolePolicy:RolePolicy")
            if p.inputs["role"] in refs]


def merged(records, role) -> dict:
    return {"Version": "2012-10-17", "Statement": [s for doc in attached(records, role) for s in doc["Statement"]]}


def audit_bucket(records):
    (b,) = [r for r in of_type(records, "aws:s3/bucket:Bucket") if r.name.endswith("compliance-audit-logs")]
    return b


def audit_bucket_arn(records) -> str:
    return f"arn:aws:s3:::{audit_bucket(records).inputs['bucket']}"


def audit_sse(records) -> dict:
    (sse,) = [r for r in of_type(records, "aws:s3/bucketServerSideEncryptionConfiguration:"
                                          "BucketServerSideEncryptionConfiguration") if r.name.endswith("compliance-audit-sse")]
    return sse.inputs["rules"][0]


def object_lock(records, bucket_ref: str) -> dict:
    (lock,) = [r for r in of_type(records, "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")
               if r.inputs["bucket"] == bucket_ref]
    return lock.inputs


def s3_put_context(records, key_arn: str, region: str = "us-east-1") -> dict:
    """What S3 sends KMS for a PutObject into the audit bucket: with S3 Bucket Keys on (the bucket's
    SSE rule), the encryption context is the bucket's ARN, not the object's."""
    rule = audit_sse(records)
    assert rule["bucketKeyEnabled"] is True
    return {"kms:ViaService": f"s3.{region}.amazonaws.com", "kms:EncryptionContext:aws:s3:arn": audit_bucket_arn(records)}
