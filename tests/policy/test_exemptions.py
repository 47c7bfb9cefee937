"""Exemptions: the built-in file (the one place for system components) and per-policy configured
ones. A valid exemption suppresses exactly what it names; an expired one is a violation; a
malformed configuration is reported, never a crash."""
from __future__ import annotations

import datetime as dt
import textwrap

import pytest

from hardened.analyzer import ConfigError, resolve_config
from policy_pack.policies._lib import exemptions as ex

from .helpers import container, golden, golden_others, messages, mutated, pod_spec, run

FUTURE = "2999-12-31"
PAST = "2020-01-31"


def falco(namespace: str = "falco", name: str = "falco") -> dict:
    def driver(o):
        o["metadata"].update(name=name, namespace=namespace)
        container(o)["securityContext"]["privileged"] = True
        pod_spec(o)["volumes"].append({"name": "proc", "hostPath": {"path": "/proc"}})
    return mutated(golden("DaemonSet"), driver)


# --- the loader ----------------------------------------------------------------------------------

def write(tmp_path, text: str):
    path = tmp_path / "exemptions.yaml"
    path.write_text(textwrap.dedent(text))
    return path


ENTRY = """\
    exemptions:
      - id: agent
        policies: [pod-disallow-host-path-volumes]
        resource: {kind: DaemonSet, namespace: agents, name: "agent*"}
        namespacePodSecurity: privileged
        reason: The agent reads its socket from the node; nothing narrower works.
        controls: ["NIST SP 800-171 3.13.4"]
        expires: %s
"""


def test_loads_entries_with_their_fields(tmp_path):
    [e] = ex.load_exemptions(write(tmp_path, ENTRY % "2030-01-01"))
    assert (e.id, e.policies, e.kind, e.namespace, e.name) == (
        "agent", ("pod-disallow-host-path-volumes",), "DaemonSet", "agents", "agent*")
    assert e.expires == dt.date(2030, 1, 1) and e.namespace_pod_security == "privileged"
    assert e.matches("DaemonSet", "agents", "agent-x") and not e.matches("DaemonSet", "other", "agent-x")
    assert not e.matches("Deployment", "agents", "agent-x") and not e.matches("DaemonSet", "agents", "falco")


def test_namespace_pod_security_is_restricted_unless_an_active_entry_lowers_it(tmp_path):
    active = ex.load_exemptions(write(tmp_path, ENTRY % "2030-01-01"))
    assert ex.namespace_pod_security("agents", active, today=dt.date(2029, 1, 1)) == "privileged"
    assert ex.namespace_pod_security("agents", active, today=dt.date(2030, 1, 2)) == "restricted"
    assert ex.namespace_pod_security("tenant", active) == "restricted"


def test_built_in_file_lowers_only_the_system_namespaces():
    assert ex.namespace_pod_security("falco") == "privileged"
    assert ex.namespace_pod_security("spire-system") == "privileged"
    assert ex.namespace_pod_security("lego-mcp-prod") == "restricted"


def test_a_namespace_without_name_matches_cluster_scoped_resources_only():
    e = ex.parse_exemption({"resource": {"kind": "ClusterRole", "name": "x"}, "reason": "a long enough reason",
                            "expires": FUTURE}, "e", policy="role-disallow-wildcards")
    assert e.matches("ClusterRole", None, "x") and not e.matches("ClusterRole", "ns", "x")


@pytest.mark.parametrize("entry,problem", [
    ("{id: a, policies: [p], resource: {kind: K, name: n}, expires: 2030-01-01}", "'reason' is required"),
    ("{id: a, policies: [p], resource: {kind: K, name: n}, reason: because it must be, expires: soon}",
     "'expires' must be a date"),
    ("{id: a, policies: [p], resource: {kind: K, name: n}, reason: because it must be, expires: 2030-13-01}",
     "'expires' must be a date"),
    ("{id: a, policies: [], resource: {kind: K, name: n}, reason: because it must be, expires: 2030-01-01}",
     "'policies' must be a non-empty list"),
    ("{id: a, policies: [p], resource: {name: n}, reason: because it must be, expires: 2030-01-01}",
     "'kind' is required"),
    ("{id: a, policies: [p], resource: {kind: K, name: n}, reason: short, expires: 2030-01-01}",
     "'reason' must say why"),
    ("{id: a, policies: [p], resource: {kind: K, name: n}, reason: because it must be, expires: 2030-01-01, x: 1}",
     "unknown field(s) 'x'"),
    ("{id: a, policies: [p], resource: {kind: K, namespace: 'ns-*', name: n}, namespacePodSecurity: baseline, "
     "reason: because it must be, expires: 2030-01-01}", "needs resource.namespace to name exactly one"),
])
def test_malformed_entries_name_the_entry_and_the_field(tmp_path, entry, problem):
    with pytest.raises(ex.ExemptionError) as raised:
        ex.load_exemptions(write(tmp_path, f"exemptions:\n  - {entry}\n"))
    assert problem in str(raised.value) and "exemptions[0]" in str(raised.value)


