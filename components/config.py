"""The one validated configuration of a stack: ``StackConfig``.

Every top-level key of the ``hardened-stack:`` config namespace (``Pulumi.<stack>.yaml``) is one
field of :class:`StackConfig`, spelled in camelCase. Loading rejects unknown keys, validates every
value, and raises :class:`ConfigError` (a ``pulumi.RunError``, so no traceback) whose message names
the config key path and how to fix it, before any resource is registered.

Secret values (tokens, passwords) are separate top-level keys set with
``pulumi config set --secret``; they are read as Pulumi secrets and never enter the model as
plain text (see :data:`SECRET_KEYS`).
"""
from __future__ import annotations

import difflib
import json
import re
from typing import Any, Literal, Optional

import pulumi
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticUndefined

from policy_pack.policies._lib.registries import shared_host  # stdlib only: imports no policy

from .base import weakens
from .base import Cidr, cidr_problem
from .base import (DNS1123_LABEL, ConfigError, Quantities, QuotaConfig, Resources, StrictModel,  # noqa: F401
                   _located, _LocatedError, _LocatedErrors, check_image_reference, is_trusted, key_in_prefix,
                   vault_prefix,
                   parse_cpu as _parse_cpu, parse_memory as _parse_memory)

PROJECT = "hardened-stack"

# Area sections live beside their components; imported here so StackConfig is one model.
from .admission import AdmissionConfig  # noqa: E402
from .cluster import ClusterFields  # noqa: E402
from .compliance import ComplianceConfig  # noqa: E402
from .ingress import IngressConfig  # noqa: E402
from .mesh import MeshConfig  # noqa: E402
from .runtime_detection import RuntimeDetectionConfig  # noqa: E402
from .secrets import SecretsConfig  # noqa: E402
from .spire import SpireConfig  # noqa: E402
from .storage import StorageConfig  # noqa: E402
from .vault import VaultConfig  # noqa: E402




# ---------------------------------------------------------------------------------------------
# Foundation sections
# ---------------------------------------------------------------------------------------------

class ClusterConfig(ClusterFields):
    """The cluster: created hardened (``create: true``) or adopted after a preflight
    (components/cluster.py, docs/cluster.md). The fields below name it; ClusterFields adds the rest."""

    name: str = Field(description="Cluster name, used in resource names and tags.")
    kubernetes_version: Literal["1.32", "1.33"] = Field(
        "1.33", description="Target Kubernetes minor version (default 1.33); manifests are validated against it.")
    environment: Literal["dev", "staging", "prod"] = Field(
        "prod", description="Environment name (default prod). In prod, switching off a security section "
                            "(`<section>.enabled: false`) is rejected: that opt-out is for dev clusters only.")
    region: str = Field("us-east-1", description="AWS region of the cluster (default us-east-1).")
    oidc_provider_arn: Optional[str] = Field(
        None, description="ARN of the cluster's IAM OIDC provider (IRSA). Default none: the stack creates one "
                          "from oidcIssuerUrl when set.")
    oidc_issuer_url: Optional[str] = Field(
        None, description="The cluster's service-account issuer URL (https://oidc.eks.<region>.amazonaws.com/id/...).")
    account_id: Optional[str] = Field(
        None, pattern=r"^\d{12}$",
        description="AWS account id of the cluster (default none). Needed for role ARNs that chart values name at "
                    "preview (falcosidekick's, when compliance.auditTrails.falco archives Falco's events).")

    @model_validator(mode="after")
    def _created_cluster_owns_irsa(self) -> "ClusterConfig":
        if self.create and (self.oidc_issuer_url or self.oidc_provider_arn):
            raise _located("oidcIssuerUrl" if self.oidc_issuer_url else "oidcProviderArn",
                           "the created cluster brings its own IAM OIDC provider (IRSA); remove this key, or set "
                           "create: false to adopt the cluster it belongs to")
        if self.create and not self.deployer_role_arn:
            raise _located("deployerRoleArn", "required with create: true (the creator gets no standing "
                                              "cluster-admin); name the pipeline role that runs `pulumi up`")
        return self


class NamespaceConfig(StrictModel):
    name: str = Field(description="Namespace name (DNS-1123 label).")
    quota: QuotaConfig = Field(default_factory=QuotaConfig, description="ResourceQuota (defaults above).")
    default_resources: Resources = Field(
        default_factory=Resources,
        description="LimitRange defaults for containers that declare none (defaults 100m/128Mi, 500m/512Mi).")
    labels: dict[str, str] = Field(default_factory=dict, description="Extra namespace labels.", json_schema_extra=weakens('a namespace label overrides one the stack manages (mesh injection, Pod Security, signature verification, Gatekeeper)', 'managed_labels'))

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return _dns_label(v)


class Probe(StrictModel):
    path: str = Field("/healthz", description="HTTP path of the probe (default /healthz).")
    port: Optional[int] = Field(None, description="Probe port (default: the workload's port).")


class SecretRef(StrictModel):
    """A secret delivered by External Secrets from Vault: never a literal."""

    env: str = Field(description="Environment variable that receives the value.")
    vault_key: str = Field(description="Vault KV path and property, 'path/in/kv#property'.")

    @field_validator("vault_key")
    @classmethod
    def _key(cls, v: str) -> str:
        if "#" not in v or v.startswith("#") or v.endswith("#"):
            raise ValueError(f"vaultKey {v!r} must look like 'lego-mcp-prod/hsm#pin' (KV path, '#', property)")
        return v


class PersistentVolume(StrictModel):
    """A per-replica volume that survives restarts (issue 17), instead of an emptyDir."""

    path: str = Field(description="Absolute mount path of the volume.")
    size: str = Field(description="Requested size, a Kubernetes quantity such as '10Gi'.")
    storage_class: Optional[str] = Field(
        None, description="StorageClass (default: the stack's encrypted class, storage.className).")

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        if not v.startswith("/") or v == "/" or "//" in v or "/../" in f"{v}/":
            raise ValueError(f"path {v!r} must be an absolute path below '/'")
        return v

    @field_validator("size")
    @classmethod
    def _size(cls, v: str) -> str:
        if not _parse_memory(v) > 0:
            raise ValueError(f"size {v!r} is not a positive Kubernetes quantity such as '10Gi'")
        return v


