"""Issue 23.5, the platform's own images, attacked on the prod render: a tenant's (or any unknown)
image in a platform namespace is denied at the signature layer; each platform image is admitted
only by its upstream's signature (key or keyless identity), or by a static pass that names its one
repository and the evidence that upstream does not sign.

The model of policy-controller (sigstore/policy-controller v0.13.1, the chart 0.10.6's image):
- a namespace is judged when the webhook's ``namespaceSelector`` selects it (our include label;
  knative.dev/pkg only adds ``webhooks.knative.dev/exclude DoesNotExist``);
- the mutating webhook resolves a tag to a digest and writes ``repo:tag@sha256:...``
  (pkg/webhook/validator.go resolvePodSpec); the validating webhook then matches every
  ClusterImagePolicy glob against ``name.ParseReference(image).Name()`` (validateContainerImage ->
  GetMatchingPolicies(ref.Name()) -> pkg/apis/glob Match): fully qualified, ``docker.io`` rewritten
  to ``index.docker.io`` (go-containerregistry pkg/name/registry.go), the tag dropped when a digest
  is present (pkg/name/digest.go NewDigest/Name);
- an image no policy matches follows ``no-match-policy`` (setNoMatchingPoliciesError: deny);
- a ``key`` authority without ``ctlog`` verifies the signature with the key and skips the
  transparency log (checkOptsFromAuthority: no Rekor client and no keys -> IgnoreTlog).
"""
from __future__ import annotations

import hashlib
import json
import re

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from components.admission import (CERT_MANAGER_KEY, ISTIO_KEY, PLATFORM_SIGNERS, SIGSTORE_INCLUDE_LABEL,
                                  UNSIGNED_UPSTREAM, UNVERIFIED_NAMESPACES, glob_matches, reference_name)
from components.config import ConfigError, parse_stack_config
from tests.harness import prod_document

POD_KINDS = ("Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob")
A_DIGEST = "sha256:" + "a" * 64


def objects(rendered) -> list[dict]:
    return list(rendered.manifests.values())


def policies(rendered) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects(rendered) if o["kind"] == "ClusterImagePolicy"}


