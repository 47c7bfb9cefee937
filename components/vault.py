"""``VaultHA``: HashiCorp Vault in HA with integrated storage, TLS 1.3 on every listener and AWS KMS
auto-unseal through IRSA (issue 5).

* Upstream chart ``hashicorp/vault`` (pinned) in HA mode with raft: an odd number of replicas, at
  least 3 (default 5: quorum survives two lost pods), required pod anti-affinity per node, a zone
  spread, a PodDisruptionBudget of one, data and audit volumes. The agent injector and CSI provider
  are off: secrets reach workloads through External Secrets only (:mod:`components.secrets`).
* TLS: ``global.tlsDisable`` is false; the server certificate is a cert-manager ``Certificate``
  from the internal CA with the rotation policy's lifetime; the listener requires TLS 1.3 and raft
  ``retry_join`` verifies peers against the same CA.
* Auto-unseal: ``seal "awskms"`` with a customer-managed KMS key (``aws.kms.Key``, automatic
  rotation every ``secrets.rotation.encryptionKeyDays``) whose key policy lets the key admins
  administer it and only Vault's IAM role Encrypt/Decrypt/DescribeKey. The role is assumed by the
  ``vault/vault`` ServiceAccount alone (IRSA trust policy on ``sub`` and ``aud``). Bring-your-own
  key: ``vault.kmsKeyArn`` set, no key is created and the role's policy names that ARN only.
* The server configuration is rendered from ``templates/vault.hcl.j2`` (jinja2, StrictUndefined,
  snapshot-tested).

What Pulumi cannot do here, and docs/secrets.md walks through: ``vault operator init`` (recovery
keys go to their custodians), enabling the file audit device (``vault audit enable file
file_path=/vault/audit/vault_audit.log``: an API call that needs a token, so it is a post-init step,
not a resource), and the Kubernetes auth role ESO uses. The bootstrap commands are rendered from the
same config by :func:`bootstrap_script`.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path
from typing import Any, Literal, Optional

import jinja2
import pulumi
import pulumi_aws as aws
from pydantic import Field, field_validator, model_validator

from .imagelock import locked_digest
from .base import weakens
from .base import Cidr, CidrExcept, Digest
from .base import (HardenedComponent, Quantities, Resources, StrictModel, child_opts, deep_merge, helm_chart,
                   k8s_object, parse_cpu, parse_memory, standard_labels)
from .kms import ADMIN_ACTIONS, break_glass_arn, role_use
from .kms import key_policy as shared_key_policy
from .secrets import (ESO_NAMESPACE, ESO_SERVICE_ACCOUNT, VAULT_AUDIENCE, VAULT_TLS_SECRET, RotationConfig, SecretsConfig,
                      tls_certificate)

TOKEN = "hardened:index:VaultHA"

VAULT_CHART = "vault"
VAULT_REPO = "https://helm.releases.hashicorp.com"
NAMESPACE = "vault"
SERVICE_ACCOUNT = "vault"
FULLNAME = "vault"
TLS_DIR = f"/vault/userconfig/{VAULT_TLS_SECRET}"
AUDIT_MOUNT = "/vault/audit"
LICENSE_SECRET = "vault-license"
AUDIT_FILE = f"{AUDIT_MOUNT}/vault_audit.log"
TEMPLATES = Path(__file__).parent / "templates"

KMS_KEY_ARN = re.compile(r"^arn:aws(-[a-z]+)*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$")
IAM_PRINCIPAL_ARN = re.compile(r"^arn:aws(-[a-z]+)*:(iam|sts)::\d{12}:(root|(role|user|assumed-role)/[\w+=,.@/-]+)$")
#: What a key administrator may do: administer without use, without rewriting the policy or
#: creating grants (issue 23: kms:Create* and kms:Put* let an admin give themselves Decrypt), without
#: disabling or deleting the key (break-glass only). See components.kms.
KEY_ADMIN_ACTIONS = ADMIN_ACTIONS
#: All Vault's awskms seal needs.
UNSEAL_ACTIONS = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt"]
#: Egress on 443 goes to public AWS endpoints (KMS, STS) only: NetworkPolicy cannot name an AWS
#: endpoint, so the rule is "anywhere except the cluster's private ranges and link-local (IMDS)".
DEFAULT_EGRESS_EXCEPT = ["10.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16"]


class VaultStorage(StrictModel):
    data_size: str = Field("10Gi", description="Raft data volume per replica (default 10Gi).")
    audit_size: str = Field("20Gi", description="Audit log volume per replica (default 20Gi).")
    storage_class: Optional[str] = Field(
        None, description="StorageClass of both volumes (default none: the cluster default). Use an encrypted "
                          "class (EBS gp3 with encrypted: \"true\") so raft data is encrypted at rest twice.")


class VaultConfig(StrictModel):
    enabled: bool = Field(True, description="Deploy this part of the stack (default true).", json_schema_extra=weakens('Vault (secrets, KMS auto-unseal) is off'))
    chart_version: str = Field("0.34.1", description="hashicorp/vault chart version (default 0.34.1, pinned).")
    image_tag: str = Field("2.0.4", description="Vault server version (default 2.0.4, the chart's appVersion).")
    image_digest: Optional[Digest] = Field(
        None, description="sha256 digest of docker.io/hashicorp/vault:<imageTag>. Default none: the tag; set it "
                          "(`crane digest hashicorp/vault:<tag>`) to pin by digest.")
    edition: Literal["community", "enterprise"] = Field(
        "community", description="community (default) or enterprise: hashicorp/vault-enterprise with the license "
                                 "from the Pulumi secret hardened-stack:vaultLicense (never in this file).")
    replicas: int = Field(
        5,
        description="Raft voters (default 5: the cluster keeps quorum with two pods lost). At least 3, and odd: an "
                    "even count tolerates no more failures than the odd count below it, so it is rejected.")
    kms_mode: Optional[Literal["create", "byok"]] = Field(
        None, description="create: the stack creates the unseal key; byok: use kmsKeyArn. Default: byok when "
                          "kmsKeyArn is set, else create.")
    kms_key_arn: Optional[str] = Field(
        None, description="Bring-your-own-key: ARN of an existing symmetric KMS key (default none: one is created). "
                          "Its key policy must allow the Vault role Encrypt/Decrypt/DescribeKey (docs/secrets.md).")
    key_admins: list[str] = Field(
        default_factory=list,
        description="IAM principal ARNs that administer the created unseal key besides cluster.keyAdmins (they "
                    "cannot use it, create grants, rewrite its policy, disable or delete it: docs/cluster.md). "
                    "Default none: cluster.keyAdmins alone; with neither, only the break-glass role manages it.")
    kms_deletion_window_days: int = Field(
        30, ge=7, le=30, description="Waiting period before a scheduled key deletion (default 30, the maximum).")
    resources: Resources = Field(default_factory=lambda: Resources(requests=Quantities(cpu="500m", memory="1Gi"),
                                                                   limits=Quantities(cpu="2", memory="2Gi")),
                                       description="Server requests and limits (default 500m/1Gi, 2/2Gi).")
    storage: VaultStorage = Field(default_factory=VaultStorage, description="Data and audit volumes.")
    default_lease_ttl: str = Field("1h", description="default_lease_ttl (default 1h: short-lived credentials).")
    log_level: Literal["trace", "debug", "info", "warn", "error"] = Field("info", description="Log level (default info).")
    ui: bool = Field(True, description="Serve the web UI on the TLS listener (default true; no extra port).")
    client_namespaces: list[str] = Field(
        default_factory=list,
        description="Namespaces whose pods may call Vault on 8200 besides External Secrets (default none: "
                    "workloads get secrets through ExternalSecrets, not by talking to Vault).")
    aws_endpoint_cidrs: list[Cidr] = Field(
        default_factory=list,
        description="Subnets of VPC interface endpoints for KMS and STS, if used (default none: the public "
                    "endpoints on 443).")
    egress_except: list[CidrExcept] = Field(
        default_factory=lambda: list(DEFAULT_EGRESS_EXCEPT),
        description="Ranges excluded from the 443 egress to AWS (default the private ranges, CGNAT and "
                    "link-local, so Vault reaches no cluster service or the instance metadata through it).")
    extra_values: dict[str, Any] = Field(default_factory=dict,
                                         description="Extra chart values merged last (escape hatch).", json_schema_extra=weakens('escape hatch: raw Vault chart values past the typed, hardened ones'))

    @field_validator("replicas")
    @classmethod
    def _odd(cls, v: int) -> int:
        if v < 3:
            raise ValueError(f"replicas {v} is below 3: HA with raft needs at least 3 voters to keep a quorum "
                             "through one lost pod; use 3 or 5")
        if v % 2 == 0:
            raise ValueError(f"replicas {v} is even: raft needs a majority, so {v} voters survive no more failures "
                             f"than {v - 1}; use {v - 1} or {v + 1}")
        return v

    @field_validator("key_admins")
    @classmethod
    def _admins(cls, v: list[str]) -> list[str]:
        for a in v:
            if not IAM_PRINCIPAL_ARN.match(a):
                raise ValueError(f"keyAdmins entry {a!r} is not an IAM principal ARN "
                                 "(arn:aws:iam::<account>:role/<name>)")
        return v

    @model_validator(mode="after")
    def _kms(self) -> "VaultConfig":
        from .base import _located

        mode = self.resolved_kms_mode
        if mode == "byok":
            if not self.kms_key_arn:
                raise _located("kmsKeyArn", "kmsMode byok needs the ARN of your KMS key "
                                            "(arn:aws:kms:<region>:<account>:key/<id>); or use kmsMode create")
            if not KMS_KEY_ARN.match(self.kms_key_arn):
                raise _located("kmsKeyArn", f"{self.kms_key_arn!r} is not a KMS key ARN "
                                            "(arn:aws:kms:<region>:<account>:key/<id>; aliases are not accepted)")
        elif self.kms_key_arn:
            raise _located("kmsKeyArn", "set with kmsMode create; remove it, or set kmsMode byok to use it")
        return self

    @property
    def resolved_kms_mode(self) -> str:
        return self.kms_mode or ("byok" if self.kms_key_arn else "create")


class VaultHAArgs(StrictModel):
    config: VaultConfig = Field(default_factory=VaultConfig, description="The vault section.")
    secrets: SecretsConfig = Field(default_factory=SecretsConfig, description="Rotation periods and ESO settings.")
    cluster_name: str = Field("cluster", description="Cluster name (key alias, tags, raft cluster name).")
    region: str = Field("us-east-1", description="AWS region of the KMS key.")
    oidc_issuer_url: Optional[str] = Field(None, description="cluster.oidcIssuerUrl.")
    oidc_provider_arn: Any = Field(None, description="cluster.oidcProviderArn, or the created cluster's provider "
                                                     "ARN (an Output).")
    account_id: Any = Field(None, description="cluster.accountId (default: the caller's account).")
    default_key_admins: list[str] = Field(default_factory=list,
                                          description="cluster.keyAdmins (administer the unseal key too).")
    control_plane_cidrs: list[Cidr] = Field(default_factory=lambda: ["10.0.0.0/16"],
                                           description="Where the Kubernetes API server lives.")
    license: Optional[Any] = Field(None, description="Enterprise license as a Pulumi secret Output "
                                                     "(Secrets.require('vaultLicense')); required for enterprise.")
    audit_shipper: Optional[dict] = Field(
        None, description="Chart values that add the audit shipper sidecar (components.audit.vault_audit_sidecar: "
                          "server.extraInitContainers and server.volumes); default none.")
    platform_secret_namespaces: list[str] = Field(
        default_factory=list,
        description="Platform namespaces External Secrets' own role may read (their '<namespace>/' prefixes only; "
                    "default none). Tenants have their own roles (components.tenancy).")
    namespace_labels: dict[str, str] = Field(
        default_factory=dict, description="Extra labels of this component's namespace(s) (HardenedStack: "
                                          "policy.sigstore.dev/include when the platform's images are verified).")

    @model_validator(mode="after")
    def _irsa(self) -> "VaultHAArgs":
        if not self.oidc_issuer_url and self.oidc_provider_arn is None:
            raise ValueError("Vault's KMS access uses IRSA: set cluster.oidcIssuerUrl (or cluster.oidcProviderArn)")
        return self

    @model_validator(mode="after")
    def _license(self) -> "VaultHAArgs":
        if self.config.edition == "enterprise" and self.license is None:
            raise ValueError("vault.edition enterprise needs the license: `pulumi config set --secret "
                             "hardened-stack:vaultLicense <license>`")
        if self.config.edition == "community" and self.license is not None:
            raise ValueError("hardened-stack:vaultLicense is set but vault.edition is community; set edition: "
                             "enterprise or remove the secret")
        return self

    @property
    def rotation(self) -> RotationConfig:
        return self.secrets.rotation

    @property
    def oidc_issuer_host(self) -> str:
        """The issuer without scheme, as IAM condition keys spell it."""
        if isinstance(self.oidc_provider_arn, str):
            return self.oidc_provider_arn.split(":oidc-provider/", 1)[1]
        return self.oidc_issuer_url.removeprefix("https://").rstrip("/")


# ---------------------------------------------------------------------------------------------
# Pure functions: HCL, chart values, policies, manifests (unit-tested)
# ---------------------------------------------------------------------------------------------

_ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), undefined=jinja2.StrictUndefined,
                          keep_trailing_newline=True, autoescape=False)


def peers(c: VaultConfig) -> list[str]:
    return [f"{FULLNAME}-{i}.{FULLNAME}-internal" for i in range(c.replicas)]


#: IAM role names are at most 64 characters.
ROLE_NAME_MAX = 64
ROLE_SUFFIX = "-vault-unseal"


def unseal_key_id(args: VaultHAArgs) -> str:
    """What the seal names: the alias the stack creates (``alias/<cluster>-vault-unseal``; Vault's
    awskms seal accepts ``alias/<name>`` as ``kms_key_id``), or the ARN of the key brought. Both are
    known before any AWS resource exists, so the chart values stay known at a first preview."""
    c = args.config
    return c.kms_key_arn if c.resolved_kms_mode == "byok" else f"alias/{args.cluster_name}{ROLE_SUFFIX}"


def role_name(cluster_name: str) -> str:
    """The unseal role's explicit name, ``<cluster>-vault-unseal`` (a long cluster name is cut and
    a hash of it keeps the name unique), so its ARN is known before the role exists."""
    name = f"{cluster_name}{ROLE_SUFFIX}"
    if len(name) <= ROLE_NAME_MAX:
        return name
    digest = hashlib.sha256(cluster_name.encode()).hexdigest()[:8]
    return f"{cluster_name[:ROLE_NAME_MAX - len(ROLE_SUFFIX) - 9]}-{digest}{ROLE_SUFFIX}"


def role_arn(partition: str, account_id: str, name: str) -> str:
    return f"arn:{partition}:iam::{account_id}:role/{name}"


def server_config(args: VaultHAArgs) -> str:
    """The server HCL (``server.ha.raft.config``), known at preview: the seal names the unseal
    key by :func:`unseal_key_id`, never by a computed ARN."""
    c = args.config
    return _ENV.get_template("vault.hcl.j2").render(
        ui=c.ui, cluster_name=args.cluster_name, log_level=c.log_level,
        default_lease_ttl=c.default_lease_ttl, max_lease_ttl=f"{args.rotation.api_key_days * 24}h",
        tls_dir=TLS_DIR, peers=peers(c), region=args.region, kms_key_id=unseal_key_id(args),
        telemetry_retention="24h",
    )


def bootstrap_script(args: VaultHAArgs) -> str:
    """The one-time post-init commands (audit device, Kubernetes auth, ESO role), from config."""
    from .tenancy import platform_policy

    e = args.secrets.external_secrets
    r = args.rotation
    return _ENV.get_template("vault-bootstrap.sh.j2").render(
        eso_policy=platform_policy(args.platform_secret_namespaces, e.kv_mount),
        namespace=NAMESPACE, audit_file=AUDIT_FILE, auth_mount=e.vault_auth_mount, kv_mount=e.kv_mount,
        role=e.vault_role, audience=VAULT_AUDIENCE, eso_sa=ESO_SERVICE_ACCOUNT, eso_namespace=ESO_NAMESPACE,
        token_ttl="1h", token_max_ttl="24h", signing_key_days=r.signing_key_days,
        api_key_hours=r.api_key_days * 24,
    )


def server_certificate(args: VaultHAArgs) -> dict:
    svc = [f"{FULLNAME}", f"{FULLNAME}.{NAMESPACE}", f"{FULLNAME}.{NAMESPACE}.svc",
           f"{FULLNAME}.{NAMESPACE}.svc.cluster.local", f"{FULLNAME}-active.{NAMESPACE}.svc",
           f"*.{FULLNAME}-internal", f"*.{FULLNAME}-internal.{NAMESPACE}.svc",
           f"*.{FULLNAME}-internal.{NAMESPACE}.svc.cluster.local"]
    return tls_certificate(VAULT_TLS_SECRET, NAMESPACE, svc, args.rotation.tls, ip_addresses=["127.0.0.1"])


def image_repository(c: VaultConfig) -> str:
    """The server image's repository (the injector and CSI provider are off)."""
    return "docker.io/hashicorp/vault-enterprise" if c.edition == "enterprise" else "docker.io/hashicorp/vault"


