"""Compliance: the scan CronJob hardened (digest, non-root, read-only, no overlap, bounded history,
short-lived audience-bound token, read-only RBAC without Secrets or wildcards, API-server-only
egress), the Object-Locked audit bucket, the cron validator, and bad input naming the field."""
from __future__ import annotations

import json

import pytest

from components.compliance import (NAMESPACE, READ_VERBS, ComplianceConfig, cronjob, network_policies,
                                   parse_cron, rbac_manifests, tls_only_policy)

from hardened.render import mock_kms_key_id
from tests.detection.harness import config_error, k8s, one, render

# --- cron ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("expr, minutes, hours, dom, months, dow", [
    ("0 */6 * * *", {0}, {0, 6, 12, 18}, set(range(1, 32)), set(range(1, 13)), set(range(7))),
    ("*/15 9-17 * * mon-fri", {0, 15, 30, 45}, set(range(9, 18)), set(range(1, 32)), set(range(1, 13)),
     {1, 2, 3, 4, 5}),
    ("5,35 1 1,15 jan,jul 0", {5, 35}, {1}, {1, 15}, {1, 7}, {0}),
    ("0 0 * * 7", {0}, {0}, set(range(1, 32)), set(range(1, 13)), {0}),
    ("0 0-23/8 * * *", {0}, {0, 8, 16}, set(range(1, 32)), set(range(1, 13)), set(range(7))),
    ("@daily", {0}, {0}, set(range(1, 32)), set(range(1, 13)), set(range(7))),
    ("@hourly", {0}, set(range(24)), set(range(1, 32)), set(range(1, 13)), set(range(7))),
    ("30 2 * * SUN", {30}, {2}, set(range(1, 32)), set(range(1, 13)), {0}),
], ids=["every-6h", "business-hours", "lists-and-names", "sunday-as-7", "range-step", "daily", "hourly",
        "uppercase-day"])
def test_cron_expressions_parse_to_their_schedule(expr, minutes, hours, dom, months, dow):
    assert parse_cron(expr) == [minutes, hours, dom, months, dow]


@pytest.mark.parametrize("expr, problem", [
    ("0 */6 * *", "has 4 fields"),
    ("60 * * * *", "minute value 60 is outside 0-59"),
    ("0 24 * * *", "hour value 24 is outside 0-23"),
    ("0 0 0 * *", "day of month value 0 is outside 1-31"),
    ("0 0 * 13 *", "month value 13"),
    ("0 0 * foo *", "month value 'foo' is not a number or one of jan"),
    ("0 0 * * 8", "day of week value 8"),
    ("*/0 * * * *", "step '0' must be a positive number"),
    ("0 10-2 * * *", "runs backwards"),
    ("0 1,,2 * * *", "empty list item"),
    ("@every 5m", "unknown macro"),
    ("@reboot", "unknown macro"),
    ("CRON_TZ=UTC 0 * * * *", "timeZone field"),
    ("*/61 * * * *", "larger than the field's range"),
], ids=["four-fields", "minute-range", "hour-range", "dom-zero", "month-range", "month-name", "dow-range",
        "zero-step", "backwards", "empty-item", "every", "reboot", "tz-prefix", "huge-step"])
def test_bad_cron_expressions_are_rejected_with_the_reason(expr, problem):
    with pytest.raises(ValueError, match=problem):
        parse_cron(expr)


# --- bad input names the field --------------------------------------------------------------------

def _c(doc, **changes):
    doc["compliance"] = {**doc["compliance"], **changes}


@pytest.mark.parametrize("mutate, field, hint", [
    (lambda d: _c(d, image="ghcr.io/lego-mcp/compliance-scanner:latest"), "compliance.image", "digest"),
    (lambda d: _c(d, schedule="0 */6 * *"), "compliance.schedule", "five"),
    (lambda d: _c(d, schedule="0 25 * * *"), "compliance.schedule", "hour value 25"),
    (lambda d: _c(d, successfulJobsHistoryLimit=50), "compliance.successfulJobsHistoryLimit", "10"),
    (lambda d: _c(d, failedJobsHistoryLimit=0), "compliance.failedJobsHistoryLimit", "1"),
    (lambda d: _c(d, timeZone="not a zone"), "compliance.timeZone", "IANA"),
    (lambda d: _c(d, enabled=False), "compliance.enabled", "prod"),
], ids=["latest-tag", "four-field-cron", "hour-out-of-range", "history-too-long", "no-failed-history",
        "time-zone", "prod-off"])
def test_bad_config_is_rejected_naming_the_field(mutate, field, hint):
    message = config_error(mutate)
    assert field in message and hint in message, message


def test_untrusted_scanner_registry_is_refused():
    from components.compliance import Compliance, ComplianceArgs  # noqa: F401 (import check)
    from components.base import check_image_reference

    image = "docker.io/evil/scanner@sha256:" + "a" * 64
    with pytest.raises(ValueError, match="not in trustedRegistries"):
        check_image_reference(image, ["ghcr.io/lego-mcp"])


