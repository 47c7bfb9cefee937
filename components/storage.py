"""``EncryptedStorage``: the ``gp3-encrypted`` StorageClass every persistent volume of the stack
uses, encrypted with a KMS key the stack owns (issue 17).

Vault's raft volumes (data and audit) named ``gp3-encrypted`` and nothing created it: on a cluster
without that class their claims never bound, and with the cluster's default class (EKS: ``gp2``,
not encrypted unless the account default says so) the data sat unencrypted at rest. Now:

* a customer-managed KMS key (``aws.kms.Key``, symmetric, automatic yearly rotation, a deletion
  window) whose ARN the StorageClass names in ``parameters.kmsKeyId``; an explicit key policy with
  separation of duties (components.kms, issue 23): administrators cannot use it, only break-glass
  disables or deletes it, and it is used only through EC2/EBS (``kms:ViaService``) by principals whose
  IAM policies allow it (and, for node volumes of a created cluster, by the Auto Scaling
  service-linked role, as AWS requires for encrypted launch-template volumes). When the stack creates
  the cluster, the cluster creates this key (:func:`volume_key`, node volumes use it too) and the
  StorageClass names it. The EBS CSI driver's role gets the IAM policy it needs (``kms:CreateGrant`` only for AWS resources,
  ``Encrypt``/``Decrypt``/``ReEncrypt*``/``GenerateDataKey*``/``DescribeKey``) on this key only, and
  attaches it when ``storage.ebsCsiRoleName`` names that role;
* ``StorageClass gp3-encrypted``: provisioner ``ebs.csi.aws.com``, ``type: gp3``,
  ``encrypted: "true"``, ``kmsKeyId``, ``allowVolumeExpansion: true``,
  ``volumeBindingMode: WaitForFirstConsumer`` (the volume is created in the zone of the node the
  pod lands on), ``reclaimPolicy: Retain`` by default (deleting a claim never deletes audit or raft
  data); marked as the cluster's default class unless ``storage.defaultClass`` is false.

A golden-path workload asks for per-replica volumes with ``persistentVolumes`` (docs/config.md):
it then runs as a StatefulSet whose ``volumeClaimTemplates`` name this class.
"""
from __future__ import annotations

import json
from typing import Any, Literal, Optional

import pulumi
from pydantic import Field, field_validator

from .base import weakens
from .base import DNS1123_LABEL, HardenedComponent, StrictModel, child_opts, k8s_object, standard_labels

TOKEN = "hardened:index:EncryptedStorage"

PROVISIONER = "ebs.csi.aws.com"
DEFAULT_CLASS = "gp3-encrypted"
#: What the EBS CSI driver needs on a customer-managed key (AWS's EBS CSI documentation).
CSI_KEY_ACTIONS = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"]


