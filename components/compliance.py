"""``Compliance``: the continuous compliance scan and the audit-log archive (issue 6).

* The seed's six-hourly compliance CronJob, hardened: digest-pinned image (the seed's ``:latest``
  is refused), non-root UID above 10000, read-only root filesystem, every capability dropped,
  seccomp ``RuntimeDefault``, requests and limits, ``concurrencyPolicy: Forbid`` (two scans never
  overlap), a starting deadline, an active deadline, a small backoff and short history.
* Identity: its own ServiceAccount bound to a read-only ClusterRole: get/list/watch on exactly the
  resources it scans, never Secrets, never a wildcard. ``automountServiceAccountToken`` is false;
  the API token comes from a projected ``serviceAccountToken`` volume that expires after an hour
  and is bound to the API server's audience, so a token leaked from a finished job is worthless
  soon after and nowhere else. (Mounting it explicitly is also what lets the pack's
  token-automount policies hold for this pod.)
* Namespace ``compliance`` (restricted), default-deny, DNS, and egress to the Kubernetes API
  server only (TCP 443 and 6443 to ``admission.controlPlaneCidrs``: EKS serves the API on 443 from
  ENIs in the VPC, self-managed control planes on 6443).
* Audit-log retention (AWS): an S3 bucket with Object Lock in COMPLIANCE mode for seven years by
  default (2555 days, CMMC's retention; nobody, the root user included, can shorten it or delete a
  locked version), versioning, SSE-KMS with a dedicated customer-managed key (rotation on), all
  four public-access blocks, and a bucket policy denying any request without TLS.
"""
from __future__ import annotations

import calendar
import json
import re
from typing import Any, Optional

import pulumi
from pydantic import Field, field_validator

from .audit import AuditTrailsConfig
from .base import weakens
from .base import Cidr
from .base import (HardenedComponent, StrictModel, check_image_reference, child_opts, k8s_object, standard_labels)

TOKEN = "hardened:index:Compliance"

NAMESPACE = "compliance"
NAME = "compliance-scan"
SERVICE_ACCOUNT = "compliance-scanner"
TOKEN_PATH = "/var/run/secrets/tokens"
RUN_AS = 10001
#: What the scanner reads: workloads, their policies and identities; never Secrets.
SCAN_RULES = [
    {"apiGroups": [""], "resources": ["configmaps", "limitranges", "namespaces", "nodes", "pods",
                                      "resourcequotas", "serviceaccounts", "services"]},
    {"apiGroups": ["apps"], "resources": ["daemonsets", "deployments", "replicasets", "statefulsets"]},
    {"apiGroups": ["batch"], "resources": ["cronjobs", "jobs"]},
    {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses", "networkpolicies"]},
    {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterrolebindings", "clusterroles",
                                                               "rolebindings", "roles"]},
    {"apiGroups": ["admissionregistration.k8s.io"], "resources": ["mutatingwebhookconfigurations",
                                                                  "validatingwebhookconfigurations"]},
    {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"]},
]
READ_VERBS = ["get", "list", "watch"]

# ---------------------------------------------------------------------------------------------
# Cron expressions (the five-field syntax Kubernetes CronJobs accept)
# ---------------------------------------------------------------------------------------------

CRON_MACROS = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}
_MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_abbr) if m}
_DAYS = {d.lower(): (i + 1) % 7 for i, d in enumerate(calendar.day_abbr)}  # sun=0
#: (name, low, high, names)
CRON_FIELDS = (("minute", 0, 59, {}), ("hour", 0, 23, {}), ("day of month", 1, 31, {}),
               ("month", 1, 12, _MONTHS), ("day of week", 0, 7, _DAYS))


