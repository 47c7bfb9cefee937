"""``AuditTrails``: the audit trails the seed names, delivered into the 7-year Object Lock bucket
(issue 17). The bucket (components.compliance) used to receive nothing.

Every source writes under its own prefix with an identity that may only ``s3:PutObject`` there
(no read, no list, no delete: write-only, and Object Lock COMPLIANCE keeps what lands for the
retention period) and use the audit key through S3 only (``kms:GenerateDataKey``, conditioned on
``kms:ViaService`` S3 and the bucket's encryption context):

==================  ========================================================================  =============
source              path                                                                      prefix
==================  ========================================================================  =============
Kubernetes API      EKS control-plane logging (type ``audit``) -> CloudWatch Logs group        ``eks-audit/``
server audit log    ``/aws/eks/<cluster>/cluster`` -> subscription filter (audit events only)
                    -> Firehose delivery stream -> S3
Vault audit device  Vault's ``socket`` audit device (besides its ``file`` device on the audit    ``vault-audit/``
                    volume) -> Fluent Bit ``vault-audit-shipper`` in ``vault`` (TCP 9090) -> S3
                    (``s3`` output, PutObject with Content-MD5) through IRSA
Falco events        falcosidekick's S3 output through IRSA (the environment of the falcosidekick  ``falco/``
                    Deployment RuntimeDetection writes: :func:`falco_archive_env`)
==================  ========================================================================  =============

What the stack cannot do itself: switch on EKS control-plane logging (the cluster is not a
resource of this stack: ``aws eks update-cluster-config --logging ...``, docs/compliance.md) and
enable the socket audit device (a Vault API call: ``vault-audit/enable-socket-audit.sh``).
"""
from __future__ import annotations

import json
from typing import Any, Optional

import pulumi
from pydantic import Field, field_validator

from .base import (HardenedComponent, StrictModel, check_image_reference, child_opts, k8s_object,
                   standard_labels)

TOKEN = "hardened:index:AuditTrails"

EKS_PREFIX = "eks-audit/"
VAULT_PREFIX = "vault-audit/"
FALCO_PREFIX = "falco/"
#: CloudWatch Logs filter pattern: the API server's audit events only (the group also holds other
#: control-plane logs; audit events are JSON with this apiVersion).
AUDIT_FILTER = '{ $.apiVersion = "audit.k8s.io/v1" }'
SHIPPER = "vault-audit-shipper"
SHIPPER_PORT = 9090
SHIPPER_HEALTH_PORT = 2020
SHIPPER_UID = 10001
VAULT_NAMESPACE = "vault"
FALCO_NAMESPACE = "falco"
FALCOSIDEKICK = "falcosidekick"
PRIVATE_RANGES = ["10.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16"]
#: The retention periods CloudWatch Logs accepts.
LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                      3288, 3653]
FLUENT_BIT_IMAGE = ("ghcr.io/fluent/fluent-bit:4.0.3@sha256:"
                    "0000000000000000000000000000000000000000000000000000000000000000")


class AuditTrailsConfig(StrictModel):
    eks: bool = Field(True, description="Archive the Kubernetes API server's audit log (default true).")
    manage_eks_log_group: bool = Field(
        True, description="Create the EKS control-plane log group with its retention (default true; false when EKS "
                          "already created it: the stack then only subscribes to it).")
    eks_log_group: Optional[str] = Field(None, description="Log group of the EKS control plane (default "
                                                           "/aws/eks/<cluster.name>/cluster, the one EKS writes).")
    log_retention_days: int = Field(90, description="Retention of the CloudWatch copy (default 90 days: the archive "
                                                    "keeps the 7-year copy).")
    vault: bool = Field(True, description="Archive Vault's audit device (default true, with Vault).")
    shipper_image: str = Field(
        FLUENT_BIT_IMAGE,
        description="Fluent Bit image of the Vault audit shipper, pinned by digest from a trusted registry (set it: "
                    "the default digest is a placeholder that pulls nothing).")
    falco: bool = Field(True, description="Archive Falco's events through falcosidekick's S3 output (default true, "
                                          "with runtimeDetection; needs cluster.accountId and "
                                          "compliance.auditRetention.bucketName, known at preview).")

    @field_validator("shipper_image")
    @classmethod
    def _image_ok(cls, v: str) -> str:
        return check_image_reference(v)

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, v: int) -> int:
        if v not in LOG_RETENTION_DAYS:
            raise ValueError(f"logRetentionDays {v} is not a CloudWatch Logs retention; use one of {LOG_RETENTION_DAYS}")
        return v