class StorageConfig(StrictModel):
    enabled: bool = Field(True, description="Create the encrypted StorageClass and its KMS key (default true).", json_schema_extra=weakens('the encrypted StorageClass is off'))
    class_name: str = Field(DEFAULT_CLASS, description="StorageClass name (default gp3-encrypted, the class Vault's "
                                                       "volumes and workloads' persistentVolumes use).")
    reclaim_policy: Literal["Retain", "Delete"] = Field(
        "Retain", description="What happens to a volume when its claim is deleted (default Retain: raft, audit and "
                              "workload data are never deleted with a claim; delete released volumes deliberately).", json_schema_extra=weakens('volumes (and their data) are deleted with their claims'))
    default_class: bool = Field(
        True, description="Mark the class as the cluster default (default true: a claim that names no class is "
                          "encrypted too). Unmark EKS's gp2 class so it is the only default.")
    iops: Optional[int] = Field(None, ge=3000, le=16000, description="gp3 IOPS (default none: gp3's baseline 3000).")
    throughput: Optional[int] = Field(None, ge=125, le=1000,
                                      description="gp3 throughput in MiB/s (default none: gp3's baseline 125).")
    kms_deletion_window_days: int = Field(30, ge=7, le=30, description="Key deletion waiting period (default 30).")
    rotation_period_days: int = Field(365, ge=90, le=2560,
                                      description="Automatic key rotation period (default 365, the seed's encryption "
                                                  "key rotation).")
    ebs_csi_role_name: Optional[str] = Field(
        None, description="IAM role name of the EBS CSI driver (IRSA or Pod Identity). When set, the policy allowing "
                          "it to use the key is attached to it; default none: attach the exported policy yourself.")

    @field_validator("class_name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not DNS1123_LABEL.match(v) or len(v) > 63:
            raise ValueError(f"className {v!r} is not a DNS-1123 label")
        return v


class EncryptedStorageArgs(StrictModel):
    config: StorageConfig = Field(default_factory=StorageConfig, description="The storage section.")
    cluster_name: str = Field("cluster", description="Cluster name (key alias, tags).")
    region: str = Field("us-east-1", description="AWS region (the key policy's kms:ViaService).")
    account_id: Any = Field(None, description="AWS account (default: the caller's).")
    key_admins: list[str] = Field(default_factory=list, description="cluster.keyAdmins.")
    key_arn: Any = Field(None, description="The volume key when the cluster created it (default none: one is "
                                           "created here).")


#: What the Auto Scaling service-linked role needs to launch nodes with encrypted volumes (AWS:
#: "Required AWS KMS key policy for use with encrypted volumes", EC2 Auto Scaling user guide).
AUTOSCALING_ACTIONS = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"]


def volume_key_policy(account: str, region: str, cluster_name: str, admins: list[str], autoscaling: bool) -> dict:
    """The volume key's policy: EBS use through EC2 only (the CSI driver's IAM policy decides which
    role); for a created cluster's node volumes, the Auto Scaling service-linked role."""
    from .kms import break_glass_arn, key_policy, role_use, via_service_use

    users = [via_service_use("ec2", region, account, CSI_KEY_ACTIONS + ["kms:CreateGrant"], "UseThroughEbsOnly")]
    if autoscaling:
        users += role_use(f"arn:aws:iam::{account}:role/aws-service-role/autoscaling.amazonaws.com/"
                          "AWSServiceRoleForAutoScaling", AUTOSCALING_ACTIONS, "NodeVolumesByAutoScaling",
                          grants_for_aws_resources=True)
    return key_policy(account=account, admins=admins, break_glass_arn=break_glass_arn(cluster_name, account),
                      users=users)


def volume_key(name: str, cluster_name: str, c: StorageConfig, account: Any, region: str, admins: list[str],
               autoscaling: bool, parent: pulumi.Resource) -> Any:
    """The volume key, with its explicit policy (created by EncryptedStorage, or by the cluster)."""
    import pulumi_aws as aws

    def policy(a: str) -> str:
        return json.dumps(volume_key_policy(a, region, cluster_name, admins, autoscaling), sort_keys=True)

    tags = {"hardened-stack/cluster": cluster_name, "hardened-stack/component": "storage"}
    key = aws.kms.Key(
        f"{name}-volume-key", description=f"EBS volume encryption for {cluster_name} ({c.class_name})",
        key_usage="ENCRYPT_DECRYPT", customer_master_key_spec="SYMMETRIC_DEFAULT", enable_key_rotation=True,
        rotation_period_in_days=c.rotation_period_days, deletion_window_in_days=c.kms_deletion_window_days,
        bypass_policy_lockout_safety_check=True, policy=pulumi.Output.from_input(account).apply(policy),
        tags=tags, opts=child_opts(parent))
    aws.kms.Alias(f"{name}-volume-alias", name=f"alias/{cluster_name}-volumes",
                  target_key_id=key.key_id, opts=child_opts(parent))
    return key


def storage_class(c: StorageConfig, kms_key_arn: pulumi.Input[str]) -> dict:
    """The StorageClass manifest (pure; *kms_key_arn* may be an Output: it is no policy field)."""
    parameters: dict = {"type": "gp3", "encrypted": "true", "kmsKeyId": kms_key_arn,
                        "csi.storage.k8s.io/fstype": "ext4"}
    if c.iops:
        parameters["iops"] = str(c.iops)
    if c.throughput:
        parameters["throughput"] = str(c.throughput)
    annotations = {"storageclass.kubernetes.io/is-default-class": "true"} if c.default_class else {}
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": c.class_name, "labels": standard_labels(c.class_name, "storage"),
                     **({"annotations": annotations} if annotations else {})},
        "provisioner": PROVISIONER,
        "parameters": parameters,
        "allowVolumeExpansion": True,
        "volumeBindingMode": "WaitForFirstConsumer",
        "reclaimPolicy": c.reclaim_policy,
    }


def csi_key_policy(key_arn: str) -> dict:
    """What the EBS CSI driver's role may do with the key: use it, and grant EBS its use."""
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "EbsCsiUseKey", "Effect": "Allow", "Action": CSI_KEY_ACTIONS, "Resource": key_arn},
        {"Sid": "EbsCsiGrantForAwsResources", "Effect": "Allow",
         "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"], "Resource": key_arn,
         "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}},
    ]}


class EncryptedStorage(HardenedComponent):
    """The stack's KMS key for volumes and the encrypted gp3 StorageClass."""

    def __init__(self, name: str, args: EncryptedStorageArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TOKEN, name, None, opts)
        import pulumi_aws as aws

        c = args.config
        tags = {"hardened-stack/cluster": args.cluster_name, "hardened-stack/component": "storage"}
        if args.key_arn is not None:
            self.key = None
            key_arn: Any = pulumi.Output.from_input(args.key_arn)
        else:
            account = (pulumi.Output.from_input(args.account_id) if args.account_id
                       else aws.get_caller_identity_output(opts=pulumi.InvokeOptions(parent=self)).account_id)
            self.key = volume_key(name, args.cluster_name, c, account, args.region, list(args.key_admins),
                                  autoscaling=False, parent=self)
            key_arn = self.key.arn
        self.key_arn = key_arn
        self.csi_policy = aws.iam.Policy(
            f"{name}-ebs-csi-kms", description=f"EBS CSI driver use of the {args.cluster_name} volume key",
            policy=key_arn.apply(lambda arn: json.dumps(csi_key_policy(arn), sort_keys=True)),
            tags=tags, opts=child_opts(self))
        if c.ebs_csi_role_name:
            aws.iam.RolePolicyAttachment(f"{name}-ebs-csi-kms-attach", role=c.ebs_csi_role_name,
                                         policy_arn=self.csi_policy.arn, opts=child_opts(self))
        self.storage_class = k8s_object(f"{name}-class", storage_class(c, key_arn), child_opts(self))
        self.class_name = c.class_name
        self.ready = [self.storage_class]
        self.register_outputs({"storageClass": c.class_name, "volumeKeyArn": key_arn,
                               "ebsCsiPolicyArn": self.csi_policy.arn})
