"""AdmissionControl: chart values that fail closed, templates before constraints, exemptions that
are narrow and named, signature verification wired to the tenant namespaces, bad config refused."""
from __future__ import annotations

import pytest
import yaml

from components.admission import (GATEKEEPER_IGNORE_LABEL, GATEKEEPER_NAMESPACE, SIGSTORE_INCLUDE_LABEL,
                                   TEMPLATE_READY, TEMPLATES, TEMPLATES_BY_CONSTRAINT, WAIT_FOR_ANNOTATION,
                                   AdmissionConfig, AdmissionControlArgs, SignatureConfig, _policy_controller_values,
                                   _values, check_against_schema, constraint, exempt_objects)
from components.config import ConfigError, parse_stack_config
from tests.admission.harness import k8s, prod_document, record, render

REGISTRIES = ["registry.k8s.io", "ghcr.io/lego-mcp"]


@pytest.fixture(scope="module")
def prod_render():
    return render()


def args(**cfg) -> AdmissionControlArgs:
    return AdmissionControlArgs(config=AdmissionConfig(**cfg), trusted_registries=REGISTRIES)


# --- chart values ------------------------------------------------------------------------------

def test_webhook_fails_closed_by_default():
    assert _values(args())["validatingWebhookFailurePolicy"] == "Fail"
    assert AdmissionConfig.model_fields["failure_policy"].default == "Fail"


def test_webhook_exempts_its_own_namespace_and_kube_system_to_avoid_deadlock():
    v = _values(args())
    assert v["validatingWebhookExemptNamespacesLabels"] == {
        "kubernetes.io/metadata.name": ["gatekeeper-system", "kube-system"]}
    assert v["controllerManager"]["exemptNamespaces"] == ["kube-system"]


def test_audit_is_on_and_replicas_survive_a_restart():
    v = _values(args())
    assert v["disableAudit"] is False and v["auditInterval"] == 60
    assert v["replicas"] >= 2 and v["pdb"]["controllerManager"]["minAvailable"] == 1


def test_no_values_are_spent_on_hooks_helm_v4_chart_drops():
    """The chart's hooks (namespace labelling, webhook probe, CRD upgrade) never run under
    helm.v4.Chart (tests/engine): the values say nothing about them, and the render lists them."""
    from hardened import engine

    v = _values(args())
    assert not {"postInstall", "postUpgrade", "upgradeCRDs", "preUninstall"} & set(v)
    render = engine.render_chart("gatekeeper", args().config.chart_version, release="gk",
                                 namespace="gatekeeper-system", values=v, kube_version="1.33")
    assert not [o for o in render.objects if o["kind"] == "Job"]


@pytest.mark.parametrize("part", ["controllerManager", "audit"])
def test_gatekeeper_pods_are_restricted(part):
    sc = _values(args())[part]["securityContext"]
    assert sc["runAsNonRoot"] and sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"]
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert _values(args())["enableRuntimeDefaultSeccompProfile"] is True


def test_image_digest_pins_the_gatekeeper_image():
    digest = "sha256:" + "b" * 64
    assert _values(args(image_digest=digest))["image"]["release"] == f"v3.23.0@{digest}"


def test_extra_values_merge_last():
    v = _values(args(extra_values={"logLevel": "DEBUG", "controllerManager": {"port": 9443}}))
    assert v["logLevel"] == "DEBUG" and v["controllerManager"]["port"] == 9443
    assert v["controllerManager"]["exemptNamespaces"] == ["kube-system"]


def test_policy_controller_fails_closed_for_opted_in_namespaces():
    v = _policy_controller_values(args())["webhook"]
    assert v["failurePolicy"] == "Fail"
    assert v["namespaceSelector"]["matchExpressions"] == [
        {"key": SIGSTORE_INCLUDE_LABEL, "operator": "In", "values": ["true"]}]
    assert v["podSecurityContext"]["readOnlyRootFilesystem"] and v["securityContext"]["runAsNonRoot"]


