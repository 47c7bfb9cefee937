"""Exemptions: the built-in file (the one place for system components) and per-policy configured
ones. A valid exemption suppresses exactly what it names; an expired one is a violation; a
malformed configuration is reported, never a crash."""
from __future__ import annotations

import datetime as dt
import textwrap

import pytest

from hardened.analyzer import ConfigError, resolve_config
from policy_pack.policies._lib import exemptions as ex

from .helpers import DIGEST, container, golden, golden_others, messages, mutated, pod_spec, run

FUTURE = "2999-12-31"
PAST = "2020-01-31"


def falco(namespace: str = "falco", name: str = "falco") -> dict:
    def driver(o):
        o["metadata"].update(name=name, namespace=namespace)
        for c in pod_spec(o)["containers"] + pod_spec(o)["initContainers"]:
            c["image"] = f"docker.io/falcosecurity/falco@{DIGEST}"
        # modern eBPF's least-privileged mode: four capabilities, not privileged (issue 23, item 6)
        container(o)["securityContext"]["capabilities"] = {"drop": ["ALL"],
                                                          "add": ["BPF", "PERFMON", "SYS_PTRACE", "SYS_RESOURCE"]}
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
        owner: {team: platform, contact: platform@example.com}
        policies: [pod-disallow-host-path-volumes]
        resource: {kind: DaemonSet, namespace: agents, name: "agent*"}
        images: [ghcr.io/example/agent]
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
    assert e.owner == ex.Owner("platform", "platform@example.com") and e.images == ("ghcr.io/example/agent",)
    assert e.matches("DaemonSet", "agents", "agent-x") and not e.matches("DaemonSet", "other", "agent-x")
    assert not e.matches("Deployment", "agents", "agent-x") and not e.matches("DaemonSet", "agents", "falco")
    assert e.matches("DaemonSet", "agents", "agent-x", ["ghcr.io/example/agent:1.2@sha256:" + "a" * 64])
    assert not e.matches("DaemonSet", "agents", "agent-x", ["ghcr.io/example/agent:1", "docker.io/library/busybox"])
    assert not e.matches("DaemonSet", "agents", "agent-x", [])


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
    ("{id: a, owner: {team: t, contact: c}, policies: [pod-disallow-root-user], resource: {kind: K, name: n}, expires: 2030-01-01}", "'reason' is required"),
    ("{id: a, owner: {team: t, contact: c}, policies: [pod-disallow-root-user], resource: {kind: K, name: n}, reason: because it must be, expires: soon}",
     "'expires' must be a date"),
    ("{id: a, owner: {team: t, contact: c}, policies: [pod-disallow-root-user], resource: {kind: K, name: n}, reason: because it must be, expires: 2030-13-01}",
     "'expires' must be a date"),
    ("{id: a, owner: {team: t, contact: c}, policies: [], resource: {kind: K, name: n}, reason: because it must be, expires: 2030-01-01}",
     "'policies' must be a non-empty list"),
    ("{id: a, owner: {team: t, contact: c}, policies: [pod-disallow-root-user], resource: {name: n}, reason: because it must be, expires: 2030-01-01}",
     "'resource.kind' is required"),
    ("{id: a, owner: {team: t, contact: c}, policies: [pod-disallow-root-user], resource: {kind: K, name: n}, reason: short, expires: 2030-01-01}",
     "'reason' must say why"),
    ("{id: a, owner: {team: t, contact: c}, policies: [pod-disallow-root-user], resource: {kind: K, name: n}, reason: because it must be, expires: 2030-01-01, x: 1}",
     "unknown field(s) 'x'"),
    ("{id: a, owner: {team: t, contact: c}, policies: [pod-disallow-root-user], resource: {kind: K, namespace: 'ns-*', name: n}, namespacePodSecurity: baseline, "
     "reason: because it must be, expires: 2030-01-01}", "'resource.namespace' must be exact"),
])
def test_malformed_entries_name_the_entry_and_the_field(tmp_path, entry, problem):
    with pytest.raises(ex.ExemptionError) as raised:
        ex.load_exemptions(write(tmp_path, f"exemptions:\n  - {entry}\n"))
    assert problem in str(raised.value) and "exemptions[0]" in str(raised.value)


def test_duplicate_ids_are_refused(tmp_path):
    one = "{id: a, owner: {team: t, contact: c}, policies: [pod-disallow-root-user], resource: {kind: K, name: n}, reason: because it must be, expires: 2030-01-01}"
    with pytest.raises(ex.ExemptionError, match="duplicate id 'a'"):
        ex.load_exemptions(write(tmp_path, f"exemptions:\n  - {one}\n  - {one}\n"))