class AuditTrailsArgs(StrictModel):
    config: AuditTrailsConfig = Field(default_factory=AuditTrailsConfig)
    cluster_name: str = Field(description="Cluster name.")
    region: str = Field("us-east-1", description="AWS region.")
    account_id: Optional[str] = Field(None, description="cluster.accountId (for the Falco role's known ARN).")
    bucket_name: Any = Field(description="The audit bucket's name (Output or str).")
    bucket_arn: Any = Field(description="The audit bucket's ARN.")
    key_arn: Any = Field(description="The audit key's ARN (the bucket's SSE-KMS key).")
    oidc_provider_arn: Any = Field(None, description="cluster.oidcProviderArn (or the created cluster's, an Output).")
    oidc_issuer_url: Optional[str] = Field(None, description="cluster.oidcIssuerUrl.")
    vault: bool = Field(False, description="Vault is part of the stack.")
    falco: bool = Field(False, description="Runtime detection (Falco) is part of the stack.")
    known_bucket_name: Optional[str] = Field(None, description="compliance.auditRetention.bucketName.")

    @property
    def issuer_host(self) -> Optional[str]:
        if isinstance(self.oidc_provider_arn, str):
            return self.oidc_provider_arn.split(":oidc-provider/", 1)[1]
        return self.oidc_issuer_url.removeprefix("https://").rstrip("/") if self.oidc_issuer_url else None


# ---------------------------------------------------------------------------------------------
# Pure functions (unit-tested)
# ---------------------------------------------------------------------------------------------

def write_only_policy(bucket_arn: str, prefix: str, key_arn: str, region: str, decrypt: bool = False) -> dict:
    """Put objects below *prefix* of the bucket and nothing else; use the audit key only through S3
    for this bucket (bucket keys: the encryption context is the bucket's ARN)."""
    kms_actions = ["kms:GenerateDataKey"] + (["kms:Decrypt"] if decrypt else [])
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "WriteOnlyToPrefix", "Effect": "Allow", "Action": ["s3:PutObject"],
         "Resource": f"{bucket_arn}/{prefix}*"},
        {"Sid": "AuditKeyThroughS3", "Effect": "Allow", "Action": kms_actions, "Resource": key_arn,
         "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com",
                                        "kms:EncryptionContext:aws:s3:arn": bucket_arn}}},
    ]}


def irsa_trust(provider_arn: str, issuer_host: str, namespace: str, service_account: str) -> dict:
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": provider_arn}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{issuer_host}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                                       f"{issuer_host}:aud": "sts.amazonaws.com"}}}]}


def service_trust(service: str, account_id: str, source_arn: Optional[str] = None) -> dict:
    condition: dict = {"StringEquals": {"aws:SourceAccount": account_id}}
    if source_arn:
        condition["ArnLike"] = {"aws:SourceArn": source_arn}
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole", "Condition": condition}]}


def partition(region: str) -> str:
    return "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"


def falco_role_name(cluster_name: str) -> str:
    return f"{cluster_name}-falco-audit"[:64]


def falco_archive_env(cluster_name: str, region: str, account_id: str, bucket_name: str) -> tuple[str, list[dict]]:
    """falcosidekick's S3 output through IRSA: the role ARN its ServiceAccount is annotated with,
    and the settings as its environment (its configuration keys in upper case, '.' as '_', which
    is how falcosidekick reads its environment). All known at preview: the role's ARN from its fixed
    name, the bucket's configured name."""
    role_arn = f"arn:{partition(region)}:iam::{account_id}:role/{falco_role_name(cluster_name)}"
    return role_arn, [
        {"name": "AWS_USEIRSA", "value": "true"},
        {"name": "AWS_ROLEARN", "value": role_arn},
        {"name": "AWS_REGION", "value": region},
        {"name": "AWS_CHECKIDENTITY", "value": "true"},
        {"name": "AWS_S3_BUCKET", "value": bucket_name},
        {"name": "AWS_S3_PREFIX", "value": FALCO_PREFIX.rstrip("/")},
        # no canned ACL: the bucket enforces bucket-owner ownership, and the role has PutObject only
        {"name": "AWS_S3_OBJECTCANNEDACL", "value": ""},
    ]