def test_policy_controller_hook_is_dropped_so_no_values_are_spent_on_it():
    """helm.v4.Chart drops hooks (hardened/engine.py): the leases-cleanup Job (a post-delete hook) is
    never created, so the values carry nothing for it; installCRDs is read by no template of 0.10.6."""
    from hardened import engine

    v = _policy_controller_values(args())
    assert "leasescleanup" not in v and "installCRDs" not in v
    cfg = args().config.signatures
    render = engine.render_chart("policy-controller", cfg.chart_version, release="pc", namespace="cosign-system",
                                 values=v, kube_version="1.33")
    assert any("leases-cleanup" in h and "post-delete" in h for h in render.hooks), render.hooks
    assert not [o for o in render.objects if o["kind"] == "Job"]
    assert {o["metadata"]["name"] for o in render.objects if o["kind"] == "Deployment"} == {"policy-controller-webhook"}


# --- constraints and their parameters ----------------------------------------------------------

def test_limits_constraint_carries_the_configured_maxima():
    c = constraint(TEMPLATES_BY_CONSTRAINT["containers-enforce-limits"], AdmissionConfig(), REGISTRIES)
    assert c["spec"]["parameters"] == {"cpu": "4", "memory": "8Gi"}
    assert c["spec"]["enforcementAction"] == "deny"


def test_registry_constraint_is_the_stacks_trusted_registries():
    c = constraint(TEMPLATES_BY_CONSTRAINT["images-enforce-trusted-registries"], AdmissionConfig(), REGISTRIES)
    assert c["spec"]["parameters"] == {"registries": REGISTRIES}


@pytest.mark.parametrize("params,fragment", [
    ({"cpu": 4}, "parameters.cpu must be of type string"),
    ({"cpus": "4"}, "parameters.cpus is not a parameter of this template (allowed: cpu, exemptions, memory)"),
    ({"memory": "eight"}, "parameters.memory 'eight' does not match"),
])
def test_parameters_outside_the_template_schema_are_refused(params, fragment):
    import re

    valid = {"cpu": "4", "memory": "8Gi"}
    check_against_schema(valid, TEMPLATES_BY_CONSTRAINT["containers-enforce-limits"].schema)
    with pytest.raises(ValueError, match=re.escape(fragment)):
        check_against_schema({**valid, **params}, TEMPLATES_BY_CONSTRAINT["containers-enforce-limits"].schema)


def test_missing_required_parameter_is_refused():
    with pytest.raises(ValueError, match=r"parameters\.memory is required"):
        check_against_schema({"cpu": "4"}, TEMPLATES_BY_CONSTRAINT["containers-enforce-limits"].schema)


def test_own_schema_check_agrees_with_jsonschema():
    """Cross-check the config-time validator against an independent JSON Schema implementation."""
    jsonschema = pytest.importorskip("jsonschema")
    cases = [{"cpu": "4", "memory": "8Gi"}, {"cpu": 4, "memory": "8Gi"}, {"cpu": "4"}, {"cpu": "4", "memory": "8Gi",
             "x": 1}, {"cpu": "500m", "memory": "1.5Gi"}, {"cpu": "four", "memory": "8Gi"}]
    schema = TEMPLATES_BY_CONSTRAINT["containers-enforce-limits"].schema
    for case in cases:
        ours = True
        try:
            check_against_schema(case, schema)
        except ValueError:
            ours = False
        assert ours == jsonschema.Draft7Validator(schema).is_valid(case), case


def test_bad_constraint_parameter_in_stack_config_names_the_key():
    doc = prod_document()
    doc["admission"]["constraints"] = {"containers-enforce-probes": {"parameters": {"probes": ["healthProbe"]}}}
    with pytest.raises(ConfigError) as e:
        parse_stack_config(doc)
    msg = str(e.value)
    assert "hardened-stack:admission.constraints.containers-enforce-probes.parameters.probes[0]" in msg
    assert "healthProbe" in msg and "livenessProbe" in msg