def _cron_value(token: str, low: int, high: int, names: dict[str, int], field: str) -> int:
    key = token.lower()
    if key in names:
        return names[key]
    if not token.isdigit():
        raise ValueError(f"{field} value {token!r} is not a number"
                         + (f" or one of {', '.join(sorted(names, key=names.get))}" if names else ""))
    value = int(token)
    if not low <= value <= high:
        raise ValueError(f"{field} value {value} is outside {low}-{high}")
    return value


def parse_cron(expression: str) -> list[set[int]]:
    """Validate a CronJob schedule and return the values each field matches.

    Five fields (minute hour day-of-month month day-of-week) of ``*``, numbers, ranges ``a-b``,
    steps ``*/n`` and ``a-b/n``, lists ``a,b``, month and day names (``jan``, ``mon``), or one of
    the macros ``@hourly``, ``@daily``, ``@midnight``, ``@weekly``, ``@monthly``, ``@yearly``,
    ``@annually``. Raises ``ValueError`` naming the field and the fix.
    """
    expr = expression.strip()
    if expr.startswith("@"):
        if expr.lower() not in CRON_MACROS:
            raise ValueError(f"{expression!r}: unknown macro; use one of {', '.join(CRON_MACROS)} "
                             "(@every and @reboot are not Kubernetes CronJob schedules)")
        expr = CRON_MACROS[expr.lower()]
    if expr.upper().startswith(("TZ=", "CRON_TZ=")):
        raise ValueError(f"{expression!r}: time zones go in the CronJob's timeZone field, not the schedule")
    parts = expr.split()
    if len(parts) != 5:
        raise ValueError(f"{expression!r} has {len(parts)} fields; a schedule has five: "
                         "minute hour day-of-month month day-of-week (e.g. '0 */6 * * *')")
    out: list[set[int]] = []
    for part, (field, low, high, names) in zip(parts, CRON_FIELDS):
        values: set[int] = set()
        for item in part.split(","):
            if not item:
                raise ValueError(f"{field} {part!r} has an empty list item")
            base, slash, step_text = item.partition("/")
            step = 1
            if slash:
                if not step_text.isdigit() or int(step_text) < 1:
                    raise ValueError(f"{field} step {step_text!r} must be a positive number")
                step = int(step_text)
                if step > high - low + 1 and high != 7:
                    raise ValueError(f"{field} step {step} is larger than the field's range {low}-{high}")
            if base in ("*", "?"):
                start, end = low, (6 if field == "day of week" else high)
            elif "-" in base:
                a, _, b = base.partition("-")
                start = _cron_value(a, low, high, names, field)
                end = _cron_value(b, low, high, names, field)
                if start > end:
                    raise ValueError(f"{field} range {base!r} runs backwards; write it low-high")
            else:
                start = _cron_value(base, low, high, names, field)
                end = high if slash else start
            values.update(v % 7 if field == "day of week" else v for v in range(start, end + 1, step))
        out.append(values)
    return out


def check_cron(expression: str) -> str:
    parse_cron(expression)
    return expression


# ---------------------------------------------------------------------------------------------
# Config
# ---------------------------------------------------------------------------------------------

class ScannerResources(StrictModel):
    requests_cpu: str = Field("100m", description="CPU request (default 100m).")
    requests_memory: str = Field("256Mi", description="Memory request (default 256Mi).")
    limits_cpu: str = Field("1", description="CPU limit (default 1).")
    limits_memory: str = Field("512Mi", description="Memory limit (default 512Mi).")

    @field_validator("requests_cpu", "requests_memory", "limits_cpu", "limits_memory")
    @classmethod
    def _quantity(cls, v: str, info) -> str:
        from .base import parse_quantity

        parsed = parse_quantity(v)
        if parsed is None or parsed <= 0:
            raise ValueError(f"{info.field_name} {v!r} is not a positive Kubernetes quantity (e.g. '100m', '512Mi')")
        return v


