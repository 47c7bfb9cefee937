"""``AdmissionControl``: the cluster's policy decision point at admission time (issue 8).

Two admission webhooks, both failing closed:

- **OPA Gatekeeper** (upstream chart, pinned) with the project's own ConstraintTemplates written in
  Rego v1 (``components/rego/<name>.rego``, loaded verbatim into the templates so the tests evaluate
  the very same text with ``regopy``) and one Constraint per template: privileged containers,
  container limits, trusted registries, read-only root filesystem, non-root, no hostPath, images
  pinned by digest, required probes. The policy pack (CrossGuard) checks the same rules at preview:
  two enforcement points, one truth.
- **Sigstore policy-controller** (upstream chart, pinned): a ``ClusterImagePolicy`` that admits an
  image from the signed repositories only with a keyless cosign signature from the configured OIDC
  issuer and subject (the seed's GitHub Actions rule), and one per upstream of the platform's images
  (its published key or keyless identity, :data:`PLATFORM_SIGNERS`; a named static pass where
  upstream does not sign, :data:`UNSIGNED_UPSTREAM`), in namespaces labelled
  ``policy.sigstore.dev/include: "true"``: every tenant namespace and every platform namespace but
  :data:`UNVERIFIED_NAMESPACES`.

``helm.v4.Chart`` drops chart hooks; the hooks that matter are replaced by explicit objects here
(see docs/admission.md).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Optional

import pulumi
import yaml
from pydantic import Field, field_validator, model_validator

from .base import weakens
from .base import Cidr, Digest
from .egress import EXCLUDE_INBOUND_ANNOTATION, INJECT_LABEL, EgressHost
from .base import (HardenedComponent, StrictModel, child_opts, deep_merge, helm_chart, k8s_object, standard_labels)

TOKEN = "hardened:index:AdmissionControl"

GATEKEEPER_CHART = "gatekeeper"
GATEKEEPER_REPO = "https://open-policy-agent.github.io/gatekeeper/charts"
#: Gatekeeper >= 3.19 is required for Rego v1 templates (``code[].source.version: "v1"``).
GATEKEEPER_VERSION = "3.23.0"
GATEKEEPER_NAMESPACE = "gatekeeper-system"

POLICY_CONTROLLER_CHART = "policy-controller"
POLICY_CONTROLLER_REPO = "https://sigstore.github.io/helm-charts"
POLICY_CONTROLLER_VERSION = "0.10.6"
POLICY_CONTROLLER_NAMESPACE = "cosign-system"
#: The image the pinned chart deploys (its values pin it by digest).
POLICY_CONTROLLER_IMAGE = ("ghcr.io/sigstore/policy-controller/policy-controller@sha256:"
                           "0bcd60beb93f4427c29cf3a669743caf58490e98ded4380c33c09f092734a6ab")

#: Namespaces the Gatekeeper webhook never sees: its own (it must be able to restart itself) and
#: kube-system (a fail-closed webhook that judges the pods it depends on deadlocks the cluster).
WEBHOOK_EXEMPT_NAMESPACES = ("gatekeeper-system", "kube-system")

#: Destinations an "internet" egress rule never reaches: private ranges, carrier-grade NAT and
#: link-local (the instance metadata service).
INTERNET_EXCEPT = ("10.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16")

SIGSTORE_INCLUDE_LABEL = "policy.sigstore.dev/include"
#: The public-good Sigstore services the keyless policies name. policy-controller dials Rekor (the
#: authority's ``ctlog.url``: pkg/webhook/validator.go builds its client with rekor.GetRekorClient)
#: and the TUF root (cmd/webhook/main.go, flag ``tuf-mirror``, default sigstore's
#: tuf.DefaultRemoteRoot, https://tuf-repo-cdn.sigstore.dev) for Fulcio's and Rekor's keys; the
#: keyless ``url`` (Fulcio) is only required to be set, never dialed (validator.go, the
#: ``authority.Keyless`` case), so Fulcio is not an egress host.
FULCIO_URL = "https://fulcio.sigstore.dev"
REKOR_URL = "https://rekor.sigstore.dev"
TUF_MIRROR = "https://tuf-repo-cdn.sigstore.dev"
#: policy-controller's webhook port (chart 0.10.6 templates/webhook/deployment_webhook.yaml): the API
#: server calls it from outside the mesh, so its sidecar leaves the port alone.
POLICY_CONTROLLER_WEBHOOK_PORT = 8443
#: The ServiceAccount and pod label of policy-controller's pods (fullnameOverride below).
POLICY_CONTROLLER_SERVICE_ACCOUNT = "policy-controller-webhook"
POLICY_CONTROLLER_POD_LABELS = {"control-plane": "policy-controller-webhook"}
GATEKEEPER_IGNORE_LABEL = "admission.gatekeeper.sh/ignore"
WAIT_FOR_ANNOTATION = "pulumi.com/waitFor"
TEMPLATE_READY = "jsonpath={.status.created}=true"

REGO_DIR = Path(__file__).resolve().parent / "rego"
REPO_ROOT = Path(__file__).resolve().parent.parent
EXEMPTIONS_FILE = REPO_ROOT / "policy_pack" / "exemptions.yaml"

#: Kinds each constraint judges. Workload controllers are included so a bad Deployment is refused
#: at apply time (not silently when its ReplicaSet creates pods).
POD_KINDS = [
    {"apiGroups": [""], "kinds": ["Pod"]},
    {"apiGroups": ["apps"], "kinds": ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"]},
    {"apiGroups": ["batch"], "kinds": ["Job", "CronJob"]},
]
#: Properties of the declared template only: the mesh injects its proxy into the Pod after the
#: workload was admitted, and that proxy's probes are the mesh's business, not the tenant's.
TEMPLATE_KINDS = POD_KINDS[1:]

PROBES = ("livenessProbe", "readinessProbe", "startupProbe")


# ---------------------------------------------------------------------------------------------
# The ConstraintTemplates
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Template:
    """One ConstraintTemplate and its Constraint."""

    rego_file: str
    kind: str
    constraint: str
    crossguard_policy: str
    schema: dict
    kinds: tuple
    description: str

    @property
    def name(self) -> str:
        return self.kind.lower()

    @property
    def rego(self) -> str:
        return (REGO_DIR / self.rego_file).read_text()

    @property
    def package(self) -> str:
        return re.search(r"^package\s+(\S+)", self.rego, re.M).group(1)


_QUANTITY = r"^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti|K|M|G|T)?$"
_NO_PARAMS: dict = {"type": "object", "additionalProperties": False, "properties": {}}
#: The ``exemptions`` parameter every template takes: the active entries of
#: policy_pack/exemptions.yaml that name the template's rule, each ONE object (exact kind, namespace
#: and name) and its image repositories. The Rego lifts the rule for that object and the pods its
#: controller creates, only while every image is from those repositories (the shared helpers'
#: ``exempt_object``): admission is as narrow as the pack, never a whole namespace.
EXEMPTIONS_SCHEMA: dict = {
    "type": "array",
    "description": "Named exemptions from policy_pack/exemptions.yaml (set by the stack, never by hand).",
    "items": {"type": "object", "additionalProperties": False, "required": ["kind", "namespace", "name", "images"],
              "properties": {"id": {"type": "string"}, "kind": {"type": "string"},
                             "namespace": {"type": "string"}, "name": {"type": "string"},
                             "images": {"type": "array", "items": {"type": "string"}}}},
}

TEMPLATES: tuple[Template, ...] = (
    Template("privileged.rego", "K8sHardenedPrivilegedContainer", "pods-disallow-privileged",
             "pod-disallow-privileged-containers", _NO_PARAMS, tuple(POD_KINDS),
             "No privileged containers."),
    Template("container_limits.rego", "K8sHardenedContainerLimits", "containers-enforce-limits",
             "container-missing-resource-limits", {
                 "type": "object", "additionalProperties": False, "required": ["cpu", "memory"],
                 "properties": {
                     "cpu": {"type": "string", "pattern": _QUANTITY,
                             "description": "Largest CPU limit a container may declare, e.g. '4'."},
                     "memory": {"type": "string", "pattern": _QUANTITY,
                                "description": "Largest memory limit a container may declare, e.g. '8Gi'."},
                 }}, tuple(POD_KINDS), "CPU and memory limits on every container, within the maxima."),
    Template("allowed_registries.rego", "K8sHardenedAllowedRegistries", "images-enforce-trusted-registries",
             "pod-disallow-untrusted-registries", {
                 "type": "object", "additionalProperties": False, "required": ["registries"],
                 "properties": {"registries": {
                     "type": "array", "minItems": 1, "items": {"type": "string", "pattern": r"^[^:/\s][^\s]*$"},
                     "description": "Registry hosts or host/path prefixes images may come from."}}},
             tuple(POD_KINDS), "Images only from trusted registries."),
    Template("readonly_root_fs.rego", "K8sHardenedReadOnlyRootFilesystem", "containers-enforce-readonly-rootfs",
             "container-missing-readonly-root-filesystem", _NO_PARAMS, tuple(POD_KINDS),
             "Read-only root filesystem."),
    Template("run_as_non_root.rego", "K8sHardenedRunAsNonRoot", "containers-disallow-root",
             "pod-disallow-root-user", _NO_PARAMS, tuple(POD_KINDS), "No root containers."),
    Template("no_host_path.rego", "K8sHardenedNoHostPath", "pods-disallow-host-path",
             "pod-disallow-host-path-volumes", _NO_PARAMS, tuple(POD_KINDS), "No hostPath volumes."),
    Template("image_digest.rego", "K8sHardenedImageDigest", "images-enforce-digest",
             "container-disallow-mutable-image-tags", {
                 "type": "object", "additionalProperties": False,
                 "properties": {"exemptImages": {
                     "type": "array", "items": {"type": "string", "pattern": r"^[^\s*]+\*?$"},
                     "description": "Named exceptions: an exact image or a prefix ending in '*' (default none)."}}},
             tuple(POD_KINDS),
             "Images pinned by digest (no :latest, no tags alone)."),
    Template("required_probes.rego", "K8sHardenedRequiredProbes", "containers-enforce-probes",
             "container-missing-probes", {
                 "type": "object", "additionalProperties": False, "required": ["probes"],
                 "properties": {"probes": {
                     "type": "array", "minItems": 1, "items": {"type": "string", "enum": list(PROBES)},
                     "description": "Probes every container must declare."}}},
             tuple(TEMPLATE_KINDS), "Liveness and readiness probes on every container."),
    Template("host_namespaces.rego", "K8sHardenedHostNamespaces", "pods-disallow-host-namespaces",
             "pod-disallow-host-namespaces", _NO_PARAMS, tuple(POD_KINDS),
             "No pod shares the node's network, PID or IPC namespace."),
)


def _with_exemptions(t: Template) -> Template:
    """*t* whose schema also takes the ``exemptions`` parameter."""
    schema = {**t.schema, "properties": {**t.schema.get("properties", {}), "exemptions": EXEMPTIONS_SCHEMA}}
    return Template(t.rego_file, t.kind, t.constraint, t.crossguard_policy, schema, t.kinds, t.description)


TEMPLATES = tuple(_with_exemptions(t) for t in TEMPLATES)
TEMPLATES_BY_CONSTRAINT = {t.constraint: t for t in TEMPLATES}


def check_against_schema(value: Any, schema: dict, path: str = "parameters") -> None:
    """Validate *value* against the structural subset of OpenAPI v3 the templates use.

    Raises ``ValueError`` naming the offending path (``parameters.cpu``) and what is allowed.
    """
    typ = schema.get("type")
    python = {"object": dict, "array": list, "string": str, "integer": int, "boolean": bool}
    if typ and not (isinstance(value, python[typ]) and not (typ == "integer" and isinstance(value, bool))):
        raise ValueError(f"{path} must be of type {typ}, got {type(value).__name__} {value!r}")
    if typ == "object":
        props = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                raise ValueError(f"{path}.{key} is required by the template schema")
        for key, item in value.items():
            if key not in props:
                if schema.get("additionalProperties", True) is False:
                    allowed = ", ".join(sorted(props)) or "none"
                    raise ValueError(f"{path}.{key} is not a parameter of this template (allowed: {allowed})")
                continue
            check_against_schema(item, props[key], f"{path}.{key}")
    elif typ == "array":
        if len(value) < schema.get("minItems", 0):
            raise ValueError(f"{path} needs at least {schema['minItems']} item(s)")
        for i, item in enumerate(value):
            check_against_schema(item, schema.get("items", {}), f"{path}[{i}]")
    elif typ == "string":
        if "enum" in schema and value not in schema["enum"]:
            raise ValueError(f"{path} {value!r} must be one of {schema['enum']}")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            raise ValueError(f"{path} {value!r} does not match {schema['pattern']!r}")


# ---------------------------------------------------------------------------------------------
# Config
# ---------------------------------------------------------------------------------------------

EnforcementAction = Literal["deny", "warn", "dryrun"]


class ConstraintSettings(StrictModel):
    enforcement_action: EnforcementAction = Field(
        "deny", description="deny (default), or warn/dryrun: a visible opt-out that only reports.", json_schema_extra=weakens('a Gatekeeper constraint in warn or dryrun: it admits what it should deny'))
    parameters: dict[str, Any] = Field(
        default_factory=dict,
        description="Parameters merged over the defaults derived from this section; validated against the "
                    "template's openAPIV3Schema at config time.", json_schema_extra=weakens("constraint parameters that widen what the stack's defaults allow (registries, limits)", 'widens_parameters'))
    excluded_namespaces: list[str] = Field(
        default_factory=list,
        description="Extra named namespaces this constraint skips (default none; exemptions of system "
                    "components come from policy_pack/exemptions.yaml).", json_schema_extra=weakens('a Gatekeeper constraint excludes a namespace'))


GITHUB_ACTIONS_ISSUER = "https://token.actions.githubusercontent.com"
#: Where the upstream signing keys live in this repository (public data, each with its source).
SIGNING_KEYS_DIR = Path(__file__).parent / "signing_keys"


@dataclass(frozen=True)
class SigningKey:
    """A public key an upstream signs its images with, committed as PEM with where it came from."""

    file: str
    source: str
    #: sha256 of the key's DER SubjectPublicKeyInfo (``openssl pkey -pubin -outform DER | sha256sum``)
    fingerprint: str
    #: the digest the signatures use (policy-controller ``key.hashAlgorithm``)
    hash_algorithm: str = "sha256"

    @property
    def pem(self) -> str:
        return (SIGNING_KEYS_DIR / self.file).read_text()


ISTIO_KEY = SigningKey(
    "istio-key.pub",
    "istio/istio.io static/misc/istio-key.pub (served as https://istio.io/misc/istio-key.pub), added by commit "
    "12546cc6666eba599fe34b786cbb5c2cd614bc58 (#10775) and unchanged through d05e3aafda7314c4819579c36d2a546230a8f9ee; "
    "content/en/blog/2026/retirement-of-gcp: the key of Istio 1.18.x to 1.31.0 (1.31.1+ use istio-key-v2.pub)",
    "8e0dbb285a3dbfc2826c5e4c263bcfe4d93169e2207bfdd4235f5200fa5c6212")
CERT_MANAGER_KEY = SigningKey(
    "cert-manager-pubkey-2021-09-20.pem",
    "cert-manager/website public/public-keys/cert-manager-pubkey-2021-09-20.pem at "
    "776e5dba56510fc9de84206b806b568447077f25 (added by da8b41b90a5a3b0a8c4e78d3302640435a4ff8cf); "
    "content/docs/installation/code-signing.md: every image from v1.8.0, verified with "
    "--signature-digest-algorithm sha512 --insecure-ignore-tlog (the key is in Google Cloud KMS)",
    "20a9d8524b982644a958d6a301dcc9296671bc76e924334f28cd7231d8f2e8fa", "sha512")


@dataclass(frozen=True)
class UpstreamSigner:
    """How one upstream signs its images, read in its release workflow or signing documentation.

    ``repositories``: the image repositories it signs (Docker Hub names as the stack writes them);
    ``section``: a config section whose every image it signs whatever the registry (the mesh's hub
    is configurable: a mirror keeps the signatures when copied with them). Exactly one of
    ``key`` and ``subject``/``subject_regexp`` (keyless, with ``issuer``)."""

    name: str
    source: str
    repositories: tuple[str, ...] = ()
    section: Optional[str] = None
    issuer: str = GITHUB_ACTIONS_ISSUER
    subject_regexp: Optional[str] = None
    subject: Optional[str] = None
    key: Optional[SigningKey] = None
    #: cosign v3 signs in the Sigstore bundle format by default (policy-controller signatureFormat)
    signature_format: Optional[Literal["bundle"]] = None

    def authority(self) -> dict:
        if self.key is not None:
            # No ctlog: the key's signature is what upstream documents; without a ctlog
            # policy-controller skips the transparency log (validator.go checkOptsFromAuthority).
            return {"name": "upstream-key", "key": {"data": self.key.pem, "hashAlgorithm": self.key.hash_algorithm}}
        ident = {"issuer": self.issuer, **({"subject": self.subject} if self.subject else
                                           {"subjectRegExp": self.subject_regexp})}
        out = {"name": "upstream-keyless",
               "keyless": {"url": FULCIO_URL, "identities": [ident]},
               "ctlog": {"url": REKOR_URL}}
        if self.signature_format:
            out["signatureFormat"] = self.signature_format
        return out

    def signs(self, section: str, repository: str) -> bool:
        return repository in self.repositories or (self.section is not None and section == self.section)


#: The platform's upstreams that sign their images, for the versions the stack pins: each
#: ClusterImagePolicy verifies the images by the upstream's own key or keyless identity.
PLATFORM_SIGNERS: tuple[UpstreamSigner, ...] = (
    UpstreamSigner(
        "upstream-istio", "istio.io content/en/docs/ops/best-practices/image-signing-validation: every released image "
        "signed with Istio's key since 1.12 (istio/release-builder pkg/publish/docker.go: cosign sign --key); "
        "key: " + ISTIO_KEY.source, section="mesh", key=ISTIO_KEY),
    UpstreamSigner(
        "upstream-cert-manager", CERT_MANAGER_KEY.source,
        repositories=tuple(f"quay.io/jetstack/cert-manager-{c}" for c in
                           ("controller", "webhook", "cainjector", "acmesolver", "startupapicheck")),
        key=CERT_MANAGER_KEY),
    UpstreamSigner(
        "upstream-falco", "falcosecurity/falco 0.44.1 (f1ac5eb1a1c9da9f797f799121ab700263621443) "
        ".github/workflows/reusable_publish_docker.yaml: cosign sign (cosign-installer v3.5.0, legacy format) of "
        "falco and falco-driver-loader; called by release.yaml (on a published release: refs/tags/<version>) and "
        "by master.yaml (refs/heads/master, not accepted). A reusable workflow's certificate names itself",
        repositories=("docker.io/falcosecurity/falco", "docker.io/falcosecurity/falco-driver-loader"),
        subject_regexp=r"^https://github\.com/falcosecurity/falco/\.github/workflows/reusable_publish_docker\.yaml"
                       r"@refs/tags/"),
    UpstreamSigner(
        "upstream-falcosidekick", "falcosecurity/falcosidekick 2.34.1 (03364bc26b2262439a5ddeb57e1e354742727e11) "
        ".github/workflows/release.yml (on push of tags, id-token: write) runs goreleaser, whose .goreleaser.yml "
        "docker_signs run `cosign sign --recursive` with cosign-installer v4.1.2's cosign v3.0.6 (bundle format)",
        repositories=("docker.io/falcosecurity/falcosidekick",),
        subject_regexp=r"^https://github\.com/falcosecurity/falcosidekick/\.github/workflows/release\.yml@refs/tags/",
        signature_format="bundle"),
    UpstreamSigner(
        "upstream-policy-controller", "sigstore/policy-controller .github/workflows/release.yaml ('Cut Release' on "
        "tags v*, id-token: write for keyless signing, make build-sign-release-images)",
        repositories=("ghcr.io/sigstore/policy-controller/policy-controller",),
        subject_regexp=r"^https://github\.com/sigstore/policy-controller/\.github/workflows/release\.yaml@refs/tags/v"),
    UpstreamSigner(
        "upstream-spire", "spiffe/spire v1.15.2 (a7e490ee2864e2e05ebbadcef79872604270f3c4) "
        ".github/workflows/release_build.yaml (on tags v[0-9].[0-9]+.[0-9]+) publish-images job: "
        ".github/workflows/scripts/push-images.sh runs `cosign sign -y` (keyless, cosign v2.6.2) on spire-server, "
        "spire-agent and oidc-discovery-provider",
        repositories=("ghcr.io/spiffe/spire-server", "ghcr.io/spiffe/spire-agent"),
        subject_regexp=r"^https://github\.com/spiffe/spire/\.github/workflows/release_build\.yaml@refs/tags/v"),
    UpstreamSigner(
        "upstream-spiffe-csi", "spiffe/spiffe-csi v0.2.7 (e3a9167497349be5dae0e696a9dd16afae32e330) "
        ".github/workflows/release_build.yaml (on tags v[0-9].[0-9]+.[0-9]+, id-token: write): "
        ".github/workflows/scripts/push-images.sh runs `cosign sign -y` (keyless, cosign v2.2.3)",
        repositories=("ghcr.io/spiffe/spiffe-csi-driver",),
        subject_regexp=r"^https://github\.com/spiffe/spiffe-csi/\.github/workflows/release_build\.yaml@refs/tags/v"),
    UpstreamSigner(
        "upstream-external-secrets", "external-secrets/external-secrets v2.9.0 "
        "(378bdb622ed9712ef4a58370f6a17af033b7d343) .github/workflows/release.yml ('Create Release', "
        "workflow_dispatch) promotes and signs with .github/actions/sign (`cosign sign --yes "
        "--new-bundle-format=false`, keyless); docs/guides/security-best-practices.md shows the subject "
        "release.yml@refs/heads/main. CI builds (ci.yml -> publish.yml) are signed by another workflow, not accepted",
        repositories=("ghcr.io/external-secrets/external-secrets",),
        subject_regexp=r"^https://github\.com/external-secrets/external-secrets/\.github/workflows/release\.yml"
                       r"@refs/heads/(?:main|release-[0-9.]+)$"),
    UpstreamSigner(
        "upstream-fluent-bit", "fluent/fluent-bit v4.0.3 (f5f5f3c17dd9f784f017113a2e2df917a37ce75a) "
        ".github/workflows/staging-release.yaml (workflow_dispatch, environment: release) job "
        "staging-release-images-sign: 'Cosign keyless signing' of ghcr.io/fluent/fluent-bit and docker.io/fluent/"
        "fluent-bit (cosign-installer v3, legacy format); dispatched from a branch, so the ref is any branch",
        repositories=("ghcr.io/fluent/fluent-bit", "docker.io/fluent/fluent-bit"),
        subject_regexp=r"^https://github\.com/fluent/fluent-bit/\.github/workflows/staging-release\.yaml@refs/heads/"),
    UpstreamSigner(
        "upstream-kubernetes", "registry.k8s.io images are signed keyless when promoted: kubernetes-sigs/promo-tools "
        "(63ddc9f7022567731beebde1334c8e066008c32e) promoter/image/options/options.go SignCheckIdentity "
        "krel-trust@k8s-releng-prod.iam.gserviceaccount.com, SignCheckIssuer https://accounts.google.com",
        repositories=("registry.k8s.io/sig-storage/csi-node-driver-registrar",),
        issuer="https://accounts.google.com", subject="krel-trust@k8s-releng-prod.iam.gserviceaccount.com"),
)

#: The platform's images whose upstream publishes no signature (or no identity the stack could
#: confirm from upstream source), with the evidence. Each is passed by its exact repository with a
#: static policy that says so: a tenant's image still matches nothing and is denied.
UNSIGNED_UPSTREAM: dict[str, str] = {
    "docker.io/openpolicyagent/gatekeeper": (
        "open-policy-agent/gatekeeper v3.23.0 (0041ff65743945fe1b20fc6d2957cb7f213519d8) .github/workflows/"
        "release.yaml and Makefile: docker buildx push with build attestations, no cosign or other signing step"),
    "ghcr.io/spiffe/spire-controller-manager": (
        "spiffe/spire-controller-manager .github/workflows/release_build.yaml and scripts/push-images.sh (v0.6.6 "
        "9ef4eef2a307bb54d31781f1f505e00296c85020 through 430567cc024fb0a2c07d2a1972128e68d1c1f54d): regctl image "
        "copy only, no cosign step"),
    "docker.io/hashicorp/vault": (
        "hashicorp/vault .github/workflows/build-artifacts-ce.yml builds docker tarballs; .release/ci.hcl publishes "
        "them through HashiCorp's private crt-workflows-common (promote-production-docker): no published cosign "
        "identity or key"),
    "docker.io/hashicorp/vault-enterprise": "as docker.io/hashicorp/vault (the same release pipeline)",
    "cgr.dev/chainguard/bash": (
        "Chainguard signs in its own build system; no signing identity could be confirmed from an upstream source "
        "here (the prod render does not run it: the SPIRE agent's optional socket-alias init container)"),
}


def platform_signer(section: str, repository: str) -> Optional[UpstreamSigner]:
    """The upstream signer of *repository* (deployed by config *section*), if upstream signs it."""
    return next((s for s in PLATFORM_SIGNERS if s.signs(section, repository)), None)


def unverifiable_platform_images(platform_repositories) -> list[tuple[str, str]]:
    """``(section, repository)`` of the platform images neither a signer nor UNSIGNED_UPSTREAM names."""
    return [(sec, repo) for sec, repo in platform_repositories
            if platform_signer(sec, repo) is None and repo not in UNSIGNED_UPSTREAM]


def check_workflow(v: str) -> str:
    """A signer's workflow: one workflow file of the repository (GitHub's Fulcio certificates name it)."""
    if not re.fullmatch(r"\.github/workflows/[A-Za-z0-9_.-]+\.ya?ml", v):
        raise ValueError(f"workflow {v!r} must name one workflow file, e.g. '.github/workflows/release.yml'")
    return v


def check_refs(v: list[str]) -> list[str]:
    """A signer's ref prefixes: at least one, each a tag or branch prefix."""
    if not v:
        raise ValueError("refs needs at least one ref prefix, e.g. 'refs/tags/v'")
    for r in v:
        if not re.fullmatch(r"refs/(tags|heads)/[A-Za-z0-9_./-]*", r):
            raise ValueError(f"ref prefix {r!r} must look like 'refs/tags/v' or 'refs/heads/main'")
    return v


