"""``HardenedCluster``: the EKS cluster under the platform, created to the CIS Amazon EKS Benchmark
or adopted and checked (issue 22; issue 21 item 3).

``cluster.create: true`` builds, in one ``pulumi up`` and in this order:

* **network**: a VPC over three zones; private subnets (one /18 a zone) for nodes and pods, public
  subnets (one /24 a zone) for the ALB only (nodes never get a public address); a NAT gateway a
  zone for the public registries the charts pull from; VPC endpoints for ECR (api, dkr), S3
  (gateway), STS, CloudWatch Logs, KMS and EC2, so AWS API calls never leave the VPC; VPC flow logs
  into the audit bucket (:meth:`HardenedCluster.deliver_flow_logs`, under ``vpc-flow-logs/``);
* **control plane**: the version from ``cluster.kubernetesVersion`` (the window the stack validates
  and EKS supports, :data:`EKS_VERSIONS`); Secrets envelope-encrypted with the stack's own KMS key
  (explicit key policy with separation of duties, components.kms; rotation on); all five log types
  (api, audit, authenticator, controllerManager, scheduler) into ``/aws/eks/<name>/cluster``, which
  the audit trail subscribes to (components.audit); the private endpoint on and the public endpoint
  off (``cluster.publicAccessCidrs`` is the only alternative, never 0.0.0.0/0);
  ``authenticationMode: API`` (access entries, no aws-auth ConfigMap), the creator gets no
  standing admin; the IAM OIDC provider for IRSA, whose ARN and issuer the rest of the stack uses;
* **access**: cluster-admin only through the break-glass role (trust requires MFA, sessions of at
  most an hour, every use in CloudTrail and the audit log); the deployer role of the pipeline;
  day-to-day roles mapped to namespaced access policies (view, edit, admin);
* **add-ons, pinned**: VPC CNI with ``enableNetworkPolicy`` on and its own IRSA role (the CNI
  policy is on that role, never on the node's), EBS CSI with its IRSA role (and the storage key's
  policy, components.storage), CoreDNS, kube-proxy;
* **nodes**: managed node groups from a launch template: Bottlerocket (or AL2023), IMDSv2 required
  with hop limit 1 (a pod cannot reach the node's credentials), root and data volumes encrypted
  with the storage key, no SSH key and no remote access, a node security group admitting only the
  control plane and the nodes, a node role with only the worker and ECR pull policies.

``cluster.create: false`` adopts ``cluster.name``: :func:`preflight` reads it
(``aws.eks.get_cluster``, ``aws.eks.get_addon`` for vpc-cni, Cloud Control for the encryption
configuration, which get_cluster does not return) and refuses, naming the fix, when NetworkPolicy
is not enforced, audit logging is off, Secrets are not envelope-encrypted with a KMS key, or the
endpoint is public to 0.0.0.0/0. Offline (``python -m hardened render``) the look-ups answer from
``cluster.offlineLookup`` (:func:`offline_answers`).

Either way the component exports ``kubeconfig`` (endpoint, CA, ``aws eks get-token``): the
program builds the Kubernetes provider every other component uses from it (components never
create providers, STYLE.md).
"""
from __future__ import annotations

import ipaddress
import json
from typing import Any, Literal, Optional

import pulumi
from pydantic import Field, field_validator, model_validator

from .base import Cidr, ConfigError, HardenedComponent, StrictModel, child_opts
from .kms import break_glass_arn, break_glass_role_name, key_policy, role_use

TOKEN = "hardened:index:HardenedCluster"

#: The five control-plane log types (CIS EKS 2.1.1; checkov CKV_AWS_37).
LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
#: Kubernetes versions the stack creates or adopts: the ones its manifests are validated against
#: (components.base.SUPPORTED_KUBERNETES_VERSIONS) that EKS offers; the add-on versions pinned for
#: each (from `aws eks describe-addon-versions`; a new minor comes with its pins).
EKS_VERSIONS: dict[str, dict[str, str]] = {
    "1.32": {"vpc-cni": "v1.19.5-eksbuild.1", "aws-ebs-csi-driver": "v1.44.0-eksbuild.1",
             "coredns": "v1.11.4-eksbuild.14", "kube-proxy": "v1.32.5-eksbuild.2"},
    "1.33": {"vpc-cni": "v1.19.5-eksbuild.1", "aws-ebs-csi-driver": "v1.44.0-eksbuild.1",
             "coredns": "v1.12.1-eksbuild.2", "kube-proxy": "v1.33.0-eksbuild.2"},
}
#: Interface endpoints (plus the S3 gateway endpoint): what nodes, the CNI, the EBS CSI driver,
#: IRSA and Vault's seal call.
INTERFACE_ENDPOINTS = ["ec2", "ecr.api", "ecr.dkr", "kms", "logs", "sts"]
CNI_SERVICE_ACCOUNT = ("kube-system", "aws-node")
EBS_CSI_SERVICE_ACCOUNT = ("kube-system", "ebs-csi-controller-sa")
#: AWS managed policies (their ARNs, partition aws).
MANAGED = {
    "cluster": "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy",
    "worker": "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "ecr": "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
    "cni": "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    "ebs": "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy",
}
ACCESS_POLICIES = {
    "view": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy",
    "edit": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy",
    "admin": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminPolicy",
    "cluster-admin": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
}
FLOW_LOG_PREFIX = "vpc-flow-logs/"
IAM_ROLE_ARN = r"^arn:aws(-[a-z]+)*:iam::\d{12}:(root|role/[\w+=,.@/-]+|user/[\w+=,.@/-]+)$"


# ---------------------------------------------------------------------------------------------
# Configuration (the fields ClusterConfig adds, components/config.py)
# ---------------------------------------------------------------------------------------------

