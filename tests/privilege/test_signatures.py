"""Issue 23.5, attacked: the keyless identity, unmatched images, coverage, and the platform's
images, on the prod render's ClusterImagePolicies and policy-controller configuration.

Semantics of policy-controller (sigstore/policy-controller): a namespace is verified when the
webhook's namespaceSelector selects it (policy.sigstore.dev/include=true); an image must satisfy
every ClusterImagePolicy whose ``images`` glob matches it; an image no policy matches follows
``no-match-policy`` of the config-policy-controller ConfigMap; a keyless authority checks the
Fulcio certificate's issuer and SAN against ``identities[].subjectRegExp`` (Go regexp, searched,
so the anchors matter). GitHub's Fulcio certificate SAN is
``https://github.com/<org>/<repo>/<workflow path>@<ref>``.
"""
from __future__ import annotations

import re

import pytest

from components.admission import PLATFORM_SIGNERS, SIGSTORE_INCLUDE_LABEL, SignatureConfig, glob_matches
from components.config import parse_stack_config
from tests.harness import prod_document

REPO = "https://github.com/lego-mcp/lego-mcp"


def objects(rendered) -> list[dict]:
    return list(rendered.manifests.values())


def policies(rendered) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects(rendered) if o["kind"] == "ClusterImagePolicy"}


def identity(policy: dict) -> str:
    (auth,) = policy["spec"]["authorities"]
    (ident,) = auth["keyless"]["identities"]
    assert ident["issuer"] == "https://token.actions.githubusercontent.com"
    return ident["subjectRegExp"]


@pytest.mark.parametrize("san,admitted", [
    (f"{REPO}/.github/workflows/release.yml@refs/tags/v1.4.2", True),
    (f"{REPO}/.github/workflows/ci.yml@refs/tags/v1.4.2", False),           # another workflow
    (f"{REPO}/.github/workflows/release.yml@refs/heads/main", False),       # a branch build
    (f"{REPO}/.github/workflows/release.yml@refs/pull/7/merge", False),     # a pull request
    (f"{REPO}-fork/.github/workflows/release.yml@refs/tags/v1.4.2", False),  # a fork
    (f"https://github.com/evil/x/.github/workflows/r.yml?{REPO}/.github/workflows/release.yml@refs/tags/v1", False),
    (f"{REPO}/.github/workflows/release.ymlx@refs/tags/v1", False),
])
def test_the_tenant_identity_is_the_release_workflow_on_release_tags(rendered_prod, san, admitted):
    rx = identity(policies(rendered_prod)["keyless-github-actions"])
    assert bool(re.search(rx, san)) is admitted


def test_unmatched_images_are_denied(rendered_prod):
    (cm,) = [o for o in objects(rendered_prod) if o["kind"] == "ConfigMap"
             and o["metadata"]["name"] == "config-policy-controller"]
    assert cm["data"]["no-match-policy"] == "deny"


def test_every_tenant_namespace_is_verified_derived_from_config(rendered_prod):
    cfg = parse_stack_config(prod_document())
    labels = {o["metadata"]["name"]: o["metadata"].get("labels") or {}
              for o in objects(rendered_prod) if o["kind"] == "Namespace"}
    tenants = [n.name for n in cfg.namespaces]
    assert "ltmc-production" in tenants
    assert {n: labels[n].get(SIGSTORE_INCLUDE_LABEL) for n in tenants} == {n: "true" for n in tenants}
    # a tenant added to the config is verified with no second list to keep
    doc = prod_document()
    doc["namespaces"].append({"name": "new-tenant"})
    from components.admission import tenant_namespace_labels
    assert tenant_namespace_labels(parse_stack_config(doc).admission, "new-tenant") == {SIGSTORE_INCLUDE_LABEL: "true"}


def test_the_webhook_selects_exactly_the_labelled_namespaces(rendered_prod):
    hooks = [w for o in objects(rendered_prod) if o["kind"] in ("ValidatingWebhookConfiguration",
                                                               "MutatingWebhookConfiguration")
             for w in o.get("webhooks") or [] if w.get("name") == "policy.sigstore.dev"]
    assert len(hooks) == 2  # mutating (resolves tags to digests) and validating
    for w in hooks:
        assert {"key": SIGSTORE_INCLUDE_LABEL, "operator": "In", "values": ["true"]} in \
            w["namespaceSelector"]["matchExpressions"]


def test_every_image_a_tenant_pod_runs_is_matched_by_a_policy(rendered_prod):
    """With no-match deny, a tenant pod must be admitted: its own images by the keyless policy of its
    release workflow, the injected mesh proxy by Istio's key; none of them by a static pass."""
    from components.mesh import proxy_image

    cfg = parse_stack_config(prod_document())
    pols = policies(rendered_prod)
    keyless = [p for p in pols.values() if p["metadata"]["name"].startswith("keyless-")]
    assert len(keyless) == 2  # lego-mcp's and ltmc's release workflows
    for w in cfg.workloads:
        matching = [p for p in pols.values() if any(glob_matches(g["glob"], w.image) for g in p["spec"]["images"])]
        assert matching == [p for p in keyless if p in matching] and len(matching) == 1, w.image
        assert "release\\.yml@(?:refs/tags/v)" in identity(matching[0])
    proxy = [p["metadata"]["name"] for p in pols.values()
             if any(glob_matches(g["glob"], proxy_image(cfg.mesh)) for g in p["spec"]["images"])]
    assert proxy == ["upstream-istio"]


def test_a_workload_image_no_policy_names_is_refused_at_config_time():
    doc = prod_document()
    doc["admission"]["signatures"]["signers"] = []
    from components.config import ConfigError
    with pytest.raises(ConfigError, match=r"workloads\[\d\]\.image: 'ghcr\.io/ltmc/.*signatures are verified"):
        parse_stack_config(doc)


@pytest.mark.parametrize("signer", [s for s in PLATFORM_SIGNERS if s.key is None and s.subject is None],
                         ids=lambda s: s.name)
def test_platform_images_are_verified_by_their_upstream_identity(rendered_prod, signer):
    p = policies(rendered_prod)[signer.name]
    globs = [g["glob"] for g in p["spec"]["images"]]
    assert all(any(glob_matches(g, f"{repo}:1") for g in globs) for repo in signer.repositories)
    assert identity(p) == signer.subject_regexp
    assert signer.subject_regexp.startswith("^https://github\\.com/") and "@refs/" in signer.subject_regexp


def test_the_falco_identity_matches_upstreams_tags_only():
    (falco,) = [s for s in PLATFORM_SIGNERS if s.name == "upstream-falco"]
    rx = falco.subject_regexp
    ok = "https://github.com/falcosecurity/falco/.github/workflows/reusable_publish_docker.yaml@refs/tags/0.44.1"
    assert re.search(rx, ok)
    assert not re.search(rx, ok.replace("refs/tags/0.44.1", "refs/heads/master"))
    assert not re.search(rx, ok.replace("falcosecurity/falco/", "falcosecurity/falco-fork/"))


@pytest.mark.parametrize("field,value", [("workflow", ".github/workflows/*.yml"), ("workflow", "release.yml"),
                                         ("refs", []), ("refs", ["*"]), ("subject", "*"),
                                         ("repository", "http://github.com/x/y")])
def test_identities_that_widen_the_signer_are_refused(field, value):
    with pytest.raises(ValueError):
        SignatureConfig(**{field: value})
