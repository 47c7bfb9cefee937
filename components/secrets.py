"""``SecretDelivery``: cert-manager with an internal CA, External Secrets Operator and the
``vault-backend`` ClusterSecretStore, plus the stack's rotation policy (issue 5).

* cert-manager (upstream chart, pinned) in ``cert-manager``; a self-signed bootstrap issuer signs
  one root CA ``Certificate`` (ECDSA P-384) whose Secret backs the ``ClusterIssuer``
  ``hardened-internal-ca``. Every internal TLS certificate (Vault's listeners first) comes from it,
  with the seed's 30-day lifetime and a renewal window from ``secrets.tls``.
* External Secrets Operator (upstream chart, pinned) in ``external-secrets``, with the cluster-wide
  push paths switched off (PushSecret, ClusterPushSecret, ClusterExternalSecret): secrets flow from
  Vault into the cluster, never back out of it.
* ``ClusterSecretStore vault-backend`` (external-secrets.io/v1): Vault KV v2 over
  https://vault.vault.svc:8200, Kubernetes auth with ESO's own service account, the server
  certificate verified against the internal CA. ``HardenedWorkload`` emits ``ExternalSecret``s
  that reference it, so no secret value is ever in git, in the stack config or in Pulumi state.

The rotation periods of the seed (TLS 30 d, signing keys 90 d, encryption keys 365 d, API keys
90 d) live in ``secrets.rotation``; which of them this stack enforces and which need an external
process is written down in docs/secrets.md.
"""
from __future__ import annotations

import re
from typing import Any, Optional

import pulumi
from pydantic import Field, field_validator, model_validator

from .imagelock import load as load_image_lock
from .base import weakens
from .base import Cidr, CidrExcept, Digest
from .base import (HardenedComponent, Resources, StrictModel, child_opts, deep_merge, helm_chart, k8s_object,
                   standard_labels)

TOKEN = "hardened:index:SecretDelivery"

CERT_MANAGER_CHART = "cert-manager"
CERT_MANAGER_REPO = "https://charts.jetstack.io"
CERT_MANAGER_NAMESPACE = "cert-manager"
ESO_CHART = "external-secrets"
ESO_REPO = "https://charts.external-secrets.io"
ESO_NAMESPACE = "external-secrets"
#: What the two charts run (cert-manager's startupapicheck is a Helm hook, never run by helm.v4.Chart; its ACME solver runs in the
#: namespace of a Certificate being validated over HTTP-01).
CERT_MANAGER_IMAGES = tuple(f"quay.io/jetstack/cert-manager-{c}" for c in
                            ("controller", "webhook", "cainjector", "acmesolver"))
ESO_IMAGES = ("ghcr.io/external-secrets/external-secrets",)
#: The ServiceAccount the ESO chart creates for its controller (fullnameOverride below): the
#: subject of Vault's Kubernetes auth role.
ESO_SERVICE_ACCOUNT = "external-secrets"
ESO_WEBHOOK_SERVICE_ACCOUNT = "external-secrets-webhook"
ESO_CERT_CONTROLLER_SERVICE_ACCOUNT = "external-secrets-cert-controller"
#: ESO >= 0.17 serves external-secrets.io/v1 for (Cluster)SecretStore and ExternalSecret; the
#: pinned 2.x chart serves only v1 for them (v1beta1 is gone), so everything here is v1.
ESO_API_VERSION = "external-secrets.io/v1"
STORE_NAME = "vault-backend"
#: Audience of the token ESO presents to Vault (the Vault role is bound to it).
VAULT_AUDIENCE = "vault"
CA_ISSUER = "hardened-internal-ca"
BOOTSTRAP_ISSUER = "hardened-selfsigned-bootstrap"
ROOT_CA_SECRET = "hardened-root-ca"
WEBHOOK_PORT = 10250
#: The controller's pods (fullnameOverride below): their labels and ServiceAccount, for the egress
#: gateway's NetworkPolicies, SPIFFE ID and authorization.
CONTROLLER_POD_LABELS = {"app.kubernetes.io/name": "cert-manager", "app.kubernetes.io/component": "controller"}
CONTROLLER_SERVICE_ACCOUNT = "cert-manager"

#: AWS KMS accepts automatic rotation periods from 90 to 2560 days.
KMS_ROTATION_MIN_DAYS, KMS_ROTATION_MAX_DAYS = 90, 2560


