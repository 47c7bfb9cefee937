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
    (b,) = of_type(records, "aws:s3/bucket:Bucket")
    return b


def _audit_key_arn(records) -> str:
    (sse,) = of_type(records, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    return sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"]


def _bucket_arn(records) -> str:
    return f"arn:aws:s3:::{_bucket(records).inputs['bucket']}"


def _policies(records) -> list[tuple[str, dict]]:
    return [(r.name, json.loads(r.inputs["policy"])) for r in of_type(records, "aws:iam/rolePolicy:RolePolicy")]


def _writer_policy(records, role_suffix: str) -> dict:
    (doc,) = [d for n, d in _policies(records) if n.endswith(f"{role_suffix}-write")]
    return doc


def _assert_write_only(doc: dict, bucket_arn: str, prefix: str, key_arn: str) -> None:
    s3 = [s for s in doc["Statement"] if any(a.startswith("s3:") for a in s["Action"])]
    assert s3 == [{"Sid": "WriteOnlyToPrefix", "Effect": "Allow", "Action": ["s3:PutObject"],
                   "Resource": f"{bucket_arn}/{prefix}*"}]
    (kms,) = [s for s in doc["Statement"] if any(a.startswith("kms:") for a in s["Action"])]
    assert kms["Resource"] == key_arn and "kms:GenerateDataKey" in kms["Action"]
    assert set(kms["Action"]) <= {"kms:GenerateDataKey", "kms:Decrypt"}
    assert kms["Condition"]["StringEquals"]["kms:ViaService"] == "s3.us-east-1.amazonaws.com"
    assert kms["Condition"]["StringEquals"]["kms:EncryptionContext:aws:s3:arn"] == bucket_arn
    assert len(doc["Statement"]) == 2


def test_the_bucket_is_the_object_locked_one(prod):
    b = _bucket(prod)
    assert b.inputs["objectLockEnabled"] is True and b.inputs["bucket"] == "lego-mcp-prod-audit-logs-123456789012"
    (lock,) = of_type(prod, "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")
    assert lock.inputs["rule"]["defaultRetention"] == {"mode": "COMPLIANCE", "days": 2555}


def test_api_server_audit_log_path(prod):
    bucket_arn, key = _bucket_arn(prod), _audit_key_arn(prod)
    (group,) = of_type(prod, "aws:cloudwatch/logGroup:LogGroup")
    assert group.inputs["name"] == "/aws/eks/lego-mcp-prod/cluster" and group.inputs["retentionInDays"] == 90
    (sub,) = of_type(prod, "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter")
    (stream,) = of_type(prod, "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream")
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
    bucket_arn, key = _bucket_arn(prod), _audit_key_arn(prod)
    (enable,) = k8s(prod, "ConfigMap", "vault-audit", "vault")
    assert ("vault audit enable -path=socket socket address=vault-audit-shipper.vault.svc:9090 socket_type=tcp"
            in enable["data"]["enable-socket-audit.sh"])
    (conf,) = k8s(prod, "ConfigMap", "vault-audit-shipper", "vault")
    text = conf["data"]["fluent-bit.conf"]
    assert f"bucket           {_bucket(prod).inputs['bucket']}" in text
    assert f"s3_key_format    /{VAULT_PREFIX}" in text and "use_put_object   On" in text
    assert "send_content_md5 true" in text  # Object Lock buckets require an integrity header
    (sa,) = k8s(prod, "ServiceAccount", "vault-audit-shipper", "vault")
    role_arn = sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    # the role by its fixed name (the one the annotation names; IAM's ARN is role/<name>)
    (role,) = [r for r in of_type(prod, "aws:iam/role:Role") if role_arn.endswith(f"/{r.inputs.get('name')}")]
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Condition"]["StringEquals"]
    assert "system:serviceaccount:vault:vault-audit-shipper" in trust.values()
    _assert_write_only(_writer_policy(prod, "vault-audit"), bucket_arn, VAULT_PREFIX, key)
    (dep,) = k8s(prod, "Deployment", "vault-audit-shipper", "vault")
    assert dep["spec"]["template"]["spec"]["serviceAccountName"] == "vault-audit-shipper"
    (np,) = k8s(prod, "NetworkPolicy", "allow-egress-vault-audit-shipper", "vault")
    assert np["spec"]["egress"][0]["ports"] == [{"protocol": "TCP", "port": 9090}]


def test_falco_events_path(prod):
    bucket_arn, key = _bucket_arn(prod), _audit_key_arn(prod)
    # the falcosidekick the stack deploys (RuntimeDetection writes it: the chart's subchart is off)
    (sidekick,) = k8s(prod, "Deployment", "falcosidekick", "falco")
    env = {e["name"]: e.get("value") for e in sidekick["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["AWS_S3_BUCKET"] == _bucket(prod).inputs["bucket"] and env["AWS_S3_PREFIX"] == "falco"
    assert env["AWS_USEIRSA"] == "true"
    (role,) = [r for r in of_type(prod, "aws:iam/role:Role") if r.inputs.get("name") == "lego-mcp-prod-falco-audit"]
    assert env["AWS_ROLEARN"] == "arn:aws:iam::123456789012:role/lego-mcp-prod-falco-audit"
    (sa,) = k8s(prod, "ServiceAccount", "falcosidekick", "falco")
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == env["AWS_ROLEARN"]
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
                assert s["Action"] == ["s3:PutObject"], (name, s)


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