class WorkloadConfig(StrictModel):
    name: str = Field(description="Workload name: Deployment, ServiceAccount and `app` label.")
    namespace: str = Field(description="Namespace (one of `namespaces`).")
    image: str = Field(description="Image pinned by digest from a trusted registry.")
    port: int = Field(ge=1, le=65535, description="Container port the Service exposes.")
    replicas: int = Field(2, ge=1, description="Replicas (default 2, so the PodDisruptionBudget allows drains).")
    run_as_user: int = Field(
        10001, gt=10000, description="UID (default 10001: above 10000, so it owns no host file).")
    resources: Resources = Field(default_factory=Resources, description="Requests and limits.")
    liveness: Probe = Field(default_factory=Probe, description="Liveness probe (default GET /healthz).")
    readiness: Probe = Field(default_factory=lambda: Probe(path="/readyz"),
                             description="Readiness probe (default GET /readyz).")
    writable_paths: list[str] = Field(
        default_factory=list,
        description="Paths that get a writable emptyDir (default none: the root filesystem is read-only).")
    persistent_volumes: list[PersistentVolume] = Field(
        default_factory=list,
        description="Per-replica persistent volumes (default none). With any, the workload runs as a StatefulSet whose "
                    "volumeClaimTemplates use the stack's encrypted StorageClass (gp3-encrypted, KMS): data survives "
                    "restarts and rescheduling, unlike a writablePaths emptyDir.")
    env: dict[str, str] = Field(default_factory=dict, description="Plain, non-secret environment variables.")
    secrets: list[SecretRef] = Field(default_factory=list,
                                     description="Secrets from Vault via External Secrets (never literals).")
    command: list[str] = Field(default_factory=list, description="Container command override.")
    args: list[str] = Field(default_factory=list, description="Container args.")
    external: bool = Field(False, description="Exposed through the ingress gateway (default false).")
    hostname: Optional[str] = Field(None, description="Public hostname when external.")
    spiffe_id: Optional[str] = Field(
        None, description="SPIFFE ID override (default spiffe://<trustDomain>/ns/<namespace>/sa/<name>, the "
                          "form Istio reads principals from); must be in spire.trustDomain and unique.")

    @field_validator("name", "namespace")
    @classmethod
    def _names(cls, v: str) -> str:
        return _dns_label(v)

    @field_validator("writable_paths")
    @classmethod
    def _paths(cls, v: list[str]) -> list[str]:
        for p in v:
            if not p.startswith("/") or p == "/":
                raise ValueError(f"writablePaths entry {p!r} must be an absolute path below '/'")
        return v

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


class NetworkIntent(StrictModel):
    """An allowed flow, as intent: ``from`` workload (or namespace) to workload on a port.

    Endpoints are ``<namespace>/<workload>`` or ``<namespace>/*`` (every pod of a namespace).
    One intent becomes a NetworkPolicy pair (egress at the source, ingress at the destination)
    and, with the mesh, an AuthorizationPolicy rule.
    """

    source: str = Field(alias="from", description="Source: 'namespace/workload' or 'namespace/*'.")
    destination: str = Field(alias="to", description="Destination: 'namespace/workload'.")
    port: int = Field(ge=1, le=65535, description="Destination port.")
    protocol: Literal["TCP", "UDP"] = Field("TCP", description="Protocol (default TCP).")

    @field_validator("source", "destination")
    @classmethod
    def _endpoint(cls, v: str) -> str:
        parts = v.split("/")
        if len(parts) != 2 or not DNS1123_LABEL.match(parts[0]) or not (
                parts[1] == "*" or DNS1123_LABEL.match(parts[1])):
            raise ValueError(f"endpoint {v!r} must be 'namespace/workload' or 'namespace/*'")
        return v

    @field_validator("destination")
    @classmethod
    def _dest(cls, v: str) -> str:
        if v.endswith("/*"):
            raise ValueError(f"destination {v!r} must name one workload, not a whole namespace")
        return v


