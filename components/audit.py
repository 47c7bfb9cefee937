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

from .base import Cidr, weakens
from .base import (AwsResource, HardenedComponent, StrictModel, check_image_reference, child_opts, k8s_object,
                   standard_labels)

TOKEN = "hardened:index:AuditTrails"

EKS_PREFIX = "eks-audit/"
VAULT_PREFIX = "vault-audit/"
FALCO_PREFIX = "falco/"
WAF_PREFIX = "waf/"
#: AWS WAF logs only to destinations whose name starts with this (AWS WAF developer guide,
#: "Logging destinations").
WAF_STREAM_PREFIX = "aws-waf-logs-"
#: CloudWatch Logs filter pattern: the API server's audit events only (the group also holds other
#: control-plane logs; audit events are JSON with this apiVersion).
AUDIT_FILTER = '{ $.apiVersion = "audit.k8s.io/v1" }'
SHIPPER = "vault-audit-shipper"
SHIPPER_HEALTH_PORT = 2020
SHIPPER_UID = 10001
VAULT_NAMESPACE = "vault"
FALCO_NAMESPACE = "falco"
FALCOSIDEKICK = "falcosidekick"
PRIVATE_RANGES = ["10.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16"]
#: The retention periods CloudWatch Logs accepts.
LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                      3288, 3653]
#: Pinned by tag: its digest cannot be looked up offline here and a made-up one pulls nothing.
#: Exemption ``vault-server`` names the image; set compliance.auditTrails.shipperImage to
#: ``ghcr.io/fluent/fluent-bit:4.0.3@sha256:<digest>`` (``crane digest``) to pin it by digest.
FLUENT_BIT_IMAGE = "ghcr.io/fluent/fluent-bit:4.0.3"
_TAGGED = __import__("re").compile(r"^[a-z0-9.-]+(:[0-9]+)?/[a-z0-9._/-]+:[A-Za-z0-9._-]{1,128}(@sha256:[a-f0-9]{64})?$")


class AuditTrailsConfig(StrictModel):
    eks: bool = Field(True, description="Archive the Kubernetes API server's audit log (default true).", json_schema_extra=weakens("the API server's audit log is not archived"))
    manage_eks_log_group: bool = Field(
        True, description="Create the EKS control-plane log group with its retention (default true; false when EKS "
                          "already created it: the stack then only subscribes to it).")
    eks_log_group: Optional[str] = Field(None, description="Log group of the EKS control plane (default "
                                                           "/aws/eks/<cluster.name>/cluster, the one EKS writes).")
    log_retention_days: int = Field(90, description="Retention of the CloudWatch copy (default 90 days: the archive "
                                                    "keeps the 7-year copy).")
    vault: bool = Field(True, description="Archive Vault's audit device (default true, with Vault).", json_schema_extra=weakens("Vault's audit device is not archived"))
    shipper_image: str = Field(
        FLUENT_BIT_IMAGE,
        description="Fluent Bit image of the Vault audit shipper (a sidecar in Vault's pods), from a trusted "
                    "registry (default ghcr.io/fluent/fluent-bit:4.0.3, by tag: add @sha256:<digest> to pin it by "
                    "digest; a digest of zeros is refused).")
    waf: bool = Field(True, description="Archive the WAF's logs (every request the WebACL judged) through a Firehose "
                                        "stream named aws-waf-logs-<cluster>, under waf/ (default true, with the WAF).")
    alb_access_logs: bool = Field(
        True, description="Keep the stack's ALB's access logs in <auditRetention.bucketName>-alb, Object Lock like "
                          "the archive (default true with ingress.alb; ALB access logs support SSE-S3 only, so they "
                          "cannot go to the SSE-KMS audit bucket).")
    falco: bool = Field(True, description="Archive Falco's events through falcosidekick's S3 output (default true, "
                                          "with runtimeDetection; needs cluster.accountId and "
                                          "compliance.auditRetention.bucketName, known at preview).", json_schema_extra=weakens("Falco's events are not archived"))

    @field_validator("shipper_image")
    @classmethod
    def _image_ok(cls, v: str) -> str:
        if "@sha256:" in v:
            check_image_reference(v)
            if set(v.rsplit(":", 1)[1]) == {"0"}:
                raise ValueError(f"shipperImage {v!r} has a placeholder digest that pulls nothing; use the image's "
                                 "real digest (`crane digest ghcr.io/fluent/fluent-bit:<tag>`) or the tag alone")
        elif not _TAGGED.match(v) or v.endswith(":latest"):
            raise ValueError(f"shipperImage {v!r} must be a fully qualified image with a version tag (e.g. "
                             f"{FLUENT_BIT_IMAGE}), optionally @sha256:<digest>; never :latest")
        return v

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
    eks_log_group_name: Any = Field(None, description="The created cluster's control-plane log group name (an "
                                                      "Output): the subscription waits for the group it names.")
    vault: bool = Field(False, description="Vault is part of the stack.")
    vault_role_name: Optional[str] = Field(None, description="Vault's IRSA role (components.vault.role_name): the "
                                                             "shipper sidecar in Vault's pods writes with it.")
    falco: bool = Field(False, description="Runtime detection (Falco) is part of the stack.")
    aws_endpoint_cidrs: list[Cidr] = Field(default_factory=list, description="awsEndpointCidrs (VPC endpoints).")
    web_acl_arn: Optional[Any] = Field(None, description="The WebACL whose logs are archived (ingress.waf).")
    known_bucket_name: Optional[str] = Field(None, description="compliance.auditRetention.bucketName.")

    @property
    def issuer_host(self) -> Optional[str]:
        if isinstance(self.oidc_provider_arn, str):
            return self.oidc_provider_arn.split(":oidc-provider/", 1)[1]
        return self.oidc_issuer_url.removeprefix("https://").rstrip("/") if self.oidc_issuer_url else None