def pod_spec(o: dict) -> dict | None:
    if o["kind"] == "Pod":
        return o["spec"]
    if o["kind"] == "CronJob":
        return o["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    if o["kind"] in POD_KINDS:
        return o["spec"]["template"]["spec"]
    return None


def _selects(selector: dict, labels: dict) -> bool:
    """A Kubernetes label selector (matchLabels and matchExpressions) over *labels*."""
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for e in selector.get("matchExpressions") or []:
        key, op, values = e["key"], e["operator"], e.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def namespace_labels(rendered) -> dict[str, dict]:
    return {o["metadata"]["name"]: o["metadata"].get("labels") or {}
            for o in objects(rendered) if o["kind"] == "Namespace"}


def verified_namespaces(rendered) -> set[str]:
    """The namespaces policy-controller's validating webhook judges, from the rendered webhook."""
    (hook,) = [w for o in objects(rendered) if o["kind"] == "ValidatingWebhookConfiguration"
               for w in o.get("webhooks") or [] if w["name"] == "policy.sigstore.dev"]
    selector = {**hook["namespaceSelector"], "matchExpressions": [
        *hook["namespaceSelector"].get("matchExpressions", []),
        {"key": "webhooks.knative.dev/exclude", "operator": "DoesNotExist"}]}  # knative adds it at run time
    return {n for n, labels in namespace_labels(rendered).items() if _selects(selector, labels)}


def images_by_namespace(rendered) -> dict[str, set[str]]:
    """Every container, init and ephemeral container image of every pod template, per namespace, and
    the pods the platform creates at run time, derived from the render: the sidecar the injector adds
    to injected namespaces and the gateway istiod deploys for a Gateway (the injector's values), and
    cert-manager's HTTP-01 solver pods in the namespace of each Certificate of an ACME issuer (its
    controller's --acme-http01-solver-image)."""
    out: dict[str, set[str]] = {}
    for o in objects(rendered):
        spec = pod_spec(o)
        if spec is None:
            continue
        for c in spec.get("containers", []) + spec.get("initContainers", []) + spec.get("ephemeralContainers", []):
            out.setdefault(o["metadata"]["namespace"], set()).add(c["image"])
    (injector,) = [o for o in objects(rendered) if o["kind"] == "ConfigMap"
                   and o["metadata"]["name"] == "istio-sidecar-injector"]
    g = json.loads(injector["data"]["values"])["global"]
    proxy = f"{g['hub']}/{g['proxy']['image']}:{g['tag']}" + (f"-{g['variant']}" if g.get("variant") else "")
    for ns, labels in namespace_labels(rendered).items():
        if labels.get("istio-injection") == "enabled":
            out.setdefault(ns, set()).add(proxy)
    for o in objects(rendered):
        if o["kind"] == "Gateway" and o["spec"].get("gatewayClassName") == "istio":
            out.setdefault(o["metadata"]["namespace"], set()).add(proxy)
    (controller,) = [o for o in objects(rendered) if o["kind"] == "Deployment" and o["metadata"]["name"] == "cert-manager"]
    (solver,) = [a.split("=", 1)[1] for c in controller["spec"]["template"]["spec"]["containers"]
                 for a in c.get("args", []) if a.startswith("--acme-http01-solver-image=")]
    acme = {o["metadata"]["name"] for o in objects(rendered)
            if o["kind"] in ("ClusterIssuer", "Issuer") and "acme" in o["spec"]}
    for o in objects(rendered):
        if o["kind"] == "Certificate" and o["spec"]["issuerRef"]["name"] in acme:
            out.setdefault(o["metadata"]["namespace"], set()).add(solver)
    return out


def matching(rendered, image: str) -> list[dict]:
    return [p for p in policies(rendered).values() if any(glob_matches(g["glob"], image) for g in p["spec"]["images"])]


def admitted_without_signature(rendered, namespace: str, image: str) -> bool:
    """policy-controller's decision for an image nobody signed: judged namespaces deny it unless a
    policy matching it passes statically (every matching policy must be satisfied)."""
    if namespace not in verified_namespaces(rendered):
        return True
    (cm,) = [o for o in objects(rendered) if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "config-policy-controller"]
    found = matching(rendered, image)
    if not found:
        return cm["data"]["no-match-policy"] != "deny"
    return all(any("static" in a and a["static"]["action"] == "pass" for a in p["spec"]["authorities"]) for p in found)


# --- policy-controller's matching, modelled -------------------------------------------------------

@pytest.mark.parametrize("glob,image,match", [
    # go-containerregistry rewrites docker.io and adds library/ and :latest; a docker.io glob never matches
    ("docker.io/falcosecurity/falco:**", "docker.io/falcosecurity/falco:0.44.1", False),
    ("index.docker.io/falcosecurity/falco:**", "docker.io/falcosecurity/falco:0.44.1", True),
    ("index.docker.io/openpolicyagent/gatekeeper:**", "openpolicyagent/gatekeeper:v3.23.0", True),
    ("index.docker.io/library/busybox:latest", "busybox", True),
    ("*", "busybox", True),                                   # '*' means index.docker.io/library/*
    ("*/*", "myorg/app", True),
    # after the mutating webhook: repo:tag@digest is matched as repo@digest
    ("ghcr.io/fluent/fluent-bit:**", f"ghcr.io/fluent/fluent-bit:4.0.3@{A_DIGEST}", False),
    ("ghcr.io/fluent/fluent-bit@**", f"ghcr.io/fluent/fluent-bit:4.0.3@{A_DIGEST}", True),
    ("registry.istio.io/release/proxyv2:1.30.3", f"registry.istio.io/release/proxyv2:1.30.3@{A_DIGEST}", False),
    # '*' stops at '/', '**' crosses it and may be empty
    ("ghcr.io/lego-mcp/*", "ghcr.io/lego-mcp/a/b:1", False),
    ("ghcr.io/lego-mcp/**", "ghcr.io/lego-mcp/a/b:1", True),
    ("ghcr.io/spiffe/spire-server:**", "ghcr.io/spiffe/spire-server-evil:1", False),
    ("quay.io/jetstack/cert-manager-controller:v1.21.1**", "quay.io/jetstack/cert-manager-controller:v1.21.1", True),
    # a registry with a port is a registry, not a Docker Hub organisation
    ("localhost:5000/x:**", "localhost:5000/x:1", True),
])
def test_globs_match_as_policy_controller_matches_them(glob, image, match):
    assert glob_matches(glob, image) is match


def test_reference_names_are_go_containerregistrys():
    assert reference_name("nginx") == "index.docker.io/library/nginx:latest"
    assert reference_name("docker.io/hashicorp/vault:2.0.4") == "index.docker.io/hashicorp/vault:2.0.4"
    assert reference_name(f"ghcr.io/a/b:1@{A_DIGEST}") == f"ghcr.io/a/b@{A_DIGEST}"
    with pytest.raises(ValueError, match="invalid image glob"):
        glob_matches("ghcr.io/a/[b]", "ghcr.io/a/b")


# --- the published keys ----------------------------------------------------------------------------

@pytest.mark.parametrize("key,kind,size", [(ISTIO_KEY, ec.EllipticCurvePublicKey, 256),
                                           (CERT_MANAGER_KEY, rsa.RSAPublicKey, 4096)],
                         ids=["istio", "cert-manager"])
def test_the_committed_keys_are_the_recorded_public_keys(key, kind, size):
    public = serialization.load_pem_public_key(key.pem.encode())
    assert isinstance(public, kind) and public.key_size == size
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert hashlib.sha256(der).hexdigest() == key.fingerprint
    assert re.search(r"\b[0-9a-f]{40}\b", key.source)  # the upstream commit it was read at


@pytest.mark.parametrize("name,key", [("upstream-istio", ISTIO_KEY), ("upstream-cert-manager", CERT_MANAGER_KEY)])
def test_key_policies_carry_the_key_and_its_digest(rendered_prod, name, key):
    (auth,) = policies(rendered_prod)[name]["spec"]["authorities"]
    assert auth["key"] == {"data": key.pem, "hashAlgorithm": key.hash_algorithm}
    assert "ctlog" not in auth  # cert-manager documents --insecure-ignore-tlog
    assert CERT_MANAGER_KEY.hash_algorithm == "sha512"  # code-signing.md: --signature-digest-algorithm sha512


def test_every_istio_image_the_stack_deploys_is_verified_by_istios_key(rendered_prod):
    """pilot, install-cni and the proxy (injected sidecar and gateway): derived from the render."""
    istio = [i for imgs in images_by_namespace(rendered_prod).values() for i in imgs if "/release/" in i]
    assert {i.rsplit("/", 1)[1].split(":")[0] for i in istio} == {"pilot", "install-cni", "proxyv2"}
    for image in istio:
        assert [p["metadata"]["name"] for p in matching(rendered_prod, image)] == ["upstream-istio"], image
        assert [p["metadata"]["name"] for p in matching(rendered_prod, f"{image}@{A_DIGEST}")] == ["upstream-istio"]


# --- coverage of the labelled namespaces ----------------------------------------------------------

#: policy-controller's start path with the mesh (components.stack.start_path_namespaces; derived from
#: the render and proved cycle-free in tests/privilege/test_cold_start.py): not verified, so that
#: after a full outage policy-controller and these never wait for each other.
START_PATH = {"istio-system", "spire-system", "spire-server", "istio-egress"}


def test_platform_namespaces_are_verified_except_the_named_ones(rendered_prod):
    from components.stack import start_path_namespaces

    cfg = parse_stack_config(prod_document())
    tenants = {n.name for n in cfg.namespaces}
    verified = verified_namespaces(rendered_prod)
    unverified = set(namespace_labels(rendered_prod)) - verified
    start_path = start_path_namespaces(cfg)
    assert set(start_path) == START_PATH
    # the stack does not create kube-system
    assert unverified == (set(UNVERIFIED_NAMESPACES) | set(start_path)) - {"kube-system"}
    assert {"falco", "istio-ingress", "vault", "cert-manager", "external-secrets", "compliance"} | tenants <= verified


@pytest.mark.parametrize("namespace", sorted(START_PATH))
def test_start_path_namespaces_stay_judged_by_gatekeeper(rendered_prod, namespace):
    """Out of signature verification, not out of admission: Gatekeeper's fail-closed webhook still
    selects them (its constraints name exempted objects and their images only, issue 23.1)."""
    (hook,) = [w for o in objects(rendered_prod) if o["kind"] == "ValidatingWebhookConfiguration"
               for w in o.get("webhooks") or [] if w["name"] == "validation.gatekeeper.sh"]
    labels = {**namespace_labels(rendered_prod)[namespace], "kubernetes.io/metadata.name": namespace}
    assert hook["failurePolicy"] == "Fail" and _selects(hook["namespaceSelector"], labels)
    assert namespace not in verified_namespaces(rendered_prod)


def test_every_image_of_a_verified_namespace_matches_a_policy(rendered_prod):
    """By tag, and as the mutating webhook rewrites it (tag@digest): no labelled namespace holds an
    image that no-match-policy deny would refuse."""
    images = images_by_namespace(rendered_prod)
    verified = verified_namespaces(rendered_prod)
    assert verified & set(images) >= {"falco", "istio-ingress", "vault", "cert-manager"}
    uncovered = [(ns, image) for ns in sorted(verified & set(images)) for image in sorted(images[ns])
                 for form in (image, image.split("@")[0] + f"@{A_DIGEST}") if not matching(rendered_prod, form)]
    assert uncovered == []


@pytest.mark.parametrize("image", ["ghcr.io/evil/miner:1", "docker.io/library/busybox:1.36", "busybox",
                                   f"ghcr.io/spiffe/spire-server-evil@{A_DIGEST}", "quay.io/jetstack/evil:1",
                                   "index.docker.io/falcosecurity/falco-evil:1"])
@pytest.mark.parametrize("namespace", ["falco", "vault", "cert-manager", "external-secrets", "istio-ingress",
                                       "compliance"])
def test_an_unknown_image_in_a_platform_namespace_is_denied(rendered_prod, namespace, image):
    """The probe of route 5: an attacker's pod in a privileged platform namespace, refused by the
    signature layer (no policy matches, no-match-policy deny)."""
    assert matching(rendered_prod, image) == []
    assert not admitted_without_signature(rendered_prod, namespace, image)


def test_a_platform_image_is_admitted_only_by_its_upstreams_signature(rendered_prod):
    """In a verified namespace, a signed upstream's image without its signature is refused; only the
    named unsigned repositories pass statically."""
    verified = verified_namespaces(rendered_prod)
    for ns, imgs in images_by_namespace(rendered_prod).items():
        for image in imgs if ns in verified else ():
            found = matching(rendered_prod, image)
            assert found, image
            static = [p["metadata"]["name"] for p in found if "static" in p["spec"]["authorities"][0]]
            assert all(n.startswith("unsigned-upstream-") for n in static), static
            assert admitted_without_signature(rendered_prod, ns, image) is bool(static), image


def test_static_passes_name_one_unsigned_repository_each_with_the_evidence(rendered_prod):
    cfg = parse_stack_config(prod_document())
    static = [p for p in policies(rendered_prod).values()
              if any("static" in a for a in p["spec"]["authorities"])]
    assert static, "the prod stack runs unsigned upstream images (Vault, spire-controller-manager)"
    unsigned = {reference_name(r).rsplit(":", 1)[0]: r for r in UNSIGNED_UPSTREAM}
    for p in static:
        globs = [g["glob"] for g in p["spec"]["images"]]
        (repo,) = {g[:-3] for g in globs}
        assert globs == [f"{repo}:**", f"{repo}@**"]
        assert p["metadata"]["annotations"]["hardened-stack.io/unsigned-upstream"] == UNSIGNED_UPSTREAM[unsigned[repo]]
        assert repo.count("/") >= 2  # registry/org/name: never a registry- or organisation-wide glob
        for tenant_glob in cfg.admission.signatures.image_globs():
            assert not glob_matches(tenant_glob, repo + ":1")


@pytest.mark.parametrize("signer", PLATFORM_SIGNERS, ids=[s.name for s in PLATFORM_SIGNERS])
def test_keyless_platform_identities_are_anchored_to_one_workflow_or_account(rendered_prod, signer):
    p = policies(rendered_prod).get(signer.name)
    if p is None:
        pytest.skip(f"the prod stack runs no image {signer.name} signs")
    (auth,) = p["spec"]["authorities"]
    if signer.key is not None:
        return
    (ident,) = auth["keyless"]["identities"]
    assert auth["ctlog"] == {"url": "https://rekor.sigstore.dev"}
    if "subject" in ident:
        assert ident == {"issuer": "https://accounts.google.com",
                         "subject": "krel-trust@k8s-releng-prod.iam.gserviceaccount.com"}
        return
    rx = ident["subjectRegExp"]
    assert ident["issuer"] == "https://token.actions.githubusercontent.com"
    assert rx.startswith("^https://github\\.com/") and "/\\.github/workflows/" in rx and "@refs/" in rx
    org_repo = rx.split("github\\.com/", 1)[1].split("/\\.github", 1)[0].replace("\\", "")
    # a fork, another organisation or a pull-request ref never matches
    assert not re.search(rx, f"https://github.com/{org_repo}-fork/.github/workflows/release.yml@refs/tags/v1")
    assert not re.search(rx, f"https://github.com/{org_repo}/.github/workflows/release.yml@refs/pull/1/merge")


@pytest.mark.parametrize("san,ok", [
    ("https://github.com/spiffe/spire/.github/workflows/release_build.yaml@refs/tags/v1.15.2", True),
    ("https://github.com/spiffe/spire/.github/workflows/nightly_build.yaml@refs/heads/main", False),
    ("https://github.com/external-secrets/external-secrets/.github/workflows/release.yml@refs/heads/main", True),
    ("https://github.com/external-secrets/external-secrets/.github/workflows/publish.yml@refs/heads/main", False),
    ("https://github.com/falcosecurity/falcosidekick/.github/workflows/release.yml@refs/tags/2.34.1", True),
    ("https://github.com/falcosecurity/falcosidekick/.github/workflows/release.yml@refs/heads/master", False),
])
def test_upstream_release_workflows_sign_ci_builds_do_not(rendered_prod, san, ok):
    rxs = [i["subjectRegExp"] for p in policies(rendered_prod).values() for a in p["spec"]["authorities"]
           if "keyless" in a for i in a["keyless"]["identities"] if "subjectRegExp" in i]
    assert any(re.search(rx, san) for rx in rxs) is ok


def test_policy_controller_judges_neither_itself_nor_gatekeeper(rendered_prod):
    verified = verified_namespaces(rendered_prod)
    assert "cosign-system" not in verified and "gatekeeper-system" not in verified
    labels = namespace_labels(rendered_prod)
    assert SIGSTORE_INCLUDE_LABEL not in labels["cosign-system"] and SIGSTORE_INCLUDE_LABEL not in labels["gatekeeper-system"]


# --- configuration --------------------------------------------------------------------------------

def test_a_platform_image_of_unknown_signature_is_a_config_error():
    doc = prod_document()
    doc["compliance"].setdefault("auditTrails", {})["shipperImage"] = "ghcr.io/someone/shipper:1.0"
    doc["trustedRegistries"] = [*doc["trustedRegistries"], "ghcr.io/someone"]
    with pytest.raises(ConfigError, match=r"admission\.signatures\.platformImages: compliance\.auditTrails runs "
                                          r"'ghcr\.io/someone/shipper'"):
        parse_stack_config(doc)


def test_a_compliance_image_no_policy_names_is_a_config_error():
    doc = prod_document()
    doc["compliance"]["image"] = "ghcr.io/someone/scanner@sha256:" + "b" * 64
    with pytest.raises(ConfigError, match=r"compliance\.image: .*signatures are verified"):
        parse_stack_config(doc)


def test_without_platform_images_platform_namespaces_are_not_labelled_and_the_proxy_still_passes():
    from components.admission import platform_image_policies, platform_namespace_labels
    from components.config import platform_images
    from components.mesh import proxy_image

    doc = prod_document()
    doc["cluster"]["environment"] = "staging"  # an opt-out of a secure default, outside production
    doc["admission"]["signatures"]["platformImages"] = False
    cfg = parse_stack_config(doc)
    assert platform_namespace_labels(cfg.admission, "falco") == {}
    (p,) = platform_image_policies(cfg.admission.signatures, platform_images(cfg), [proxy_image(cfg.mesh)])
    proxy = proxy_image(cfg.mesh)
    assert all(any(glob_matches(g["glob"], i) for g in p["spec"]["images"])
               for i in (proxy, f"{proxy}@{A_DIGEST}"))
    assert not any(glob_matches(g["glob"], "ghcr.io/evil/x:1") for g in p["spec"]["images"])


def test_signature_formats_follow_the_cosign_upstream_signs_with(rendered_prod):
    """cosign v3 (falcosidekick's cosign-installer v4.1.2 default v3.0.6) writes Sigstore bundles;
    the others sign with cosign v2 or pass --new-bundle-format=false (legacy, the CRD's default)."""
    formats = {p["metadata"]["name"]: a.get("signatureFormat") for p in policies(rendered_prod).values()
               for a in p["spec"]["authorities"] if p["metadata"]["name"].startswith("upstream-")}
    assert {n for n, f in formats.items() if f} == {"upstream-falcosidekick"}
    assert formats["upstream-falcosidekick"] == "bundle"


@pytest.mark.parametrize("evidence", [s.source for s in PLATFORM_SIGNERS] + list(UNSIGNED_UPSTREAM.values()),
                         ids=[s.name for s in PLATFORM_SIGNERS] + list(UNSIGNED_UPSTREAM))
def test_every_signing_fact_names_the_upstream_file_it_was_read_in(evidence):
    """Or says plainly that none could be read (then the image passes by name, never by a guess)."""
    assert re.search(r"[\w.-]+/[\w./-]+\.(ya?ml|md|go|sh|hcl|pem|pub)\b|docker\.io/hashicorp/vault|"
                     r"no signing identity could be confirmed", evidence), evidence


def test_istios_key_follows_the_configured_hub():
    """A mirror or Docker Hub hub: the mesh's images are Istio's whatever the registry (signatures
    travel with the images when copied with them)."""
    from components.admission import platform_image_policies
    from components.config import platform_images

    doc = prod_document()
    doc["cluster"]["environment"] = "staging"  # extraValues is an escape hatch: an opt-out outside production
    doc["mesh"].setdefault("extraValues", {})["global"] = {"hub": "docker.io/istio"}
    doc["trustedRegistries"] = [*doc["trustedRegistries"], "docker.io/istio"]
    cfg = parse_stack_config(doc)
    (istio,) = [p for p in platform_image_policies(cfg.admission.signatures, platform_images(cfg))
                if p["metadata"]["name"] == "upstream-istio"]
    globs = [g["glob"] for g in istio["spec"]["images"]]
    assert all(any(glob_matches(g, f"docker.io/istio/{n}:1.30.3") for g in globs)
               for n in ("pilot", "install-cni", "proxyv2"))
    assert not any(glob_matches(g, "registry.istio.io/release/pilot:1.30.3") for g in globs)


def test_the_component_refuses_a_platform_image_of_unknown_signature():
    from components.admission import SignatureConfig, platform_image_policies

    with pytest.raises(ValueError, match=r"'ghcr\.io/someone/thing' \(vault\)"):
        platform_image_policies(SignatureConfig(), [("vault", "ghcr.io/someone/thing")])


@pytest.mark.parametrize("san,ok", [
    ("https://github.com/falcosecurity/falco/.github/workflows/reusable_publish_docker.yaml@refs/tags/0.44.1", True),
    ("https://github.com/falcosecurity/falco/.github/workflows/reusable_publish_docker.yaml@refs/heads/master", False),
    ("https://github.com/falcosecurity/falco/.github/workflows/ci.yml@refs/tags/0.44.1", False),
])
def test_falcos_identity_is_its_publishing_workflow_on_release_tags(san, ok):
    (falco,) = [s for s in PLATFORM_SIGNERS if s.name == "upstream-falco"]
    assert bool(re.search(falco.subject_regexp, san)) is ok