class TlsRotation(StrictModel):
    """Lifetime of every internal TLS certificate cert-manager issues."""

    duration_days: int = Field(
        30, ge=1, le=397,
        description="Certificate lifetime (default 30 days, the seed's certificate_rotation_days; at least 1, at "
                    "most 397, the CA/Browser Forum maximum).")
    renew_before_days: int = Field(
        14, ge=1,
        description="cert-manager renews (with a new key) when this much lifetime is left (default 14, the seed's "
                    "notify_before_expiry_days: rotation starts as soon as the seed's notice window opens). "
                    "Must be shorter than durationDays.")
    alert_before_days: int = Field(
        10, ge=1,
        description="Lifetime left at which the expiry alert (docs/secrets.md) fires (default 10). Shorter than "
                    "renewBeforeDays, so it fires only when renewal has been failing for days, never on every "
                    "normal rotation.")

    @model_validator(mode="after")
    def _windows(self) -> "TlsRotation":
        from .base import _located

        if self.renew_before_days >= self.duration_days:
            raise _located(
                "renewBeforeDays",
                f"renewBeforeDays ({self.renew_before_days}) must be shorter than durationDays "
                f"({self.duration_days}), or cert-manager renews the certificate continuously")
        if self.alert_before_days >= self.renew_before_days:
            raise _located(
                "alertBeforeDays",
                f"alertBeforeDays ({self.alert_before_days}) must be shorter than renewBeforeDays "
                f"({self.renew_before_days}): the alert is for a renewal that failed, not for a normal one")
        return self


class RotationConfig(StrictModel):
    """The seed's rotation policy (RotationPolicy), as config."""

    tls: TlsRotation = Field(default_factory=TlsRotation, description="Internal TLS certificates (30-day default).")
    signing_key_days: int = Field(
        90, ge=1, le=365,
        description="Signing keys (default 90 days, the seed's signing_key_rotation_days). Keys in the HSM are "
                    "rotated by the key-custody process (docs/secrets.md); Vault transit keys get this as "
                    "auto_rotate_period in the bootstrap script.")
    encryption_key_days: int = Field(
        365,
        description="Encryption keys (default 365 days, the seed's encryption_key_rotation_days): the KMS key's "
                    "rotation_period_in_days (AWS allows 90 to 2560).")
    api_key_days: int = Field(
        90, ge=1, le=365,
        description="API keys (default 90 days, the seed's api_key_rotation_days): the maximum TTL of secrets "
                    "Vault issues to workloads; static third-party API keys are rotated by their owners "
                    "(docs/secrets.md).")


    @field_validator("encryption_key_days")
    @classmethod
    def _kms_range(cls, v: int) -> int:
        if not KMS_ROTATION_MIN_DAYS <= v <= KMS_ROTATION_MAX_DAYS:
            raise ValueError(f"encryptionKeyDays {v} is outside what AWS KMS automatic rotation accepts "
                             f"({KMS_ROTATION_MIN_DAYS} to {KMS_ROTATION_MAX_DAYS} days); the seed's policy is 365")
        return v


def _resources(cpu: str, memory: str, cpu_limit: str, memory_limit: str):
    from .base import Quantities, Resources

    return Resources(requests=Quantities(cpu=cpu, memory=memory), limits=Quantities(cpu=cpu_limit, memory=memory_limit))


class CertManagerResources(StrictModel):
    """Requests and limits of each cert-manager Deployment (the chart sets none)."""

    controller: Resources = Field(default_factory=lambda: _resources("50m", "128Mi", "500m", "512Mi"),
                                  description="The controller (default 50m/128Mi, limits 500m/512Mi).")
    webhook: Resources = Field(default_factory=lambda: _resources("20m", "64Mi", "250m", "256Mi"),
                               description="The webhook (default 20m/64Mi, limits 250m/256Mi).")
    cainjector: Resources = Field(default_factory=lambda: _resources("20m", "128Mi", "250m", "512Mi"),
                                  description="The CA injector (default 20m/128Mi, limits 250m/512Mi: it caches "
                                              "the Secrets and webhook configurations it injects into).")


