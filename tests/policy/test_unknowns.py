"""Values unknown at preview fail closed (issue 15).

pulumi_policy wraps a resource's inputs in a proxy that raises ``UnknownValueError`` when a policy
reads a value the engine does not know yet (pulumi_policy/proxy.py: ``unknown_checking_proxy``,
``_raise_if_unknown``), and its servicer turns an error that escapes ``validate`` into an ADVISORY
"can't run policy ... during preview" (pulumi_policy/policy.py: ``_PolicyAnalyzerServicer.Analyze``
and ``AnalyzeStack``, the ``except UnknownValueError`` branches). The framework instead reports
"cannot verify <field> at preview" at the policy's level; ``unknowns: advisory`` lowers it, saying so.

Samples carry the engine's unknown-string marker (``04da6b54-...``) in YAML: ``check`` sends it as
a plain string and pulumi_policy decodes it as unknown, exactly as under ``pulumi preview``. Every
mandatory policy has a ``samples/disallowed-unknown-<what>.yaml``.
"""
from __future__ import annotations

import copy

import pytest

from hardened.manifests import UNKNOWN, load_path
from policy_pack.policies import all_policies
from policy_pack.policies._lib.framework import UNKNOWN as FRAMEWORK_UNKNOWN

from .helpers import POLICIES_DIR, container, golden, golden_others, messages, mutated, pod_spec, run

POLICIES = all_policies()
UNKNOWN_SAMPLES = [(p.name, s) for p in POLICIES
                   for s in sorted((POLICIES_DIR / p.name.replace("-", "_") / "samples").glob("disallowed-unknown-*.yaml"))]

#: Mandatory policies that read nothing that can be unknown at preview (none today). Each entry needs
#: a comment saying why an unknown-value sample makes no sense for it.
NO_UNKNOWN_SAMPLE: dict[str, str] = {
    "manifest-disallow-credential-patterns": "it judges literal strings only: a value unknown at preview holds no "
                                             "literal credential, so it is skipped, not a finding (else every "
                                             "computed field of every object would fail preview)",
    # the engine sends a Chart no properties at all (hardened/engine.py): nothing it reads can be
    # unknown; an unknown chart value shows as a Chart without children
    # (samples/disallowed-chart-without-children.yaml)
    "chart-missing-rendered-resources": "judges which resources name the Chart as parent, never a value",
}


def test_the_marker_is_the_sdks():
    from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

    assert UNKNOWN == FRAMEWORK_UNKNOWN == UNKNOWN_STRING_VALUE == "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def test_the_sdk_alone_would_turn_an_unknown_into_an_advisory():
    """What the framework replaces: a bare pulumi_policy policy reading an unknown value gets the
    servicer's advisory (pulumi_policy/policy.py, _PolicyAnalyzerServicer.Analyze)."""
    from google.protobuf import struct_pb2
    from pulumi.runtime.proto import analyzer_pb2 as pb
    from pulumi_policy import EnforcementLevel, ResourceValidationPolicy
    from pulumi_policy import policy as sdk

    def validate(args, report):
        if args.props["spec"]["privileged"]:
            report("privileged")

    bare = ResourceValidationPolicy("bare-disallow-privileged", "d", validate, EnforcementLevel.MANDATORY)
    base = getattr(sdk._PolicyAnalyzerServicer, "_fastpath_base", sdk._PolicyAnalyzerServicer)
    servicer = base("bare", "1.0.0", [bare], EnforcementLevel.MANDATORY)
    props = struct_pb2.Struct()
    props.update({"spec": {"privileged": UNKNOWN}})
    response = servicer.Analyze(pb.AnalyzeRequest(type="kubernetes:core/v1:Pod", properties=props, urn="u"), None)
    [diagnostic] = response.diagnostics
    assert diagnostic.enforcementLevel == pb.ADVISORY and "during preview" in diagnostic.message


# --- the cases of the issue --------------------------------------------------------------------

def test_a_deployment_with_unknown_image_and_privileged_fails(pack):
    obj = mutated(golden("Deployment"), lambda o: (container(o).update(image=UNKNOWN),
                                                   container(o)["securityContext"].update(privileged=UNKNOWN)))
    analysis = run(pack, obj)
    for policy, field in (("pod-disallow-privileged-containers", "containers[0].securityContext.privileged"),
                          ("pod-disallow-untrusted-registries", "containers[0].image"),
                          ("container-disallow-mutable-image-tags", "containers[0].image")):
        [verdict] = analysis.by_policy(policy)
        assert verdict.enforcement_level == "mandatory", (policy, verdict)
        assert verdict.message.startswith(f"cannot verify spec.template.spec.{field} at preview: "), verdict.message
        assert "make it a plain value" in verdict.message
    assert analysis.mandatory