# ---------------------------------------------------------------------------------------------
# Pure functions (unit-tested)
# ---------------------------------------------------------------------------------------------

def write_only_policy(bucket_arn: str, prefix: str, key_arn: str, region: str, decrypt: bool = False,
                      owner_acl: bool = False, multipart: bool = False) -> dict:
    """Put objects below *prefix* of the bucket and nothing else; use the audit key only through S3
    for this bucket. The bucket has S3 Bucket Keys on, so the KMS encryption context S3 sends is
    the bucket's ARN (not the object's): the condition names exactly that.

    *owner_acl*: the writer's PutObject carries ``x-amz-acl: bucket-owner-full-control`` (falcosidekick
    always sends its ``AWS.S3.ObjectCannedACL``, default bucket-owner-full-control), and S3
    authorises a PutObject with an ACL header as ``s3:PutObjectAcl`` too: that ACL, and only it.
    *multipart*: the writer may abort its own multipart uploads (Firehose, as AWS documents its S3
    destination's role); no read, list or delete in either case."""
    kms_actions = ["kms:GenerateDataKey"] + (["kms:Decrypt"] if decrypt else [])
    statements: list[dict] = [
        {"Sid": "WriteOnlyToPrefix", "Effect": "Allow",
         "Action": ["s3:PutObject"] + (["s3:AbortMultipartUpload"] if multipart else []),
         "Resource": f"{bucket_arn}/{prefix}*"}]
    if owner_acl:
        statements.append({"Sid": "BucketOwnerAclOnly", "Effect": "Allow", "Action": ["s3:PutObjectAcl"],
                           "Resource": f"{bucket_arn}/{prefix}*",
                           "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}})
    if multipart:
        statements.append({"Sid": "BucketLocation", "Effect": "Allow",
                           "Action": ["s3:GetBucketLocation", "s3:ListBucketMultipartUploads"], "Resource": bucket_arn})
    statements.append(
        {"Sid": "AuditKeyThroughS3", "Effect": "Allow", "Action": kms_actions, "Resource": key_arn,
         "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com",
                                        "kms:EncryptionContext:aws:s3:arn": bucket_arn}}})
    return {"Version": "2012-10-17", "Statement": statements}


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


#: The first falcosidekick release whose AWS client loads the SDK's default credential chain
#: (outputs/aws.go, NewAWSClient: ``awsconfig.LoadDefaultConfig``), which reads the web identity
#: the EKS pod identity webhook injects (AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE). 2.32.0 builds
#: ``&aws.Config{Region: region}`` with no credentials and turns ``AWS.RoleARN`` into
#: ``sts:AssumeRole`` from that empty config: the call fails, NewAWSClient returns an error and
#: main.go clears ``AWS.S3.Bucket`` (the S3 output is off from start-up).
SIDEKICK_IRSA_MIN_VERSION = (2, 33, 0)