class CertManagerConfig(StrictModel):
    chart_version: str = Field("v1.21.1", description="cert-manager chart version (default v1.21.1, pinned; the "
                                                      "images follow it).")
    image_digest: Optional[Digest] = Field(
        None, description="sha256 digest of quay.io/jetstack/cert-manager-controller at chart_version. Default none: "
                          "the chart's tag; set it to pin the controller image by digest.")
    webhook_image_digest: Optional[Digest] = Field(
        None, description="sha256 digest of quay.io/jetstack/cert-manager-webhook at chart_version (default none: "
                          "the tag).")
    cainjector_image_digest: Optional[Digest] = Field(
        None, description="sha256 digest of quay.io/jetstack/cert-manager-cainjector at chart_version (default "
                          "none: the tag).")
    acmesolver_image_digest: Optional[Digest] = Field(
        None, description="sha256 digest of quay.io/jetstack/cert-manager-acmesolver at chart_version, the HTTP-01 "
                          "solver pods the controller starts (default none: the tag).")
    replicas: int = Field(2, ge=1, description="Controller and webhook replicas (default 2, with a PDB).")
    resources: CertManagerResources = Field(default_factory=CertManagerResources,
                                            description="Requests and limits per Deployment.")
    ca_duration_days: int = Field(
        1825, ge=30,
        description="Lifetime of the internal root CA (default 1825 days, five years; cert-manager renews it "
                    "one third before expiry, and issued certificates chain to the renewed root).")
    extra_values: dict[str, Any] = Field(default_factory=dict,
                                         description="Extra chart values merged last (escape hatch).", json_schema_extra=weakens('escape hatch: raw cert-manager chart values'))

    @property
    def tag_only_images(self) -> list[str]:
        """The images this config leaves pinned by tag only."""
        return [f"cert-manager-{part}" for part, digest in (
            ("controller", self.image_digest), ("webhook", self.webhook_image_digest),
            ("cainjector", self.cainjector_image_digest), ("acmesolver", self.acmesolver_image_digest)) if not digest]


class ExternalSecretsResources(StrictModel):
    """Requests and limits of each External Secrets Deployment (the chart sets none)."""

    controller: Resources = Field(default_factory=lambda: _resources("50m", "128Mi", "500m", "512Mi"),
                                  description="The controller (default 50m/128Mi, limits 500m/512Mi).")
    webhook: Resources = Field(default_factory=lambda: _resources("20m", "64Mi", "250m", "256Mi"),
                               description="The webhook (default 20m/64Mi, limits 250m/256Mi).")
    cert_controller: Resources = Field(default_factory=lambda: _resources("20m", "64Mi", "250m", "256Mi"),
                                       description="The cert controller (default 20m/64Mi, limits 250m/256Mi).")


class ExternalSecretsConfig(StrictModel):
    chart_version: str = Field("2.9.0", description="external-secrets chart version (default 2.9.0, pinned; serves "
                                                    "external-secrets.io/v1; the image is v<chartVersion>).")
    image_digest: Optional[Digest] = Field(
        None, description="sha256 digest of ghcr.io/external-secrets/external-secrets at chart_version, the one image "
                          "of the controller, the webhook and the cert controller. Default none: the chart's tag; set "
                          "it to pin all three by digest.")
    replicas: int = Field(2, ge=1, description="Controller and webhook replicas (default 2, with a PDB).")
    resources: ExternalSecretsResources = Field(default_factory=ExternalSecretsResources,
                                                description="Requests and limits per Deployment.")
    vault_role: str = Field("external-secrets",
                            description="Vault Kubernetes-auth role ESO logs in with (default external-secrets; "
                                        "created by the bootstrap step in docs/secrets.md).")
    vault_auth_mount: str = Field("kubernetes", description="Vault auth mount path (default kubernetes).")
    kv_mount: str = Field("secret", description="Vault KV v2 mount the store reads (default secret, the seed's "
                                                "`vault:secret/data/...` references).")
    refresh_interval: str = Field("1h", description="Default ExternalSecret refresh (default 1h).")
    extra_values: dict[str, Any] = Field(default_factory=dict,
                                         description="Extra chart values merged last (escape hatch).", json_schema_extra=weakens('escape hatch: raw External Secrets chart values'))

    @field_validator("vault_auth_mount", "kv_mount")
    @classmethod
    def _mount(cls, v: str) -> str:
        if not v or v.startswith("/") or v.endswith("/"):
            raise ValueError(f"{v!r} must be a Vault mount path without leading or trailing '/', e.g. 'secret'")
        return v