def test_a_privileged_pod_in_an_unknown_namespace_is_refused_and_never_exempted(pack, configure):
    pod = mutated(golden("Pod", namespace=UNKNOWN),
                  lambda o: container(o)["securityContext"].update(privileged=True))
    [verdict] = run(pack, pod).by_policy("pod-disallow-privileged-containers")
    assert verdict.enforcement_level == "mandatory" and "privileged" in verdict.message
    # An exemption written for this Pod in its intended namespace does not match an unknown one.
    configure({"pod-disallow-privileged-containers": {"exemptions": [{
        "id": "debug", "resource": {"kind": "Pod", "namespace": "lego-mcp-prod", "name": "app"},
        "reason": "A debugging pod, reviewed by security.", "expires": "2999-01-01"}]}})
    analysis = run(pack, pod)
    assert analysis.by_policy("pod-disallow-privileged-containers") and not analysis.exempted
    known = mutated(pod, lambda o: o["metadata"].update(namespace="lego-mcp-prod"))
    analysis = run(pack, known)
    assert not analysis.by_policy("pod-disallow-privileged-containers") and analysis.exempted


def test_an_unknown_image_never_matches_an_exemption_that_lists_images(pack):
    falco = mutated(golden("DaemonSet", name="falco", namespace="falco"), lambda o: (
        [c.update(image=UNKNOWN) for c in pod_spec(o)["containers"] + pod_spec(o)["initContainers"]],
        container(o)["securityContext"].update(privileged=True)))
    [verdict] = run(pack, falco).by_policy("pod-disallow-privileged-containers")
    assert verdict.enforcement_level == "mandatory"


def _namespace(name):
    return mutated(golden_others()["Namespace"], lambda o: o["metadata"].update(name=name))


def _deny(namespace, name="default-deny-all", **spec):
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": namespace},
            "spec": spec or {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}


def test_a_network_policy_with_an_unknown_namespace_defers_only_the_namespaces_it_could_cover(pack):
    analysis = run(pack, _namespace("covered"), _namespace("bare"), _deny("covered"), _deny(UNKNOWN, "later"))
    verdicts = analysis.by_policy("namespace-missing-default-deny")
    assert [(v.resource.inputs["metadata"]["name"], v.enforcement_level) for v in verdicts] == [("bare", "mandatory")]
    assert verdicts[0].message.startswith("cannot verify that Namespace bare has a default-deny NetworkPolicy at "
                                          "preview: NetworkPolicy later (metadata.namespace) is unknown")


def test_a_network_policy_that_denies_nothing_defers_nothing_whatever_its_namespace(pack):
    allow_dns = _deny(UNKNOWN, "allow-dns", podSelector={}, policyTypes=["Egress"],
                      egress=[{"ports": [{"port": 53, "protocol": "UDP"}]}])
    [verdict] = run(pack, _namespace("bare"), allow_dns).by_policy("namespace-missing-default-deny")
    assert verdict.message.startswith("Namespace bare has no default-deny NetworkPolicy")


def test_an_unknown_spec_defers_only_its_own_namespace(pack):
    analysis = run(pack, _namespace("a"), _namespace("b"), _deny("a", podSelector=UNKNOWN))
    by_ns = {v.resource.inputs["metadata"]["name"]: v.message for v in analysis.by_policy("namespace-missing-default-deny")}
    assert by_ns["a"].startswith("cannot verify that Namespace a") and "spec.podSelector" in by_ns["a"]
    assert by_ns["b"].startswith("Namespace b has no default-deny")


def test_an_unknown_namespace_name_is_a_finding_on_that_namespace_only(pack):
    analysis = run(pack, _namespace(UNKNOWN), _namespace("bare"), _deny("other"))
    messages_ = sorted(v.message for v in analysis.by_policy("namespace-missing-default-deny"))
    assert messages_[0].startswith("Namespace bare has no default-deny")
    assert messages_[1].startswith("cannot verify metadata.name at preview")


# --- unknowns: advisory ------------------------------------------------------------------------