def _values(args: VaultHAArgs, role_arn: Any = "") -> dict:
    """Hardened hashicorp/vault chart values. *role_arn* is the unseal role's ARN, built from its
    explicit name and the account id (an invoke, known at preview; the pure tests pass a string).
    Everything else, the server HCL and its seal included, is plain text: no value here is unknown
    at a first preview, so the provider renders the chart and the pack judges its objects."""
    c = args.config
    enterprise = c.edition == "enterprise"
    tag = c.image_tag + ("-ent" if enterprise else "") + (f"@{c.image_digest}" if c.image_digest else "")
    repository = image_repository(c)
    selector = {"app.kubernetes.io/name": FULLNAME, "component": "server"}
    values = {
        "fullnameOverride": FULLNAME,
        "global": {"enabled": True, "tlsDisable": False, "serverTelemetry": {"prometheusOperator": False}},
        "injector": {"enabled": False},
        "csi": {"enabled": False},
        "ui": {"enabled": c.ui, "serviceType": "ClusterIP"},
        "server": {
            "image": {"repository": repository, "tag": tag, "pullPolicy": "IfNotPresent"},
            "resources": {"requests": c.resources.requests.model_dump(), "limits": c.resources.limits.model_dump()},
            "standalone": {"enabled": False},
            "ha": {
                "enabled": True,
                "replicas": c.replicas,
                "raft": {"enabled": True, "setNodeId": True, "config": server_config(args)},
                "disruptionBudget": {"enabled": True, "maxUnavailable": 1},
            },
            "dataStorage": {"enabled": True, "size": c.storage.data_size, "storageClass": c.storage.storage_class,
                            "accessMode": "ReadWriteOnce", "mountPath": "/vault/data"},
            "auditStorage": {"enabled": True, "size": c.storage.audit_size, "storageClass": c.storage.storage_class,
                             "accessMode": "ReadWriteOnce", "mountPath": AUDIT_MOUNT},
            "extraVolumes": [{"type": "secret", "name": VAULT_TLS_SECRET}],
            # The chart's entrypoint writes the final config to /tmp: the root filesystem stays read-only.
            "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi", "medium": "Memory"}}],
            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
            "extraEnvironmentVars": {
                "VAULT_CACERT": f"{TLS_DIR}/ca.crt",
                "AWS_REGION": args.region,
                "AWS_STS_REGIONAL_ENDPOINTS": "regional",
                # (No SKIP_SETCAP/SKIP_CHOWN: the chart sets both, and a second entry of the same
                # name is refused by server-side apply.)
            },
            "serviceAccount": {
                "create": True, "name": SERVICE_ACCOUNT, "createSecret": False,
                "annotations": {"eks.amazonaws.com/role-arn": role_arn},
                "serviceDiscovery": {"enabled": True},
            },
            "authDelegator": {"enabled": True},  # Kubernetes auth: Vault reviews ESO's tokens
            "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": selector}, "topologyKey": "kubernetes.io/hostname"}]}},
            "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                                           "whenUnsatisfiable": "ScheduleAnyway",
                                           "labelSelector": {"matchLabels": selector}}],
            "statefulSet": {"securityContext": {
                "pod": {"runAsNonRoot": True, "runAsUser": 100, "runAsGroup": 1000, "fsGroup": 1000,
                        "seccompProfile": {"type": "RuntimeDefault"}},
                "container": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                              "readOnlyRootFilesystem": True, "runAsNonRoot": True,
                              "seccompProfile": {"type": "RuntimeDefault"}},
            }},
            # A sealed pod (KMS unreachable, key disabled) answers 503 and is not ready, so the
            # Services and the PDB do not count it. An uninitialised one is ready, or the first
            # `pulumi up` would wait on the StatefulSet until someone ran `vault operator init`.
            # Liveness tolerates both, so a pod waiting for init or for KMS is not restarted.
            "readinessProbe": {"enabled": True,
                               "path": "/v1/sys/health?standbyok=true&perfstandbyok=true&uninitcode=204"},
            "livenessProbe": {"enabled": True, "path": "/v1/sys/health?standbyok=true&sealedcode=204&uninitcode=204",
                              "initialDelaySeconds": 60},
            "networkPolicy": {"enabled": False},  # the component writes its own (default-deny stays)
            "ingress": {"enabled": False},
            "route": {"enabled": False},
            "service": {"enabled": True, "type": "ClusterIP"},
        },
    }
    if args.audit_shipper:
        # The audit shipper (components.audit): a native sidecar reading the file device on the
        # pod's own audit volume; its volumes join the chart's.
        values["server"]["extraInitContainers"] = list(args.audit_shipper["extraInitContainers"])
        values["server"]["volumes"] = values["server"]["volumes"] + list(args.audit_shipper["volumes"])
    if enterprise:
        values["server"]["enterpriseLicense"] = {"secretName": LICENSE_SECRET, "secretKey": "license"}
    return deep_merge(values, c.extra_values)