def test_duplicate_ids_are_refused(tmp_path):
    one = "{id: a, policies: [p], resource: {kind: K, name: n}, reason: because it must be, expires: 2030-01-01}"
    with pytest.raises(ex.ExemptionError, match="duplicate id 'a'"):
        ex.load_exemptions(write(tmp_path, f"exemptions:\n  - {one}\n  - {one}\n"))


def test_missing_default_file_means_no_exemptions(monkeypatch, tmp_path):
    monkeypatch.setattr(ex, "DEFAULT_PATH", tmp_path / "absent.yaml")
    assert ex.load_exemptions() == []


def test_every_built_in_entry_is_narrow_justified_and_current():
    entries = ex.load_exemptions()
    assert {e.id for e in entries} >= {"falco-driver", "spire-agent", "spiffe-csi-driver"}
    for e in entries:
        assert e.namespace and "*" not in e.namespace, f"{e.id}: name one namespace"
        assert e.kind != "*" and e.name not in ("*", ""), f"{e.id}: name the workload"
        assert len(e.reason) > 80 and e.controls, f"{e.id}: say why, and which controls it relaxes"
        assert not e.expired(), f"{e.id} expired on {e.expires}: review and renew it"
        assert e.expires <= ex.utc_today() + dt.timedelta(days=2 * 366), f"{e.id}: review at least every two years"


# --- through the pack -------------------------------------------------------------------------

def test_falco_in_its_namespace_is_exempted_by_the_file(pack):
    analysis = run(pack, falco())
    assert not analysis.by_policy("pod-disallow-privileged-containers")
    assert not analysis.by_policy("pod-disallow-host-path-volumes")
    reasons = {e.policy: e.reason for e in analysis.exempted}
    assert "exempted by exemption 'falco-driver'" in reasons["pod-disallow-privileged-containers"]
    assert "until 2027-11-30" in reasons["pod-disallow-host-path-volumes"]


def test_the_file_exemption_is_only_as_wide_as_it_says(pack):
    elsewhere = run(pack, falco(namespace="monitoring"))
    assert elsewhere.by_policy("pod-disallow-privileged-containers")
    other_workload = run(pack, falco(name="debugger"))
    assert other_workload.by_policy("pod-disallow-privileged-containers")
    # Policies the entry does not name still judge Falco itself.
    tagged = mutated(falco(), lambda o: container(o).update(image="docker.io/falcosecurity/falco:latest"))
    assert run(pack, tagged).by_policy("container-disallow-mutable-image-tags")


def _exempt(policy: str, expires: str, **resource) -> dict:
    return {policy: {"exemptions": [{"id": "case-1", "resource": resource, "expires": expires,
                                     "reason": "Reviewed by security on 2026-11-01: needed for the migration."}]}}


def test_a_configured_exemption_suppresses_its_resource(pack, configure):
    svc = mutated(golden_others()["Service"], lambda o: o["spec"].update(type="LoadBalancer"))
    configure(_exempt("service-disallow-external-exposure", FUTURE, kind="Service", namespace="lego-mcp-prod",
                      name="app"))
    analysis = run(pack, svc)
    assert not analysis.by_policy("service-disallow-external-exposure"), messages(analysis)
    [exempted] = analysis.exempted
    assert exempted.policy == "service-disallow-external-exposure" and "case-1" in exempted.reason
    other = mutated(svc, lambda o: o["metadata"].update(name="other"))
    assert run(pack, other).by_policy("service-disallow-external-exposure")