def test_unknowns_advisory_lowers_only_the_unknown_and_says_so(pack, configure):
    def first_bad_then_unknown(o):
        bad = copy.deepcopy(container(o))
        bad["securityContext"]["privileged"] = True
        unknown = copy.deepcopy(container(o))
        unknown["name"] = "later"
        unknown["securityContext"] = UNKNOWN
        pod_spec(o)["containers"] = [bad, unknown]
    obj = mutated(golden("Deployment"), first_bad_then_unknown)
    levels = sorted(v.enforcement_level for v in run(pack, obj).by_policy("pod-disallow-privileged-containers"))
    assert levels == ["mandatory", "mandatory"]  # the finding before the unknown is kept
    configure({"pod-disallow-privileged-containers": {"unknowns": "advisory"}})
    verdicts = {v.enforcement_level: v.message for v in run(pack, obj).by_policy("pod-disallow-privileged-containers")}
    assert sorted(verdicts) == ["advisory", "mandatory"]
    advisory = verdicts["advisory"]
    assert "cannot verify spec.template.spec.containers[1].securityContext at preview" in advisory
    assert "unknowns: advisory" in advisory
    assert "hardened-stack@v1.0.0" in advisory and "v0.0.1" not in advisory  # one version everywhere


def test_unknowns_advisory_on_a_stack_policy_names_the_object(pack, configure):
    configure({"namespace-missing-default-deny": {"unknowns": "advisory"}})
    analysis = run(pack, _namespace("covered"), _namespace("bare"), _namespace("plain"), _deny("covered"),
                   _deny("bare", "maybe", podSelector=UNKNOWN))
    verdicts = analysis.by_policy("namespace-missing-default-deny")
    levels = sorted((v.enforcement_level, v.message.split(":")[0]) for v in verdicts)
    assert [lvl for lvl, _ in levels] == ["advisory", "mandatory"], levels
    [advisory] = [v for v in verdicts if v.enforcement_level == "advisory"]
    assert "Namespace bare: cannot verify that Namespace bare" in advisory.message
    assert "unknowns: advisory" in advisory.message
    [mandatory] = [v for v in verdicts if v.enforcement_level == "mandatory"]
    assert mandatory.message.startswith("Namespace plain has no default-deny")


def test_the_unknowns_setting_is_checked_against_its_schema(pack):
    from hardened.analyzer import ConfigError, resolve_config

    with pytest.raises(ConfigError, match="unknowns"):
        resolve_config({"pod-disallow-host-ports": {"unknowns": "ignore"}}, pack.policies)
    assert all(p.config_schema["properties"]["unknowns"]["default"] == "mandatory" for p in pack.policies.values())


# --- a stack policy's generic fallback ---------------------------------------------------------

def test_an_unknown_the_stack_check_does_not_handle_is_pinned_on_its_object(pack):
    sample = load_path(POLICIES_DIR / "gateway_missing_tls13_minimum" / "samples" / "allowed-gateway-with-tls13-filter.yaml")
    gateway = next(r for r in sample if r.kind == "Gateway")
    gateway.inputs["spec"]["listeners"][1]["protocol"] = UNKNOWN
    [verdict] = pack.analyze(sample).by_policy("gateway-missing-tls13-minimum")
    assert verdict.urn == gateway.urn and verdict.enforcement_level == "mandatory"
    assert verdict.message.startswith("cannot verify spec.listeners[1].protocol at preview")


# --- samples -----------------------------------------------------------------------------------

@pytest.mark.parametrize("policy,sample", UNKNOWN_SAMPLES, ids=[f"{n}/{s.stem}" for n, s in UNKNOWN_SAMPLES])
def test_every_unknown_sample_is_a_mandatory_cannot_verify(pack, policy, sample):
    assert UNKNOWN in sample.read_text(), f"{sample.name} carries no unknown marker"
    verdicts = pack.analyze(load_path(sample)).by_policy(policy)
    assert any(v.enforcement_level == "mandatory" and "cannot verify" in v.message and "at preview" in v.message
               for v in verdicts), f"{sample.name}: {messages(pack.analyze(load_path(sample)), policy)}"


@pytest.mark.parametrize("policy", POLICIES, ids=[p.name for p in POLICIES])
def test_every_mandatory_policy_has_an_unknown_sample(policy):
    if policy.enforcement_level.value != "mandatory" or policy.name in NO_UNKNOWN_SAMPLE:
        pytest.skip("advisory or listed in NO_UNKNOWN_SAMPLE")
    assert any(n == policy.name for n, _ in UNKNOWN_SAMPLES), (
        f"{policy.name}: add samples/disallowed-unknown-<what>.yaml with {UNKNOWN} in a field the policy reads")