class SecretsConfig(StrictModel):
    enabled: bool = Field(True, description="Deploy this part of the stack (default true).", json_schema_extra=weakens('cert-manager and External Secrets are off'))
    rotation: RotationConfig = Field(default_factory=RotationConfig, description="Rotation periods (seed defaults).")
    cert_manager: CertManagerConfig = Field(default_factory=CertManagerConfig, description="cert-manager.")
    external_secrets: ExternalSecretsConfig = Field(default_factory=ExternalSecretsConfig,
                                                    description="External Secrets Operator and vault-backend.")
    vault_address: str = Field("https://vault.vault.svc:8200",
                               description="Vault address the store uses (default the in-cluster service, https).")

    @field_validator("vault_address")
    @classmethod
    def _https(cls, v: str) -> str:
        if not v.startswith("https://"):
            raise ValueError(f"vaultAddress {v!r} must be https://: secrets never travel in clear text")
        return v


class SecretDeliveryArgs(StrictModel):
    config: SecretsConfig = Field(default_factory=SecretsConfig, description="The secrets section.")
    control_plane_cidrs: list[Cidr] = Field(
        default_factory=lambda: ["10.0.0.0/16"],
        description="Where the Kubernetes API server (webhook callers) lives (admission.controlPlaneCidrs).")
    vault_namespace: str = Field("vault", description="Namespace of Vault (for egress to 8200).")
    acme_egress: bool = Field(
        False, description="Let the cert-manager controller reach ACME CAs (443) and run its HTTP-01 self-check "
                           "(80) outside the cluster (default false; HardenedStack sets it when ingress.acme is set).")
    egress_gateway: bool = Field(
        False, description="With acmeEgress: the controller leaves through the mesh's egress gateway (default false; "
                           "HardenedStack sets it with the mesh): its pods get a sidecar, and no internet "
                           "NetworkPolicy (components/egress.py writes the one to the gateway).")
    gateway_api: bool = Field(
        True, description="cert-manager's enableGatewayAPI (default true; HardenedStack sets it from the ingress: "
                          "true with the Gateway API controller, false otherwise).")
    egress_except: list[CidrExcept] = Field(
        default_factory=lambda: ["10.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16"],
        description="Ranges excluded from internet egress (default private ranges, CGNAT, link-local/IMDS).")
    platform_namespaces: list[str] = Field(
        default_factory=list,
        description="Platform namespaces vault-backend serves (its `conditions`; default none: tenants use their own "
                    "stores, components.tenancy). HardenedStack names Falco's when its HEC token comes from Vault.")
    namespace_labels: dict[str, str] = Field(
        default_factory=dict, description="Extra labels of this component's namespace(s) (HardenedStack: "
                                          "policy.sigstore.dev/include when the platform's images are verified).")


# ---------------------------------------------------------------------------------------------
# Pure functions: values and manifests, unit-tested
# ---------------------------------------------------------------------------------------------

def hours(days: int) -> str:
    """A cert-manager duration for *days* days (Go duration syntax has no 'd')."""
    return f"{days * 24}h"


_RESTRICTED = {
    "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": True,
    "runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"},
}
_POD_RESTRICTED = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}


#: cert-manager's objects are named after this, not after the Pulumi resource (the chart's default is
#: the release name, i.e. the resource name): exemptions and network policies name exact objects.
CERT_MANAGER_FULLNAME = "cert-manager"
#: The External Secrets objects' name prefix (fullnameOverride), for the same reason.
ESO_FULLNAME = "external-secrets"