class AuditRetentionConfig(StrictModel):
    enabled: bool = Field(True, description="Create the audit-log bucket (default true).", json_schema_extra=weakens('the Object Lock audit archive is off'))
    bucket_prefix: Optional[str] = Field(
        None, description="Bucket name prefix (default '<cluster>-audit-'; AWS appends a unique suffix).")
    bucket_name: Optional[str] = Field(
        None, pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
        description="Exact bucket name (default none: bucketPrefix plus a suffix AWS picks). Needed when Falco's events "
                    "are archived: falcosidekick's chart values must name the bucket at preview.")
    retention_days: int = Field(
        2555, ge=1, le=36500,
        description="Object Lock COMPLIANCE retention (default 2555 days = 7 years, CMMC). Below 2555 is a weakening "
                    "the policy pack reports.", json_schema_extra=weakens('the audit archive is kept less than the default 7 years', 'lowered'))
    kms_deletion_window_days: int = Field(30, ge=7, le=30, description="Key deletion waiting period (default 30).")
    force_destroy: bool = Field(False, description="Let `pulumi destroy` empty the bucket (default false; locked "
                                                   "versions cannot be deleted before their retention anyway).", json_schema_extra=weakens('the audit bucket can be destroyed with its objects'))


class ComplianceConfig(StrictModel):
    enabled: bool = Field(True, description="Deploy this part of the stack (default true).", json_schema_extra=weakens('the compliance jobs are off'))
    schedule: str = Field("0 */6 * * *", description="Scan schedule (default every six hours, the seed's). Five-field "
                                                     "cron or @hourly/@daily/... macros.")
    time_zone: str = Field("Etc/UTC", description="CronJob timeZone (default Etc/UTC).")
    image: str = Field(
        "ghcr.io/lego-mcp/compliance-scanner@sha256:0000000000000000000000000000000000000000000000000000000000000000",
        description="Scanner image, pinned by digest from a trusted registry (set it; the default digest is a "
                    "placeholder that pulls nothing).")
    command: list[str] = Field(
        default_factory=lambda: ["python", "-m", "compliance_scanner", "--frameworks", "nist-800-171,cmmc-l3",
                                 "--fail-on-drift"],
        description="Scanner command (default: the NIST 800-171 and CMMC assessments; a non-zero exit on drift "
                    "fails the Job, which alerting picks up).")
    starting_deadline_seconds: int = Field(600, ge=10, le=21600, description="Skip a run that cannot start within "
                                                                          "10 minutes (default 600).")
    active_deadline_seconds: int = Field(3600, ge=60, le=21600, description="Kill a scan after an hour (default "
                                                                         "3600): never overlaps the next run.")
    backoff_limit: int = Field(2, ge=0, le=6, description="Retries of a failed scan (default 2).")
    successful_jobs_history_limit: int = Field(3, ge=0, le=10, description="Finished Jobs kept (default 3).")
    failed_jobs_history_limit: int = Field(3, ge=1, le=10, description="Failed Jobs kept (default 3).")
    ttl_seconds_after_finished: int = Field(86400, ge=0, description="Delete finished Jobs after a day.")
    resources: ScannerResources = Field(default_factory=ScannerResources, description="Scanner requests/limits.")
    audit_retention: AuditRetentionConfig = Field(default_factory=AuditRetentionConfig,
                                                  description="The audit-log archive bucket.")
    audit_trails: AuditTrailsConfig = Field(
        default_factory=AuditTrailsConfig,
        description="What is archived in the bucket, write-only (issue 17): the API server's audit log, Vault's audit "
                    "device, Falco's events (components.audit).")

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, v: str) -> str:
        return check_cron(v)

    @field_validator("image")
    @classmethod
    def _image(cls, v: str) -> str:
        return check_image_reference(v)

    @field_validator("time_zone")
    @classmethod
    def _tz(cls, v: str) -> str:
        if not re.match(r"^[A-Za-z_]+(/[A-Za-z0-9_+-]+)*$", v):
            raise ValueError(f"timeZone {v!r} must be an IANA time zone name such as Etc/UTC")
        return v