class NodeGroupConfig(StrictModel):
    name: str = Field("system", description="Node group name (default system).")
    os: Literal["bottlerocket", "al2023"] = Field(
        "bottlerocket", description="Node OS (default bottlerocket: a read-only, minimal, container-only OS with "
                                    "SELinux enforcing; al2023 is the general-purpose alternative).")
    instance_types: list[str] = Field(default_factory=lambda: ["m7i.xlarge"], min_length=1,
                                      description="Instance types (default m7i.xlarge).")
    min_size: int = Field(3, ge=1, description="Minimum nodes (default 3: one a zone).")
    desired_size: int = Field(3, ge=1, description="Desired nodes (default 3).")
    max_size: int = Field(6, ge=1, description="Maximum nodes (default 6).")
    disk_size_gib: int = Field(50, ge=20, le=16384, description="Data (Bottlerocket) or root volume size (default 50).")
    labels: dict[str, str] = Field(default_factory=dict, description="Kubernetes node labels (default none).")

    @model_validator(mode="after")
    def _sizes(self) -> "NodeGroupConfig":
        if not self.min_size <= self.desired_size <= self.max_size:
            raise ValueError(f"node group {self.name}: minSize <= desiredSize <= maxSize must hold")
        return self


class AccessRole(StrictModel):
    """A day-to-day role: an access entry with a namespaced access policy (never cluster-wide)."""

    principal_arn: str = Field(pattern=IAM_ROLE_ARN, description="IAM role (or user) ARN.")
    policy: Literal["view", "edit", "admin"] = Field(description="EKS access policy (view, edit or admin).")
    namespaces: list[str] = Field(min_length=1, description="Namespaces it applies in (at least one).")


class BreakGlassConfig(StrictModel):
    trusted_principals: list[str] = Field(
        default_factory=list,
        description="Who may assume the break-glass role, with MFA (IAM user or role ARNs, or the account root to "
                    "delegate to IAM; default none: the account root, so IAM policies decide who).")
    max_session_seconds: int = Field(3600, ge=900, le=3600,
                                     description="Longest break-glass session (default 3600: one hour, the least "
                                                 "a role accepts is 900).")

    @field_validator("trusted_principals")
    @classmethod
    def _arns(cls, v: list[str]) -> list[str]:
        import re

        for arn in v:
            if not re.match(IAM_ROLE_ARN, arn):
                raise ValueError(f"trustedPrincipals entry {arn!r} is not an IAM user, role or account root ARN")
        return v


WHOLE_INTERNET = ("is the whole internet; list your admins' ranges, or leave publicAccessCidrs empty "
                  "(private endpoint only)")


def public_access_problem(entry: Any) -> Optional[str]:
    """What is wrong with *entry* as a range allowed to the public API endpoint: the shared CIDR
    rule (:func:`components.base.cidr_problem`), except that every address is told as the whole
    internet, with this field's fix."""
    from .base import cidr_problem

    if isinstance(entry, str):
        try:
            if ipaddress.ip_network(entry.strip(), strict=False).prefixlen == 0:
                return WHOLE_INTERNET
        except ValueError:
            pass
    return cidr_problem(entry)


class OfflineLookup(StrictModel):
    """What an adopted cluster looks like when the stack is rendered offline (the mocks answer
    ``aws.eks.get_cluster``/``get_addon`` with these). Ignored by ``pulumi up``, which asks AWS.
    The default is a cluster that passes the preflight; set a field to see the refusal."""

    network_policy: bool = Field(True, description="vpc-cni's enableNetworkPolicy (default true).")
    log_types: list[str] = Field(default_factory=lambda: list(LOG_TYPES),
                                 description="Enabled control-plane log types (default all five).")
    secrets_key_arn: Optional[str] = Field(
        "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-4000-8000-000000000000",
        description="KMS key of the Secrets encryption configuration (null: none).")
    endpoint_public_access: bool = Field(False, description="Public endpoint on (default false).")
    public_access_cidrs: list[str] = Field(default_factory=lambda: ["0.0.0.0/0"],
                                           description="Public endpoint CIDRs (EKS's default when public).")