# --- the CronJob and its identity (pure) --------------------------------------------------------

def test_cronjob_is_hardened():
    cj = cronjob(ComplianceConfig())
    spec = cj["spec"]
    assert spec["schedule"] == "0 */6 * * *" and spec["concurrencyPolicy"] == "Forbid"
    assert spec["startingDeadlineSeconds"] > 0
    assert spec["successfulJobsHistoryLimit"] <= 3 and spec["failedJobsHistoryLimit"] <= 3
    job = spec["jobTemplate"]["spec"]
    assert job["activeDeadlineSeconds"] <= 3600 and job["backoffLimit"] <= 2
    pod = job["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False and pod["serviceAccountName"] != "default"
    assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] > 10000
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (c,) = pod["containers"]
    assert "@sha256:" in c["image"] and ":latest" not in c["image"]
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"] and not sc["privileged"]
    assert sc["capabilities"] == {"drop": ["ALL"]} and sc["runAsUser"] > 10000
    assert set(c["resources"]["requests"]) == set(c["resources"]["limits"]) == {"cpu", "memory"}


def test_api_token_is_projected_short_lived_and_audience_bound():
    pod = cronjob(ComplianceConfig())["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (vol,) = [v for v in pod["volumes"] if v["name"] == "api-token"]
    (token,) = [s["serviceAccountToken"] for s in vol["projected"]["sources"] if "serviceAccountToken" in s]
    assert token["expirationSeconds"] == 3600 and token["audience"]
    (mount,) = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "api-token"]
    assert mount["readOnly"] is True


def test_cluster_role_is_read_only_without_secrets_or_wildcards():
    (_, role), = [(s, m) for s, m in rbac_manifests() if m["kind"] == "ClusterRole"]
    for rule in role["rules"]:
        assert rule["verbs"] == READ_VERBS
        assert "*" not in rule["apiGroups"] + rule["resources"] + rule["verbs"]
        assert "secrets" not in rule["resources"]
    (_, sa), = [(s, m) for s, m in rbac_manifests() if m["kind"] == "ServiceAccount"]
    assert sa["automountServiceAccountToken"] is False
    (_, binding), = [(s, m) for s, m in rbac_manifests() if m["kind"] == "ClusterRoleBinding"]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": NAMESPACE}]


def test_egress_is_the_api_server_only():
    ((_, policy),) = network_policies(["10.0.0.0/16"])
    (rule,) = policy["spec"]["egress"]
    assert rule["to"] == [{"ipBlock": {"cidr": "10.0.0.0/16"}}]
    assert rule["ports"] == [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 6443}]


def test_bucket_policy_denies_plain_http():
    (stmt,) = tls_only_policy("arn:aws:s3:::b")["Statement"]
    assert stmt["Effect"] == "Deny" and stmt["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert stmt["Resource"] == ["arn:aws:s3:::b", "arn:aws:s3:::b/*"] and stmt["Principal"] == "*"


# --- the whole program ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def records():
    return render()


def test_rendered_cronjob_and_namespace(records):
    (cj,) = k8s(records, "CronJob", namespace=NAMESPACE)
    assert cj["spec"]["concurrencyPolicy"] == "Forbid"
    (ns,) = k8s(records, "Namespace", name=NAMESPACE)
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert k8s(records, "NetworkPolicy", name="default-deny-all", namespace=NAMESPACE)


def test_audit_bucket_is_locked_encrypted_private_and_tls_only(records):
    bucket = one(records, "aws:s3/bucket:Bucket", "compliance-audit-logs")
    assert bucket.inputs["objectLockEnabled"] is True and not bucket.inputs.get("forceDestroy")
    lock = one(records, "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration", "compliance-audit-object-lock")
    assert lock.inputs["rule"]["defaultRetention"] == {"mode": "COMPLIANCE", "days": 2555}
    pab = one(records, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "compliance-audit-public-access")
    assert all(pab.inputs[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                                "restrictPublicBuckets"))
    versioning = one(records, "aws:s3/bucketVersioning:BucketVersioning", "compliance-audit-versioning")
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
    sse = one(records, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "compliance-audit-sse")
    (rule,) = sse.inputs["rules"]
    key = one(records, "aws:kms/key:Key", "compliance-audit-key")
    assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
    assert rule["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"].endswith(f"key/{mock_kms_key_id(key.name)}")
    assert key.inputs["enableKeyRotation"] is True
    policy = one(records, "aws:s3/bucketPolicy:BucketPolicy", "compliance-audit-tls-only")
    doc = json.loads(policy.inputs["policy"])
    assert doc["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_object_lock_waits_for_versioning(records):
    lock = one(records, "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration", "compliance-audit-object-lock")
    versioning = one(records, "aws:s3/bucketVersioning:BucketVersioning", "compliance-audit-versioning")
    assert versioning.urn in lock.dependencies


def test_dev_has_no_seven_year_bucket():
    recs = render(stack="dev")
    assert k8s(recs, "CronJob", namespace=NAMESPACE)
    assert not [r for r in recs if r.type.startswith("aws:s3/")]