class ComplianceArgs(StrictModel):
    config: ComplianceConfig = Field(default_factory=ComplianceConfig)
    cluster_name: str = Field("cluster", description="Cluster name (bucket prefix, key alias, tags).")
    control_plane_cidrs: list[Cidr] = Field(default_factory=lambda: ["10.0.0.0/16"],
                                           description="Where the Kubernetes API server lives.")
    trusted_registries: Optional[list[str]] = Field(None, description="trustedRegistries (checked if given).")
    region: str = Field("us-east-1", description="AWS region (the audit key policy's kms:ViaService).")
    account_id: Any = Field(None, description="AWS account (default: the caller's).")
    key_admins: list[str] = Field(default_factory=list, description="cluster.keyAdmins (administer, never use).")
    flow_logs: bool = Field(False, description="VPC flow logs of the created cluster land in the bucket.")
    namespace_labels: dict[str, str] = Field(
        default_factory=dict, description="Extra labels of this component's namespace(s) (HardenedStack: "
                                          "policy.sigstore.dev/include when the platform's images are verified).")


# ---------------------------------------------------------------------------------------------
# Pure functions: manifests and policies (unit-tested)
# ---------------------------------------------------------------------------------------------

def _meta(name: str, component: str, namespaced: bool = True) -> dict:
    meta: dict[str, Any] = {"name": name, "labels": standard_labels(name, component)}
    if namespaced:
        meta["namespace"] = NAMESPACE
    return meta


def rbac_manifests() -> list[tuple[str, dict]]:
    return [
        ("sa", {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(SERVICE_ACCOUNT, "compliance"),
                "automountServiceAccountToken": False}),
        ("role", {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                  "metadata": _meta(f"{NAME}-read", "compliance", namespaced=False),
                  "rules": [{**r, "verbs": READ_VERBS} for r in SCAN_RULES]}),
        ("binding", {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                     "metadata": _meta(f"{NAME}-read", "compliance", namespaced=False),
                     "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": f"{NAME}-read"},
                     "subjects": [{"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": NAMESPACE}]}),
    ]