class ClusterFields(StrictModel):
    """The cluster fields of ``cluster`` beyond name, version, region and account."""

    create: bool = Field(
        False, description="Create the hardened EKS cluster (true) or adopt cluster.name (default false: the stack "
                           "installs onto an existing cluster after checking it, see docs/cluster.md). Prod sets true.")
    vpc_cidr: Cidr = Field("10.0.0.0/16", description="VPC range when created (default 10.0.0.0/16, a /16 at most "
                                                     "/20: three private /18s and three public /24s are cut from it).")
    availability_zones: list[str] = Field(
        default_factory=list, description="Three zones (default: <region>a, b and c).")
    nat_gateways: bool = Field(
        True, description="A NAT gateway a zone for egress to public registries (default true: the charts' images "
                          "come from ghcr.io, quay.io and docker.io). False with a pull-through cache: no internet.")
    public_access_cidrs: list[Cidr] = Field(
        default_factory=list,
        description="CIDRs allowed to reach a public API endpoint (default none: the public endpoint is off; the "
                    "private one is always on). Never 0.0.0.0/0.")
    node_groups: list[NodeGroupConfig] = Field(default_factory=lambda: [NodeGroupConfig()],
                                               description="Managed node groups (default one 'system' group).")
    deployer_role_arn: Optional[str] = Field(
        None, pattern=IAM_ROLE_ARN,
        description="The pipeline role that runs `pulumi up` (required with create): its access entry is the only "
                    "standing cluster-admin besides break-glass (the creator gets none), and the Kubernetes provider "
                    "assumes it.")
    access: list[AccessRole] = Field(default_factory=list,
                                     description="Day-to-day roles with namespaced access policies (default none).")
    break_glass: BreakGlassConfig = Field(default_factory=BreakGlassConfig,
                                          description="The break-glass role (MFA, one-hour sessions).")
    key_admins: list[str] = Field(
        default_factory=list,
        description="IAM roles that administer the stack's KMS keys without using them (default none: only "
                    "break-glass manages them). Include the deployer: creating and tagging keys is administration.")
    secrets_key_deletion_window_days: int = Field(30, ge=7, le=30,
                                                  description="Deletion window of the Secrets key (default 30).")
    log_retention_days: int = Field(90, description="Retention of the control-plane log group (default 90; the "
                                                    "audit archive keeps the long copy).")
    offline_lookup: OfflineLookup = Field(default_factory=OfflineLookup,
                                          description="Adopted cluster as the offline render sees it (see above).")

    @field_validator("key_admins")
    @classmethod
    def _admins(cls, v: list[str]) -> list[str]:
        import re

        for arn in v:
            if not re.match(IAM_ROLE_ARN, arn) or arn.endswith(":root"):
                raise ValueError(f"keyAdmins entry {arn!r} must be an IAM role or user ARN (not the account root: "
                                 "that would hand administration to every IAM policy)")
        return v

    @field_validator("public_access_cidrs", mode="before")
    @classmethod
    def _public(cls, v: Any) -> Any:
        # before the shared Cidr rule, whose advice (name where the range lives) does not fit a
        # public endpoint: the whole internet gets this field's own fix
        for cidr in v if isinstance(v, list) else []:
            if public_access_problem(cidr) == WHOLE_INTERNET:
                raise ValueError(f"publicAccessCidrs entry {cidr!r} {WHOLE_INTERNET}")
        return v

    @field_validator("vpc_cidr")
    @classmethod
    def _vpc(cls, v: str) -> str:
        net = ipaddress.ip_network(v, strict=True)
        if not 16 <= net.prefixlen <= 20 or not net.is_private:
            raise ValueError(f"vpcCidr {v!r} must be a private range from /16 to /20")
        return v

    @field_validator("availability_zones")
    @classmethod
    def _zones(cls, v: list[str]) -> list[str]:
        if v and len(set(v)) != 3:
            raise ValueError("availabilityZones must name three different zones")
        return v


class HardenedClusterArgs(StrictModel):
    name: str = Field(description="cluster.name.")
    region: str = Field("us-east-1", description="cluster.region.")
    account_id: Optional[str] = Field(None, description="cluster.accountId (default: the caller's account).")
    kubernetes_version: str = Field("1.33", description="cluster.kubernetesVersion.")
    environment: str = Field("prod", description="cluster.environment.")
    settings: ClusterFields = Field(default_factory=ClusterFields, description="The cluster section.")
    alb_ports: list[int] = Field(default_factory=list,
                                 description="Ports of the ingress gateway pods the ALB targets (ip targets; default "
                                             "none: no ALB). The node security group admits them from the public "
                                             "subnets only, where nothing but the ALB (and NAT) lives.")
    storage: Any = Field(None, description="The storage section (components.storage.StorageConfig): the volume key "
                                           "the cluster creates for node volumes and the gp3-encrypted class.")

    @model_validator(mode="after")
    def _checks(self) -> "HardenedClusterArgs":
        if self.kubernetes_version not in EKS_VERSIONS:
            raise ValueError(f"cluster.kubernetesVersion {self.kubernetes_version!r} is outside the supported window "
                             f"{sorted(EKS_VERSIONS)}")
        if self.settings.create and not self.settings.deployer_role_arn:
            raise ValueError("cluster.deployerRoleArn is required with cluster.create: the creator gets no standing "
                             "cluster-admin, so name the pipeline role that runs `pulumi up`")
        return self

    @property
    def zones(self) -> list[str]:
        return self.settings.availability_zones or [f"{self.region}{z}" for z in "abc"]


# ---------------------------------------------------------------------------------------------
# Pure functions (unit-tested)
# ---------------------------------------------------------------------------------------------

def subnet_plan(vpc_cidr: str) -> dict[str, list[str]]:
    """Three private /18-equivalents (the first three quarters) and three public ranges cut from
    the last quarter (/24 in a /16): nodes and pods get most addresses, the ALB a few."""
    net = ipaddress.ip_network(vpc_cidr)
    quarters = list(net.subnets(prefixlen_diff=2))
    public = list(quarters[3].subnets(new_prefix=min(net.prefixlen + 8, 28)))[:3]
    return {"private": [str(q) for q in quarters[:3]], "public": [str(p) for p in public]}


def kubeconfig(cluster_name: str, endpoint: str, ca_data: str, region: str, role_arn: Optional[str] = None) -> str:
    """A kubeconfig for the Kubernetes provider: the cluster's endpoint and CA, a token from
    ``aws eks get-token`` (never a static credential; as the deployer role when given)."""
    args = ["eks", "get-token", "--cluster-name", cluster_name, "--region", region, "--output", "json"]
    if role_arn:
        args += ["--role-arn", role_arn]
    doc = {
        "apiVersion": "v1", "kind": "Config", "current-context": cluster_name,
        "clusters": [{"name": cluster_name, "cluster": {"server": endpoint, "certificate-authority-data": ca_data}}],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
        "users": [{"name": cluster_name, "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1", "command": "aws", "args": args,
            "interactiveMode": "Never"}}}],
    }
    return json.dumps(doc, sort_keys=True)


def break_glass_trust(account: str, principals: list[str], max_session_seconds: int) -> dict:
    """Only with MFA, and only recently authenticated (``aws:MultiFactorAuthAge``)."""
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "BreakGlassWithMfa", "Effect": "Allow",
        "Principal": {"AWS": sorted(principals) or [f"arn:aws:iam::{account}:root"]},
        "Action": "sts:AssumeRole",
        "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"},
                      "NumericLessThan": {"aws:MultiFactorAuthAge": str(max_session_seconds)}},
    }]}