def workflow_identity(repository: str, workflow: str, refs: list[str]) -> str:
    """The keyless signing identity as an anchored ``subjectRegExp``: ``^<repository>/<workflow>@<ref
    prefix>`` (GitHub's Fulcio certificate SAN is ``https://github.com/<org>/<repo>/<workflow>@<ref>``)."""
    alternatives = "|".join(re.escape(r) for r in refs)
    return f"^{re.escape(repository)}/{re.escape(workflow)}@(?:{alternatives})"


class _WorkflowChecks(StrictModel):
    """The checks every keyless signer's ``workflow`` and ``refs`` get (a tenant's ``signers`` entry and
    the signatures section alike)."""

    @field_validator("workflow", check_fields=False)
    @classmethod
    def _workflow(cls, v: str) -> str:
        return check_workflow(v)

    @field_validator("refs", check_fields=False)
    @classmethod
    def _refs(cls, v: list[str]) -> list[str]:
        return check_refs(v)

    @field_validator("images", check_fields=False)
    @classmethod
    def _images(cls, v: list[str]) -> list[str]:
        for glob in v:   # what policy-controller's glob compiler accepts (_compile_glob)
            _compile_glob(glob)
        return v


class KeylessSigner(_WorkflowChecks):
    """Another repository whose release workflow signs some of the tenant images."""

    repository: str = Field(description="https://github.com/<org>/<repo> of the signing workflow.")
    workflow: str = Field(".github/workflows/release.yml", description="The one workflow file that signs "
                                                                       "(default .github/workflows/release.yml).")
    refs: list[str] = Field(default_factory=lambda: ["refs/tags/v"],
                            description="Git ref prefixes the signing run must come from (default refs/tags/v).")
    images: list[str] = Field(min_length=1, description="Image globs this signer signs, e.g. ghcr.io/<org>/**.")

    @field_validator("repository")
    @classmethod
    def _https(cls, v: str) -> str:
        if not re.fullmatch(r"https://[^/\s]+/[^/\s]+/[^/\s]+", v.rstrip("/")):
            raise ValueError(f"repository {v!r} must be https://<host>/<org>/<repo>")
        return v.rstrip("/")

    @property
    def subject_regexp(self) -> str:
        return workflow_identity(self.repository, self.workflow, self.refs)