def cert_manager_values(c: SecretsConfig, gateway_api: bool = True, egress_gateway: bool = False) -> dict:
    """Hardened cert-manager chart values. *gateway_api*: the controller watches Gateway API routes
    (the ingress's HTTP-01 solver needs it; it also needs the Gateway API CRDs installed).
    *egress_gateway*: the controller's pods carry a sidecar (per-pod injection label, the chart's
    ``podLabels``) that steers its ACME and HTTP-01 self-check traffic to the egress gateway; the
    mesh's holdApplicationUntilProxyStarts keeps the controller waiting for its proxy.

    Every part calls the Kubernetes API (the controller, the CA injector, and the webhook with its
    dynamic serving certificate), so each pod mounts its token explicitly
    (``automountServiceAccountToken: true``, a named exemption in policy_pack/exemptions.yaml) while
    its ServiceAccount does not, so no other pod inherits a token from it."""
    cm = c.cert_manager
    pdb = {"enabled": True, "minAvailable": 1}
    tag = cm.chart_version

    def part(resources: Resources, digest: Optional[str], extra: Optional[dict] = None) -> dict:
        image = {"tag": tag, "digest": digest} if digest else {}
        return {"replicaCount": cm.replicas, "podDisruptionBudget": pdb,
                # UID/GID 65532 (distroless nonroot; above 10000, so it owns no host file), stated so the
                # pod does not rely on the image's user
                "securityContext": {**_POD_RESTRICTED, "runAsUser": 65532, "runAsGroup": 65532},
                "containerSecurityContext": _RESTRICTED,
                "resources": {"requests": resources.requests.model_dump(), "limits": resources.limits.model_dump()},
                "automountServiceAccountToken": True, "serviceAccount": {"automountServiceAccountToken": False},
                **({"image": image} if image else {}), **(extra or {})}

    values = {
        "fullnameOverride": CERT_MANAGER_FULLNAME,
        "crds": {"enabled": True, "keep": True},
        "global": {"leaderElection": {"namespace": CERT_MANAGER_NAMESPACE}},
        **part(cm.resources.controller, cm.image_digest),
        "enableCertificateOwnerRef": True,  # a deleted Certificate takes its Secret (and key) with it
        "config": {"apiVersion": "controller.config.cert-manager.io/v1alpha1", "kind": "ControllerConfiguration",
                   "enableGatewayAPI": gateway_api},
        "webhook": part(cm.resources.webhook, cm.webhook_image_digest,
                        {"networkPolicy": {"enabled": False}, "securePort": WEBHOOK_PORT}),
        "cainjector": part(cm.resources.cainjector, cm.cainjector_image_digest),
        "prometheus": {"enabled": True, "servicemonitor": {"enabled": False}},
    }
    if egress_gateway:
        values["podLabels"] = {"sidecar.istio.io/inject": "true"}
    if cm.acmesolver_image_digest:
        values["acmesolver"] = {"image": {"tag": tag, "digest": cm.acmesolver_image_digest}}
    return deep_merge(values, cm.extra_values)


def eso_values(c: SecretsConfig) -> dict:
    """Hardened External Secrets Operator chart values: pull-only, restricted pods, PDBs.

    The controller, the webhook and the cert controller all call the Kubernetes API, so their pods
    mount their tokens (``serviceAccount.automount``, which the chart writes into the pod spec), each
    through a named exemption. The chart's ServiceAccounts have no automount field, so the component
    writes them (:func:`eso_service_accounts`) without one: no other pod inherits a token."""
    e = c.external_secrets
    pdb = {"enabled": True, "minAvailable": 1}
    image = {"tag": f"v{e.chart_version}@{e.image_digest}"} if e.image_digest else {}

    def part(resources: Resources, service_account: str) -> dict:
        # The ServiceAccount is the component's (eso_service_accounts: no token by default); the
        # pod mounts its token explicitly (the chart writes serviceAccount.automount into the pod).
        return {"podSecurityContext": {"enabled": True, **_POD_RESTRICTED},
                "securityContext": {"enabled": True, **_RESTRICTED, "runAsUser": 65532, "runAsGroup": 65532},
                "resources": {"requests": resources.requests.model_dump(), "limits": resources.limits.model_dump()},
                "serviceAccount": {"create": False, "name": service_account, "automount": True},
                **({"image": dict(image)} if image else {})}

    values = {
        "fullnameOverride": ESO_FULLNAME,
        "installCRDs": True,
        "replicaCount": e.replicas,
        "leaderElect": True,
        "podDisruptionBudget": pdb,
        # Pull only: nothing in the cluster may write back to Vault, and no object fans secrets out to
        # every namespace. ExternalSecret + the one ClusterSecretStore is the whole interface.
        "processPushSecret": False,
        "processClusterPushSecret": False,
        "processClusterExternalSecret": False,
        "processClusterStore": True,
        **part(e.resources.controller, ESO_SERVICE_ACCOUNT),
        "livenessProbe": {"enabled": True},
        "readinessProbe": {"enabled": True},
        "webhook": {"replicaCount": e.replicas, "podDisruptionBudget": pdb, "port": WEBHOOK_PORT,
                    "livenessProbe": {"enabled": True}, **part(e.resources.webhook, ESO_WEBHOOK_SERVICE_ACCOUNT)},
        "certController": {"replicaCount": e.replicas, "podDisruptionBudget": pdb,
                           "livenessProbe": {"enabled": True},
                           **part(e.resources.cert_controller, ESO_CERT_CONTROLLER_SERVICE_ACCOUNT)},
        "serviceMonitor": {"enabled": False},
        # The chart's external-secrets-edit aggregates create/patch on ClusterSecretStores and
        # ClusterGenerators (cluster-scoped) into every namespace's edit and admin (issue 23.3):
        # off; tenant_edit_role() aggregates the namespaced kinds alone. View stays (reads only).
        "rbac": {"aggregateToEdit": False, "aggregateToAdmin": False},
    }
    return deep_merge(values, e.extra_values)