def test_unknown_constraint_name_is_refused_with_the_known_names():
    doc = prod_document()
    doc["admission"]["constraints"] = {"no-latest": {"enforcementAction": "warn"}}
    with pytest.raises(ConfigError, match=r"admission\.constraints\.no-latest: no such constraint; known: "):
        parse_stack_config(doc)


def test_signature_exclusion_must_name_a_declared_tenant():
    doc = prod_document()
    doc["admission"]["signatures"]["excludedNamespaces"] = ["lego-mcp-staging"]
    with pytest.raises(ConfigError,
                       match=r"admission\.signatures\.excludedNamespaces\[0\]: namespace 'lego-mcp-staging'"):
        parse_stack_config(doc)


@pytest.mark.parametrize("subject", ["*", "https://*"])
def test_signature_subject_that_matches_anyone_is_refused(subject):
    with pytest.raises(ValueError, match="matches any identity"):
        SignatureConfig(subject=subject)


def test_subject_glob_override_becomes_an_anchored_regexp():
    import re

    rx = SignatureConfig(subject="https://github.com/lego-mcp/lego-mcp/*").subject_regexp
    assert rx == r"^https://github\.com/lego\-mcp/lego\-mcp/.*$"
    assert re.match(rx, "https://github.com/lego-mcp/lego-mcp/.github/workflows/release.yml@refs/tags/v1.2.0")
    assert not re.match(rx, "https://github.com/evil/lego-mcp/.github/workflows/release.yml@refs/heads/main")
    assert not re.match(rx, "https://github.com/lego-mcp/lego-mcp-fork/x")


OWNER = {"team": "platform", "contact": "platform@example.com"}


def test_exemptions_file_exempts_named_objects_from_named_constraints_only(tmp_path):
    """Issue 23.1: an entry becomes the constraint's ``exemptions`` parameter (one object and its
    images), never an excluded namespace; an expired entry exempts nothing."""
    f = tmp_path / "exemptions.yaml"
    f.write_text(yaml.safe_dump({"exemptions": [
        {"id": "falco-driver", "owner": OWNER,
         "policies": ["pod-disallow-privileged-containers", "pod-disallow-host-path-volumes"],
         "resource": {"kind": "DaemonSet", "namespace": "falco", "name": "falco"},
         "images": ["docker.io/falcosecurity/falco"],
         "reason": "the kernel driver needs the host", "expires": "2099-12-31"},
        {"id": "old", "owner": OWNER, "policies": ["pod-disallow-root-user"],
         "resource": {"kind": "DaemonSet", "namespace": "legacy", "name": "x"},
         "reason": "expired long ago, must not exclude", "expires": "2020-01-01"},
    ]}))
    by_name = {t.constraint: exempt_objects(t, f) for t in TEMPLATES}
    falco = [{"id": "falco-driver", "kind": "DaemonSet", "namespace": "falco", "name": "falco",
              "images": ["docker.io/falcosecurity/falco"]}]
    assert by_name["pods-disallow-privileged"] == by_name["pods-disallow-host-path"] == falco
    assert all(v == [] for k, v in by_name.items() if k not in ("pods-disallow-privileged", "pods-disallow-host-path"))
    c = constraint(TEMPLATES_BY_CONSTRAINT["pods-disallow-privileged"], AdmissionConfig(), REGISTRIES, f)
    assert c["spec"]["match"]["excludedNamespaces"] == ["gatekeeper-system", "kube-system"]
    assert c["spec"]["parameters"]["exemptions"] == falco


def test_exemptions_cannot_be_given_as_constraint_parameters():
    with pytest.raises(ValueError, match="exemptions come from policy_pack/exemptions.yaml"):
        AdmissionConfig(constraints={"pods-disallow-privileged": {"parameters": {"exemptions": []}}})


def test_missing_exemptions_file_exempts_nothing(tmp_path):
    assert exempt_objects(TEMPLATES[0], tmp_path / "absent.yaml") == []