def falco_archive_env(cluster_name: str, region: str, account_id: str, bucket_name: str) -> tuple[str, list[dict]]:
    """falcosidekick's S3 output through IRSA: the role ARN its ServiceAccount is annotated with,
    and the settings as its environment (falcosidekick's config.go reads its keys through viper's
    AutomaticEnv with '.' replaced by '_': ``AWS.S3.Bucket`` is ``AWS_S3_BUCKET``).

    No ``AWS_ROLEARN``: in falcosidekick that key means "sts:AssumeRole into this role" (2.32.0),
    which the role's trust (AssumeRoleWithWebIdentity only) refuses; from 2.33.0 the credentials
    come from the default chain, i.e. the web identity the pod identity webhook injects because
    the ServiceAccount carries ``eks.amazonaws.com/role-arn``. No ``AWS_USEIRSA`` either: that is a
    value of the Helm chart (it decides where the role ARN goes), not a key falcosidekick parses.
    ``AWS_S3_OBJECTCANNEDACL`` is left unset: viper ignores an empty variable, so "" would fall
    back to the default ``bucket-owner-full-control`` anyway; that ACL is the one S3 accepts under
    BucketOwnerEnforced. All known at preview: the role's ARN from its fixed name, the bucket's
    configured name."""
    role_arn = f"arn:{partition(region)}:iam::{account_id}:role/{falco_role_name(cluster_name)}"
    return role_arn, [
        {"name": "AWS_REGION", "value": region},
        {"name": "AWS_CHECKIDENTITY", "value": "true"},
        {"name": "AWS_S3_BUCKET", "value": bucket_name},
        {"name": "AWS_S3_PREFIX", "value": FALCO_PREFIX.rstrip("/")},
    ]


#: The file device's path on the audit volume (components.vault.AUDIT_FILE; the chart mounts the
#: volume claim ``audit`` at server.auditStorage.mountPath).
VAULT_AUDIT_FILE = "/vault/audit/vault_audit.log"
VAULT_AUDIT_VOLUME = "audit"
#: Vault's pods run with fsGroup 1000 (components.vault): the shipper reads the file device
#: (mode 0640, group 1000) through that supplementary group, as a UID of its own.
VAULT_FS_GROUP = 1000
#: Where the ServiceAccount admission plugin mounts the Kubernetes API token.
API_TOKEN_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def fluent_bit_config(bucket: str, region: str) -> str:
    """The shipper's configuration, in the keys Fluent Bit 4.0.3 parses (plugins/in_tail/tail.c and
    plugins/out_s3/s3.c, their ``config_map``): ``tail`` follows the file device on the audit
    volume (read-only), ``s3`` writes each audit line as Vault wrote it (``log_key log``: the raw
    line, no Fluent Bit envelope) with PutObject and a Content-MD5 header (Object Lock buckets
    require an integrity header on every write), below ``vault-audit/``. The credentials come from
    the web identity the EKS pod identity webhook injects (src/aws/flb_aws_credentials_sts.c reads
    AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE)."""
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
        "    Name             tail",
        f"    Path             {VAULT_AUDIT_FILE}",
        "    Tag              vault.audit",
        "    DB               /buffer/tail.db",
        "    Read_from_Head   On",
        "    Buffer_Max_Size  4M",
        "    Skip_Long_Lines  On",
        "    Refresh_Interval 10",
        "    storage.type     filesystem",
        "",
        "[OUTPUT]",
        "    Name             s3",
        "    Match            vault.audit",
        f"    bucket           {bucket}",
        f"    region           {region}",
        "    use_put_object   On",
        "    send_content_md5 true",
        "    log_key          log",
        "    compression      gzip",
        "    total_file_size  50M",
        "    upload_timeout   5m",
        "    store_dir        /buffer/s3",
        f"    s3_key_format    /{VAULT_PREFIX}%Y/%m/%d/%H%M%S-$UUID.json.gz",
        "",
    ])