def trust_policy(provider_arn: str, issuer_host: str) -> dict:
    """IRSA trust: only the vault/vault ServiceAccount, only for STS."""
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "VaultServiceAccountOnly",
        "Effect": "Allow",
        "Principal": {"Federated": provider_arn},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {
            f"{issuer_host}:sub": f"system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNT}",
            f"{issuer_host}:aud": "sts.amazonaws.com",
        }},
    }]}


def key_policy(key_admins: list[str], vault_role_arn: str, account: str = "123456789012",
               cluster_name: str = "cluster") -> dict:
    """Separation of duties (components.kms): admins administer (cannot use, rewrite the policy or
    create grants), Vault's role uses (cannot administer), break-glass alone disables or deletes.
    The account root gets nothing but the break-glass lifeline (an aws:PrincipalArn condition)."""
    return shared_key_policy(account=account, admins=list(key_admins),
                             break_glass_arn=break_glass_arn(cluster_name, account),
                             users=role_use(vault_role_arn, UNSEAL_ACTIONS, "VaultAutoUnseal"))


def role_policy(key_arn: str) -> dict:
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "VaultAutoUnseal", "Effect": "Allow", "Action": UNSEAL_ACTIONS, "Resource": key_arn}]}


def _netpol(name: str, spec: dict) -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": NAMESPACE, "labels": standard_labels(name, "network-policy")},
            "spec": spec}