#: Namespaced kinds of External Secrets that the built-in edit and admin roles may write (the
#: pull-only set the stack processes: no PushSecrets, and never a Cluster* kind).
TENANT_EDIT_RESOURCES = ("externalsecrets", "secretstores")


def tenant_edit_role() -> dict:
    """What namespace editors may do with External Secrets, aggregated into edit and admin: write
    the namespaced kinds only (the chart's own edit role also writes cluster-scoped ones)."""
    name = f"{ESO_FULLNAME}-tenant-edit"
    meta = _meta(name, "rbac")
    meta["labels"] = {**meta["labels"], "rbac.authorization.k8s.io/aggregate-to-edit": "true",
                      "rbac.authorization.k8s.io/aggregate-to-admin": "true"}
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": meta,
            "rules": [{"apiGroups": ["external-secrets.io"], "resources": list(TENANT_EDIT_RESOURCES),
                       "verbs": ["create", "delete", "deletecollection", "patch", "update"]}]}


def eso_service_accounts() -> list[tuple[str, dict]]:
    """The External Secrets ServiceAccounts (the chart's ``serviceAccount.create`` is off): no token
    mounted by default; the three pods ask for theirs explicitly (:func:`eso_values`)."""
    return [(f"eso-sa-{sa.removeprefix(ESO_FULLNAME + '-') if sa != ESO_FULLNAME else 'controller'}", {
        "apiVersion": "v1", "kind": "ServiceAccount", "automountServiceAccountToken": False,
        "metadata": _meta(sa, "service-account", ESO_NAMESPACE)})
        for sa in (ESO_SERVICE_ACCOUNT, ESO_WEBHOOK_SERVICE_ACCOUNT, ESO_CERT_CONTROLLER_SERVICE_ACCOUNT)]


def _meta(name: str, component: str, namespace: Optional[str] = None) -> dict:
    meta: dict[str, Any] = {"name": name, "labels": standard_labels(name, component)}
    if namespace:
        meta["namespace"] = namespace
    return meta


def ca_manifests(c: SecretsConfig) -> list[tuple[str, dict]]:
    """Self-signed bootstrap issuer -> root CA Certificate -> the internal CA ClusterIssuer."""
    duration = c.cert_manager.ca_duration_days
    return [
        ("bootstrap-issuer", {
            "apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer",
            "metadata": _meta(BOOTSTRAP_ISSUER, "issuer"),
            "spec": {"selfSigned": {}},
        }),
        ("root-ca", {
            "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": _meta(ROOT_CA_SECRET, "certificate", CERT_MANAGER_NAMESPACE),
            "spec": {
                "isCA": True,
                "commonName": "hardened-stack internal root CA",
                "secretName": ROOT_CA_SECRET,
                "duration": hours(duration),
                "renewBefore": hours(duration // 3),
                "privateKey": {"algorithm": "ECDSA", "size": 384, "rotationPolicy": "Always"},
                "usages": ["cert sign", "crl sign", "digital signature"],
                "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": BOOTSTRAP_ISSUER},
            },
        }),
        ("ca-issuer", {
            "apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer",
            "metadata": _meta(CA_ISSUER, "issuer"),
            "spec": {"ca": {"secretName": ROOT_CA_SECRET}},
        }),
    ]


