"""A compliant fixture per kind, then one field broken at a time: each break must trip exactly the
policy that owns that field, and nothing else (pulumi/compliance-policies' resource.ts pattern)."""
from __future__ import annotations

import pytest

from .helpers import (POD_KINDS, container, golden, golden_others, messages, mutated, pod_spec, policies_hit,
                      resource, run)


def sc(obj):
    return container(obj)["securityContext"]


def init_sc(obj):
    return pod_spec(obj)["initContainers"][0]["securityContext"]


def psc(obj):
    return pod_spec(obj)["securityContext"]


#: (id, mutation, the one policy it must trip)
POD_BREAKS = [
    ("privileged", lambda o: sc(o).update(privileged=True), "pod-disallow-privileged-containers"),
    ("privileged-init-container", lambda o: init_sc(o).update(privileged=True), "pod-disallow-privileged-containers"),
    ("host-network", lambda o: pod_spec(o).update(hostNetwork=True), "pod-disallow-host-namespaces"),
    ("host-pid", lambda o: pod_spec(o).update(hostPID=True), "pod-disallow-host-namespaces"),
    ("host-ipc", lambda o: pod_spec(o).update(hostIPC=True), "pod-disallow-host-namespaces"),
    ("host-port", lambda o: container(o)["ports"][0].update(hostPort=8080), "pod-disallow-host-ports"),
    ("host-path", lambda o: pod_spec(o)["volumes"].append({"name": "sock", "hostPath": {"path": "/var/run"}}),
     "pod-disallow-host-path-volumes"),
    ("uid-zero", lambda o: sc(o).update(runAsUser=0), "pod-disallow-root-user"),
    ("no-user", lambda o: [psc(o).pop(k) for k in ("runAsNonRoot", "runAsUser")], "pod-disallow-root-user"),
    ("run-as-non-root-false", lambda o: [psc(o).pop("runAsUser"), psc(o).update(runAsNonRoot=False)],
     "pod-disallow-root-user"),
    ("writable-root", lambda o: sc(o).update(readOnlyRootFilesystem=False), "container-missing-readonly-root-filesystem"),
    ("readonly-unset-in-init", lambda o: init_sc(o).pop("readOnlyRootFilesystem"),
     "container-missing-readonly-root-filesystem"),
    ("keeps-capabilities", lambda o: sc(o).pop("capabilities"), "container-enforce-drop-all-capabilities"),
    ("adds-sys-admin", lambda o: sc(o)["capabilities"].update(add=["SYS_ADMIN"]),
     "container-enforce-drop-all-capabilities"),
    ("escalation-unset", lambda o: sc(o).pop("allowPrivilegeEscalation"), "container-disallow-privilege-escalation"),
    ("escalation-true", lambda o: sc(o).update(allowPrivilegeEscalation=True), "container-disallow-privilege-escalation"),
    ("no-seccomp", lambda o: psc(o).pop("seccompProfile"), "pod-enforce-seccomp-profile"),
    ("seccomp-unconfined", lambda o: sc(o).update(seccompProfile={"type": "Unconfined"}), "pod-enforce-seccomp-profile"),
    ("no-cpu-limit", lambda o: container(o)["resources"]["limits"].pop("cpu"), "container-missing-resource-limits"),
    ("no-requests", lambda o: container(o)["resources"].pop("requests"), "container-missing-resource-limits"),
    ("memory-over-maximum", lambda o: container(o)["resources"]["limits"].update(memory="16Gi"),
     "container-missing-resource-limits"),
    ("cpu-over-maximum", lambda o: container(o)["resources"]["limits"].update(cpu=8), "container-missing-resource-limits"),
    ("latest-tag", lambda o: container(o).update(image="ghcr.io/lego-mcp/dashboard:latest"),
     "container-disallow-mutable-image-tags"),
    ("tag-only", lambda o: container(o).update(image="ghcr.io/lego-mcp/dashboard:1.2.3"),
     "container-disallow-mutable-image-tags"),
    ("untrusted-registry", lambda o: container(o).update(image="quay.io/evil/miner@sha256:" + "a" * 64),
     "pod-disallow-untrusted-registries"),
    ("docker-hub-library", lambda o: container(o).update(image="nginx@sha256:" + "b" * 64),
     "pod-disallow-untrusted-registries"),
    ("token-automount", lambda o: pod_spec(o).update(automountServiceAccountToken=True), "pod-disable-token-automount"),
    ("token-automount-unset", lambda o: pod_spec(o).pop("automountServiceAccountToken"), "pod-disable-token-automount"),
    ("default-service-account", lambda o: pod_spec(o).update(serviceAccountName="default"),
     "pod-disallow-default-service-account"),
    ("no-service-account", lambda o: pod_spec(o).pop("serviceAccountName"), "pod-disallow-default-service-account"),
]
POD_CASES = [(kind, *b) for kind in POD_KINDS for b in POD_BREAKS]