def network_policies(args: VaultHAArgs) -> list[tuple[str, dict]]:
    c = args.config
    server = {"matchLabels": {"app.kubernetes.io/name": FULLNAME, "component": "server"}}
    eso = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ESO_NAMESPACE}},
           "podSelector": {"matchLabels": {"app.kubernetes.io/name": "external-secrets"}}}
    clients = [eso] + [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}}
                       for ns in sorted(c.client_namespaces)]
    api_and_cluster = [{"protocol": "TCP", "port": 8200}, {"protocol": "TCP", "port": 8201}]
    out = [
        ("clients", _netpol("allow-ingress-vault-clients", {
            "podSelector": server, "policyTypes": ["Ingress"],
            "ingress": [{"from": clients, "ports": [{"protocol": "TCP", "port": 8200}]}]})),
        ("peers-in", _netpol("allow-ingress-raft-peers", {
            "podSelector": server, "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": server}], "ports": api_and_cluster}]})),
        ("peers-out", _netpol("allow-egress-raft-peers", {
            "podSelector": server, "policyTypes": ["Egress"],
            "egress": [{"to": [{"podSelector": server}], "ports": api_and_cluster}]})),
        ("apiserver", _netpol("allow-egress-kube-apiserver", {
            "podSelector": server, "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": cidr}} for cidr in sorted(args.control_plane_cidrs)],
                        "ports": [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 6443}]}]})),
        # KMS, STS and (the audit shipper sidecar) S3: the VPC interface endpoints' subnets when
        # given (awsEndpointCidrs: named destinations only); else, as NetworkPolicy cannot name an
        # AWS endpoint, 443 to the internet except the private ranges and link-local (IMDS).
        ("aws", _netpol("allow-egress-aws-kms-sts", {
            "podSelector": server, "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": cidr}} for cidr in sorted(c.aws_endpoint_cidrs)]
                        if c.aws_endpoint_cidrs else
                        [{"ipBlock": {"cidr": "0.0.0.0/0", "except": sorted(c.egress_except)}}],
                        "ports": [{"protocol": "TCP", "port": 443}]}]})),
    ]
    return out