def fluent_bit_config(bucket: str, region: str) -> str:
    return "\n".join([
        "[SERVICE]",
        "    Flush            5",
        "    Log_Level        info",
        "    HTTP_Server      On",
        "    HTTP_Listen      0.0.0.0",
        f"    HTTP_Port        {SHIPPER_HEALTH_PORT}",
        "    Health_Check     On",
        "    storage.path     /buffer/storage",
        "",
        "[INPUT]",
        "    Name             tcp",
        "    Listen           0.0.0.0",
        f"    Port             {SHIPPER_PORT}",
        "    Format           json",
        "    Tag              vault.audit",
        "    storage.type     filesystem",
        "",
        "[OUTPUT]",
        "    Name             s3",
        "    Match            vault.audit",
        f"    bucket           {bucket}",
        f"    region           {region}",
        "    use_put_object   On",
        "    send_content_md5 true",
        "    compression      gzip",
        "    total_file_size  50M",
        "    upload_timeout   5m",
        "    store_dir        /buffer/s3",
        f"    s3_key_format    /{VAULT_PREFIX}%Y/%m/%d/%H%M%S-$UUID.json.gz",
        "",
    ])


def shipper_manifests(image: str, role_arn: Any, config_text: Any) -> list[tuple[str, dict]]:
    """The Vault audit shipper: Fluent Bit receiving Vault's socket audit device, writing to S3."""
    # The golden-path labels: it is built like a HardenedWorkload (restricted, probes, limits), and
    # the pack's probe policy holds it to that.
    labels = {**standard_labels(SHIPPER, "workload"), "app": SHIPPER}
    selector = {"app": SHIPPER}
    meta = {"name": SHIPPER, "namespace": VAULT_NAMESPACE, "labels": labels}
    vault_server = {"matchLabels": {"app.kubernetes.io/name": "vault", "component": "server"}}
    container = {
        "name": "fluent-bit", "image": image, "imagePullPolicy": "IfNotPresent",
        "args": ["--config=/fluent-bit/etc/fluent-bit.conf"],
        "ports": [{"name": "audit", "containerPort": SHIPPER_PORT, "protocol": "TCP"},
                  {"name": "health", "containerPort": SHIPPER_HEALTH_PORT, "protocol": "TCP"}],
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "privileged": False,
                            "readOnlyRootFilesystem": True, "runAsNonRoot": True, "runAsUser": SHIPPER_UID,
                            "runAsGroup": SHIPPER_UID, "seccompProfile": {"type": "RuntimeDefault"}},
        "livenessProbe": {"httpGet": {"path": "/api/v1/health", "port": SHIPPER_HEALTH_PORT}, "periodSeconds": 10},
        "readinessProbe": {"httpGet": {"path": "/api/v1/health", "port": SHIPPER_HEALTH_PORT}, "periodSeconds": 10},
        "volumeMounts": [{"name": "config", "mountPath": "/fluent-bit/etc", "readOnly": True},
                         {"name": "buffer", "mountPath": "/buffer"}],
    }
    netpol = lambda name, spec: {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",  # noqa: E731
                                 "metadata": {"name": name, "namespace": VAULT_NAMESPACE,
                                              "labels": standard_labels(name, "network-policy")}, "spec": spec}
    return [
        ("sa", {"apiVersion": "v1", "kind": "ServiceAccount", "automountServiceAccountToken": False,
                "metadata": {**meta, "annotations": {"eks.amazonaws.com/role-arn": role_arn}}}),
        ("config", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
                    "data": {"fluent-bit.conf": config_text}}),
        ("deployment", {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": {
            "replicas": 2, "revisionHistoryLimit": 5, "selector": {"matchLabels": selector},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {"metadata": {"labels": labels}, "spec": {
                "serviceAccountName": SHIPPER, "automountServiceAccountToken": False, "enableServiceLinks": False,
                "securityContext": {"runAsNonRoot": True, "runAsUser": SHIPPER_UID, "runAsGroup": SHIPPER_UID,
                                    "fsGroup": SHIPPER_UID, "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [container],
                "volumes": [{"name": "config", "configMap": {"name": SHIPPER}},
                            {"name": "buffer", "emptyDir": {"sizeLimit": "1Gi"}}],
            }}}}),
        ("service", {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": {
            "type": "ClusterIP", "selector": selector,
            "ports": [{"name": "audit", "port": SHIPPER_PORT, "targetPort": SHIPPER_PORT, "protocol": "TCP"}]}}),
        ("pdb", {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": meta,
                 "spec": {"selector": {"matchLabels": selector}, "maxUnavailable": 1}}),
        ("np-in", netpol("allow-ingress-audit-from-vault", {
            "podSelector": {"matchLabels": selector}, "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": vault_server}],
                         "ports": [{"protocol": "TCP", "port": SHIPPER_PORT}]}]})),
        ("np-vault-out", netpol("allow-egress-vault-audit-shipper", {
            "podSelector": vault_server, "policyTypes": ["Egress"],
            "egress": [{"to": [{"podSelector": {"matchLabels": selector}}],
                        "ports": [{"protocol": "TCP", "port": SHIPPER_PORT}]}]})),
        ("np-s3", netpol("allow-egress-audit-shipper-s3", {
            "podSelector": {"matchLabels": selector}, "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": PRIVATE_RANGES}}],
                        "ports": [{"protocol": "TCP", "port": 443}]}]})),
        ("enable", {"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "vault-audit", "namespace": VAULT_NAMESPACE,
                                 "labels": standard_labels("vault-audit", "bootstrap")},
                    "data": {"enable-socket-audit.sh": "\n".join([
                        "#!/bin/sh",
                        "# Run once after bootstrap.sh (needs VAULT_TOKEN with sudo on sys/audit). The file device",
                        "# on the audit volume stays: Vault keeps serving while one device succeeds, and the file",
                        "# is the complete local record if the shipper is down.",
                        "set -eu",
                        ": \"${VAULT_TOKEN:?export VAULT_TOKEN first}\"",
                        f"vault audit enable -path=socket socket address={SHIPPER}.{VAULT_NAMESPACE}.svc:{SHIPPER_PORT} "
                        "socket_type=tcp",
                        ""])}}),
    ]