def vault_audit_sidecar(image: str, region: str) -> dict:
    """Fluent Bit inside each Vault pod, as a native sidecar (an init container with
    ``restartPolicy: Always``: it starts before Vault and stops after it), following the file audit
    device on the pod's own audit volume, mounted read-only. No socket device and no network hop:
    the audit trail never crosses the network in clear text, and nothing but the bootstrap's file
    device needs enabling (Vault has no configuration-file audit stanza; OpenBao's declarative
    ``audit`` block is not in HashiCorp Vault). Its S3 credentials are Vault's IRSA role (the pod
    identity webhook patches init containers too: pkg/handler/handler.go, getPodSpecPatch), which
    AuditTrails lets PutObject below ``vault-audit/`` only.

    Returns chart values for hashicorp/vault: ``server.extraInitContainers`` and the volumes."""
    container = {
        "name": SHIPPER, "image": image, "imagePullPolicy": "IfNotPresent", "restartPolicy": "Always",
        "args": ["--config=/fluent-bit/etc/fluent-bit.conf"],
        "env": [{"name": "AWS_REGION", "value": region}, {"name": "AWS_STS_REGIONAL_ENDPOINTS", "value": "regional"}],
        "ports": [{"name": "shipper-health", "containerPort": SHIPPER_HEALTH_PORT, "protocol": "TCP"}],
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "privileged": False,
                            "readOnlyRootFilesystem": True, "runAsNonRoot": True, "runAsUser": SHIPPER_UID,
                            "runAsGroup": SHIPPER_UID, "seccompProfile": {"type": "RuntimeDefault"}},
        "startupProbe": {"httpGet": {"path": "/api/v1/health", "port": SHIPPER_HEALTH_PORT}, "periodSeconds": 2,
                         "failureThreshold": 30},
        "livenessProbe": {"httpGet": {"path": "/api/v1/health", "port": SHIPPER_HEALTH_PORT}, "periodSeconds": 10},
        "readinessProbe": {"httpGet": {"path": "/api/v1/health", "port": SHIPPER_HEALTH_PORT}, "periodSeconds": 10},
        "volumeMounts": [{"name": VAULT_AUDIT_VOLUME, "mountPath": VAULT_AUDIT_FILE.rsplit("/", 1)[0],
                          "readOnly": True},
                         {"name": f"{SHIPPER}-config", "mountPath": "/fluent-bit/etc", "readOnly": True},
                         {"name": f"{SHIPPER}-buffer", "mountPath": "/buffer"},
                         # Vault's pods mount their Kubernetes API token (exemption vault-server); the
                         # ServiceAccount admission plugin adds it to no container that already has a
                         # mount at its path, so this empty one keeps it out of the shipper (the IRSA
                         # token has a path of its own)
                         {"name": f"{SHIPPER}-no-api-token", "mountPath": API_TOKEN_DIR, "readOnly": True}],
    }
    return {"extraInitContainers": [container],
            "volumes": [{"name": f"{SHIPPER}-config", "configMap": {"name": SHIPPER}},
                        {"name": f"{SHIPPER}-buffer", "emptyDir": {"sizeLimit": "1Gi"}},
                        {"name": f"{SHIPPER}-no-api-token", "emptyDir": {"sizeLimit": "1Mi"}}]}


def shipper_config_map(config_text: Any) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": SHIPPER, "namespace": VAULT_NAMESPACE, "labels": standard_labels(SHIPPER, "audit")},
            "data": {"fluent-bit.conf": config_text}}