@pytest.mark.parametrize("kind", POD_KINDS)
def test_golden_object_passes_every_policy(pack, kind):
    analysis = run(pack, golden(kind))
    assert not policies_hit(analysis), messages(analysis)


@pytest.mark.parametrize("kind,case,mutate,policy", POD_CASES, ids=[f"{k}-{c}" for k, c, _, _ in POD_CASES])
def test_one_broken_field_trips_exactly_its_policy(pack, kind, case, mutate, policy):
    analysis = run(pack, mutated(golden(kind), mutate))
    assert policies_hit(analysis) == {policy}, messages(analysis)
    assert all(v.enforcement_level == "mandatory" for v in analysis.by_policy(policy))


def test_messages_name_the_container_and_the_field(pack):
    obj = mutated(golden("Deployment"), lambda o: sc(o).update(privileged=True))
    [verdict] = run(pack, obj).by_policy("pod-disallow-privileged-containers")
    assert 'container "app"' in verdict.message
    assert "spec.template.spec.containers[0].securityContext.privileged" in verdict.message
    assert "set it to false" in verdict.message


def test_each_container_is_judged(pack):
    def two_bad(o):
        pod_spec(o)["containers"].append(dict(container(o), name="sidecar"))
        for c in pod_spec(o)["containers"]:
            c["securityContext"] = {**c["securityContext"], "privileged": True}
    found = run(pack, mutated(golden("Pod"), two_bad)).by_policy("pod-disallow-privileged-containers")
    assert sorted(v.message.split(" runs")[0] for v in found) == ['container "app"', 'container "sidecar"']


def test_container_settings_override_the_pod(pack):
    def override(o):
        psc(o).update(runAsNonRoot=False, runAsUser=0)
        sc(o).update(runAsNonRoot=True, runAsUser=10002)
        pod_spec(o)["initContainers"][0]["securityContext"].update(runAsNonRoot=True, runAsUser=10003)
    assert not policies_hit(run(pack, mutated(golden("Deployment"), override)))


def test_run_as_user_alone_is_non_root(pack):
    def uid_only(o):
        psc(o).pop("runAsNonRoot")
    assert not policies_hit(run(pack, mutated(golden("Job"), uid_only)))


OTHER_BREAKS = [
    ("Namespace", "no-enforce", lambda o: o["metadata"]["labels"].pop("pod-security.kubernetes.io/enforce"),
     "namespace-enforce-pod-security"),
    ("Namespace", "baseline", lambda o: o["metadata"]["labels"].update({"pod-security.kubernetes.io/enforce": "baseline"}),
     "namespace-enforce-pod-security"),
    ("Namespace", "unpinned", lambda o: o["metadata"]["labels"].pop("pod-security.kubernetes.io/enforce-version"),
     "namespace-configure-pod-security-labels"),
    ("Namespace", "old-version", lambda o: o["metadata"]["labels"].update(
        {"pod-security.kubernetes.io/enforce-version": "v1.29"}), "namespace-enforce-pod-security"),
    # Advice only (issue 16): latest follows the cluster, audit/warn change what is logged, not admitted.
    ("Namespace", "latest", lambda o: o["metadata"]["labels"].update(
        {"pod-security.kubernetes.io/enforce-version": "latest"}), "namespace-configure-pod-security-labels"),
    ("Namespace", "no-warn", lambda o: o["metadata"]["labels"].pop("pod-security.kubernetes.io/warn"),
     "namespace-configure-pod-security-labels"),
    ("NetworkPolicy", "no-to", lambda o: o["spec"]["egress"][0].pop("to"), "networkpolicy-disallow-allow-all"),
    ("NetworkPolicy", "empty-peer", lambda o: o["spec"]["egress"][0].update(to=[{}]), "networkpolicy-disallow-allow-all"),
    ("NetworkPolicy", "every-namespace", lambda o: o["spec"]["egress"][0].update(to=[{"namespaceSelector": {}}]),
     "networkpolicy-disallow-allow-all"),
    ("NetworkPolicy", "internet-all-ports", lambda o: o["spec"]["egress"][0].update(
        to=[{"ipBlock": {"cidr": "0.0.0.0/0"}}], ports=[]), "networkpolicy-disallow-allow-all"),
    ("ServiceAccount", "automount-unset", lambda o: o.pop("automountServiceAccountToken"),
     "serviceaccount-disable-token-automount"),
    ("ServiceAccount", "automount-true", lambda o: o.update(automountServiceAccountToken=True),
     "serviceaccount-disable-token-automount"),
    ("Role", "wildcard-verb", lambda o: o["rules"][0].update(verbs=["*"]), "role-disallow-wildcards"),
    ("Role", "wildcard-subresource", lambda o: o["rules"][0].update(resources=["*/scale"]), "role-disallow-wildcards"),
    ("ClusterRole", "wildcard-group", lambda o: o["rules"][0].update(apiGroups=["*"]), "role-disallow-wildcards"),
    ("ClusterRole", "wildcard-url", lambda o: o["rules"].append({"nonResourceURLs": ["*"], "verbs": ["get"]}),
     "role-disallow-wildcards"),
    ("RoleBinding", "cluster-admin", lambda o: o["roleRef"].update(kind="ClusterRole", name="cluster-admin"),
     "rolebinding-disallow-cluster-admin"),
    ("ClusterRoleBinding", "cluster-admin", lambda o: o["roleRef"].update(name="cluster-admin"),
     "rolebinding-disallow-cluster-admin"),
    ("Service", "load-balancer", lambda o: o["spec"].update(type="LoadBalancer"), "service-disallow-external-exposure"),
    ("Service", "node-port", lambda o: o["spec"].update(type="NodePort"), "service-disallow-external-exposure"),
    ("Service", "external-ips", lambda o: o["spec"].update(externalIPs=["203.0.113.7"]),
     "service-disallow-external-exposure"),
    ("Secret", "string-data", lambda o: o.update(stringData={"password": "hunter2"}), "secret-disallow-literal-data"),
    ("Secret", "data", lambda o: o.update(data={"password": "aHVudGVyMg=="}), "secret-disallow-literal-data"),
    ("Secret", "default-namespace", lambda o: [o["metadata"].pop("namespace"), o.update(data={"k": "dg=="})],
     "secret-disallow-literal-data"),
]