class SignatureConfig(_WorkflowChecks):
    enabled: bool = Field(True, description="Verify keyless cosign signatures with Sigstore policy-controller "
                                            "(default true).", json_schema_extra=weakens('image signature verification is off'))
    chart_version: str = Field(POLICY_CONTROLLER_VERSION,
                               description=f"policy-controller chart version (default {POLICY_CONTROLLER_VERSION}, "
                                           "whose default image is pinned by digest).")
    issuer: str = Field("https://token.actions.githubusercontent.com",
                        description="OIDC issuer of the signing identity (default GitHub Actions).")
    repository: str = Field(
        "https://github.com/lego-mcp/lego-mcp",
        description="The repository whose release workflow signs the tenant images (default "
                    "https://github.com/lego-mcp/lego-mcp).")
    workflow: str = Field(
        ".github/workflows/release.yml",
        description="The one workflow file that signs (default .github/workflows/release.yml): a signature from any "
                    "other workflow of the repository (a pull request's CI, a branch build) is refused.")
    refs: list[str] = Field(
        default_factory=lambda: ["refs/tags/v"],
        description="Git ref prefixes the signing run must come from (default refs/tags/v: release tags only).")
    subject: Optional[str] = Field(
        None,
        description="Override: the signing identity (certificate SAN) as a glob, '*' matching any run of characters "
                    "(default none: repository, workflow and refs build the identity). Broader than the default: an "
                    "opt-out on the ledger.", json_schema_extra=weakens('a signing identity broader than one release workflow on release refs'))
    images: list[str] = Field(
        default_factory=lambda: ["ghcr.io/lego-mcp/**"],
        description="Image globs that must carry the signature (default ghcr.io/lego-mcp/**).")
    signers: list[KeylessSigner] = Field(
        default_factory=list,
        description="Further repositories whose release workflow signs tenant images (default none), each with its "
                    "own image globs: one ClusterImagePolicy each.")
    excluded_namespaces: list[str] = Field(
        default_factory=list,
        description="Tenant namespaces NOT verified (default none: every namespace under `namespaces` carries "
                    "policy.sigstore.dev/include=true). An opt-out on the ledger.", json_schema_extra=weakens('a tenant namespace runs images without signature verification'))
    no_match_policy: Literal["deny", "warn"] = Field(
        "deny", description="What a verified namespace does with an image no policy matches (default deny: an image "
                            "is admitted only by a policy that names it; the mesh proxy has its own policy).", json_schema_extra=weakens('images no signature policy names are admitted (warn)'))
    mode: Literal["enforce", "warn"] = Field("enforce", description="enforce (default) or warn (visible opt-out).", json_schema_extra=weakens('signature policies only warn'))
    platform_images: bool = Field(
        True, description="Also verify the platform's own images, each by its upstream's key or keyless identity "
                          "(PLATFORM_SIGNERS), or passed by exact repository with the evidence where upstream does not "
                          "sign (UNSIGNED_UPSTREAM), and label the platform namespaces for verification (default true; "
                          "not policy-controller's, Gatekeeper's or kube-system).", json_schema_extra=weakens("the platform's images are not verified and platform namespaces run any image"))
    egress_hosts: list[EgressHost] = Field(
        default_factory=list,
        description="Further hosts policy-controller may reach on 443 through the egress gateway (default none: "
                    "the registries of the verified images, their known blob hosts, Rekor and the Sigstore TUF root "
                    "are derived). Exact host names, e.g. a registry's blob CDN; no wildcards.", json_schema_extra=weakens('policy-controller may reach more internet hosts'))

    @field_validator("issuer", "repository")
    @classmethod
    def _https(cls, v: str) -> str:
        if not v.startswith("https://"):
            raise ValueError(f"{v!r} must be an https:// URL")
        return v.rstrip("/")

    @field_validator("subject")
    @classmethod
    def _subject(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and (v.strip("*/") == "" or v in ("*", "https://*")):
            raise ValueError(f"subject {v!r} matches any identity; name the repository, e.g. "
                             "'https://github.com/<org>/<repo>/*'")
        return v

    @property
    def subject_regexp(self) -> str:
        """The signing identity as an anchored regular expression (policy-controller ``subjectRegExp``):
        ``^<repository>/<workflow>@<ref prefix>`` (GitHub's Fulcio certificate SAN is
        ``https://github.com/<org>/<repo>/<workflow path>@<ref>``), or the ``subject`` glob override."""
        if self.subject is not None:
            return "^" + ".*".join(re.escape(part) for part in self.subject.split("*")) + "$"
        return workflow_identity(self.repository, self.workflow, self.refs)

    def image_globs(self) -> list[str]:
        """Every image glob a keyless tenant policy verifies."""
        return list(self.images) + [g for s in self.signers for g in s.images]

    def verified_namespaces(self, tenant_namespaces: list[str]) -> list[str]:
        """Every tenant namespace, less the named exclusions (derived from config, never a list to keep)."""
        return sorted(n for n in tenant_namespaces if n not in self.excluded_namespaces)


class AdmissionConfig(StrictModel):
    enabled: bool = Field(True, description="Deploy this part of the stack (default true).", json_schema_extra=weakens('admission control (Gatekeeper, signatures) is off'))
    chart_version: str = Field(GATEKEEPER_VERSION,
                               description=f"Gatekeeper chart version (default {GATEKEEPER_VERSION}; >= 3.19 is "
                                           "needed for Rego v1 templates).")
    image_digest: Optional[Digest] = Field(
        None, description="sha256 digest of openpolicyagent/gatekeeper at chart_version. Default none: the chart's "
                          "tag is used; set it (`crane digest openpolicyagent/gatekeeper:v<version>`) to pin.")
    replicas: int = Field(3, ge=2, description="Webhook replicas (default 3; at least 2 because the webhook fails "
                                               "closed and a single replica would block every deploy while it restarts).")
    audit_interval_seconds: int = Field(60, ge=10, description="Audit sweep interval (default 60 s).")
    failure_policy: Literal["Fail", "Ignore"] = Field(
        "Fail", description="Webhook failurePolicy (default Fail: fail closed. The chart's default, Ignore, admits "
                            "everything while Gatekeeper is down; choosing it is a visible opt-out).", json_schema_extra=weakens('the Gatekeeper webhook fails open (Ignore)'))
    webhook_timeout_seconds: int = Field(3, ge=1, le=30, description="Webhook timeout (default 3 s).")
    max_container_cpu: str = Field("4", pattern=_QUANTITY,
                                   description="Largest CPU limit a container may declare (default 4, the seed's).")
    max_container_memory: str = Field("8Gi", pattern=_QUANTITY,
                                      description="Largest memory limit a container may declare (default 8Gi).")
    required_probes: list[Literal["livenessProbe", "readinessProbe", "startupProbe"]] = Field(
        default_factory=lambda: ["livenessProbe", "readinessProbe"],
        description="Probes every workload container declares (default liveness and readiness).")
    constraints: dict[str, ConstraintSettings] = Field(
        default_factory=dict,
        description="Per-constraint settings keyed by constraint name (" + ", ".join(TEMPLATES_BY_CONSTRAINT) + ").")
    control_plane_cidrs: list[Cidr] = Field(
        default_factory=lambda: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"],
        description="Where the API server calls the webhooks from and where the controllers reach it (default the "
                    "private ranges: EKS control-plane ENIs live in the cluster VPC). Narrow to the VPC CIDR.")
    signatures: SignatureConfig = Field(default_factory=SignatureConfig, description="Image signature verification.")
    extra_values: dict[str, Any] = Field(default_factory=dict,
                                         description="Extra Gatekeeper chart values, merged last (escape hatch).", json_schema_extra=weakens('escape hatch: raw Gatekeeper chart values'))

    @model_validator(mode="after")
    def _constraints(self) -> "AdmissionConfig":
        from .base import _located

        for name, settings in self.constraints.items():
            template = TEMPLATES_BY_CONSTRAINT.get(name)
            if template is None:
                raise _located(f"constraints.{name}", f"no such constraint; known: {sorted(TEMPLATES_BY_CONSTRAINT)}")
            if "exemptions" in settings.parameters:
                raise _located(f"constraints.{name}.parameters.exemptions",
                               "exemptions come from policy_pack/exemptions.yaml only (one object, its images, an "
                               "owner, a reason and an expiry): add an entry there instead")
            from policy_pack.policies._lib.registries import shared_host  # stdlib only

            for i, r in enumerate(settings.parameters.get("registries") or []):
                host = shared_host(r) if isinstance(r, str) else None
                if host:  # the same rule as trustedRegistries: the pack would trust none of it
                    raise _located(f"constraints.{name}.parameters.registries[{i}]",
                                   f"{r!r} trusts a whole shared registry, where anyone can publish images; name "
                                   f"the owner's repository prefix instead, e.g. '{host}/<owner>'")
            try:
                check_against_schema(settings.parameters, {**template.schema, "required": []})
            except ValueError as e:
                raise _located(f"constraints.{name}.{str(e).split(' ', 1)[0]}", str(e).split(" ", 1)[1]) from None
        return self

    def parameters(self, template: Template, trusted_registries: list[str],
                   platform_tag_images: list[str] | tuple[str, ...] = ()) -> dict:
        """The Constraint's parameters: defaults from this section, then the per-constraint override.

        *platform_tag_images* (the mesh proxy the injector adds to tenant pods by tag) are exempt
        from the digest constraint; an ``exemptImages`` override adds to them, never drops them."""
        defaults: dict[str, dict] = {
            "containers-enforce-limits": {"cpu": self.max_container_cpu, "memory": self.max_container_memory},
            "images-enforce-trusted-registries": {"registries": list(trusted_registries)},
            "containers-enforce-probes": {"probes": list(self.required_probes)},
        }
        settings = self.constraints.get(template.constraint)
        params = {**defaults.get(template.constraint, {}), **(settings.parameters if settings else {})}
        if template.constraint == "images-enforce-digest" and platform_tag_images:
            own = sorted(set(platform_tag_images))
            params["exemptImages"] = own + [i for i in params.get("exemptImages", []) if i not in own]
        check_against_schema(params, template.schema)
        return params


# ---------------------------------------------------------------------------------------------
# Exemptions (policy_pack/exemptions.yaml, owned by the policy pack)
# ---------------------------------------------------------------------------------------------

def _exemptions_module():
    """The pack's exemptions loader (stdlib + PyYAML only), loaded by file so that the component
    does not import the policy package (and pulumi_policy) to read one YAML file."""
    import importlib.util
    import sys

    loaded = sys.modules.get("policy_pack.policies._lib.exemptions")
    if loaded is not None:  # render's preflight imported it: one module, one parse of the file (issue 26)
        return loaded
    name = "hardened_pack_exemptions"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, REPO_ROOT / "policy_pack" / "policies" / "_lib" / "exemptions.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def exempt_objects(template: Template, path: Path = EXEMPTIONS_FILE) -> list[dict]:
    """The objects policy_pack/exemptions.yaml exempts from *template*'s rule, as the constraint's
    ``exemptions`` parameter: ``{id, kind, namespace, name, images}`` per active entry that names
    the template's CrossGuard policy (or the constraint).

    The file (owned by the policy pack, read with its own loader so both enforcement points parse
    it the same way) names ONE object and its images; the Rego matches exactly that (the shared
    helpers' ``exempt_object``), so the namespace stays covered for everything else (issue 23.1:
    a namespace-wide exclusion admitted any privileged pod there, whatever its image). An expired
    entry exempts nothing, and an entry with a glob namespace or name, or none (cluster-scoped), is
    never widened into an exemption here. Absent file: no exemptions (the narrowest reading).
    """
    if not path.exists():
        return []
    ex = _exemptions_module()
    out = []
    for e in ex.load_exemptions(path):
        if not (e.applies_to(template.crossguard_policy) or e.applies_to(template.constraint)):
            continue
        if e.expired() or not e.namespace or any(ch in e.namespace + e.name for ch in "*?["):
            continue
        out.append({"id": e.id, "kind": e.kind, "namespace": e.namespace, "name": e.name,
                    "images": sorted(e.images)})
    return sorted(out, key=lambda x: (x["namespace"], x["kind"], x["name"], x["id"]))


# ---------------------------------------------------------------------------------------------
# Manifests: pure functions, unit-tested
# ---------------------------------------------------------------------------------------------

class AdmissionControlArgs(StrictModel):
    config: AdmissionConfig = Field(default_factory=AdmissionConfig, description="The admission section.")
    trusted_registries: list[str] = Field(description="StackConfig.trustedRegistries.")
    tenant_namespaces: list[str] = Field(
        default_factory=list, description="Tenant namespaces: the scope of tenant-only constraints (probes).")
    platform_tag_images: list[str] = Field(
        default_factory=list,
        description="Images the platform adds to tenant pods by tag (the mesh proxy): exempt, by exact name, "
                    "from the digest constraint.")
    platform_repositories: list[tuple[str, str]] = Field(
        default_factory=list,
        description="(config section, image repository) of every platform image (config.platform_images): each "
                    "gets its upstream's signature policy, or a named static pass where upstream does not sign.")
    exemptions_file: Optional[str] = Field(None, description="Override of policy_pack/exemptions.yaml (tests).")
    egress_gateway: bool = Field(
        False, description="policy-controller leaves through the mesh's egress gateway (default false; HardenedStack "
                           "sets it with the mesh): its pods get a sidecar, and no internet NetworkPolicy.")


def _values(args: AdmissionControlArgs) -> dict:
    """Hardened Gatekeeper chart values (chart version in args.config.chart_version)."""
    c = args.config
    tag = f"v{c.chart_version}" + (f"@{c.image_digest}" if c.image_digest else "")
    restricted = {
        "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": True,
        # UID above 10000 (house style: it owns no host file); group 999 is the chart's fsGroup
        "runAsGroup": 999, "runAsNonRoot": True, "runAsUser": 65532,
    }
    values = {
        "replicas": c.replicas,
        "auditInterval": c.audit_interval_seconds,
        "disableAudit": False,
        "auditFromCache": False,
        "constraintViolationsLimit": 50,
        "validatingWebhookFailurePolicy": c.failure_policy,
        "validatingWebhookTimeoutSeconds": c.webhook_timeout_seconds,
        # Mandatory exemption of the release namespace is added by the chart; kube-system joins it here.
        "validatingWebhookExemptNamespacesLabels": {"kubernetes.io/metadata.name": list(WEBHOOK_EXEMPT_NAMESPACES)},
        "validatingWebhookCheckIgnoreFailurePolicy": "Fail",
        "disableMutation": True,  # the stack writes complete objects; no silent rewrites at admission
        "enableExternalData": False,
        "logDenies": True,
        "emitAdmissionEvents": True,
        "emitAuditEvents": True,
        "enableRuntimeDefaultSeccompProfile": True,
        "image": {"release": tag, "pullPolicy": "IfNotPresent"},
        # (No postInstall/postUpgrade/upgradeCRDs/preUninstall values: those are Helm hooks, which
        # helm.v4.Chart never runs; tests/judges/test_value_keys.py proves they change nothing.)
        "controllerManager": {
            "exemptNamespaces": ["kube-system"],
            "tlsMinVersion": 1.3,
            "hostNetwork": False,
            "securityContext": restricted,
            "podSecurityContext": {"fsGroup": 999, "supplementalGroups": [999]},
            "resources": {"limits": {"cpu": "1", "memory": "512Mi"}, "requests": {"cpu": "100m", "memory": "512Mi"}},
            "networkPolicy": {"enabled": False},  # the component writes its own (default-deny stays)
        },
        "audit": {
            "hostNetwork": False,
            "securityContext": restricted,
            "podSecurityContext": {"fsGroup": 999, "supplementalGroups": [999]},
            "resources": {"limits": {"cpu": "1", "memory": "512Mi"}, "requests": {"cpu": "100m", "memory": "512Mi"}},
        },
        "pdb": {"controllerManager": {"minAvailable": 1}},
        "disabledBuiltins": ["{http.send}"],
        "rbac": {"create": True},
    }
    return deep_merge(values, c.extra_values)


def _policy_controller_values(args: AdmissionControlArgs) -> dict:
    """Hardened Sigstore policy-controller chart values. (In this chart ``webhook.podSecurityContext``
    is the *container* securityContext and ``webhook.securityContext`` the pod's.)"""
    s = args.config.signatures
    values: dict[str, Any] = {
        # (No installCRDs: chart 0.10.6 installs its CRDs unconditionally and reads no such key. No
        # leasescleanup values: that Job is a post-delete hook, which helm.v4.Chart never runs.)
        # Stable names: exemptions name exact objects, whatever the release is called.
        "fullnameOverride": "policy-controller",
        "webhook": {
            "replicaCount": 2,
            "failurePolicy": "Fail",
            "configData": {"no-match-policy": s.no_match_policy},
            "namespaceSelector": {"matchExpressions": [
                {"key": SIGSTORE_INCLUDE_LABEL, "operator": "In", "values": ["true"]}]},
            "podSecurityContext": {
                "enabled": True, "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                "runAsNonRoot": True, "runAsUser": 65532, "capabilities": {"drop": ["ALL"]},
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "securityContext": {"enabled": True, "runAsNonRoot": True, "runAsUser": 65532,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "resources": {"limits": {"cpu": "200m", "memory": "512Mi"},
                          "requests": {"cpu": "100m", "memory": "128Mi"}},
            "podDisruptionBudget": {"enabled": True, "minAvailable": 1},
        },
    }
    if args.egress_gateway:
        # Its registry and Sigstore calls leave through the egress gateway (components/egress.py): the
        # pods get a sidecar (per-pod injection; the chart's only pod-label value is customLabels,
        # which it writes unquoted, hence the quoted string) that steers them there, and the
        # webhook port stays outside the sidecar, since the API server is not in the mesh.
        values["webhook"]["customLabels"] = {INJECT_LABEL: '"true"'}
        values["webhook"]["podAnnotations"] = {
            EXCLUDE_INBOUND_ANNOTATION: str(POLICY_CONTROLLER_WEBHOOK_PORT)}
    return values


def constraint_template(t: Template) -> dict:
    """A templates.gatekeeper.sh/v1 ConstraintTemplate with the Rego v1 source of *t*.

    Only ``code[].source`` carries the policy: the target-level ``rego`` field is Rego v0 only and
    would be compiled as v0, so it is deliberately not set (Gatekeeper >= 3.19 required).
    """
    return {
        "apiVersion": "templates.gatekeeper.sh/v1",
        "kind": "ConstraintTemplate",
        "metadata": {
            "name": t.name,
            "labels": standard_labels(t.name, "constraint-template"),
            "annotations": {WAIT_FOR_ANNOTATION: TEMPLATE_READY, "description": t.description},
        },
        "spec": {
            "crd": {"spec": {"names": {"kind": t.kind}, "validation": {"openAPIV3Schema": t.schema}}},
            "targets": [{
                "target": "admission.k8s.gatekeeper.sh",
                "code": [{"engine": "Rego", "source": {"version": "v1", "rego": t.rego}}],
            }],
        },
    }


#: Constraints that govern the golden path (the tenant namespaces) only:
#: * probes: upstream charts ship Deployments with a readiness probe alone (Istio's gateway, Vault),
#:   and the pack judges those through the chart values;
#: * digests: the platform's charts are pinned by version and deploy their images by tag unless a
#:   digest is configured (vault.imageDigest, runtimeDetection.imageDigest, ...); Istio and SPIRE
#:   offer no per-image digest at all. In tenant namespaces every image is pinned by digest except
#:   the mesh proxy, exempted by its exact tag (AdmissionControlArgs.platform_tag_images).
TENANT_ONLY = {"containers-enforce-probes", "images-enforce-digest"}


def constraint(t: Template, cfg: AdmissionConfig, trusted_registries: list[str],
               exemptions_file: Path = EXEMPTIONS_FILE, tenant_namespaces: Optional[list[str]] = None,
               platform_tag_images: list[str] | tuple[str, ...] = ()) -> dict:
    settings = cfg.constraints.get(t.constraint) or ConstraintSettings()
    excluded = sorted(set(WEBHOOK_EXEMPT_NAMESPACES) | set(settings.excluded_namespaces))
    match: dict = {"kinds": [dict(k) for k in t.kinds], "excludedNamespaces": excluded}
    if t.constraint in TENANT_ONLY:
        match["namespaces"] = sorted(tenant_namespaces or [])
    spec: dict = {"enforcementAction": settings.enforcement_action, "match": match}
    params = cfg.parameters(t, trusted_registries, platform_tag_images)
    exempt = [e for e in exempt_objects(t, exemptions_file)
              if "namespaces" not in match or e["namespace"] in match["namespaces"]]
    if exempt:
        params["exemptions"] = exempt
        check_against_schema(params, t.schema)
    if params:
        spec["parameters"] = params
    return {
        "apiVersion": "constraints.gatekeeper.sh/v1beta1",
        "kind": t.kind,
        "metadata": {"name": t.constraint, "labels": standard_labels(t.constraint, "constraint"),
                     "annotations": {"policy.hardened-stack.io/crossguard": t.crossguard_policy}},
        "spec": spec,
    }


def gatekeeper_config() -> dict:
    """Gatekeeper's Config: the webhook-exempt namespaces are also skipped by audit."""
    return {
        "apiVersion": "config.gatekeeper.sh/v1alpha1",
        "kind": "Config",
        "metadata": {"name": "config", "namespace": GATEKEEPER_NAMESPACE,
                     "labels": standard_labels("gatekeeper-config", "admission")},
        "spec": {"match": [{"excludedNamespaces": list(WEBHOOK_EXEMPT_NAMESPACES), "processes": ["*"]}]},
    }


def _keyless_policy(name: str, mode: str, images, issuer: str, subject_regexp: str) -> dict:
    return {
        "apiVersion": "policy.sigstore.dev/v1beta1",
        "kind": "ClusterImagePolicy",
        "metadata": {"name": name, "labels": standard_labels(name, "image-policy")},
        "spec": {
            "mode": mode,
            "images": [{"glob": g} for g in images],
            "authorities": [{
                "name": "github-actions-keyless",
                "keyless": {"url": FULCIO_URL,
                            "identities": [{"issuer": issuer, "subjectRegExp": subject_regexp}]},
                "ctlog": {"url": REKOR_URL},
            }],
        },
    }


def cluster_image_policy(s: SignatureConfig) -> dict:
    """The tenant images: keyless, from the one release workflow on release refs."""
    return _keyless_policy("keyless-github-actions", s.mode, s.images, s.issuer, s.subject_regexp)


def signer_policies(s: SignatureConfig) -> list[dict]:
    """One keyless ClusterImagePolicy per further signer (``signers``), named after its repository."""
    out = []
    for signer in s.signers:
        slug = re.sub(r"[^a-z0-9-]+", "-", signer.repository.split("://", 1)[1].split("/", 1)[1].lower()).strip("-")
        out.append(_keyless_policy(f"keyless-{slug}"[:63].rstrip("-"), s.mode, signer.images, s.issuer,
                                   signer.subject_regexp))
    return out


#: policy-controller's glob alphabet (pkg/apis/glob/glob.go validGlob).
_VALID_GLOB = re.compile(r"^[a-zA-Z0-9\-_:/*.@]+$")
DOCKER_HUB = "index.docker.io"


def reference_name(image: str) -> str:
    """The fully qualified name policy-controller matches globs against: go-containerregistry's
    ``name.ParseReference(image).Name()`` (pkg/name: ``docker.io`` and no registry become
    ``index.docker.io``, a Docker Hub name without an organisation gets ``library/``, no tag means
    ``:latest``, and a ``repo:tag@sha256:...`` reference keeps only the digest, as the mutating
    webhook writes it after resolving the tag)."""
    base, _, digest = image.partition("@")
    last = base.rsplit("/", 1)[-1]
    tag = None
    if ":" in last:
        base, tag = base.rsplit(":", 1)
    first, _, rest = base.partition("/")
    if rest and ("." in first or ":" in first):
        registry, path = first, rest
    else:
        registry, path = "", base
    if registry in ("", "docker.io"):
        registry = DOCKER_HUB
    if registry == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    repo = f"{registry}/{path}"
    return f"{repo}@{digest}" if digest else f"{repo}:{tag or 'latest'}"


def _compile_glob(pattern: str) -> re.Pattern:
    """pkg/apis/glob Compile: ``**`` any characters (none too), ``*`` any but ``/``, anchored; the
    bare globs ``*`` and ``*/*`` mean Docker Hub's library and organisations."""
    if pattern == "*/*":
        pattern = "index.docker.io/*/*"
    if pattern == "*":
        pattern = "index.docker.io/library/*"
    if not _VALID_GLOB.match(pattern):
        raise ValueError(f"invalid image glob {pattern!r}: policy-controller accepts letters, digits and -_:/*.@")
    rx = pattern.replace(".", r"\.").replace("**", "#").replace("*", "[^/]*").replace("#", ".*")
    return re.compile(f"^{rx}$")


def glob_matches(pattern: str, image: str) -> bool:
    """Whether policy-controller matches *image* with the ClusterImagePolicy glob *pattern*: the
    webhook matches the fully qualified ``reference_name`` (pkg/webhook/validator.go
    validateContainerImage -> GetMatchingPolicies(ref.Name()) -> glob.Match), so a glob written
    ``docker.io/...`` never matches, and a tag glob stops matching once the tag is resolved to a digest."""
    return bool(_compile_glob(pattern).match(reference_name(image)))


def repository_globs(repository: str) -> list[str]:
    """Every reference of *repository*, by tag or by digest, in the form the webhook matches."""
    repo = reference_name(repository).rsplit(":", 1)[0]
    return [f"{repo}:**", f"{repo}@**"]


def _slug(repository: str) -> str:
    """The repository's path (no registry) as a name part: ``docker.io/hashicorp/vault`` -> ``hashicorp-vault``."""
    path = reference_name(repository).rsplit(":", 1)[0].split("/", 1)[1]
    return re.sub(r"[^a-z0-9-]+", "-", path.lower()).strip("-")[:45].rstrip("-")


def platform_image_policies(s: SignatureConfig, platform_repositories=(),
                            platform_tag_images: list[str] | tuple[str, ...] = ()) -> list[dict]:
    """The platform's images (*platform_repositories*: ``(config section, repository)``, from
    ``config.platform_images``): one policy per upstream that signs them (:data:`PLATFORM_SIGNERS`:
    its key or its keyless identity) covering every repository it signs, and one static pass per
    repository whose upstream does not sign (:data:`UNSIGNED_UPSTREAM`), named and annotated so.
    With ``platformImages: false`` only the images the platform adds to tenant pods (the mesh
    proxy) are passed, by name (tag and resolved digest), so tenant pods stay admissible."""
    out = []
    if not s.platform_images:
        if platform_tag_images:
            globs = sorted({g for i in platform_tag_images
                            for g in (reference_name(i), reference_name(i).rsplit(":", 1)[0] + "@**")})
            out.append({
                "apiVersion": "policy.sigstore.dev/v1beta1", "kind": "ClusterImagePolicy",
                "metadata": {"name": "platform-injected-images",
                             "labels": standard_labels("platform-injected-images", "image-policy")},
                "spec": {"mode": s.mode, "images": [{"glob": g} for g in globs],
                         "authorities": [{"name": "named-platform-image", "static": {"action": "pass"}}]},
            })
        return out
    unknown = unverifiable_platform_images(platform_repositories)
    if unknown:
        raise ValueError("no upstream signer or unsigned-upstream entry for " + ", ".join(
            f"{repo!r} ({sec})" for sec, repo in unknown) + " (components/admission.py PLATFORM_SIGNERS)")
    stack = list(dict.fromkeys(platform_repositories))
    for signer in PLATFORM_SIGNERS:
        mine = [repo for sec, repo in stack if signer.signs(sec, repo)]
        if not mine:
            continue
        repos = list(dict.fromkeys(list(signer.repositories) + mine))
        out.append({
            "apiVersion": "policy.sigstore.dev/v1beta1", "kind": "ClusterImagePolicy",
            "metadata": {"name": signer.name, "labels": standard_labels(signer.name, "image-policy"),
                         "annotations": {"hardened-stack.io/signed-by": signer.source}},
            "spec": {"mode": s.mode, "images": [{"glob": g} for r in repos for g in repository_globs(r)],
                     "authorities": [signer.authority()]},
        })
    for repo in dict.fromkeys(r for sec, r in stack if platform_signer(sec, r) is None):
        name = f"unsigned-upstream-{_slug(repo)}"
        out.append({
            "apiVersion": "policy.sigstore.dev/v1beta1", "kind": "ClusterImagePolicy",
            "metadata": {"name": name, "labels": standard_labels(name, "image-policy"),
                         "annotations": {"hardened-stack.io/unsigned-upstream": UNSIGNED_UPSTREAM[repo]}},
            "spec": {"mode": s.mode, "images": [{"glob": g} for g in repository_globs(repo)],
                     "authorities": [{"name": "upstream-publishes-no-signature", "static": {"action": "pass"}}]},
        })
    return out


def signature_egress_hosts(s: SignatureConfig, images: list[str] | tuple[str, ...] = (),
                           region: Optional[str] = None) -> list[str]:
    """Every internet host policy-controller reaches: the registries (and their blob hosts, in the
    cluster's *region* where a registry redirects by region) of every tenant image glob a
    ClusterImagePolicy names and of *images* (the platform's repositories it verifies, the tenants'
    images and the injected proxy: its defaulting webhook resolves their tags), Rekor, the TUF
    root, and ``egressHosts``."""
    from .egress import registry_hosts, url_host

    return sorted({*registry_hosts([*s.image_globs(), *images], region), url_host(REKOR_URL), url_host(TUF_MIRROR),
                   *s.egress_hosts})


def _netpol(name: str, namespace: str, spec: dict) -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": namespace, "labels": standard_labels(name, "network-policy")},
            "spec": spec}


def network_policies(cfg: AdmissionConfig, egress_gateway: bool = False) -> list[tuple[str, dict]]:
    """What the two webhooks truly need on top of default-deny: the API server calls them, they
    call the API server; policy-controller also fetches signatures from registries and Sigstore:
    through the egress gateway (*egress_gateway*, components/egress.py writes that policy), else
    straight to internet addresses on 443 (a stack without the mesh)."""
    cp = [{"ipBlock": {"cidr": c}} for c in cfg.control_plane_cidrs]
    out = [
        ("gk-webhook-ingress", _netpol("allow-apiserver-to-webhook", GATEKEEPER_NAMESPACE, {
            "podSelector": {"matchLabels": {"gatekeeper.sh/operation": "webhook"}},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": cp, "ports": [{"protocol": "TCP", "port": 8443}]}]})),
        ("gk-apiserver-egress", _netpol("allow-egress-apiserver", GATEKEEPER_NAMESPACE, {
            "podSelector": {"matchLabels": {"gatekeeper.sh/system": "yes"}},
            "policyTypes": ["Egress"],
            "egress": [{"to": cp, "ports": [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 6443}]}]})),
    ]
    if cfg.signatures.enabled:
        out += [
            ("pc-webhook-ingress", _netpol("allow-apiserver-to-webhook", POLICY_CONTROLLER_NAMESPACE, {
                "podSelector": {},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": cp, "ports": [{"protocol": "TCP", "port": 8443}]}]})),
        ]
        if not egress_gateway:
            # Registries, Rekor and the TUF root live on the internet, on 443: never the cluster's
            # private ranges or the instance metadata service (link-local).
            out.append(("pc-https-egress", _netpol("allow-egress-https", POLICY_CONTROLLER_NAMESPACE, {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": list(INTERNET_EXCEPT)}}],
                            "ports": [{"protocol": "TCP", "port": 443}]}]})))
        out += [
            ("pc-apiserver-egress", _netpol("allow-egress-apiserver", POLICY_CONTROLLER_NAMESPACE, {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [{"to": cp, "ports": [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 6443}]}]})),
        ]
    return out


# ---------------------------------------------------------------------------------------------
# The component
# ---------------------------------------------------------------------------------------------

def fail_open_settings(cfg: "AdmissionConfig") -> list[str]:
    """One warning per setting that lets objects in when admission cannot or does not judge them
    (fail open): render and ``pulumi up`` print them, so the opt-out is seen where it is made."""
    out = []
    if cfg.failure_policy == "Ignore":
        out.append("admission.failurePolicy is Ignore: while the Gatekeeper webhook is down or slow, the API server "
                   "admits every object unchecked (fail open); the default Fail refuses them instead")
    for constraint, settings in sorted(cfg.constraints.items()):
        if settings.enforcement_action != "deny":
            out.append(f"admission.constraints.{constraint}.enforcementAction is {settings.enforcement_action}: "
                       "the constraint reports violations but admits them (fail open); the default deny refuses them")
    if cfg.signatures.enabled and cfg.signatures.mode == "warn":
        out.append("admission.signatures.mode is warn: unsigned images are admitted with a warning (fail open); "
                   "the default enforce refuses them")
    return out


class AdmissionControl(HardenedComponent):
    """Gatekeeper (fail closed, Rego v1 templates, constraints) and keyless image signatures."""

    def __init__(self, name: str, args: AdmissionControlArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TOKEN, name, None, opts)
        from .namespace import HardenedNamespace, HardenedNamespaceArgs

        cfg = args.config
        exemptions = Path(args.exemptions_file) if args.exemptions_file else EXEMPTIONS_FILE
        for warning in fail_open_settings(cfg):
            pulumi.log.warn(warning, self)
        self.namespace = HardenedNamespace(f"{name}-ns", HardenedNamespaceArgs(
            name=GATEKEEPER_NAMESPACE,
            # Replaces the chart's post-install hook that labels the namespace.
            labels={GATEKEEPER_IGNORE_LABEL: "no-self-managing"},
        ), child_opts(self))
        namespaces = [self.namespace]
        if cfg.signatures.enabled:
            self.signing_namespace = HardenedNamespace(f"{name}-sigstore-ns", HardenedNamespaceArgs(
                name=POLICY_CONTROLLER_NAMESPACE), child_opts(self))
            namespaces.append(self.signing_namespace)
        policies = [k8s_object(f"{name}-{suffix}", m, child_opts(self, depends_on=namespaces))
                    for suffix, m in network_policies(cfg, args.egress_gateway)]

        self.chart = helm_chart(f"{name}-gatekeeper", chart=GATEKEEPER_CHART, version=cfg.chart_version,
                                repo=GATEKEEPER_REPO, namespace=GATEKEEPER_NAMESPACE, values=_values(args),
                                opts=child_opts(self, depends_on=[self.namespace, *policies]))
        k8s_object(f"{name}-config", gatekeeper_config(), child_opts(self, depends_on=[self.chart]))
        self.templates: dict[str, pulumi.Resource] = {}
        self.constraints: dict[str, pulumi.Resource] = {}
        for t in TEMPLATES:
            tpl = k8s_object(f"{name}-template-{t.constraint}", constraint_template(t),
                             child_opts(self, depends_on=[self.chart]))
            self.templates[t.constraint] = tpl
            if t.constraint in TENANT_ONLY and not args.tenant_namespaces:
                continue  # an empty `namespaces` match would mean every namespace
            self.constraints[t.constraint] = k8s_object(
                f"{name}-constraint-{t.constraint}",
                constraint(t, cfg, args.trusted_registries, exemptions, args.tenant_namespaces,
                           args.platform_tag_images),
                child_opts(self, depends_on=[tpl]))

        self.policy_controller = None
        if cfg.signatures.enabled:
            self.policy_controller = helm_chart(
                f"{name}-policy-controller", chart=POLICY_CONTROLLER_CHART, version=cfg.signatures.chart_version,
                repo=POLICY_CONTROLLER_REPO, namespace=POLICY_CONTROLLER_NAMESPACE,
                values=_policy_controller_values(args),
                opts=child_opts(self, depends_on=[self.signing_namespace, *policies]))
            k8s_object(f"{name}-image-policy", cluster_image_policy(cfg.signatures),
                       child_opts(self, depends_on=[self.policy_controller]))
            for policy in signer_policies(cfg.signatures) + platform_image_policies(
                    cfg.signatures, args.platform_repositories, args.platform_tag_images):
                k8s_object(f"{name}-image-policy-{policy['metadata']['name']}", policy,
                           child_opts(self, depends_on=[self.policy_controller]))

        #: what dependents wait for: the webhooks and every constraint are in place
        self.ready = [self.chart, *self.constraints.values(), *filter(None, [self.policy_controller])]
        self.register_outputs({
            "gatekeeperNamespace": GATEKEEPER_NAMESPACE,
            "constraints": sorted(self.constraints),
            "failurePolicy": cfg.failure_policy,
            "signedNamespaces": cfg.signatures.verified_namespaces(args.tenant_namespaces)
            if cfg.signatures.enabled else [],
        })


def tenant_namespace_labels(cfg: AdmissionConfig, namespace: str) -> dict[str, str]:
    """Labels a tenant namespace carries for admission: every tenant namespace is verified
    (policy.sigstore.dev/include) unless admission.signatures.excludedNamespaces names it."""
    if cfg.enabled and cfg.signatures.enabled and namespace not in cfg.signatures.excluded_namespaces:
        return {SIGSTORE_INCLUDE_LABEL: "true"}
    return {}


#: Platform namespaces never labelled for signature verification, and why. policy-controller
#: does not exclude its own namespace in code: its webhooks judge exactly the namespaces their
#: namespaceSelector selects (the include label; knative.dev/pkg webhook/resourcesemantics/
#: validation/reconcile_config.go only adds ``webhooks.knative.dev/exclude DoesNotExist``).
UNVERIFIED_NAMESPACES: dict[str, str] = {
    POLICY_CONTROLLER_NAMESPACE: "policy-controller's own namespace: with failurePolicy Fail, a webhook that judges "
                                 "its own pods can admit none once no replica runs (deadlock)",
    GATEKEEPER_NAMESPACE: "Gatekeeper judges cosign-system (only gatekeeper-system and kube-system are outside its "
                          "webhook): if policy-controller also judged gatekeeper-system, the two fail-closed webhooks "
                          "could each wait for the other after an outage (deadlock); Gatekeeper's image is unsigned "
                          "upstream anyway (UNSIGNED_UPSTREAM)",
    "kube-system": "EKS's own add-ons (CoreDNS, the VPC CNI, kube-proxy) run there; policy-controller needs DNS and "
                   "the network to fetch signatures, so judging them could deadlock the cluster, as for Gatekeeper",
}


def platform_namespace_labels(cfg: AdmissionConfig, namespace: str,
                              start_path: Optional[dict[str, str]] = None) -> dict[str, str]:
    """Labels a platform namespace carries for admission: verified (policy.sigstore.dev/include) when
    the platform's images are (``signatures.platformImages``: every platform image has its upstream's
    policy or a named static pass), unless :data:`UNVERIFIED_NAMESPACES` or *start_path* (the
    namespaces policy-controller's own pods need, ``stack.start_path_namespaces``) says why not."""
    s = cfg.signatures
    if (cfg.enabled and s.enabled and s.platform_images and namespace not in UNVERIFIED_NAMESPACES
            and namespace not in (start_path or {})):
        return {SIGSTORE_INCLUDE_LABEL: "true"}
    return {}