def tls_certificate(name: str, namespace: str, dns_names: list[str], rotation: TlsRotation,
                    ip_addresses: Optional[list[str]] = None, usages: Optional[list[str]] = None) -> dict:
    """An internal TLS certificate from the CA issuer with the rotation policy's lifetime."""
    spec: dict[str, Any] = {
        "secretName": name,
        "dnsNames": sorted(dns_names),
        "duration": hours(rotation.duration_days),
        "renewBefore": hours(rotation.renew_before_days),
        "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
        "usages": usages or ["server auth", "client auth", "digital signature", "key encipherment"],
        "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": CA_ISSUER},
    }
    if ip_addresses:
        spec["ipAddresses"] = sorted(ip_addresses)
    return {"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": _meta(name, "certificate", namespace), "spec": spec}


#: The Secret of Vault's server certificate (written by VaultHA): its ``ca.crt`` is the internal CA's
#: certificate, so ESO verifies Vault without read access to the CA's private key Secret.
VAULT_TLS_SECRET = "vault-server-tls"


def store_conditions(namespaces: list[str]) -> list[dict]:
    """``conditions`` of a ClusterSecretStore serving exactly *namespaces* (an empty list admits none)."""
    return [{"namespaces": sorted(namespaces)}]


def cluster_secret_store(c: SecretsConfig, vault_namespace: str = "vault",
                         namespaces: Optional[list[str]] = None) -> dict:
    """``vault-backend``: External Secrets' own role, for the platform *namespaces* only (issue 17:
    ``conditions``; tenants have their own stores, components.tenancy)."""

    e = c.external_secrets
    store = {
        "apiVersion": ESO_API_VERSION,
        "kind": "ClusterSecretStore",
        "metadata": _meta(STORE_NAME, "secret-store"),
        "spec": {
            "provider": {"vault": {
                "server": c.vault_address,
                "path": e.kv_mount,
                "version": "v2",
                "caProvider": {"type": "Secret", "name": VAULT_TLS_SECRET, "namespace": vault_namespace,
                               "key": "ca.crt"},
                "auth": {"kubernetes": {
                    "mountPath": e.vault_auth_mount,
                    "role": e.vault_role,
                    "serviceAccountRef": {"name": ESO_SERVICE_ACCOUNT, "namespace": ESO_NAMESPACE,
                                          "audiences": [VAULT_AUDIENCE]},
                }},
            }},
            "refreshInterval": 300,
        },
    }
    store["spec"]["conditions"] = store_conditions(namespaces or [])
    return store


def _netpol(name: str, namespace: str, spec: dict) -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": _meta(name, "network-policy", namespace), "spec": spec}


def _api_server_egress(namespace: str, cidrs: list[str]) -> dict:
    return _netpol("allow-egress-kube-apiserver", namespace, {
        "podSelector": {}, "policyTypes": ["Egress"],
        "egress": [{"to": [{"ipBlock": {"cidr": c}} for c in sorted(cidrs)],
                    "ports": [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 6443}]}]})


def _webhook_ingress(namespace: str, app: str, cidrs: list[str]) -> dict:
    return _netpol("allow-ingress-webhook-from-apiserver", namespace, {
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": app}}, "policyTypes": ["Ingress"],
        "ingress": [{"from": [{"ipBlock": {"cidr": c}} for c in sorted(cidrs)],
                     "ports": [{"protocol": "TCP", "port": WEBHOOK_PORT}]}]})


def network_policies(args: SecretDeliveryArgs) -> list[tuple[str, dict]]:
    """What cert-manager and ESO truly need beyond default-deny and DNS."""
    cidrs = args.control_plane_cidrs
    acme = []
    if args.acme_egress and not args.egress_gateway:
        # NetworkPolicy cannot name the ACME CA: internet on 443 (directory, orders) and 80 (the
        # controller's HTTP-01 self-check of the public hostname), never the cluster or IMDS.
        acme.append(("cm-acme", _netpol("allow-egress-acme", CERT_MANAGER_NAMESPACE, {
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "cert-manager",
                                            "app.kubernetes.io/component": "controller"}},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": sorted(args.egress_except)}}],
                        "ports": [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 80}]}]})))
    return acme + [
        ("cm-apiserver", _api_server_egress(CERT_MANAGER_NAMESPACE, cidrs)),
        ("cm-webhook", _webhook_ingress(CERT_MANAGER_NAMESPACE, "webhook", cidrs)),
        ("eso-apiserver", _api_server_egress(ESO_NAMESPACE, cidrs)),
        ("eso-webhook", _webhook_ingress(ESO_NAMESPACE, "external-secrets-webhook", cidrs)),
        ("eso-to-vault", _netpol("allow-egress-vault", ESO_NAMESPACE, {
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "external-secrets"}},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": args.vault_namespace}},
                "podSelector": {"matchLabels": {"app.kubernetes.io/name": "vault", "component": "server"}}}],
                "ports": [{"protocol": "TCP", "port": 8200}]}]})),
    ]