def test_an_expired_exemption_is_a_violation(pack, configure):
    svc = mutated(golden_others()["Service"], lambda o: o["spec"].update(type="LoadBalancer"))
    configure(_exempt("service-disallow-external-exposure", PAST, kind="Service", namespace="*", name="app"))
    found = messages(run(pack, svc), "service-disallow-external-exposure")
    assert any("expired on 2020-01-31" in m and "case-1" in m for m in found), found
    assert any("type LoadBalancer" in m for m in found), "the resource is judged again"


def test_an_expired_exemption_is_a_violation_even_when_the_resource_is_fine(pack, configure):
    configure(_exempt("pod-disallow-privileged-containers", PAST, kind="Deployment", namespace="lego-mcp-prod",
                      name="app"))
    found = messages(run(pack, golden("Deployment")), "pod-disallow-privileged-containers")
    assert len(found) == 1 and "expired" in found[0]


def test_exemptions_apply_to_the_stack_policy(pack, configure):
    namespace = golden_others()["Namespace"]
    assert run(pack, namespace).by_policy("namespace-missing-default-deny")
    configure(_exempt("namespace-missing-default-deny", FUTURE, kind="Namespace", name="lego-mcp-prod"))
    assert not run(pack, namespace).by_policy("namespace-missing-default-deny")


@pytest.mark.parametrize("document,problem", [
    ({"service-disallow-external-exposure": {"exemptions": [{"resource": {"kind": "Service", "name": "a"},
                                                             "expires": FUTURE}]}}, "'reason' is required"),
    ({"service-disallow-external-exposure": {"exemptions": [{"resource": {"kind": "Service", "name": "a"},
                                                             "reason": "because it is needed", "expires": "soon"}]}},
     "does not match the pattern"),
    ({"container-missing-resource-limits": {"maxCpu": True}}, "maxCpu: expected string or number"),
    ({"container-missing-resource-limits": {"maxCPU": "4"}}, "unknown property 'maxCPU'"),
    ({"no-such-policy": "advisory"}, "no such policy"),
    ({"pod-disallow-host-ports": "sometimes"}, "enforcementLevel must be one of"),
])
def test_malformed_configuration_is_refused_before_the_run(pack, document, problem):
    with pytest.raises(ConfigError) as raised:
        resolve_config(document, pack.policies)
    assert problem in str(raised.value)


def _raw_configure(pack, name: str, properties: dict, level: int = 1) -> None:
    """Send a configuration the way a careless engine could, skipping the schema check."""
    from pulumi.runtime.proto import analyzer_pb2 as pb

    request = pb.ConfigureAnalyzerRequest()
    request.policyConfig[name].enforcementLevel = level
    request.policyConfig[name].properties.update(properties)
    pack._call("Configure", request)


def test_malformed_configuration_that_reaches_the_pack_is_reported_and_the_default_applies(pack, configure):
    _raw_configure(pack, "container-missing-resource-limits", {"maxMemory": ["8Gi"], "surprise": 1})
    obj = mutated(golden("Deployment"), lambda o: container(o)["resources"]["limits"].update(memory="16Gi"))
    found = messages(run(pack, obj), "container-missing-resource-limits")
    assert any("policy configuration: maxMemory" in m and "default '8Gi' applies" in m for m in found), found
    assert any("unknown setting 'surprise'" in m for m in found), found
    assert any("exceeds the maximum 8Gi" in m for m in found), found


def test_a_malformed_configured_exemption_is_reported_and_ignored(pack, configure):
    _raw_configure(pack, "service-disallow-external-exposure",
                   {"exemptions": [{"resource": {"kind": "Service", "name": "app"}, "expires": "2030-02-30",
                                    "reason": "a reason that is long enough"}]})
    svc = mutated(golden_others()["Service"], lambda o: o["spec"].update(type="NodePort"))
    found = messages(run(pack, svc), "service-disallow-external-exposure")
    assert any("'expires' must be a date" in m and "ignored" in m for m in found), found
    assert any("type NodePort" in m for m in found), found


def test_enforcement_level_is_configurable(pack, configure):
    configure({"pod-disallow-host-ports": "advisory"})
    obj = mutated(golden("Pod"), lambda o: container(o)["ports"][0].update(hostPort=80))
    [verdict] = run(pack, obj).by_policy("pod-disallow-host-ports")
    assert verdict.enforcement_level == "advisory"
    configure({"all": "disabled"})
    assert not run(pack, obj).verdicts