def break_glass_kms_policy(region: str, account: str) -> dict:
    """The break-glass role's IAM side of the key policies' lifeline (they name the account)."""
    from .kms import BREAK_GLASS_ACTIONS

    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "KeyLifeline", "Effect": "Allow", "Action": sorted(BREAK_GLASS_ACTIONS + ["kms:DescribeKey",
                                                                                      "kms:GetKeyPolicy"]),
        "Resource": f"arn:aws:kms:{region}:{account}:key/*",
        "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}]}


def irsa_trust(provider_arn: str, namespace: str, service_account: str) -> dict:
    """IRSA trust for exactly one ServiceAccount, for STS only."""
    issuer = provider_arn.split(":oidc-provider/", 1)[1]
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": provider_arn}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{issuer}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                                       f"{issuer}:aud": "sts.amazonaws.com"}}}]}


def service_trust(service: str) -> dict:
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": service}, "Action": ["sts:AssumeRole", "sts:TagSession"]
        if service == "eks.amazonaws.com" else "sts:AssumeRole"}]}


def cni_configuration() -> str:
    """vpc-cni add-on configuration: the network policy agent on (NetworkPolicy enforced, CIS EKS
    4.3.2), its default-allow off for the first seconds of a pod only in strict mode."""
    return json.dumps({"enableNetworkPolicy": "true", "nodeAgent": {"enablePolicyEventLogs": "true"}},
                      sort_keys=True)


def launch_template_devices(os: str, key_arn: Any, size: int) -> list[dict]:
    """Encrypted gp3 volumes: Bottlerocket's OS (/dev/xvda) and data (/dev/xvdb) volumes, AL2023's root."""
    def ebs(device: str, gib: int) -> dict:
        return {"device_name": device, "ebs": {"encrypted": "true", "kms_key_id": key_arn, "volume_type": "gp3",
                                               "volume_size": gib, "delete_on_termination": "true"}}
    return [ebs("/dev/xvda", 4), ebs("/dev/xvdb", size)] if os == "bottlerocket" else [ebs("/dev/xvda", size)]


# ---------------------------------------------------------------------------------------------
# Adoption: the preflight
# ---------------------------------------------------------------------------------------------

def preflight_findings(cluster: dict, cni_configuration_values: Optional[str], encryption: list) -> list[str]:
    """What an adopted cluster lacks that the stack depends on, each with its fix (empty: adopt).
    *cluster* is ``get_cluster``'s result in wire form; *encryption* the cluster's
    EncryptionConfig (Cloud Control)."""
    name = cluster.get("name", "<cluster>")
    out = []
    try:
        cni = json.loads(cni_configuration_values or "{}")
    except ValueError:
        cni = {}
    if str(cni.get("enableNetworkPolicy", "false")).lower() != "true":
        out.append("NetworkPolicy is not enforced (vpc-cni enableNetworkPolicy is off): every default-deny policy "
                   "of the stack would be a no-op. Fix: aws eks update-addon --cluster-name "
                   f"{name} --addon-name vpc-cni --configuration-values '{{\"enableNetworkPolicy\":\"true\"}}'")
    logs = set(cluster.get("enabledClusterLogTypes") or [])
    missing = [t for t in LOG_TYPES if t not in logs]
    if "audit" in missing:
        out.append("control-plane audit logging is off: the API server's audit trail reaches no archive. Fix: aws eks "
                   f"update-cluster-config --name {name} --logging "
                   "'{\"clusterLogging\":[{\"types\":[\"api\",\"audit\",\"authenticator\",\"controllerManager\","
                   "\"scheduler\"],\"enabled\":true}]}'")
    secrets = [e for e in encryption or [] if "secrets" in (e.get("Resources") or e.get("resources") or [])]
    if not secrets:
        out.append("Secrets are not envelope-encrypted with a KMS key. Fix: aws eks associate-encryption-config "
                   f"--cluster-name {name} --encryption-config "
                   "'[{\"resources\":[\"secrets\"],\"provider\":{\"keyArn\":\"<your KMS key ARN>\"}}]'")
    vpc = cluster.get("vpcConfig") or {}
    if vpc.get("endpointPublicAccess") and any(
            ipaddress.ip_network(c, strict=False).prefixlen == 0 for c in vpc.get("publicAccessCidrs") or []):
        out.append("the API endpoint is public to 0.0.0.0/0. Fix: aws eks update-cluster-config --name "
                   f"{name} --resources-vpc-config endpointPrivateAccess=true,endpointPublicAccess=false "
                   "(or publicAccessCidrs=<your admins' ranges>)")
    return out


def offline_answers(cluster_name: str, region: str, account: str, facts: OfflineLookup) -> dict[str, dict]:
    """The look-ups' answers under render (hardened/render.py's mocks), by invoke token."""
    issuer_id = _issuer_id(cluster_name)
    vpc = {"endpointPrivateAccess": True, "endpointPublicAccess": facts.endpoint_public_access,
           "publicAccessCidrs": facts.public_access_cidrs if facts.endpoint_public_access else [],
           "clusterSecurityGroupId": "sg-0adopted0000000001", "securityGroupIds": [], "subnetIds": [],
           "vpcId": "vpc-0adopted000000001"}
    encryption = ([{"Resources": ["secrets"], "Provider": {"KeyArn": facts.secrets_key_arn}}]
                  if facts.secrets_key_arn else [])
    return {
        "aws:eks/getCluster:getCluster": {
            "name": cluster_name, "id": cluster_name, "arn": f"arn:aws:eks:{region}:{account}:cluster/{cluster_name}",
            "endpoint": f"https://{issuer_id}.gr7.{region}.eks.amazonaws.com",
            "certificateAuthorities": [{"data": _mock_ca(cluster_name)}],
            "identities": [{"oidcs": [{"issuer": f"https://oidc.eks.{region}.amazonaws.com/id/{issuer_id}"}]}],
            "enabledClusterLogTypes": list(facts.log_types), "vpcConfig": vpc, "status": "ACTIVE",
            "accessConfigs": [{"authenticationMode": "API"}],
        },
        "aws:eks/getAddon:getAddon": {
            "addonName": "vpc-cni", "clusterName": cluster_name, "id": f"{cluster_name}:vpc-cni",
            "configurationValues": json.dumps({"enableNetworkPolicy": "true" if facts.network_policy else "false"}),
        },
        "aws:cloudcontrol/getResource:getResource": {
            "typeName": "AWS::EKS::Cluster", "identifier": cluster_name, "id": cluster_name,
            "properties": json.dumps({"Name": cluster_name, "EncryptionConfig": encryption}, sort_keys=True),
        },
    }