def namespace_quota(c: VaultConfig):
    """Room for every replica at its limits plus a rolling-update surge of one pod."""
    from .base import QuotaConfig

    pods = c.replicas + 1
    cpu = math.ceil(parse_cpu(c.resources.limits.cpu) * pods)
    mem_gi = math.ceil(parse_memory(c.resources.limits.memory) * pods / 2**30)
    return QuotaConfig(cpu=str(cpu), memory=f"{mem_gi}Gi", pods=pods + 2)


# ---------------------------------------------------------------------------------------------
# The component
# ---------------------------------------------------------------------------------------------

class VaultHA(HardenedComponent):
    """Vault HA (raft), TLS 1.3 everywhere, AWS KMS auto-unseal through IRSA."""

    def __init__(self, name: str, args: VaultHAArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TOKEN, name, None, opts)
        from .namespace import HardenedNamespace, HardenedNamespaceArgs

        c = args.config
        if not c.image_digest and not locked_digest(f"{image_repository(c)}:{c.image_tag}"):
            pulumi.log.warn(f"vault: {image_repository(c)}:{c.image_tag} is pinned by tag only; set vault.imageDigest "
                            "to pin it by digest, or run `python -m hardened images pin` (images.lock)", self)
        tags = {"hardened-stack/cluster": args.cluster_name, "hardened-stack/component": "vault"}
        self.namespace = HardenedNamespace(f"{name}-ns", HardenedNamespaceArgs(
            name=NAMESPACE, quota=namespace_quota(c), labels=args.namespace_labels), child_opts(self))
        policies = [k8s_object(f"{name}-{suffix}", m, child_opts(self, depends_on=[self.namespace]))
                    for suffix, m in network_policies(args)]

        # --- IRSA: the OIDC provider (unless given) and the role only vault/vault may assume ---
        # a provider ARN (given, or the created cluster's) spells the issuer after ':oidc-provider/'
        issuer = None if args.oidc_provider_arn is not None else args.oidc_issuer_host
        # The role has an explicit name, so its ARN is known before it exists (an invoke gives the
        # account): the chart values carry that ARN, known at a first preview.
        unseal_role_name = role_name(args.cluster_name)
        invoke = pulumi.InvokeOptions(parent=self)
        partition = aws.get_partition_output(opts=invoke).partition
        account_id = (pulumi.Output.from_input(args.account_id) if args.account_id
                      else aws.get_caller_identity_output(opts=invoke).account_id)
        provider_deps: list[pulumi.Resource] = []
        if args.oidc_provider_arn is not None:
            provider_arn: pulumi.Input[str] = args.oidc_provider_arn
        else:
            provider = aws.iam.OpenIdConnectProvider(
                f"{name}-oidc", url=args.oidc_issuer_url, client_id_lists=["sts.amazonaws.com"], tags=tags,
                opts=child_opts(self))
            # IAM names a provider arn:<partition>:iam::<account>:oidc-provider/<issuer host>: derived so,
            # the trust policy is known at a first preview (the wiring policy
            # serviceaccount-missing-irsa-trust judges it there); the role still waits for the provider.
            provider_arn = pulumi.Output.all(partition, account_id).apply(
                lambda v: f"arn:{v[0]}:iam::{v[1]}:oidc-provider/{issuer}")
            provider_deps = [provider]
        self.role = aws.iam.Role(
            f"{name}-unseal-role", name=unseal_role_name,
            description=f"Vault auto-unseal for {args.cluster_name} (IRSA: {NAMESPACE}/{SERVICE_ACCOUNT} only)",
            assume_role_policy=pulumi.Output.from_input(provider_arn).apply(
                lambda arn: json.dumps(trust_policy(arn, issuer or arn.split(":oidc-provider/", 1)[1]),
                                       sort_keys=True)),
            max_session_duration=3600, tags=tags, opts=child_opts(self, depends_on=provider_deps))

        # --- the unseal key: created with rotation and a least-privilege policy, or brought ---
        self.key = None
        self.alias = None
        if c.resolved_kms_mode == "create":
            # the stack's key administrators (cluster.keyAdmins, the deployer among them: it creates the key
            # and its alias) and the unseal key's own
            admins = sorted(set(c.key_admins) | set(args.default_key_admins))
            if not admins:
                pulumi.log.warn("vault.keyAdmins and cluster.keyAdmins are empty: only the break-glass role manages "
                                "the unseal key; name the key administrators in prod", self)
            self.key = aws.kms.Key(
                f"{name}-unseal-key",
                description=f"Vault auto-unseal key for {args.cluster_name}",
                key_usage="ENCRYPT_DECRYPT", customer_master_key_spec="SYMMETRIC_DEFAULT",
                enable_key_rotation=True, rotation_period_in_days=args.rotation.encryption_key_days,
                deletion_window_in_days=c.kms_deletion_window_days, multi_region=False,
                bypass_policy_lockout_safety_check=True,
                policy=pulumi.Output.all(account_id, self.role.arn).apply(
                    lambda v: json.dumps(key_policy(admins, v[1], v[0], args.cluster_name), sort_keys=True)),
                tags=tags, opts=child_opts(self))
            # The seal names this alias (unseal_key_id): the chart waits for it.
            self.alias = aws.kms.Alias(f"{name}-unseal-alias", name=unseal_key_id(args),
                                       target_key_id=self.key.key_id, opts=child_opts(self))
            key_arn: pulumi.Output[str] = self.key.arn
        else:
            key_arn = pulumi.Output.from_input(c.kms_key_arn)
        self.key_arn = key_arn
        unseal_policy = aws.iam.RolePolicy(
            f"{name}-unseal-policy", role=self.role.id,
            policy=key_arn.apply(lambda arn: json.dumps(role_policy(arn), sort_keys=True)),
            opts=child_opts(self))

        # --- TLS, the chart, and the bootstrap commands as a ConfigMap -----------------------
        cert = k8s_object(f"{name}-server-tls", server_certificate(args), child_opts(self, depends_on=[self.namespace]))
        chart_deps: list[pulumi.Resource] = [self.namespace, cert, unseal_policy, *policies]
        if self.key is not None:
            chart_deps.append(self.alias)
        if c.edition == "enterprise":
            # The license is a Pulumi secret end to end: encrypted in state, redacted in every output.
            chart_deps.append(k8s_object(f"{name}-license", {
                "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": {"name": LICENSE_SECRET, "namespace": NAMESPACE,
                             "labels": standard_labels(LICENSE_SECRET, "license")},
                "stringData": {"license": pulumi.Output.secret(args.license)},
            }, child_opts(self, depends_on=[self.namespace])))
        self.chart = helm_chart(
            f"{name}-chart", chart=VAULT_CHART, version=c.chart_version, repo=VAULT_REPO, namespace=NAMESPACE,
            values=_values(args, role_arn=pulumi.Output.all(partition, account_id).apply(
                lambda pa: role_arn(pa[0], pa[1], unseal_role_name))),
            opts=child_opts(self, depends_on=chart_deps))
        k8s_object(f"{name}-bootstrap", {
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "vault-bootstrap", "namespace": NAMESPACE,
                         "labels": standard_labels("vault-bootstrap", "bootstrap")},
            "data": {"bootstrap.sh": bootstrap_script(args)},
        }, child_opts(self, depends_on=[self.namespace]))

        self.address = f"https://{FULLNAME}.{NAMESPACE}.svc:8200"
        self.ready = [self.chart]  #: what dependents wait for
        self.register_outputs({
            "address": self.address,
            "replicas": c.replicas,
            "kmsKeyArn": key_arn,
            "roleArn": self.role.arn,
            "kmsMode": c.resolved_kms_mode,
        })