class StackConfig(StrictModel):
    """Everything a stack needs, validated as one model."""

    cluster: ClusterConfig = Field(description="The target cluster.")
    trusted_registries: list[str] = Field(
        default_factory=lambda: ["registry.k8s.io", "docker.io/hashicorp", "docker.io/falcosecurity",
                                 "registry.istio.io/release", "docker.io/openpolicyagent", "quay.io/jetstack",
                                 "oci.external-secrets.io", "ghcr.io/external-secrets", "ghcr.io/spiffe",
                                 "ghcr.io/sigstore", "cgr.dev/chainguard", "ghcr.io/fluent"],
        description="Registries images may come from (default: registry.k8s.io plus the registries of the "
                    "charts the stack deploys).")
    namespaces: list[NamespaceConfig] = Field(default_factory=list, description="Tenant namespaces.")
    workloads: list[WorkloadConfig] = Field(default_factory=list, description="Tenant workloads (golden path).")
    intents: list[NetworkIntent] = Field(default_factory=list, description="Allowed workload-to-workload flows.")
    isolate: list[str] = Field(
        default_factory=list,
        description="Emergency isolation: 'namespace/workload' entries get a deny-all-in-and-out policy, and no "
                    "allow policy (not even DNS or the istiod egress) selects them any more.")
    mesh: MeshConfig = Field(default_factory=MeshConfig, description="Zero-trust mesh (Istio).")
    spire: SpireConfig = Field(default_factory=SpireConfig, description="SPIFFE/SPIRE workload identity.")
    vault: VaultConfig = Field(default_factory=VaultConfig, description="Vault HA with KMS auto-unseal.")
    secrets: SecretsConfig = Field(default_factory=SecretsConfig,
                                   description="External Secrets, cert-manager and rotation periods.")
    admission: AdmissionConfig = Field(default_factory=AdmissionConfig, description="Gatekeeper and signatures.")
    ingress: IngressConfig = Field(default_factory=IngressConfig, description="TLS 1.3 ingress and AWS WAF.")
    runtime_detection: RuntimeDetectionConfig = Field(default_factory=RuntimeDetectionConfig,
                                                      description="Falco and falcosidekick.")
    compliance: ComplianceConfig = Field(default_factory=ComplianceConfig,
                                         description="Compliance CronJobs and audit-log retention.")
    storage: StorageConfig = Field(default_factory=StorageConfig,
                                   description="The encrypted StorageClass (gp3, KMS) for every persistent volume.")
    aws_endpoint_cidrs: list[Cidr] = Field(
        default_factory=list,
        description="Subnets of the VPC's interface endpoints (with private DNS) for the AWS APIs the platform's pods "
                    "call: sts, kms, s3. With them, Vault (KMS, STS, and its audit shipper's S3) and falcosidekick "
                    "(S3, STS) reach those subnets only on 443, never an internet address. Default none (dev): "
                    "443 to the internet minus the private ranges; a prod stack must set them.")
    opt_outs: list[dict[str, Any]] = Field(
        default_factory=list,
        description="The ledger's signatures (default none): one entry per setting that weakens a secure default "
                    "({id, owner: {team, contact}, setting: <exact key path>, reason, expires: YYYY-MM-DD}, the "
                    "exemptions file's format and checks). In prod every opt-out needs an active entry; render and "
                    "report list them all (components/ledger.py).")

    @field_validator("trusted_registries")
    @classmethod
    def _registries(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("trustedRegistries must name at least one registry")
        for r in v:
            if "://" in r or r != r.strip() or not r:
                raise ValueError(f"trustedRegistries entry {r!r} must be a registry host or host/path, no scheme")
            host = shared_host(r)
            if host:
                raise ValueError(f"trustedRegistries entry {r!r} trusts a whole shared registry, where anyone can "
                                 f"publish images; name the owner's repository prefix instead, e.g. '{host}/<owner>'")
        return v

    @model_validator(mode="after")
    def _cross_checks(self) -> "StackConfig":
        errors: list[_LocatedError] = []
        if self.cluster.environment == "prod":
            for name, field in type(self).model_fields.items():
                section = getattr(self, name)
                if isinstance(section, StrictModel) and getattr(section, "enabled", True) is False:
                    errors.append(_located(f"{field.alias or name}.enabled",
                                   "switching a security section off is a dev-only opt-out; it is not allowed "
                                   "when cluster.environment is prod"))
        ns_names = [n.name for n in self.namespaces]
        _no_duplicates(ns_names, "namespaces", "name")
        _no_duplicates([w.key for w in self.workloads], "workloads", "namespace/name")
        known_ns = set(ns_names)
        workloads = {w.key for w in self.workloads}
        for i, w in enumerate(self.workloads):
            if w.namespace not in known_ns:
                errors.append(_located(f"workloads[{i}].namespace",
                               f"namespace {w.namespace!r} is not declared; add it under namespaces"))
            try:
                check_image_reference(w.image, self.trusted_registries)
            except ValueError as e:
                errors.append(_located(f"workloads[{i}].image", str(e)))
            if w.external and not w.hostname:
                errors.append(_located(f"workloads[{i}].hostname", "an external workload needs a hostname"))
        for i, intent in enumerate(self.intents):
            for field, endpoint in (("to", intent.destination), ("from", intent.source)):
                ns, wl = endpoint.split("/")
                if wl == "*":
                    continue
                if endpoint not in workloads:
                    errors.append(_located(f"intents[{i}].{field}",
                                   f"{endpoint!r} names no workload; declared: {sorted(workloads)}"))
        if self.admission.enabled:
            # Gatekeeper's registry constraint also judges the platform's own pods: an image the
            # stack deploys from an untrusted registry would be refused in the cluster, after apply.
            missing = [(section, repo) for section, repo in platform_images(self)
                       if not is_trusted(repo, self.trusted_registries)]
            if missing:
                errors.append(_located("trustedRegistries", "; ".join(
                    f"{section} needs {repo!r} to be trusted (Gatekeeper would refuse its pods)"
                    for section, repo in missing) + "; add " + ", ".join(
                    repr(p) for p in dict.fromkeys(registry_org(repo) for _, repo in missing))))
        sig = self.admission.signatures
        if self.admission.enabled and sig.enabled and sig.no_match_policy == "deny":
            from .admission import glob_matches

            for i, w in enumerate(self.workloads):
                if w.namespace not in sig.excluded_namespaces and not any(
                        glob_matches(g, w.image) for g in sig.image_globs()):
                    errors.append(_located(
                        f"workloads[{i}].image",
                        f"{w.image!r} runs in {w.namespace!r}, where signatures are verified and an image no policy "
                        f"names is denied; add its repository's release workflow under admission.signatures.signers "
                        f"(repository, workflow, refs, images) or its glob to admission.signatures.images"))
        if self.admission.enabled and sig.enabled and sig.platform_images:
            from .admission import glob_matches, platform_namespace_labels, unverifiable_platform_images
            from .compliance import NAMESPACE as COMPLIANCE_NAMESPACE

            unknown = unverifiable_platform_images(platform_images(self))
            if unknown:
                errors.append(_located("admission.signatures.platformImages", "; ".join(
                    f"{section} runs {repo!r}, whose upstream signature is not known" for section, repo in unknown)
                    + ": add its upstream's signer to PLATFORM_SIGNERS (or the evidence that it does not sign to "
                      "UNSIGNED_UPSTREAM) in components/admission.py, or set platformImages false"))
            c = self.compliance
            if (c.enabled and sig.no_match_policy == "deny" and platform_namespace_labels(self.admission, COMPLIANCE_NAMESPACE)
                    and not any(glob_matches(g, c.image) for g in sig.image_globs())):
                errors.append(_located("compliance.image", f"{c.image!r} runs in 'compliance', where signatures are "
                                       "verified and an image no policy names is denied; sign it by the release "
                                       "workflow of admission.signatures (or a signer) and add its glob there"))
        for i, ns in enumerate(self.admission.signatures.excluded_namespaces):
            if ns not in known_ns:
                errors.append(_located(f"admission.signatures.excludedNamespaces[{i}]",
                               f"namespace {ns!r} is not declared; add it under namespaces or remove it here"))
        for i, target in enumerate(self.isolate):
            if target not in workloads:
                errors.append(_located(f"isolate[{i}]", f"{target!r} names no workload; declared: {sorted(workloads)}"))
        # Secrets (issue 5): Vault's TLS comes from cert-manager, its KMS access from IRSA, and
        # workload secrets need External Secrets.
        if self.vault.enabled:
            if not self.secrets.enabled:
                errors.append(_located("secrets.enabled", "vault needs cert-manager (its TLS certificate) from the secrets "
                                                  "section; enable secrets or disable vault"))
            if not (self.cluster.create or self.cluster.oidc_issuer_url or self.cluster.oidc_provider_arn):
                errors.append(_located("cluster.oidcIssuerUrl", "vault's KMS auto-unseal uses IRSA: set the cluster's "
                                                        "service-account issuer URL (or cluster.oidcProviderArn), or set cluster.create: true "
                                                        "(the created cluster brings its own)"))
            for i, ns in enumerate(self.vault.client_namespaces):
                if ns not in known_ns:
                    errors.append(_located(f"vault.clientNamespaces[{i}]",
                                   f"namespace {ns!r} is not declared; add it under namespaces or remove it here"))
        if self.cluster.oidc_issuer_url and not self.cluster.oidc_issuer_url.startswith("https://"):
            errors.append(_located("cluster.oidcIssuerUrl", "must be an https:// URL (the EKS cluster's OIDC issuer)"))
        if self.cluster.oidc_provider_arn and ":oidc-provider/" not in self.cluster.oidc_provider_arn:
            errors.append(_located("cluster.oidcProviderArn",
                           "must be an IAM OIDC provider ARN (arn:aws:iam::<account>:oidc-provider/<issuer host/path>)"))
        for i, w in enumerate(self.workloads):
            if w.secrets and not (self.secrets.enabled and self.vault.enabled):
                errors.append(_located(f"workloads[{i}].secrets", "secrets are delivered by External Secrets from Vault; "
                                                          "enable the vault and secrets sections"))
        # Detection (issue 6): a HEC token from Vault is synced by External Secrets.
        splunk = self.runtime_detection.siem.splunk
        if (self.runtime_detection.enabled and splunk is not None and splunk.token_vault_key
                and not (self.secrets.enabled and self.vault.enabled)):
            errors.append(_located("runtimeDetection.siem.splunk.tokenVaultKey",
                           "the token is synced from Vault by External Secrets: enable the vault and secrets "
                           "sections, or remove tokenVaultKey and set the Pulumi secret hardened-stack:splunkHecToken"))
        self._identity_checks(errors)
        errors += cross_tenant_errors(self)
        errors += self._ledger_checks()
        if errors:
            # every cross-field problem at once (issue 17): one pass, each with its key
            raise _LocatedErrors(errors)
        return self

    def _identity_checks(self, errors: list) -> None:
        """Workload identity and mesh (issue 4): SPIFFE IDs valid, in the trust domain and unique;
        a prod SPIRE server is HA on SQL; external entry points need an OIDC issuer for their JWTs."""
        from .spire import check_spiffe_id, workload_spiffe_id

        td = self.spire.trust_domain
        if (self.cluster.environment == "prod" and self.spire.enabled
                and self.spire.datastore.type == "sqlite3"):
            errors.append(_located("spire.datastore.type", "sqlite3 is one pod's file: a prod SPIRE server runs HA "
                                                   "(serverReplicas 3) on postgres or mysql (set type, host, cidrs)"))
        seen: dict[str, str] = {}
        for i, w in enumerate(self.workloads):
            sid = workload_spiffe_id(w, td)
            try:
                check_spiffe_id(sid)
            except ValueError as e:
                errors.append(_located(f"workloads[{i}].spiffeId", str(e)))
                continue
            if not sid.startswith(f"spiffe://{td}/"):
                errors.append(_located(f"workloads[{i}].spiffeId",
                               f"SPIFFE ID {sid!r} is outside the stack's trust domain {td!r} (spire.trustDomain); "
                               f"SPIRE would never issue it"))
            if sid in seen:
                errors.append(_located(f"workloads[{i}].spiffeId",
                               f"SPIFFE ID {sid!r} is already the identity of {seen[sid]!r}: two workloads "
                               f"would be indistinguishable to the mesh; give each its own spiffeId"))
            seen[sid] = w.key
        if self.mesh.enabled and self.mesh.require_jwt_on_external and self.mesh.jwt is None:
            external = [w.key for w in self.workloads if w.external]
            if external:
                errors.append(_located("mesh.jwt", f"external workloads {external} need an OIDC issuer for end-user JWTs: "
                                           f"set mesh.jwt.issuer and mesh.jwt.jwksUri (or mesh.requireJwtOnExternal "
                                           f"false to opt out)"))

    def _ledger_checks(self) -> list:
        """Issue 27.2: in prod, every setting that weakens a secure default is covered by an active
        optOuts entry (owner, reason, expiry); entries are checked everywhere."""
        from .ledger import opt_outs, parse_entries, uncovered

        try:
            entries = parse_entries(self.opt_outs)
        except ValueError as e:
            return [_located("optOuts", str(e))]
        found = opt_outs(self)
        missing, problems = uncovered(found, entries)
        errors = [_located("optOuts", p) for p in problems]
        if self.cluster.environment == "prod":
            for o in missing:
                errors.append(_located(o.setting, (
                    f"weakens a secure default ({o.weakens}); a production stack needs an optOuts entry for it "
                    f"({{id, owner: {{team, contact}}, setting: {o.setting}, reason, expires}}) or the default "
                    f"{json.dumps(o.default, default=str)}")))
        return errors

    def workload(self, key: str) -> WorkloadConfig:
        return next(w for w in self.workloads if w.key == key)




# ---------------------------------------------------------------------------------------------
# Issue 17: checks that close holes well-formed config used to let through
# ---------------------------------------------------------------------------------------------

#: Environment variable names that hold a secret (by their last ``_``-separated words): their value
#: comes from Vault (``secrets``), never as a literal in ``env``.
SECRET_ENV_SUFFIXES = ("PASSWORD", "PASSWD", "SECRET", "TOKEN", "PIN", "API_KEY", "APIKEY", "PRIVATE_KEY",
                       "SECRET_KEY", "ACCESS_KEY", "CREDENTIALS")
#: Environment variables that configure a hardware security module the pod would need mounted:
#: any name with ``HSM`` as one of its ``_``-separated words (HSM_ENABLED, ENABLE_HSM, HSM_SLOT,
#: HSM_LIBRARY, Vault's pkcs11 seal VAULT_HSM_LIB / VAULT_HSM_PIN ...) or PKCS11.
HSM_WORDS = frozenset({"HSM", "PKCS11"})
#: Words that make an HSM variable a switch: its value decides (an explicit false is accepted).
FLAG_WORDS = frozenset({"ENABLED", "ENABLE", "USE", "ON", "ACTIVE"})
TRUTHY = {"1", "true", "yes", "on", "y"}
FALSY = {"0", "false", "no", "off", "n", ""}


def hsm_env_problem(name: str, value: Any) -> Optional[str]:
    """Why *name*=*value* asks for an HSM the stack does not provide, or None."""
    words = set(str(name).upper().replace("-", "_").split("_"))
    if not words & HSM_WORDS:
        return None
    if words & FLAG_WORDS and str(value).strip().lower() in FALSY:
        return None
    return ("the workload would look for an HSM that nothing mounts: the stack provides no HSM to pods (a "
            "hostPath socket is refused by Pod Security and the pack, and no HSM device plugin or CSI driver "
            "is deployed); remove the variable (docs/secrets.md, 'HSM')")


def _env_items(env: Any) -> list[tuple[str, Any]]:
    """``(name, value)`` of an env given as a map or as a Kubernetes ``[{name, value}]`` list."""
    if isinstance(env, dict):
        return [(str(k), v) for k, v in env.items()]
    if isinstance(env, list):
        return [(str(e.get("name")), e.get("value")) for e in env if isinstance(e, dict) and e.get("name")]
    return []


#: Where an escape hatch hands environment variables to Vault's server (hashicorp/vault chart):
#: an HSM seal (``seal "pkcs11"``) is configured through them.
VAULT_ENV_VALUES = (("server", "extraEnvironmentVars"), ("server", "extraSecretEnvironmentVars"),
                    ("server", "extraEnv"))


def cross_tenant_errors(cfg: "StackConfig") -> list[_LocatedError]:
    """Tenant secret isolation, secret-looking literals, and the HSM flag (issue 17)."""
    errors: list[_LocatedError] = []
    for i, w in enumerate(cfg.workloads):
        prefix = vault_prefix(w.namespace)
        for j, s in enumerate(w.secrets):
            key = s.vault_key.split("#", 1)[0]
            if not key_in_prefix(key, prefix):
                errors.append(_located(
                    f"workloads[{i}].secrets[{j}].vaultKey",
                    f"{s.vault_key!r} lies outside namespace {w.namespace!r}'s Vault path: each namespace reads only "
                    f"secret/data/{prefix}*; move the secret to '{prefix}{key.rsplit('/', 1)[-1]}#{s.vault_key.split('#', 1)[1]}'"))
        for name, value in sorted(w.env.items()):
            upper = name.upper()
            if any(upper == sfx or upper.endswith("_" + sfx) for sfx in SECRET_ENV_SUFFIXES):
                errors.append(_located(
                    f"workloads[{i}].env.{name}",
                    f"{name} looks like a secret and is given in clear text (it would sit in git, in Pulumi state "
                    f"and in the Deployment); store it in Vault under {prefix} and list it under "
                    f"workloads[{i}].secrets as {{env: {name}, vaultKey: '{prefix}<path>#<property>'}}"))
            problem = hsm_env_problem(name, value)
            if problem:
                errors.append(_located(f"workloads[{i}].env.{name}", problem))
    values: Any = cfg.vault.extra_values
    for path in VAULT_ENV_VALUES:
        env = values
        for part in path:
            env = env.get(part) if isinstance(env, dict) else None
        for name, value in _env_items(env):
            problem = hsm_env_problem(name, value)
            if problem:
                where = ".".join(path)
                errors.append(_located(f"vault.extraValues.{where}.{name}", problem.replace(
                    "the workload would look for", "Vault would look for").replace(
                    "remove the variable", "Vault unseals with AWS KMS (vault.kmsMode); remove the variable")))
    for i, w in enumerate(cfg.workloads):
        seen: set[str] = set()
        for j, v in enumerate(w.persistent_volumes):
            if v.path in seen or v.path in w.writable_paths:
                errors.append(_located(f"workloads[{i}].persistentVolumes[{j}].path",
                                       f"{v.path!r} is declared twice (persistentVolumes or writablePaths); keep one"))
            seen.add(v.path)
            if v.storage_class is None and not cfg.storage.enabled:
                errors.append(_located(f"workloads[{i}].persistentVolumes[{j}].storageClass",
                                       "the stack's encrypted class is off (storage.enabled false): name an "
                                       "encrypted StorageClass here or enable storage"))
    if falco_archive(cfg):
        if not cfg.cluster.account_id:
            errors.append(_located("cluster.accountId", "Falco's events are archived (compliance.auditTrails.falco): "
                                                        "falcosidekick's role ARN is a chart value known at preview; "
                                                        "set the AWS account id (or auditTrails.falco: false)"))
        if not cfg.compliance.audit_retention.bucket_name:
            errors.append(_located("compliance.auditRetention.bucketName",
                                   "Falco's events are archived (compliance.auditTrails.falco): falcosidekick's chart "
                                   "values must name the bucket at preview; set an exact bucket name"))
        from .audit import SIDEKICK_IRSA_MIN_VERSION

        tag = cfg.runtime_detection.sidekick_image_tag
        parts = tuple(int(x) for x in re.findall(r"\d+", tag.split("-")[0])[:3])
        if len(parts) == 3 and parts < SIDEKICK_IRSA_MIN_VERSION:
            errors.append(_located(
                "runtimeDetection.sidekickImageTag",
                f"falcosidekick {tag} cannot use IRSA (its AWS client has no credentials and calls sts:AssumeRole, "
                "which the archive role does not trust), so Falco's events would never reach the audit bucket; use "
                f"{'.'.join(map(str, SIDEKICK_IRSA_MIN_VERSION))} or later (default 2.34.1)"))
    if cfg.cluster.environment == "prod" and not cfg.aws_endpoint_cidrs and (cfg.vault.enabled or falco_archive(cfg)):
        errors.append(_located(
            "awsEndpointCidrs", "Vault and falcosidekick call AWS (KMS, STS, S3) on 443: without the VPC endpoints' "
                                "subnets they may reach any internet address on 443; create interface endpoints for "
                                "sts, kms and s3 with private DNS and list their subnets here"))
    ing = cfg.ingress
    if ing.enabled and ing.waf.enabled:
        if ing.alb is not None and ing.waf.load_balancer_arn:
            errors.append(_located("ingress.waf.loadBalancerArn",
                                   "set together with ingress.alb: the WebACL is associated with the ALB the stack "
                                   "builds; remove one of the two"))
        elif ing.alb is None and not ing.waf.load_balancer_arn and cfg.cluster.environment == "prod":
            errors.append(_located("ingress.alb",
                                   "the WebACL would protect nothing: a regional WebACL attaches to an ALB, not to "
                                   "the network load balancer of the gateway's Service. Set ingress.alb (vpcId, "
                                   "vpcCidr, subnetIds, certificateArn: the stack builds the ALB and associates the "
                                   "WebACL) or ingress.waf.loadBalancerArn (an ALB built elsewhere)"))
    splunk = cfg.runtime_detection.siem.splunk
    if cfg.runtime_detection.enabled and splunk is not None and splunk.token_vault_key:
        from .runtime_detection import NAMESPACE as FALCO_NAMESPACE

        key = splunk.token_vault_key.split("#", 1)[0]
        if not key_in_prefix(key, vault_prefix(FALCO_NAMESPACE)):
            errors.append(_located(
                "runtimeDetection.siem.splunk.tokenVaultKey",
                f"{splunk.token_vault_key!r} lies outside namespace {FALCO_NAMESPACE!r}'s Vault path: it is read "
                f"there, and each namespace reads only secret/data/{vault_prefix(FALCO_NAMESPACE)}*; use "
                f"'{vault_prefix(FALCO_NAMESPACE)}splunk#hec_token'"))
    return errors


#: Keys whose entries are CIDR ranges (matched on the last key of the path, case-insensitively).
def _is_cidr_key(key: str) -> bool:
    k = key.lower().replace("_", "")
    return k.endswith("cidrs") or k.endswith("cidr") or k == "egressexcept"


def cidr_errors(document: Any, path: str = "") -> list[tuple[str, str]]:
    """Every CIDR in the raw config document (any key named ``*cidr``/``*cidrs``, escape hatches
    included), judged by the one rule of :func:`components.base.cidr_problem`: parsed strictly,
    and never "the world" (0.0.0.0/0, ::/0 or anything broader than the largest private block)
    except in ``egressExcept``, whose ranges only narrow an egress rule. The typed fields
    (:data:`components.base.Cidr`) apply the same rule when a component is built directly."""
    from .cluster import public_access_problem

    out: list[tuple[str, str]] = []
    if isinstance(document, dict):
        for key, value in document.items():
            sub = f"{path}.{key}" if path else str(key)
            if sub == "cluster.offlineLookup":
                # an adopted cluster as AWS reports it (0.0.0.0/0 included): the preflight judges
                # it and names the fix; these are facts, not ranges the stack opens
                continue
            if _is_cidr_key(str(key)) and isinstance(value, (list, str)):
                place = str(key).lower().replace("_", "") != "egressexcept"
                public = sub == "cluster.publicAccessCidrs"
                for i, entry in enumerate([value] if isinstance(value, str) else value):
                    loc = sub if isinstance(value, str) else f"{sub}[{i}]"
                    problem = public_access_problem(entry) if public else cidr_problem(entry, place=place)
                    if problem:
                        out.append((loc, problem))
            else:
                out += cidr_errors(value, sub)
    elif isinstance(document, list):
        for i, value in enumerate(document):
            out += cidr_errors(value, f"{path}[{i}]")
    return out


def platform_images(cfg: "StackConfig") -> list[tuple[str, str]]:
    """``(config section, image repository)`` of every image the enabled platform components run
    in namespaces Gatekeeper judges (its own namespace is exempt from its webhook, so Gatekeeper's
    images are not listed). Kept beside each component's values; checked against the pinned charts."""
    from . import admission, mesh, runtime_detection, secrets, spire, vault

    out: list[tuple[str, str]] = []
    if cfg.mesh.enabled:
        out += [("mesh", r) for r in mesh.image_repositories(cfg.mesh)]
    if cfg.spire.enabled:
        out += [("spire", r) for r in spire.IMAGE_REPOSITORIES]
    if cfg.vault.enabled:
        out.append(("vault", vault.image_repository(cfg.vault)))
    if cfg.secrets.enabled:
        out += [("secrets", r) for r in secrets.CERT_MANAGER_IMAGES + secrets.ESO_IMAGES]
    if cfg.runtime_detection.enabled:
        out += [("runtimeDetection", r) for r in runtime_detection.IMAGE_REPOSITORIES]
    if audit_shipper(cfg):
        out.append(("compliance.auditTrails", cfg.compliance.audit_trails.shipper_image.split("@")[0].rsplit(":", 1)[0]))
    if cfg.admission.enabled and cfg.admission.signatures.enabled:
        # (its leases-cleanup Job, cgr.dev/chainguard/kubectl, is a Helm hook: helm.v4.Chart drops it)
        out.append(("admission.signatures", admission.POLICY_CONTROLLER_IMAGE.split("@")[0]))
    return out


def audit_shipper(cfg: "StackConfig") -> bool:
    """Whether the stack runs the Vault audit shipper (components.audit)."""
    c = cfg.compliance
    return (c.enabled and c.audit_retention.enabled and c.audit_trails.vault and cfg.vault.enabled)


def alb_access_log_bucket(cfg: "StackConfig") -> Optional[str]:
    """The bucket of the stack's ALB's access logs (components.edge): ``<audit bucket>-alb``, when
    the stack builds the ALB and archives audit logs under a known bucket name; else none."""
    c, ing = cfg.compliance, cfg.ingress
    if not (ing.enabled and ing.waf.enabled and ing.alb is not None and c.enabled and c.audit_retention.enabled
            and c.audit_trails.alb_access_logs and c.audit_retention.bucket_name and cfg.cluster.account_id):
        return None
    return f"{c.audit_retention.bucket_name[:59]}-alb"


def falco_archive(cfg: "StackConfig") -> bool:
    """Whether falcosidekick writes Falco's events to the audit bucket (components.audit)."""
    c = cfg.compliance
    return (c.enabled and c.audit_retention.enabled and c.audit_trails.falco and cfg.runtime_detection.enabled)


def registry_org(repository: str) -> str:
    """The entry to suggest for *repository*: its registry and first path segment
    (``ghcr.io/sigstore/policy-controller/policy-controller`` -> ``ghcr.io/sigstore``)."""
    return "/".join(repository.split("/")[:2])


def _no_duplicates(values: list[str], section: str, what: str) -> None:
    seen: set[str] = set()
    for i, v in enumerate(values):
        if v in seen:
            raise _located(f"{section}[{i}]", f"duplicate {what} {v!r}; each must be unique")
        seen.add(v)


def _dns_label(v: str) -> str:
    if len(v) > 63 or not DNS1123_LABEL.match(v):
        raise ValueError(f"{v!r} is not a DNS-1123 label (lowercase letters, digits and '-', at most 63)")
    return v


# ---------------------------------------------------------------------------------------------
# Secrets: separate top-level keys, read as Pulumi secrets
# ---------------------------------------------------------------------------------------------

#: Secret config keys -> what they are for. Set with `pulumi config set --secret <key> <value>`.
SECRET_KEYS: dict[str, str] = {
    "splunkHecToken": "falcosidekick's Splunk HEC token (runtimeDetection.siem.splunk)",
    "vaultLicense": "Vault Enterprise license (optional; set it to run hashicorp/vault-enterprise, see vault.edition)",
}


class Secrets:
    """The stack's secret inputs as ``pulumi.Output`` secrets (never plain strings)."""

    def __init__(self, values: dict[str, pulumi.Output]):
        self._values = values

    def get(self, key: str) -> Optional[pulumi.Output]:
        return self._values.get(key)

    def require(self, key: str, needed_by: str) -> pulumi.Output:
        value = self._values.get(key)
        if value is None:
            raise ConfigError(
                f"{PROJECT}:{key} is required by {needed_by}; set it with "
                f"`pulumi config set --secret {PROJECT}:{key} <value>`")
        return value

    def __contains__(self, key: str) -> bool:
        return key in self._values


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------

def config_keys() -> list[str]:
    """Every field of StackConfig as its config key (camelCase)."""
    return [f.alias or name for name, f in StackConfig.model_fields.items()]


def _all_project_config() -> dict[str, Any]:
    """The raw ``hardened-stack:*`` config values the engine (or the offline runner) set."""
    from pulumi.runtime import config as rc

    raw: dict[str, Any] = dict(rc.get_config_env())
    raw.update(rc.CONFIG.get())
    prefix = PROJECT + ":"
    return {k[len(prefix):]: v for k, v in raw.items() if k.startswith(prefix)}


def _decode(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def parse_stack_config(document: dict[str, Any]) -> StackConfig:
    """Validate a plain config document (camelCase keys, values decoded) into a StackConfig.

    Every problem of the document is reported in one pass (unknown keys, secrets in clear text,
    malformed CIDRs, every field and cross-field error), each line naming its key path and the
    fix: raises :class:`ConfigError`. A secret key's value is ``None`` (set as a secret) or a
    ``{secure: ...}`` entry; any other value is a secret in clear text.
    """
    lines: list[str] = []
    unknown = sorted(set(document) - set(config_keys()) - set(SECRET_KEYS))
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key, config_keys() + list(SECRET_KEYS), n=1)
            hints.append(f"{PROJECT}:{key}" + (f" (did you mean {PROJECT}:{close[0]}?)" if close else ""))
        lines.append(
            "  unknown config key(s): " + ", ".join(hints)
            + f". Known keys: {', '.join(config_keys())}. Remove or rename them in Pulumi.<stack>.yaml.")
    for key in sorted(k for k in document if k in SECRET_KEYS):
        value = document[key]
        if value is not None and not (isinstance(value, dict) and set(value) == {"secure"}):
            # never echo the value: it is a secret
            lines.append(f"  {PROJECT}:{key}: is in clear text in the stack file ({SECRET_KEYS[key]}); remove it and "
                         f"run `pulumi config set --secret {PROJECT}:{key} <value>` (it is stored encrypted)")
    plain = {k: v for k, v in document.items() if k not in SECRET_KEYS and k not in unknown}
    cidr_lines = [f"  {PROJECT}:{loc}: {msg}" for loc, msg in cidr_errors(plain)]
    lines += cidr_lines
    if "cluster" not in plain:
        lines.append(f"  {PROJECT}:cluster is required: set at least `cluster: {{name: <cluster name>}}` "
                     "in Pulumi.<stack>.yaml")
    else:
        try:
            cfg = StackConfig.model_validate(plain)
        except ValidationError as e:
            # a CIDR the raw-document pass already named is said once (the typed field agrees)
            said = {line.split(": ", 1)[0] for line in cidr_lines}
            lines += [line for line in format_validation_error(e).splitlines()[1:]
                      if line.split(": ", 1)[0] not in said]
        else:
            if not lines:
                return cfg
    if len(lines) == 1 and lines[0].startswith(("  unknown config key", f"  {PROJECT}:cluster is required")):
        raise ConfigError(lines[0].strip())
    raise ConfigError("\n".join(["invalid stack configuration:", *lines]))


def format_validation_error(e: ValidationError) -> str:
    lines = ["invalid stack configuration:"]
    for err in e.errors():
        loc = [str(p) for p in err["loc"]]
        msg = err["msg"]
        ctx_err = (err.get("ctx") or {}).get("error")
        if isinstance(ctx_err, _LocatedErrors):
            for sub in ctx_err.errors:
                lines.append(f"  {PROJECT}:{_format_loc(loc + [sub.loc])}: {str(sub).split(': ', 1)[1]}")
            continue
        if isinstance(ctx_err, _LocatedError):
            loc = loc + [ctx_err.loc]
            msg = str(ctx_err).split(": ", 1)[1]
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        if err["type"] == "extra_forbidden":
            known = _known_keys(StackConfig, loc[:-1])
            close = difflib.get_close_matches(loc[-1], known, n=1) if loc else []
            msg = "unknown key; " + (f"did you mean {close[0]}?" if close else "remove it or fix its spelling") + (
                f" (keys here: {', '.join(known)})" if known and not close else "")
        elif err["type"] == "missing":
            msg = "required key is missing"
        elif "input" in err and not isinstance(err["input"], (dict, list)) and not ctx_err:
            msg = msg.rstrip(".") + _given(err["input"], StackConfig, loc)
        path = _format_loc(loc)
        lines.append(f"  {PROJECT}:{path}: {msg}")
    return "\n".join(lines)


def _field_at(model: Any, loc: list[str]) -> Any:
    """The pydantic FieldInfo at *loc* (alias names and list indexes) under *model*, or None."""
    import typing

    field, annotation = None, model
    for part in loc:
        while True:  # unwrap Optional[...] / list[...] / dict[str, ...] down to a model
            origin, args = typing.get_origin(annotation), typing.get_args(annotation)
            if origin in (list, tuple, set) and args and part.isdigit():
                annotation, part = args[0], None
                break
            if origin is dict and args:
                annotation, part = args[1], None
                break
            inner = [a for a in args if a is not type(None)] if origin is not None else []
            if len(inner) == 1:
                annotation = inner[0]
                continue
            break
        if part is None:
            continue
        fields = getattr(annotation, "model_fields", None)
        if not fields:
            return None
        field = next((f for n, f in fields.items() if part in (n, f.alias)), None)
        if field is None:
            return None
        annotation = field.annotation
    return field


def _known_keys(model: Any, loc: list[str]) -> list[str]:
    """The config keys (camelCase) allowed at *loc*."""
    import typing

    annotation = model if not loc else getattr(_field_at(model, loc), "annotation", None)
    while annotation is not None and not hasattr(annotation, "model_fields"):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = args[-1] if args else None
    if annotation is None:
        return []
    return sorted(f.alias or n for n, f in annotation.model_fields.items())


def _given(value: Any, model: Any, loc: list[str]) -> str:
    """``; got 1.3 (a number), e.g. "1.33"``: the value as YAML gave it and an example of a good one,
    with the YAML-float trap spelled out (1.30 is the number 1.3, not the version "1.30")."""
    import typing

    shown = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    kind = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}.get(type(value), type(value).__name__)
    text = f"; got {shown} ({kind})"
    field = _field_at(model, loc)
    example = None
    if field is not None:
        annotation = field.annotation
        choices = [a for a in typing.get_args(annotation)] if typing.get_origin(annotation) is typing.Literal else []
        if choices:
            example = choices[-1]
        elif field.default not in (None, PydanticUndefined) and not callable(field.default):
            example = field.default
    if isinstance(value, float) and (isinstance(example, str) or example is None):
        text += (f". YAML reads an unquoted {shown} as a number (and 1.30 as 1.3): quote it, "
                 f"{loc[-1]}: \"{example if isinstance(example, str) else value}\"")
    elif example is not None:
        text += f"; e.g. {loc[-1]}: {json.dumps(example, default=str)}"
    return text


def _format_loc(loc: list[str]) -> str:
    out = ""
    for part in loc:
        if part.isdigit():
            out += f"[{part}]"
        elif part.startswith("["):
            out += part
        else:
            # a located error may carry a dotted/indexed path of its own
            out += ("." if out else "") + part
    return out


def load_stack_config() -> tuple[StackConfig, Secrets]:
    """Read the ``hardened-stack`` config namespace and validate it (before any resource)."""
    raw = _all_project_config()
    document = {k: _decode(v) for k, v in raw.items() if k not in SECRET_KEYS}
    from pulumi.runtime import config as rc

    secret_marked = set(rc.get_config_secret_keys_env()) | {k for k in raw if rc.is_config_secret(f"{PROJECT}:{k}")}
    # a secret key given in clear text reaches the model as a marker (never its value)
    cfg = parse_stack_config(document | {k: (None if k in secret_marked or f"{PROJECT}:{k}" in secret_marked
                                             else "<clear text>") for k in raw if k in SECRET_KEYS})
    pcfg = pulumi.Config(PROJECT)
    secrets = {k: pcfg.get_secret(k) for k in SECRET_KEYS if k in raw}
    return cfg, Secrets({k: v for k, v in secrets.items() if v is not None})