# --- the rendered stack ------------------------------------------------------------------------

def test_every_template_waits_for_gatekeeper_to_create_its_crd(prod_render):
    records, _ = prod_render
    templates = k8s(records, "ConstraintTemplate")
    assert len(templates) == len(TEMPLATES)
    for t in templates:
        assert t["metadata"]["annotations"][WAIT_FOR_ANNOTATION] == TEMPLATE_READY == "jsonpath={.status.created}=true"


def test_each_constraint_depends_on_its_template_and_templates_on_the_chart(prod_render):
    records, deps = prod_render
    chart = next(r for r in records if r.type == "kubernetes:helm.sh/v4:Chart" and r.name.endswith("-gatekeeper"))
    for t in TEMPLATES:
        tpl = record(records, "ConstraintTemplate", t.name)
        con = record(records, t.kind, t.constraint)
        assert tpl.urn in deps[con.urn]
        assert chart.urn in deps[tpl.urn]


def test_gatekeeper_chart_is_pinned_with_fail_closed_values(prod_render):
    records, _ = prod_render
    chart = next(r for r in records if r.type == "kubernetes:helm.sh/v4:Chart" and r.name.endswith("-gatekeeper"))
    assert chart.inputs["chart"] == "gatekeeper" and chart.inputs["version"] == "3.23.0"
    assert chart.inputs["repositoryOpts"]["repo"] == "https://open-policy-agent.github.io/gatekeeper/charts"
    assert chart.inputs["values"]["validatingWebhookFailurePolicy"] == "Fail"


def test_gatekeeper_namespace_replaces_the_label_hook(prod_render):
    records, _ = prod_render
    (ns,) = k8s(records, "Namespace", GATEKEEPER_NAMESPACE)
    assert ns["metadata"]["labels"][GATEKEEPER_IGNORE_LABEL] == "no-self-managing"
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_every_tenant_namespace_opts_in_to_signature_verification(prod_render):
    records, _ = prod_render
    labels = {n["metadata"]["name"]: n["metadata"]["labels"] for n in k8s(records, "Namespace")}
    assert labels["lego-mcp-prod"][SIGSTORE_INCLUDE_LABEL] == "true"
    assert labels["ltmc-production"][SIGSTORE_INCLUDE_LABEL] == "true"


def test_cluster_image_policy_is_keyless_github_actions(prod_render):
    records, _ = prod_render
    (cip,) = [p for p in k8s(records, "ClusterImagePolicy") if p["metadata"]["name"] == "keyless-github-actions"]
    assert cip["apiVersion"] == "policy.sigstore.dev/v1beta1"
    assert cip["spec"]["mode"] == "enforce"
    (auth,) = cip["spec"]["authorities"]
    assert auth["keyless"]["identities"] == [{
        "issuer": "https://token.actions.githubusercontent.com",
        "subjectRegExp": r"^https://github\.com/lego\-mcp/lego\-mcp/\.github/workflows/release\.yml@(?:refs/tags/v)"}]
    assert cip["spec"]["images"] == [{"glob": "ghcr.io/lego-mcp/**"}]


def test_tenant_namespaces_are_ordered_after_admission_control(prod_render):
    """The SDK expands a dependency on a component into its resources: the tenant namespace component
    is registered depending on the Gatekeeper chart and every constraint."""
    records, deps = prod_render
    chart = next(r for r in records if r.type == "kubernetes:helm.sh/v4:Chart" and r.name.endswith("-gatekeeper"))
    tenant = next(r for r in records if r.type == "hardened:index:HardenedNamespace"
                  and r.name.endswith("-ns-lego-mcp-prod"))
    assert chart.urn in deps[tenant.urn]
    for t in TEMPLATES:
        assert record(records, t.kind, t.constraint).urn in deps[tenant.urn]