def test_missing_default_file_means_no_exemptions(monkeypatch, tmp_path):
    monkeypatch.setattr(ex, "DEFAULT_PATH", tmp_path / "absent.yaml")
    assert ex.load_exemptions() == []


#: Kinds without a namespace (the RBAC and admission objects that platform charts install).
CLUSTER_SCOPED = {"ClusterRole", "ClusterRoleBinding", "ValidatingWebhookConfiguration",
                  "MutatingWebhookConfiguration"}


def test_every_built_in_entry_is_narrow_justified_and_current():
    entries = ex.load_exemptions()
    assert {e.id for e in entries} >= {"falco-driver", "spire-agent", "spiffe-csi-driver"}
    for e in entries:
        if e.kind in CLUSTER_SCOPED:  # a cluster-scoped object lives in no namespace
            assert e.namespace is None, f"{e.id}: a {e.kind} has no namespace"
        else:
            assert e.namespace and "*" not in e.namespace, f"{e.id}: name one namespace"
        assert e.kind != "*" and e.name not in ("*", ""), f"{e.id}: name the workload"
        assert e.owner and e.owner.team and e.owner.contact, f"{e.id}: name its owner"
        assert len(e.reason) > 80 and e.controls, f"{e.id}: say why, and which controls it relaxes"
        assert not e.expired(), f"{e.id} expired on {e.expires}: review and renew it"
        assert e.expires <= ex.utc_today() + dt.timedelta(days=2 * 366), f"{e.id}: review at least every two years"


# --- through the pack -------------------------------------------------------------------------

def test_falco_in_its_namespace_is_exempted_by_the_file(pack):
    analysis = run(pack, falco())
    assert not analysis.by_policy("container-enforce-drop-all-capabilities")
    assert not analysis.by_policy("pod-disallow-host-path-volumes")
    reasons = {e.policy: e.reason for e in analysis.exempted}
    assert "exempted by exemption 'falco-driver'" in reasons["container-enforce-drop-all-capabilities"]
    assert "until 2027-11-30" in reasons["pod-disallow-host-path-volumes"]
    # the entry no longer lifts privileged: a privileged Falco is judged like any pod
    privileged = mutated(falco(), lambda o: container(o)["securityContext"].update(privileged=True))
    assert run(pack, privileged).by_policy("pod-disallow-privileged-containers")


def test_the_file_exemption_is_only_as_wide_as_it_says(pack):
    elsewhere = run(pack, falco(namespace="monitoring"))
    assert elsewhere.by_policy("pod-disallow-host-path-volumes")
    other_workload = run(pack, falco(name="debugger"))
    assert other_workload.by_policy("pod-disallow-host-path-volumes")
    # Policies no entry names still judge Falco itself (its entries lift the driver's privileges,
    # its API token and its tag-only image: not a writable root filesystem).
    writable = mutated(falco(), lambda o: container(o).setdefault("securityContext", {}).update(
        readOnlyRootFilesystem=False))
    assert run(pack, writable).by_policy("container-missing-readonly-root-filesystem")


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
    configure(_exempt("service-disallow-external-exposure", PAST, kind="Service", namespace="lego-mcp-prod", name="app"))
    found = messages(run(pack, svc), "service-disallow-external-exposure")
    assert any("expired on 2020-01-31" in m and "case-1" in m for m in found), found
    assert any("type LoadBalancer" in m for m in found), "the resource is judged again"


def test_an_expired_exemption_is_consulted_only_once_there_is_a_finding(pack, configure):
    configure(_exempt("pod-disallow-privileged-containers", PAST, kind="Deployment", namespace="lego-mcp-prod",
                      name="app"))
    assert not messages(run(pack, golden("Deployment")), "pod-disallow-privileged-containers")
    bad = mutated(golden("Deployment"), lambda o: container(o)["securityContext"].update(privileged=True))
    found = messages(run(pack, bad), "pod-disallow-privileged-containers")
    assert any("expired on 2020-01-31" in m for m in found) and any("privileged" in m and "expired" not in m
                                                                  for m in found), found


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
    ({"pod-disallow-host-ports": "sometimes"}, "enforcementLevel must be one of"),
    ({"pod-disallow-host-ports": 3}, "must be an enforcement level or an object"),
])
def test_malformed_configuration_is_refused_before_the_run(pack, document, problem):
    """What the Pulumi CLI refuses (pkg/resource/analyzer/config.go: parsePolicyPackConfig,
    validatePolicyPackConfig): a level that is none, a value that breaks its schema."""
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
    assert any("has no setting 'surprise'" in m for m in found), found   # framework.guard_configuration
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


# --- exact objects and images (issue 15: a DaemonSet that merely reuses the name) -------------