def falco_netpol() -> dict:
    """falcosidekick reaches S3 and STS (443) for its S3 output."""
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "allow-egress-falcosidekick-s3", "namespace": FALCO_NAMESPACE,
                         "labels": standard_labels("allow-egress-falcosidekick-s3", "network-policy")},
            "spec": {"podSelector": {"matchLabels": {"app.kubernetes.io/name": FALCOSIDEKICK}},
                     "policyTypes": ["Egress"],
                     "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": PRIVATE_RANGES}}],
                                 "ports": [{"protocol": "TCP", "port": 443}]}]}}


# ---------------------------------------------------------------------------------------------
# The component
# ---------------------------------------------------------------------------------------------

class AuditTrails(HardenedComponent):
    """Every audit source of the stack, delivered write-only into the Object Lock bucket."""

    def __init__(self, name: str, args: AuditTrailsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TOKEN, name, None, opts)
        import pulumi_aws as aws

        c = args.config
        tags = {"hardened-stack/cluster": args.cluster_name, "hardened-stack/component": "audit"}
        account = (pulumi.Output.from_input(args.account_id) if args.account_id
                   else aws.get_caller_identity_output().account_id)
        part = partition(args.region)
        self.sources: dict[str, Any] = {}

        def policy(role_name: str, role: Any, prefix: str, decrypt: bool = False) -> Any:
            return aws.iam.RolePolicy(
                f"{name}-{role_name}-write", role=role.id,
                policy=pulumi.Output.all(args.bucket_arn, args.key_arn).apply(
                    lambda v: json.dumps(write_only_policy(v[0], prefix, v[1], args.region, decrypt), sort_keys=True)),
                opts=child_opts(self))

        provider_arn: Any = args.oidc_provider_arn or account.apply(
            lambda a: f"arn:{part}:iam::{a}:oidc-provider/{args.issuer_host}")

        def irsa_role(role_name: str, namespace: str, sa: str, fixed_name: Optional[str] = None) -> Any:
            return aws.iam.Role(
                f"{name}-{role_name}", name=fixed_name,
                description=f"{args.cluster_name}: {namespace}/{sa} writes its audit trail (PutObject only)",
                assume_role_policy=pulumi.Output.from_input(provider_arn).apply(
                    lambda arn: json.dumps(irsa_trust(arn, args.issuer_host or arn.split(":oidc-provider/", 1)[1],
                                                      namespace, sa), sort_keys=True)),
                max_session_duration=3600, tags=tags, opts=child_opts(self))

        # --- Kubernetes API server audit log: CloudWatch -> subscription -> Firehose -> S3 -----
        if c.eks:
            group_name = c.eks_log_group or f"/aws/eks/{args.cluster_name}/cluster"
            group_ref: Any = group_name
            if c.manage_eks_log_group:
                group = aws.cloudwatch.LogGroup(f"{name}-eks-logs", name=group_name,
                                                retention_in_days=c.log_retention_days, tags=tags,
                                                opts=child_opts(self))
                group_ref = group.name
            firehose_role = aws.iam.Role(
                f"{name}-eks-firehose", description=f"{args.cluster_name}: Firehose writes the API audit log",
                assume_role_policy=account.apply(
                    lambda a: json.dumps(service_trust("firehose.amazonaws.com", a), sort_keys=True)),
                tags=tags, opts=child_opts(self))
            write = policy("eks-firehose", firehose_role, EKS_PREFIX, decrypt=True)
            stream = aws.kinesis.FirehoseDeliveryStream(
                f"{name}-eks-audit", name=f"{args.cluster_name}-eks-audit", destination="extended_s3",
                server_side_encryption={"enabled": True, "key_type": "AWS_OWNED_CMK"},
                extended_s3_configuration={
                    "role_arn": firehose_role.arn, "bucket_arn": args.bucket_arn, "prefix": EKS_PREFIX,
                    "error_output_prefix": f"{EKS_PREFIX}errors/!{{firehose:error-output-type}}/",
                    "buffering_interval": 300, "buffering_size": 5,
                    # CloudWatch Logs delivers gzip-compressed batches already
                    "compression_format": "UNCOMPRESSED",
                },
                tags=tags, opts=child_opts(self, depends_on=[write]))
            logs_role = aws.iam.Role(
                f"{name}-eks-logs-to-firehose", description=f"{args.cluster_name}: CloudWatch Logs feeds the stream",
                assume_role_policy=account.apply(lambda a: json.dumps(service_trust(
                    f"logs.{args.region}.amazonaws.com", a, f"arn:{part}:logs:{args.region}:{a}:*"), sort_keys=True)),
                tags=tags, opts=child_opts(self))
            feed = aws.iam.RolePolicy(
                f"{name}-eks-logs-feed", role=logs_role.id,
                policy=stream.arn.apply(lambda arn: json.dumps({"Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Action": ["firehose:PutRecord", "firehose:PutRecordBatch"],
                    "Resource": arn}]}, sort_keys=True)),
                opts=child_opts(self))
            aws.cloudwatch.LogSubscriptionFilter(
                f"{name}-eks-audit-subscription", name=f"{args.cluster_name}-audit-archive", log_group=group_ref,
                filter_pattern=AUDIT_FILTER, destination_arn=stream.arn, role_arn=logs_role.arn,
                distribution="ByLogStream", opts=child_opts(self, depends_on=[feed]))
            self.sources["eks"] = {"logGroup": group_name, "prefix": EKS_PREFIX}

        # --- Vault's audit device: socket -> Fluent Bit -> S3 -----------------------------------
        if c.vault and args.vault:
            check_image_reference(c.shipper_image)
            role = irsa_role("vault-audit", VAULT_NAMESPACE, SHIPPER)
            write = policy("vault-audit", role, VAULT_PREFIX)
            config_text = pulumi.Output.from_input(args.bucket_name).apply(
                lambda b: fluent_bit_config(b, args.region))
            objs = [k8s_object(f"{name}-shipper-{suffix}", m, child_opts(self, depends_on=[write]))
                    for suffix, m in shipper_manifests(c.shipper_image, role.arn, config_text)]
            self.sources["vault"] = {"prefix": VAULT_PREFIX, "objects": len(objs)}

        # --- Falco: falcosidekick's S3 output through IRSA --------------------------------------
        if c.falco and args.falco:
            role = irsa_role("falco-audit", FALCO_NAMESPACE, FALCOSIDEKICK,
                             fixed_name=falco_role_name(args.cluster_name))
            policy("falco-audit", role, FALCO_PREFIX)
            k8s_object(f"{name}-falcosidekick-s3", falco_netpol(), child_opts(self))
            self.sources["falco"] = {"prefix": FALCO_PREFIX}

        self.register_outputs({"sources": sorted(self.sources)})