def cronjob(c: ComplianceConfig) -> dict:
    r = c.resources
    labels = {"app": NAME, **standard_labels(NAME, "compliance")}
    container = {
        "name": "compliance-scanner",
        "image": c.image,
        "imagePullPolicy": "IfNotPresent",
        "command": list(c.command),
        "env": [{"name": "KUBERNETES_TOKEN_FILE", "value": f"{TOKEN_PATH}/token"}],
        "resources": {"requests": {"cpu": r.requests_cpu, "memory": r.requests_memory},
                      "limits": {"cpu": r.limits_cpu, "memory": r.limits_memory}},
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                            "privileged": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
                            "runAsUser": RUN_AS, "runAsGroup": RUN_AS, "seccompProfile": {"type": "RuntimeDefault"}},
        "volumeMounts": [{"name": "api-token", "mountPath": TOKEN_PATH, "readOnly": True},
                         {"name": "tmp", "mountPath": "/tmp"}],
    }
    pod = {
        "serviceAccountName": SERVICE_ACCOUNT,
        "automountServiceAccountToken": False,
        "restartPolicy": "Never",
        "securityContext": {"runAsNonRoot": True, "runAsUser": RUN_AS, "runAsGroup": RUN_AS, "fsGroup": RUN_AS,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container],
        "volumes": [
            # A short-lived, audience-bound token instead of the automounted one (see module docstring).
            {"name": "api-token", "projected": {"defaultMode": 0o440, "sources": [
                {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600, "audience": "https://kubernetes.default.svc"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            ]}},
            {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
        ],
    }
    return {
        "apiVersion": "batch/v1", "kind": "CronJob", "metadata": _meta(NAME, "compliance"),
        "spec": {
            "schedule": c.schedule,
            "timeZone": c.time_zone,
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": c.starting_deadline_seconds,
            "successfulJobsHistoryLimit": c.successful_jobs_history_limit,
            "failedJobsHistoryLimit": c.failed_jobs_history_limit,
            "jobTemplate": {"metadata": {"labels": labels}, "spec": {
                "backoffLimit": c.backoff_limit,
                "activeDeadlineSeconds": c.active_deadline_seconds,
                "ttlSecondsAfterFinished": c.ttl_seconds_after_finished,
                "template": {"metadata": {"labels": labels}, "spec": pod},
            }},
        },
    }


def network_policies(control_plane_cidrs: list[str]) -> list[tuple[str, dict]]:
    return [("apiserver", {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": _meta("allow-egress-kube-apiserver", "network-policy"),
        "spec": {"podSelector": {"matchLabels": {"app": NAME}}, "policyTypes": ["Egress"],
                 "egress": [{"to": [{"ipBlock": {"cidr": cidr}} for cidr in sorted(control_plane_cidrs)],
                             "ports": [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 6443}]}]}})]


def tls_only_policy(bucket_arn: str, flow_logs_account: Optional[str] = None) -> dict:
    statements = [{
        "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }]
    if flow_logs_account:
        # VPC flow logs delivered to S3 (AWS VPC user guide, "Amazon S3 bucket permissions for flow logs")
        source = {"aws:SourceAccount": flow_logs_account}
        statements += [
            {"Sid": "FlowLogDeliveryWrite", "Effect": "Allow", "Principal": {"Service": "delivery.logs.amazonaws.com"},
             "Action": "s3:PutObject", "Resource": f"{bucket_arn}/vpc-flow-logs/AWSLogs/{flow_logs_account}/*",
             "Condition": {"StringEquals": {**source, "s3:x-amz-acl": "bucket-owner-full-control"}}},
            {"Sid": "FlowLogDeliveryAclCheck", "Effect": "Allow", "Principal": {"Service": "delivery.logs.amazonaws.com"},
             "Action": ["s3:GetBucketAcl", "s3:ListBucket"], "Resource": bucket_arn,
             "Condition": {"StringEquals": source}},
        ]
    return {"Version": "2012-10-17", "Statement": statements}


def audit_key_policy(account: str, region: str, cluster_name: str, admins: list[str], flow_logs: bool) -> dict:
    """The audit key (issue 23): used only through S3 by this account's principals whose IAM policies
    allow it (the write-only roles of components.audit), and by the flow-log delivery service;
    administrators cannot use it; only break-glass with MFA disables or deletes it, which would
    crypto-shred the COMPLIANCE-locked archive."""
    from .kms import break_glass_arn, key_policy, service_use, via_service_use

    users = [via_service_use("s3", region, account, ["kms:Decrypt", "kms:GenerateDataKey"], "UseThroughS3Only")]
    if flow_logs:
        users.append(service_use("delivery.logs.amazonaws.com", account, ["kms:GenerateDataKey*"], "FlowLogDelivery"))
    return key_policy(account=account, admins=admins, break_glass_arn=break_glass_arn(cluster_name, account),
                      users=users)


# ---------------------------------------------------------------------------------------------
# The component
# ---------------------------------------------------------------------------------------------

class Compliance(HardenedComponent):
    """The hardened compliance CronJob and the Object-Locked audit-log bucket."""

    def __init__(self, name: str, args: ComplianceArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TOKEN, name, None, opts)
        from .base import QuotaConfig
        from .namespace import HardenedNamespace, HardenedNamespaceArgs

        c = args.config
        if args.trusted_registries is not None:
            check_image_reference(c.image, args.trusted_registries)
        self.namespace = HardenedNamespace(f"{name}-ns", HardenedNamespaceArgs(
            name=NAMESPACE, quota=QuotaConfig(cpu="4", memory="4Gi", pods=10), labels=args.namespace_labels),
            child_opts(self))
        in_ns = child_opts(self, depends_on=[self.namespace])
        deps: list[pulumi.Resource] = [self.namespace]
        deps += [k8s_object(f"{name}-{suffix}", m, in_ns) for suffix, m in network_policies(args.control_plane_cidrs)]
        deps += [k8s_object(f"{name}-{suffix}", m, in_ns) for suffix, m in rbac_manifests()]
        self.cronjob = k8s_object(f"{name}-cronjob", cronjob(c), child_opts(self, depends_on=deps))

        outputs: dict[str, Any] = {"namespace": NAMESPACE, "schedule": c.schedule}
        if c.audit_retention.enabled:
            outputs.update(self._audit_bucket(name, args))
        self.register_outputs(outputs)

    def _audit_bucket(self, name: str, args: ComplianceArgs) -> dict:
        import pulumi_aws as aws

        r = args.config.audit_retention
        tags = {"hardened-stack/cluster": args.cluster_name, "hardened-stack/component": "compliance"}
        account = (pulumi.Output.from_input(args.account_id) if args.account_id
                   else aws.get_caller_identity_output(opts=pulumi.InvokeOptions(parent=self)).account_id)
        self.key = aws.kms.Key(
            f"{name}-audit-key", description=f"Audit-log archive encryption for {args.cluster_name}",
            key_usage="ENCRYPT_DECRYPT", customer_master_key_spec="SYMMETRIC_DEFAULT", enable_key_rotation=True,
            deletion_window_in_days=r.kms_deletion_window_days, bypass_policy_lockout_safety_check=True,
            policy=account.apply(lambda a: json.dumps(audit_key_policy(
                a, args.region, args.cluster_name, list(args.key_admins), args.flow_logs), sort_keys=True)),
            tags=tags, opts=child_opts(self))
        aws.kms.Alias(f"{name}-audit-alias", name=f"alias/{args.cluster_name}-audit-logs",
                      target_key_id=self.key.key_id, opts=child_opts(self))
        self.bucket = aws.s3.Bucket(
            f"{name}-audit-logs", bucket=r.bucket_name,
            bucket_prefix=None if r.bucket_name else (r.bucket_prefix or f"{args.cluster_name}-audit-"[:37]),
            object_lock_enabled=True, force_destroy=r.force_destroy, tags=tags, opts=child_opts(self))
        bucket_opts = child_opts(self, depends_on=[self.bucket])
        aws.s3.BucketPublicAccessBlock(
            f"{name}-audit-public-access", bucket=self.bucket.id, block_public_acls=True, block_public_policy=True,
            ignore_public_acls=True, restrict_public_buckets=True, opts=bucket_opts)
        versioning = aws.s3.BucketVersioning(
            f"{name}-audit-versioning", bucket=self.bucket.id,
            versioning_configuration={"status": "Enabled"}, opts=bucket_opts)
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-audit-sse", bucket=self.bucket.id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms",
                                                                "kms_master_key_id": self.key.arn},
                    "bucket_key_enabled": True}], opts=bucket_opts)
        aws.s3.BucketObjectLockConfiguration(
            f"{name}-audit-object-lock", bucket=self.bucket.id, object_lock_enabled="Enabled",
            rule={"default_retention": {"mode": "COMPLIANCE", "days": r.retention_days}},
            opts=child_opts(self, depends_on=[self.bucket, versioning]))
        aws.s3.BucketPolicy(
            f"{name}-audit-tls-only", bucket=self.bucket.id,
            policy=pulumi.Output.all(self.bucket.arn, account).apply(lambda v: json.dumps(
                tls_only_policy(v[0], v[1] if args.flow_logs else None), sort_keys=True)),
            opts=bucket_opts)
        return {"auditBucket": self.bucket.bucket, "auditKeyArn": self.key.arn, "retentionDays": r.retention_days}