def test_a_workload_that_reuses_the_exempted_name_with_another_image_is_judged(pack):
    impostor = mutated(falco(), lambda o: container(o).update(image=f"ghcr.io/lego-mcp/dashboard@{DIGEST}"))
    assert run(pack, impostor).by_policy("pod-disallow-host-path-volumes")
    debug = mutated(falco(), lambda o: pod_spec(o).setdefault("ephemeralContainers", []).append(
        {"name": "debug", "image": f"docker.io/library/busybox@{DIGEST}"}))
    assert run(pack, debug).by_policy("pod-disallow-host-path-volumes")
    assert not run(pack, falco()).by_policy("pod-disallow-host-path-volumes")


def test_a_glob_never_reaches_a_look_alike_name_in_the_file():
    [falco_entry] = [e for e in ex.load_exemptions() if e.id == "falco-driver"]
    image = [f"docker.io/falcosecurity/falco@{DIGEST}"]
    assert falco_entry.matches("DaemonSet", "falco", "falco", image)
    assert not falco_entry.matches("DaemonSet", "falco", "falco-debugger", image)
    assert not falco_entry.matches("DaemonSet", "other", "falco", image)
    assert not falco_entry.matches("Deployment", "falco", "falco", image)


def test_the_image_repository_drops_tag_and_digest_and_names_docker_hub():
    assert ex.image_repository(f"docker.io/falcosecurity/falco:0.41.0@{DIGEST}") == "docker.io/falcosecurity/falco"
    assert ex.image_repository("busybox") == "docker.io/library/busybox"
    assert ex.image_repository("registry.local:5000/team/app:1") == "registry.local:5000/team/app"


# --- one clear error per mistake, with file and line ---------------------------------------------

GOOD = """\
exemptions:
  - id: agent
    owner: {team: platform, contact: platform@example.com}
    policies: [pod-disallow-host-path-volumes]
    resource: {kind: DaemonSet, namespace: agents, name: agent}
    reason: The agent reads its socket from the node; nothing narrower works.
    expires: 2030-01-01
"""


@pytest.mark.parametrize("old,new,line,problem", [
    ("pod-disallow-host-path-volumes", "pod-disallow-hostpath-volumes", 4,
     "'pod-disallow-hostpath-volumes', which is no policy of the pack (did you mean 'pod-disallow-host-path-volumes'?)"),
    ("    expires: 2030-01-01", "    expires: 2030-02-30", 7, "'expires' must be a date written YYYY-MM-DD"),
    ("    reason:", "    reasons:", 6, "unknown field(s) 'reasons' (did you mean 'reason'?)"),
    ("    owner: {team: platform, contact: platform@example.com}\n", "", 2, "'owner' is required"),
    ("name: agent}", "name: \"agent*\"}", 5, "add 'images'"),
    ("namespace: agents", "namespace: \"agent*\"", 5, "'resource.namespace' must be exact"),
    ("    resource: {kind", "   resource: {kind", 5, "not valid YAML"),
])
def test_each_mistake_is_one_error_naming_file_and_line(tmp_path, old, new, line, problem):
    assert old in GOOD
    path = tmp_path / "exemptions.yaml"
    path.write_text(GOOD.replace(old, new))
    with pytest.raises(ex.ExemptionError) as raised:
        ex.load_exemptions(path)
    message = str(raised.value)
    assert message.startswith(f"{path}:{line}:") and problem in message and "\n" not in message, message


def test_preflight_warns_within_30_days_and_render_refuses_the_expired(tmp_path):
    import io

    path = tmp_path / "exemptions.yaml"
    path.write_text(GOOD)
    out = io.StringIO()
    assert ex.preflight("check", fail_on_expired=True, path=path, today=dt.date(2029, 12, 27), stream=out)
    assert out.getvalue().startswith("check: warning: exemption 'agent'") and "expires in 5 days" in out.getvalue()
    assert "team 'platform'" in out.getvalue()
    out = io.StringIO()
    assert ex.preflight("check", fail_on_expired=True, path=path, today=dt.date(2029, 11, 1), stream=out)
    assert out.getvalue() == ""
    out = io.StringIO()
    assert not ex.preflight("render", fail_on_expired=True, path=path, today=dt.date(2030, 1, 2), stream=out)
    line = out.getvalue()
    assert line.startswith("render: error: exemption 'agent'") and "expired on 2030-01-01" in line
    assert "owner team 'platform', contact 'platform@example.com'" in line and f"{path}:2" in line
    out = io.StringIO()
    assert ex.preflight("report", fail_on_expired=False, path=path, today=dt.date(2030, 1, 2), stream=out)
    assert out.getvalue().startswith("report: warning:")
    path.write_text("exemptions: [")
    out = io.StringIO()
    assert not ex.preflight("check", fail_on_expired=False, path=path, stream=out)
    assert out.getvalue().count("\n") == 1 and f"{path}:1" in out.getvalue()