def test_webhook_network_policies_stay_narrow(prod_render):
    records, _ = prod_render
    pols = k8s(records, "NetworkPolicy", namespace=GATEKEEPER_NAMESPACE)
    names = {p["metadata"]["name"] for p in pols}
    assert {"default-deny-all", "allow-apiserver-to-webhook", "allow-egress-apiserver"} <= names
    (hook,) = [p for p in pols if p["metadata"]["name"] == "allow-apiserver-to-webhook"]
    assert hook["spec"]["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 8443}]
    assert {b["ipBlock"]["cidr"] for b in hook["spec"]["ingress"][0]["from"]} == {"10.0.0.0/16"}


def test_signature_verifier_image_must_come_from_a_trusted_registry():
    doc = prod_document()
    doc["trustedRegistries"] = [r for r in doc["trustedRegistries"] if r != "ghcr.io/sigstore"]
    with pytest.raises(ConfigError, match=r"hardened-stack:trustedRegistries: admission\.signatures needs "
                                          r"'ghcr\.io/sigstore/policy-controller/policy-controller'"):
        parse_stack_config(doc)


def test_admission_built_in_objects_are_valid_kubernetes(prod_render):
    kv = pytest.importorskip("kubernetes_validate")
    records, _ = prod_render
    checked = 0
    for r in records:
        m = r.inputs
        if r.is_kubernetes_object and m.get("metadata", {}).get("namespace") in (GATEKEEPER_NAMESPACE, "cosign-system",
                                                                                 "istio-ingress") \
                and m["kind"] in ("NetworkPolicy", "ResourceQuota", "LimitRange", "ConfigMap"):
            kv.validate(m, "1.33", strict=True)
            checked += 1
    assert checked >= 10


def test_probe_constraint_governs_the_tenant_namespaces_only(prod_render):
    records, _ = prod_render
    (c,) = k8s(records, "K8sHardenedRequiredProbes", "containers-enforce-probes")
    assert c["spec"]["match"]["namespaces"] == ["lego-mcp-prod", "ltmc-production"]
    (other,) = k8s(records, "K8sHardenedPrivilegedContainer", "pods-disallow-privileged")
    assert "namespaces" not in other["spec"]["match"]


def test_probe_constraint_is_not_created_without_tenants():
    """An empty `match.namespaces` would mean every namespace."""
    doc = prod_document()
    records, _ = render({"namespaces": [], "workloads": [], "intents": [],
                         "admission": {**doc["admission"]},
                         "ingress": {**doc["ingress"]}})
    assert not k8s(records, "K8sHardenedRequiredProbes")
    assert k8s(records, "ConstraintTemplate", "k8shardenedrequiredprobes")


def test_digest_constraint_governs_the_tenants_and_exempts_only_the_mesh_proxy_tag(prod_render):
    """Platform charts deploy by tag (Istio and SPIRE offer no digest); tenant pods are pinned by
    digest except the sidecar the injector adds, exempted by its exact name."""
    records, _ = prod_render
    (c,) = k8s(records, "K8sHardenedImageDigest", "images-enforce-digest")
    assert c["spec"]["match"]["namespaces"] == ["lego-mcp-prod", "ltmc-production"]
    assert c["spec"]["parameters"] == {"exemptImages": ["registry.istio.io/release/proxyv2:1.30.3"]}
    (reg,) = k8s(records, "K8sHardenedAllowedRegistries", "images-enforce-trusted-registries")
    assert "namespaces" not in reg["spec"]["match"], "registries are judged in every namespace"


def test_digest_exemption_override_adds_to_the_proxy_never_drops_it():
    cfg = AdmissionConfig.model_validate(
        {"constraints": {"images-enforce-digest": {"parameters": {"exemptImages": ["ghcr.io/acme/tool:1"]}}}})
    t = TEMPLATES_BY_CONSTRAINT["images-enforce-digest"]
    proxy = "registry.istio.io/release/proxyv2:1.30.3"
    assert cfg.parameters(t, REGISTRIES, [proxy]) == {"exemptImages": [proxy, "ghcr.io/acme/tool:1"]}
    assert cfg.parameters(t, REGISTRIES) == {"exemptImages": ["ghcr.io/acme/tool:1"]}
    assert AdmissionConfig().parameters(t, REGISTRIES) == {}


def test_without_the_mesh_no_image_is_exempt_from_digests():
    doc = prod_document()
    doc["cluster"]["environment"] = "staging"  # a disabled section is refused in prod
    records, _ = render({"cluster": doc["cluster"], "mesh": {**doc["mesh"], "enabled": False}})
    (c,) = k8s(records, "K8sHardenedImageDigest", "images-enforce-digest")
    assert "parameters" not in c["spec"]


@pytest.mark.parametrize("dropped, section, image", [
    ("cgr.dev/chainguard", "spire", "cgr.dev/chainguard/bash"),
    ("ghcr.io/spiffe", "spire", "ghcr.io/spiffe/spire-agent"),
    ("registry.istio.io/release", "mesh", "registry.istio.io/release/proxyv2"),
    ("quay.io/jetstack", "secrets", "quay.io/jetstack/cert-manager-controller"),
    ("docker.io/hashicorp", "vault", "docker.io/hashicorp/vault"),
    ("docker.io/falcosecurity", "runtimeDetection", "docker.io/falcosecurity/falcosidekick"),
])
def test_every_platform_image_must_come_from_a_trusted_registry(dropped, section, image):
    """Gatekeeper judges the platform's pods too: an untrusted chart image is a config error, not a
    DaemonSet that never gets pods."""
    doc = prod_document()
    doc["trustedRegistries"] = [r for r in doc["trustedRegistries"] if r != dropped]
    with pytest.raises(ConfigError) as exc:
        parse_stack_config(doc)
    msg = str(exc.value)
    assert "hardened-stack:trustedRegistries:" in msg
    assert f"{section} needs {image!r} to be trusted" in msg and f"add {dropped!r}" in msg


def test_platform_images_follow_the_enabled_sections():
    from components.config import platform_images

    prod = parse_stack_config(prod_document())
    sections = {s for s, _ in platform_images(prod)}
    assert sections == {"mesh", "spire", "vault", "secrets", "runtimeDetection", "admission.signatures",
                        "compliance.auditTrails"}
    doc = prod_document()
    doc["cluster"]["environment"] = "staging"
    doc["runtimeDetection"] = {**doc.get("runtimeDetection", {}), "enabled": False}
    assert "runtimeDetection" not in {s for s, _ in platform_images(parse_stack_config(doc))}


def test_digest_exemption_is_a_validated_named_parameter():
    doc = prod_document()
    doc["admission"]["constraints"] = {"images-enforce-digest": {"parameters": {"exemptImages": ["docker.io/*/x*"]}}}
    with pytest.raises(ConfigError, match=r"admission\.constraints\.images-enforce-digest\.parameters\.exemptImages\[0\]"):
        parse_stack_config(doc)


def test_signature_verifier_reaches_the_internet_but_never_metadata_or_the_cluster(prod_render):
    from components.admission import network_policies
    records, _ = prod_render
    # with the mesh (prod), policy-controller leaves through the egress gateway only (tests/paths/test_egress.py)
    assert k8s(records, "NetworkPolicy", "allow-egress-https", "cosign-system") == []
    assert k8s(records, "NetworkPolicy", "allow-egress-egress-gateway", "cosign-system")
    # without the mesh: straight to internet addresses on 443, never metadata or the cluster
    cfg = parse_stack_config(prod_document()).admission
    (pol,) = [m for _, m in network_policies(cfg) if m["metadata"]["name"] == "allow-egress-https"]
    (rule,) = pol["spec"]["egress"]
    (peer,) = rule["to"]
    assert peer["ipBlock"]["cidr"] == "0.0.0.0/0"
    assert {"169.254.0.0/16", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"} <= set(peer["ipBlock"]["except"])
    assert rule["ports"] == [{"protocol": "TCP", "port": 443}]
