"""eks-enable-secrets-encryption: an EKS cluster envelope-encrypts Kubernetes Secrets with a KMS key
the account controls.

Without ``encryptionConfig`` for ``secrets``, Secrets in etcd are protected only by EKS's default
encryption with an AWS-owned key: nobody in the account can audit, rotate or revoke that key, and
a backup of etcd reads as plain text to whoever holds EKS's key. Anchors: CIS Amazon EKS Benchmark
5.3.1 (Secrets encrypted using customer-managed KMS keys), checkov CKV_AWS_58, pulumi/compliance-policies
``vendor-aws/aws/eks/Cluster/enableClusterEncryptionConfig.ts`` (which only asks for an
encryptionConfig; this policy also asks that it covers ``secrets`` and names a key).
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.k8s import get_map, get_str, is_list, strings


def check(obj, config):
    raw = obj.props.get("encryptionConfig")
    entries = list(raw) if is_list(raw) else ([raw] if raw else [])
    for i, entry in enumerate(entries):
        path = "encryptionConfig" if not is_list(raw) else f"encryptionConfig[{i}]"
        if not hasattr(entry, "get"):
            continue
        if "secrets" in strings(entry, "resources", path):
            if not get_str(get_map(entry, "provider", path), "keyArn", f"{path}.provider"):
                yield f"{path} encrypts secrets but names no provider.keyArn; name the stack's KMS key"
            return
    yield ("encryptionConfig does not envelope-encrypt secrets with a KMS key: Secrets sit in etcd under an "
           "AWS-owned key; set encryption_config={'resources': ['secrets'], 'provider': {'key_arn': <your key>}}")


POLICY = resource_policy(
    name="eks-enable-secrets-encryption",
    description="EKS clusters envelope-encrypt Kubernetes Secrets with a customer-managed KMS key.",
    kinds=[("aws:eks", "Cluster")],
    severity=Severity.HIGH,
    control=nist_800_171("3.13.16"),
    tags=["cis-eks:5.3.1", "checkov:CKV_AWS_58", "cmmc:SC.L2-3.13.16", "iec62443:SR 4.1"],
    remediation="""
Use the stack's HardenedCluster (cluster.create: true): it creates the Secrets key (explicit key
policy, rotation) and sets encryption_config. For an adopted cluster: aws eks
associate-encryption-config --cluster-name <name> --encryption-config
'[{"resources":["secrets"],"provider":{"keyArn":"<key ARN>"}}]'.""",
    check=check,
)