def falco_netpol(endpoint_cidrs: Optional[list[str]] = None) -> dict:
    """falcosidekick reaches S3 and STS (443) for its S3 output: the VPC endpoints' subnets when
    given (awsEndpointCidrs), else the internet minus the private ranges."""
    peers = ([{"ipBlock": {"cidr": cidr}} for cidr in sorted(endpoint_cidrs)] if endpoint_cidrs
             else [{"ipBlock": {"cidr": "0.0.0.0/0", "except": PRIVATE_RANGES}}])
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "allow-egress-falcosidekick-s3", "namespace": FALCO_NAMESPACE,
                         "labels": standard_labels("allow-egress-falcosidekick-s3", "network-policy")},
            "spec": {"podSelector": {"matchLabels": {"app.kubernetes.io/name": FALCOSIDEKICK}},
                     "policyTypes": ["Egress"],
                     "egress": [{"to": peers, "ports": [{"protocol": "TCP", "port": 443}]}]}}


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

        def policy(role_name: str, role: Any, prefix: str, **kw: bool) -> Any:
            return aws.iam.RolePolicy(
                f"{name}-{role_name}-write", role=role.id,
                policy=pulumi.Output.all(args.bucket_arn, args.key_arn).apply(
                    lambda v: json.dumps(write_only_policy(v[0], prefix, v[1], args.region, **kw), sort_keys=True)),
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

        def firehose(kind: str, stream_name: str, prefix: str) -> Any:
            """A Firehose stream writing to the bucket below *prefix*, with a role that may only put
            there, as AWS documents Firehose's S3 destination with a KMS-encrypted bucket (the S3
            write actions; kms:GenerateDataKey and kms:Decrypt through S3 for this bucket)."""
            role = aws.iam.Role(
                f"{name}-{kind}-firehose", description=f"{args.cluster_name}: Firehose writes {prefix}",
                assume_role_policy=account.apply(
                    lambda a: json.dumps(service_trust("firehose.amazonaws.com", a), sort_keys=True)),
                tags=tags, opts=child_opts(self))
            write = policy(f"{kind}-firehose", role, prefix, decrypt=True, multipart=True)
            return aws.kinesis.FirehoseDeliveryStream(
                f"{name}-{kind}-audit", name=stream_name, destination="extended_s3",
                server_side_encryption={"enabled": True, "key_type": "AWS_OWNED_CMK"},
                extended_s3_configuration={
                    "role_arn": role.arn, "bucket_arn": args.bucket_arn, "prefix": prefix,
                    "error_output_prefix": f"{prefix}errors/!{{firehose:error-output-type}}/",
                    "buffering_interval": 300, "buffering_size": 5,
                    # CloudWatch Logs delivers gzip-compressed batches already; WAF's are gzipped here
                    "compression_format": "UNCOMPRESSED" if kind == "eks" else "GZIP",
                },
                tags=tags, opts=child_opts(self, depends_on=[write]))

        # --- Kubernetes API server audit log: CloudWatch -> subscription -> Firehose -> S3 -----
        if c.eks:
            group_name = c.eks_log_group or f"/aws/eks/{args.cluster_name}/cluster"
            group_ref: Any = args.eks_log_group_name if args.eks_log_group_name is not None else group_name
            if c.manage_eks_log_group:
                group = aws.cloudwatch.LogGroup(f"{name}-eks-logs", name=group_name,
                                                retention_in_days=c.log_retention_days, tags=tags,
                                                opts=child_opts(self))
                group_ref = group.name
            stream = firehose("eks", f"{args.cluster_name}-eks-audit", EKS_PREFIX)
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

        # --- Vault's audit device: file device -> Fluent Bit sidecar in each Vault pod -> S3 ----
        if c.vault and args.vault and args.vault_role_name:
            write = aws.iam.RolePolicy(
                f"{name}-vault-audit-write", role=args.vault_role_name,
                policy=pulumi.Output.all(args.bucket_arn, args.key_arn).apply(
                    lambda v: json.dumps(write_only_policy(v[0], VAULT_PREFIX, v[1], args.region), sort_keys=True)),
                opts=child_opts(self))
            config_text = pulumi.Output.from_input(args.bucket_name).apply(
                lambda b: fluent_bit_config(b, args.region))
            k8s_object(f"{name}-shipper-config", shipper_config_map(config_text), child_opts(self, depends_on=[write]))
            self.sources["vault"] = {"prefix": VAULT_PREFIX}

        # --- The WAF's logs: WebACL logging -> Firehose aws-waf-logs-<cluster> -> S3 ---------------
        if c.waf and args.web_acl_arn is not None:
            # WAF logs only to destinations named aws-waf-logs-* and writes to Firehose with its own
            # service-linked role (AWSServiceRoleForWAFV2Logging): the stream is DirectPut.
            stream = firehose("waf", f"{WAF_STREAM_PREFIX}{args.cluster_name}"[:64], WAF_PREFIX)
            AwsResource("aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration", f"{name}-waf-logging",
                        {"resourceArn": args.web_acl_arn, "logDestinationConfigs": [stream.arn]}, child_opts(self),
                        outputs=())
            self.sources["waf"] = {"prefix": WAF_PREFIX}

        # --- Falco: falcosidekick's S3 output through IRSA --------------------------------------
        if c.falco and args.falco:
            role = irsa_role("falco-audit", FALCO_NAMESPACE, FALCOSIDEKICK,
                             fixed_name=falco_role_name(args.cluster_name))
            policy("falco-audit", role, FALCO_PREFIX, owner_acl=True)
            k8s_object(f"{name}-falcosidekick-s3", falco_netpol(args.aws_endpoint_cidrs), child_opts(self))
            self.sources["falco"] = {"prefix": FALCO_PREFIX}

        self.register_outputs({"sources": sorted(self.sources)})