@pytest.mark.parametrize("kind", sorted(golden_others()))
def test_golden_other_kinds_pass(pack, kind):
    analysis = run(pack, golden_others()[kind], stack=False)
    assert not policies_hit(analysis), messages(analysis)


@pytest.mark.parametrize("kind,case,mutate,policy", OTHER_BREAKS, ids=[f"{k}-{c}" for k, c, _, _ in OTHER_BREAKS])
def test_other_kinds_one_broken_field(pack, kind, case, mutate, policy):
    analysis = run(pack, mutated(golden_others()[kind], mutate), stack=False)
    assert policies_hit(analysis) == {policy}, messages(analysis)


def test_secret_messages_name_keys_never_values(pack):
    obj = mutated(golden_others()["Secret"], lambda o: o.update(stringData={"password": "hunter2"}))
    [verdict] = run(pack, obj).by_policy("secret-disallow-literal-data")
    assert "stringData.password" in verdict.message and "hunter2" not in verdict.message


def test_secrets_in_system_namespaces_are_judged_too(pack):
    obj = mutated(golden_others()["Secret"], lambda o: [o["metadata"].update(namespace="kube-system"),
                                                        o.update(data={"token": "dg=="})])
    assert run(pack, obj).by_policy("secret-disallow-literal-data")


# --- the stack policy ------------------------------------------------------------------------

def _deny(namespace: str, **spec) -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "default-deny-all", "namespace": namespace},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"], **spec}}


def _namespace(name: str) -> dict:
    ns = mutated(golden_others()["Namespace"], lambda o: o["metadata"].update(name=name))
    return ns


@pytest.mark.parametrize("case,policy_spec", [
    ("selects-some-pods", {"podSelector": {"matchLabels": {"app": "x"}}}),
    ("ingress-only", {"policyTypes": ["Ingress"]}),
    ("allows-something", {"ingress": [{"from": [{"podSelector": {}}]}]}),
])
def test_a_namespace_needs_a_true_default_deny(pack, case, policy_spec):
    analysis = run(pack, _namespace("team-a"), _deny("team-a", **policy_spec))
    found = analysis.by_policy("namespace-missing-default-deny")
    assert len(found) == 1 and found[0].resource.object_name == "team-a", messages(analysis)
    assert found[0].stage == "stack"


def test_every_namespace_with_its_own_default_deny_passes(pack):
    analysis = run(pack, _namespace("team-a"), _namespace("team-b"), _deny("team-a"), _deny("team-b"))
    assert not analysis.by_policy("namespace-missing-default-deny")


def test_the_violation_names_the_namespace_without_one(pack):
    analysis = run(pack, _namespace("team-a"), _namespace("team-b"), _deny("team-a"))
    [verdict] = analysis.by_policy("namespace-missing-default-deny")
    assert verdict.urn == resource(_namespace("team-b")).urn
    assert "team-b" in verdict.message and "policyTypes: [Ingress, Egress]" in verdict.message