def _issuer_id(cluster_name: str) -> str:
    import hashlib

    return hashlib.sha256(f"eks:{cluster_name}".encode()).hexdigest()[:32].upper()


def _mock_ca(cluster_name: str) -> str:
    import base64

    return base64.b64encode(f"-----BEGIN CERTIFICATE-----\noffline CA of {cluster_name}\n"
                            "-----END CERTIFICATE-----\n".encode()).decode()


def mock_cluster_outputs(inputs: dict, region: str, account: str) -> dict:
    """What EKS computes for a created cluster, shaped as AWS shapes it (render's mocks)."""
    name = inputs.get("name") or "cluster"
    issuer_id = _issuer_id(name)
    vpc = dict(inputs.get("vpcConfig") or {})
    vpc.setdefault("clusterSecurityGroupId", f"sg-{issuer_id[:17].lower()}")
    return {"endpoint": f"https://{issuer_id}.gr7.{region}.eks.amazonaws.com",
            "certificateAuthority": {"data": _mock_ca(name)},
            "identities": [{"oidcs": [{"issuer": f"https://oidc.eks.{region}.amazonaws.com/id/{issuer_id}"}]}],
            "vpcConfig": vpc, "arn": f"arn:aws:eks:{region}:{account}:cluster/{name}", "status": "ACTIVE"}


# ---------------------------------------------------------------------------------------------
# The component
# ---------------------------------------------------------------------------------------------