# ---------------------------------------------------------------------------------------------
# The component
# ---------------------------------------------------------------------------------------------

class SecretDelivery(HardenedComponent):
    """cert-manager + internal CA, External Secrets Operator and the ``vault-backend`` store."""

    def __init__(self, name: str, args: SecretDeliveryArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TOKEN, name, None, opts)
        from .namespace import HardenedNamespace, HardenedNamespaceArgs

        c = args.config
        tag_only = c.cert_manager.tag_only_images + ([] if c.external_secrets.image_digest else ["external-secrets"])
        if tag_only and not load_image_lock():   # images.lock pins every image of the stack once filled
            pulumi.log.warn(f"secrets: {', '.join(tag_only)} pinned by tag only; set the imageDigest fields of "
                            "secrets.certManager and secrets.externalSecrets to pin them by digest, or run "
                            "`python -m hardened images pin` (images.lock)", self)
        self.cert_manager_namespace = HardenedNamespace(
            f"{name}-cm-ns", HardenedNamespaceArgs(name=CERT_MANAGER_NAMESPACE, labels=args.namespace_labels),
            child_opts(self))
        self.eso_namespace = HardenedNamespace(
            f"{name}-eso-ns", HardenedNamespaceArgs(name=ESO_NAMESPACE, labels=args.namespace_labels), child_opts(self))
        namespaces = [self.cert_manager_namespace, self.eso_namespace]
        policies = [k8s_object(f"{name}-{suffix}", m, child_opts(self, depends_on=namespaces))
                    for suffix, m in network_policies(args)]

        self.cert_manager = helm_chart(
            f"{name}-cert-manager", chart=CERT_MANAGER_CHART, version=c.cert_manager.chart_version,
            repo=CERT_MANAGER_REPO, namespace=CERT_MANAGER_NAMESPACE,
            values=cert_manager_values(c, args.gateway_api, args.acme_egress and args.egress_gateway),
            opts=child_opts(self, depends_on=[self.cert_manager_namespace, *policies]))
        ca: list[pulumi.Resource] = []
        for suffix, manifest in ca_manifests(c):
            ca.append(k8s_object(f"{name}-{suffix}", manifest, child_opts(self, depends_on=[self.cert_manager, *ca])))
        self.ca_issuer = ca[-1]

        eso_accounts = [k8s_object(f"{name}-{suffix}", m, child_opts(self, depends_on=[self.eso_namespace]))
                        for suffix, m in eso_service_accounts()]
        self.external_secrets = helm_chart(
            f"{name}-external-secrets", chart=ESO_CHART, version=c.external_secrets.chart_version,
            repo=ESO_REPO, namespace=ESO_NAMESPACE, values=eso_values(c),
            opts=child_opts(self, depends_on=[self.eso_namespace, *policies, *eso_accounts]))
        k8s_object(f"{name}-eso-tenant-edit", tenant_edit_role(), child_opts(self, depends_on=[self.external_secrets]))
        # The store may exist before Vault answers: ESO marks it not-ready until Vault is up, and
        # HardenedStack makes the workloads (their ExternalSecrets) wait for both.
        self.store = k8s_object(f"{name}-vault-backend", cluster_secret_store(c, args.vault_namespace,
                                                                                  args.platform_namespaces),
                                child_opts(self, depends_on=[self.external_secrets]))

        #: what dependents wait for: the CA issuer and the Vault-backed secret store
        self.ready = [self.cert_manager, self.ca_issuer, self.external_secrets, self.store]
        self.register_outputs({
            "caIssuer": CA_ISSUER,
            "secretStore": STORE_NAME,
            "certManagerNamespace": CERT_MANAGER_NAMESPACE,
            "externalSecretsNamespace": ESO_NAMESPACE,
        })