class HardenedCluster(HardenedComponent):
    """The EKS cluster, created hardened or adopted after a preflight; exports its kubeconfig."""

    def __init__(self, name: str, args: HardenedClusterArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TOKEN, name, None, opts)
        import pulumi_aws as aws

        s = args.settings
        self.args = args
        self.cluster_name = args.name
        tags = {"hardened-stack/cluster": args.name, "hardened-stack/component": "cluster"}
        self.tags = tags
        account: Any = (pulumi.Output.from_input(args.account_id) if args.account_id
                        else aws.get_caller_identity_output(opts=pulumi.InvokeOptions(parent=self)).account_id)
        self.account = account
        self.break_glass_arn = pulumi.Output.from_input(account).apply(lambda a: break_glass_arn(args.name, a))

        # --- break-glass: cluster-admin only with MFA, one-hour sessions --------------------
        self.break_glass_role = aws.iam.Role(
            f"{name}-break-glass", name=break_glass_role_name(args.name),
            description=f"{args.name}: break-glass cluster-admin and KMS key lifeline (MFA only; docs/cluster.md)",
            assume_role_policy=pulumi.Output.from_input(account).apply(lambda a: json.dumps(
                break_glass_trust(a, s.break_glass.trusted_principals, s.break_glass.max_session_seconds),
                sort_keys=True)),
            max_session_duration=s.break_glass.max_session_seconds, tags=tags, opts=child_opts(self))
        aws.iam.RolePolicy(
            f"{name}-break-glass-kms", role=self.break_glass_role.id,
            policy=pulumi.Output.from_input(account).apply(lambda a: json.dumps(
                break_glass_kms_policy(args.region, a), sort_keys=True)), opts=child_opts(self))

        if s.create:
            self._create(name, args, account, aws)
        else:
            self._adopt(name, args, account, aws)
        self.register_outputs({"clusterName": args.name, "created": s.create, "oidcProviderArn": self.oidc_provider_arn,
                               "breakGlassRoleArn": self.break_glass_arn, "vpcId": self.vpc_id,
                               "publicSubnetIds": [sn.id for sn in getattr(self, "public_subnets", [])]})

    # -- adoption -------------------------------------------------------------------------------
    def _adopt(self, name: str, args: HardenedClusterArgs, account: Any, aws: Any) -> None:
        invoke = pulumi.InvokeOptions(parent=self)
        found = aws.eks.get_cluster(name=args.name, opts=invoke)
        addon = aws.eks.get_addon(cluster_name=args.name, addon_name="vpc-cni", opts=invoke)
        props = aws.cloudcontrol.get_resource(type_name="AWS::EKS::Cluster", identifier=args.name, opts=invoke)
        cluster = {"name": found.name, "enabledClusterLogTypes": list(found.enabled_cluster_log_types or []),
                   "vpcConfig": {"endpointPublicAccess": found.vpc_config.endpoint_public_access,
                                 "publicAccessCidrs": list(found.vpc_config.public_access_cidrs or [])}}
        try:
            encryption = json.loads(props.properties or "{}").get("EncryptionConfig") or []
        except ValueError:
            encryption = []
        findings = preflight_findings(cluster, addon.configuration_values, encryption)
        if findings:
            raise ConfigError(f"cluster {args.name} (cluster.create: false) cannot be adopted:\n"
                              + "\n".join(f"  - {f}" for f in findings)
                              + "\n  (or set cluster.create: true to let the stack create a hardened cluster)")
        issuer = found.identities[0].oidcs[0].issuer
        self.oidc_issuer_url = issuer
        self.oidc_provider_arn = None  # the stack's IRSA consumers create or name it (cluster.oidcProviderArn)
        self.kubeconfig = pulumi.Output.secret(kubeconfig(
            args.name, found.endpoint, found.certificate_authorities[0].data, args.region,
            args.settings.deployer_role_arn))
        self.vpc_id = found.vpc_config.vpc_id
        self.ready: list[pulumi.Resource] = [self.break_glass_role]

    # -- creation -------------------------------------------------------------------------------
    def _create(self, name: str, args: HardenedClusterArgs, account: Any, aws: Any) -> None:
        s = args.settings
        tags = self.tags
        plan = subnet_plan(s.vpc_cidr)
        zones = args.zones

        # --- network ---------------------------------------------------------------------------
        self.vpc = aws.ec2.Vpc(f"{name}-vpc", cidr_block=s.vpc_cidr, enable_dns_hostnames=True,
                               enable_dns_support=True, tags={**tags, "Name": f"{args.name}"}, opts=child_opts(self))
        # the default security group admits nothing (CIS AWS 5.4): no rules at all
        aws.ec2.DefaultSecurityGroup(f"{name}-default-sg", vpc_id=self.vpc.id, tags=tags, opts=child_opts(self))
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=self.vpc.id, tags=tags, opts=child_opts(self))
        public_rt = aws.ec2.RouteTable(f"{name}-public-rt", vpc_id=self.vpc.id,
                                       routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": igw.id}],
                                       tags={**tags, "Name": f"{args.name}-public"}, opts=child_opts(self))
        self.public_subnets, self.private_subnets, private_rts = [], [], []
        for i, zone in enumerate(zones):
            pub = aws.ec2.Subnet(
                f"{name}-public-{i}", vpc_id=self.vpc.id, cidr_block=plan["public"][i], availability_zone=zone,
                map_public_ip_on_launch=False,
                tags={**tags, "Name": f"{args.name}-public-{zone}", "kubernetes.io/role/elb": "1"},
                opts=child_opts(self))
            aws.ec2.RouteTableAssociation(f"{name}-public-{i}-rt", subnet_id=pub.id, route_table_id=public_rt.id,
                                          opts=child_opts(self))
            routes = []
            if s.nat_gateways:
                eip = aws.ec2.Eip(f"{name}-nat-{i}-ip", domain="vpc", tags=tags, opts=child_opts(self))
                nat = aws.ec2.NatGateway(f"{name}-nat-{i}", subnet_id=pub.id, allocation_id=eip.id, tags=tags,
                                         opts=child_opts(self, depends_on=[igw]))
                routes = [{"cidr_block": "0.0.0.0/0", "nat_gateway_id": nat.id}]
            rt = aws.ec2.RouteTable(f"{name}-private-{i}-rt", vpc_id=self.vpc.id, routes=routes,
                                    tags={**tags, "Name": f"{args.name}-private-{zone}"}, opts=child_opts(self))
            priv = aws.ec2.Subnet(
                f"{name}-private-{i}", vpc_id=self.vpc.id, cidr_block=plan["private"][i], availability_zone=zone,
                map_public_ip_on_launch=False,
                tags={**tags, "Name": f"{args.name}-private-{zone}", "kubernetes.io/role/internal-elb": "1"},
                opts=child_opts(self))
            aws.ec2.RouteTableAssociation(f"{name}-private-{i}-rta", subnet_id=priv.id, route_table_id=rt.id,
                                          opts=child_opts(self))
            self.public_subnets.append(pub)
            self.private_subnets.append(priv)
            private_rts.append(rt)
        private_ids = [sn.id for sn in self.private_subnets]
        self.vpc_id = self.vpc.id

        endpoint_sg = aws.ec2.SecurityGroup(
            f"{name}-endpoints-sg", vpc_id=self.vpc.id, description="VPC interface endpoints: HTTPS from the VPC",
            ingress=[{"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_blocks": [s.vpc_cidr],
                      "description": "HTTPS from the VPC"}],
            tags=tags, opts=child_opts(self))
        aws.ec2.VpcEndpoint(f"{name}-vpce-s3", vpc_id=self.vpc.id, service_name=f"com.amazonaws.{args.region}.s3",
                            vpc_endpoint_type="Gateway", route_table_ids=[rt.id for rt in private_rts], tags=tags,
                            opts=child_opts(self))
        for svc in INTERFACE_ENDPOINTS:
            aws.ec2.VpcEndpoint(
                f"{name}-vpce-{svc.replace('.', '-')}", vpc_id=self.vpc.id,
                service_name=f"com.amazonaws.{args.region}.{svc}", vpc_endpoint_type="Interface",
                private_dns_enabled=True, subnet_ids=private_ids, security_group_ids=[endpoint_sg.id], tags=tags,
                opts=child_opts(self))

        # --- security groups: control plane <-> nodes only ------------------------------------
        self.control_plane_sg = aws.ec2.SecurityGroup(
            f"{name}-control-plane-sg", vpc_id=self.vpc.id, description=f"{args.name} control plane (EKS ENIs)",
            tags=tags, opts=child_opts(self))
        self.node_sg = aws.ec2.SecurityGroup(
            f"{name}-node-sg", vpc_id=self.vpc.id, description=f"{args.name} nodes: the control plane and the nodes only",
            egress=[{"protocol": "-1", "from_port": 0, "to_port": 0, "cidr_blocks": ["0.0.0.0/0"],
                     "description": "AWS endpoints in the VPC, registries through NAT"}],
            tags={**tags, f"kubernetes.io/cluster/{args.name}": "owned"}, opts=child_opts(self))
        rules = [
            ("node-from-nodes", self.node_sg, "-1", 0, 0, self.node_sg, "node to node (pods, DNS)"),
            ("node-from-cp-kubelet", self.node_sg, "tcp", 10250, 10250, self.control_plane_sg, "kubelet"),
            ("node-from-cp-webhooks", self.node_sg, "tcp", 443, 443, self.control_plane_sg, "webhooks on 443"),
            ("node-from-cp-webhooks-high", self.node_sg, "tcp", 1025, 65535, self.control_plane_sg,
             "admission webhooks and metrics on pod ports"),
            ("cp-from-nodes", self.control_plane_sg, "tcp", 443, 443, self.node_sg, "API server from nodes"),
        ]
        for port in sorted(set(args.alb_ports)):
            for i, cidr in enumerate(plan["public"]):
                aws.vpc.SecurityGroupIngressRule(
                    f"{name}-node-from-alb-{port}-{i}", security_group_id=self.node_sg.id, ip_protocol="tcp",
                    from_port=port, to_port=port, cidr_ipv4=cidr,
                    description=f"the ALB (public subnet {zones[i]}) to the ingress gateway pods on {port}",
                    opts=child_opts(self))
        for suffix, sg, proto, lo, hi, source, desc in rules:
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-{suffix}", security_group_id=sg.id, ip_protocol=proto,
                from_port=None if proto == "-1" else lo, to_port=None if proto == "-1" else hi,
                referenced_security_group_id=source.id, description=desc, opts=child_opts(self))

        # --- control plane ---------------------------------------------------------------------
        self.cluster_role = aws.iam.Role(
            f"{name}-cluster-role", name=f"{args.name}-eks-cluster",
            assume_role_policy=json.dumps(service_trust("eks.amazonaws.com"), sort_keys=True),
            description=f"{args.name}: the EKS control plane", tags=tags, opts=child_opts(self))
        cluster_policy = aws.iam.RolePolicyAttachment(f"{name}-cluster-policy", role=self.cluster_role.name,
                                                      policy_arn=MANAGED["cluster"], opts=child_opts(self))
        self.secrets_key = aws.kms.Key(
            f"{name}-secrets-key", description=f"EKS Secrets envelope encryption for {args.name}",
            key_usage="ENCRYPT_DECRYPT", customer_master_key_spec="SYMMETRIC_DEFAULT", enable_key_rotation=True,
            rotation_period_in_days=365, deletion_window_in_days=s.secrets_key_deletion_window_days,
            bypass_policy_lockout_safety_check=True,
            policy=pulumi.Output.all(account, self.cluster_role.arn).apply(lambda v: json.dumps(key_policy(
                account=v[0], admins=list(s.key_admins), break_glass_arn=break_glass_arn(args.name, v[0]),
                users=role_use(v[1], ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt"], "EksSecretsEncryption",
                               grants_for_aws_resources=True)), sort_keys=True)),
            tags=tags, opts=child_opts(self))
        aws.kms.Alias(f"{name}-secrets-alias", name=f"alias/{args.name}-eks-secrets",
                      target_key_id=self.secrets_key.key_id, opts=child_opts(self))
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-control-plane-logs", name=f"/aws/eks/{args.name}/cluster", retention_in_days=s.log_retention_days,
            tags=tags, opts=child_opts(self))
        self.cluster = aws.eks.Cluster(
            f"{name}-eks", name=args.name, version=args.kubernetes_version, role_arn=self.cluster_role.arn,
            enabled_cluster_log_types=list(LOG_TYPES),
            encryption_config={"resources": ["secrets"], "provider": {"key_arn": self.secrets_key.arn}},
            vpc_config={"subnet_ids": private_ids, "security_group_ids": [self.control_plane_sg.id],
                        "endpoint_private_access": True, "endpoint_public_access": bool(s.public_access_cidrs),
                        "public_access_cidrs": list(s.public_access_cidrs) if s.public_access_cidrs else None},
            access_config={"authentication_mode": "API", "bootstrap_cluster_creator_admin_permissions": False},
            bootstrap_self_managed_addons=False, upgrade_policy={"support_type": "STANDARD"},
            deletion_protection=args.environment == "prod",
            tags=tags, opts=child_opts(self, depends_on=[cluster_policy, self.log_group]))

        # --- IRSA: the OIDC provider the whole stack uses -----------------------------------
        issuer = self.cluster.identities.apply(lambda ids: ids[0]["oidcs"][0]["issuer"] if isinstance(ids[0], dict)
                                               else ids[0].oidcs[0].issuer)
        self.oidc_issuer_url = issuer
        self.oidc = aws.iam.OpenIdConnectProvider(f"{name}-oidc", url=issuer, client_id_lists=["sts.amazonaws.com"],
                                                  tags=tags, opts=child_opts(self))
        self.oidc_provider_arn = self.oidc.arn

        def irsa_role(suffix: str, sa: tuple[str, str], policy: str) -> Any:
            role = aws.iam.Role(
                f"{name}-{suffix}", name=f"{args.name}-{suffix}",
                description=f"{args.name}: IRSA for {sa[0]}/{sa[1]} only",
                assume_role_policy=self.oidc.arn.apply(lambda arn: json.dumps(irsa_trust(arn, *sa), sort_keys=True)),
                max_session_duration=3600, tags=tags, opts=child_opts(self))
            aws.iam.RolePolicyAttachment(f"{name}-{suffix}-policy", role=role.name, policy_arn=policy,
                                         opts=child_opts(self))
            return role

        self.cni_role = irsa_role("vpc-cni", CNI_SERVICE_ACCOUNT, MANAGED["cni"])
        self.ebs_csi_role = irsa_role("ebs-csi", EBS_CSI_SERVICE_ACCOUNT, MANAGED["ebs"])
        self.ebs_csi_role_name = f"{args.name}-ebs-csi"

        # --- access entries -------------------------------------------------------------------
        def access(suffix: str, principal: Any, policy: str, namespaces: Optional[list[str]] = None) -> Any:
            entry = aws.eks.AccessEntry(f"{name}-access-{suffix}", cluster_name=self.cluster.name,
                                        principal_arn=principal, type="STANDARD", tags=tags, opts=child_opts(self))
            return aws.eks.AccessPolicyAssociation(
                f"{name}-access-{suffix}-policy", cluster_name=self.cluster.name, principal_arn=principal,
                policy_arn=ACCESS_POLICIES[policy],
                access_scope={"type": "namespace", "namespaces": namespaces} if namespaces else {"type": "cluster"},
                opts=child_opts(self, depends_on=[entry]))

        admin_access = [access("break-glass", self.break_glass_role.arn, "cluster-admin"),
                        access("deployer", s.deployer_role_arn, "cluster-admin")]
        for i, role in enumerate(s.access):
            access(f"role-{i}", role.principal_arn, role.policy, list(role.namespaces))

        # --- nodes: the volume key (the storage key: node volumes and the gp3-encrypted class) ---
        from .storage import StorageConfig, volume_key

        self.volume_key = volume_key(name, args.name, args.storage or StorageConfig(), account, args.region,
                                     list(s.key_admins), autoscaling=True, parent=self)
        self.node_role = aws.iam.Role(
            f"{name}-node-role", name=f"{args.name}-node",
            assume_role_policy=json.dumps(service_trust("ec2.amazonaws.com"), sort_keys=True),
            description=f"{args.name}: worker nodes (worker and ECR pull only; the CNI has its own role)",
            tags=tags, opts=child_opts(self))
        node_policies = [aws.iam.RolePolicyAttachment(f"{name}-node-{k}", role=self.node_role.name,
                                                      policy_arn=MANAGED[k], opts=child_opts(self))
                         for k in ("worker", "ecr")]

        # add-ons the nodes need before they join (CNI, kube-proxy), then the rest
        def addon(addon_name: str, depends: list, **extra: Any) -> Any:
            return aws.eks.Addon(
                f"{name}-addon-{addon_name}", cluster_name=self.cluster.name, addon_name=addon_name,
                addon_version=EKS_VERSIONS[args.kubernetes_version][addon_name],
                resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="OVERWRITE", tags=tags,
                opts=child_opts(self, depends_on=depends), **extra)

        cni = addon("vpc-cni", [], service_account_role_arn=self.cni_role.arn,
                    configuration_values=cni_configuration())
        proxy = addon("kube-proxy", [])
        self.node_groups = []
        for group in s.node_groups:
            lt = aws.ec2.LaunchTemplate(
                f"{name}-nodes-{group.name}", name_prefix=f"{args.name}-{group.name}-",
                description=f"{args.name} {group.name} nodes: IMDSv2 hop 1, encrypted volumes, no SSH",
                metadata_options={"http_endpoint": "enabled", "http_tokens": "required",
                                  "http_put_response_hop_limit": 1, "instance_metadata_tags": "disabled"},
                block_device_mappings=launch_template_devices(group.os, self.volume_key.arn,
                                                              group.disk_size_gib),
                vpc_security_group_ids=[self.node_sg.id], update_default_version=True,
                monitoring={"enabled": True},
                tag_specifications=[{"resource_type": "instance", "tags": {**tags, "Name": f"{args.name}-{group.name}"}}],
                tags=tags, opts=child_opts(self))
            ng = aws.eks.NodeGroup(
                f"{name}-ng-{group.name}", cluster_name=self.cluster.name, node_group_name=group.name,
                node_role_arn=self.node_role.arn, subnet_ids=private_ids,
                ami_type="BOTTLEROCKET_x86_64" if group.os == "bottlerocket" else "AL2023_x86_64_STANDARD",
                instance_types=list(group.instance_types), capacity_type="ON_DEMAND",
                launch_template={"id": lt.id, "version": lt.latest_version.apply(str)},
                scaling_config={"min_size": group.min_size, "desired_size": group.desired_size,
                                "max_size": group.max_size},
                update_config={"max_unavailable": 1}, labels=dict(group.labels) or None,
                tags=tags, opts=child_opts(self, depends_on=[*node_policies, cni, proxy]))
            self.node_groups.append(ng)
        coredns = addon("coredns", self.node_groups)
        ebs = addon("aws-ebs-csi-driver", self.node_groups, service_account_role_arn=self.ebs_csi_role.arn)
        self.addons = [cni, proxy, coredns, ebs]

        deployer = s.deployer_role_arn
        self.kubeconfig = pulumi.Output.secret(pulumi.Output.all(
            self.cluster.endpoint, self.cluster.certificate_authority).apply(lambda v: kubeconfig(
                args.name, v[0], v[1]["data"] if isinstance(v[1], dict) else v[1].data, args.region, deployer)))
        # what "the cluster is usable" means for the Kubernetes provider built from it
        self.ready = [self.cluster, *admin_access, *self.node_groups, *self.addons]

    # -- the audit trail ---------------------------------------------------------------------
    def deliver_flow_logs(self, bucket_arn: Any, depends_on: Optional[list] = None) -> Optional[pulumi.Resource]:
        """VPC flow logs (all traffic) into the audit bucket under ``vpc-flow-logs/`` (created VPC only)."""
        if not self.args.settings.create:
            return None
        import pulumi_aws as aws

        return aws.ec2.FlowLog(
            f"{self._name}-flow-logs", vpc_id=self.vpc.id, traffic_type="ALL", log_destination_type="s3",
            log_destination=pulumi.Output.from_input(bucket_arn).apply(lambda arn: f"{arn}/{FLOW_LOG_PREFIX}"),
            max_aggregation_interval=60,
            destination_options={"file_format": "parquet", "per_hour_partition": True,
                                 "hive_compatible_partitions": False},
            tags=self.tags, opts=child_opts(self, depends_on=depends_on))
