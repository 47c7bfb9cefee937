"""Every check of the Pod Security Standards has a counterpart policy in the pack.

The check ids below are those the Kubernetes Pod Security admission library registers
(``k8s.io/pod-security-admission/policy``, ``check_*.go``: ``Check{ID: ...}``; kubernetes/kubernetes,
staging/src/k8s.io/pod-security-admission/policy), with the profile that holds each, as of the
restricted profile the stack pins (v1.33), plus ``hostProbesAndHostLifecycle`` (baseline from v1.34,
applied ahead). Source of the field sets and allowed values: the Kubernetes "Pod Security
Standards" page (kubernetes.io/docs/concepts/security/pod-security-standards/).
"""
from __future__ import annotations

import re

import pytest

from components.base import PSS_VERSION
from policy_pack.policies import all_policies
from policy_pack.policies._lib import pss

from .helpers import ROOT, golden, mutated, pod_spec, run

UPSTREAM_CHECK_IDS = {
    "windowsHostProcess": "baseline",
    "hostNamespaces": "baseline",
    "privileged": "baseline",
    "capabilities_baseline": "baseline",
    "hostPathVolumes": "baseline",
    "hostPorts": "baseline",
    "hostProbesAndHostLifecycle": "baseline",
    "appArmorProfile": "baseline",
    "seLinuxOptions": "baseline",
    "procMount": "baseline",
    "seccompProfile_baseline": "baseline",
    "sysctls": "baseline",
    "restrictedVolumes": "restricted",
    "allowPrivilegeEscalation": "restricted",
    "runAsNonRoot": "restricted",
    "runAsUser": "restricted",
    "seccompProfile_restricted": "restricted",
    "capabilities_restricted": "restricted",
}
NAMES = {p.name for p in all_policies()}


def test_the_pack_pins_the_stacks_version():
    assert pss.PSS_VERSION == PSS_VERSION


@pytest.mark.parametrize("check_id", sorted(UPSTREAM_CHECK_IDS))
def test_every_pss_check_has_a_counterpart_policy(check_id):
    policy = pss.CHECKS.get(check_id)
    assert policy, f"PSS check {check_id} has no counterpart in policy_pack/policies/_lib/pss.py CHECKS"
    assert policy in NAMES, f"PSS check {check_id} maps to {policy}, which is not a policy of the pack"


def test_no_mapping_names_a_check_upstream_does_not_have():
    assert set(pss.CHECKS) == set(UPSTREAM_CHECK_IDS)


def test_the_docs_table_matches_the_mapping():
    text = (ROOT / "docs" / "policies.md").read_text()
    rows = dict(re.findall(r"^\| `(\w+)` \| [^|]+ \| \[`([a-z0-9-]+)`\]", text, re.M))
    assert rows == pss.CHECKS


# One field per PSS check, broken on the golden Deployment: its counterpart, and only it, objects.
def _psc(o):
    return pod_spec(o)["securityContext"]


def _sc(o, i=0, key="containers"):
    return pod_spec(o)[key][i]["securityContext"]


BREAKS = {
    "windowsHostProcess": lambda o: _psc(o).update(windowsOptions={"hostProcess": True}),
    "hostProbesAndHostLifecycle": lambda o: pod_spec(o)["containers"][0]["readinessProbe"]["httpGet"].update(
        host="169.254.169.254"),
    "appArmorProfile": lambda o: _sc(o, key="initContainers").update(appArmorProfile={"type": "Unconfined"}),
    "seLinuxOptions": lambda o: _psc(o).update(seLinuxOptions={"type": "spc_t"}),
    "procMount": lambda o: _sc(o).update(procMount="Unmasked"),
    "seccompProfile_baseline": lambda o: [_psc(o).update(seccompProfile={"type": "Unconfined"}),
                                          _sc(o).update(seccompProfile={"type": "RuntimeDefault"}),
                                          _sc(o, key="initContainers").update(seccompProfile={"type": "RuntimeDefault"})],
    "sysctls": lambda o: _psc(o).update(sysctls=[{"name": "kernel.core_pattern", "value": "|/tmp/x"}]),
    "restrictedVolumes": lambda o: pod_spec(o)["volumes"].append({"name": "src", "gitRepo": {"repository": "x"}}),
    "hostPorts": lambda o: pod_spec(o).update(ephemeralContainers=[{
        "name": "dbg", "image": "x", "ports": [{"containerPort": 1, "hostPort": 1}],
        "securityContext": dict(_sc(o))}]),
}


@pytest.mark.parametrize("check_id", sorted(BREAKS))
def test_each_new_pss_rule_is_caught_by_exactly_its_policy(pack, check_id):
    analysis = run(pack, mutated(golden("Deployment"), BREAKS[check_id]))
    hit = {v.policy for v in analysis.verdicts if v.resource is not None}
    # The ephemeral debug container's image is judged by the image policies too.
    hit -= {"container-disallow-mutable-image-tags", "pod-disallow-untrusted-registries"}
    assert hit == {pss.CHECKS[check_id]}, [v.message for v in analysis.verdicts]


def test_annotation_and_template_metadata_are_read_per_kind(pack):
    key = pss.APPARMOR_ANNOTATION_PREFIX + "app"
    for kind in ("Deployment", "CronJob", "Pod", "StatefulSet"):
        def annotate(o):
            if o["kind"] == "Pod":
                o["metadata"]["annotations"] = {key: "unconfined"}
            elif o["kind"] == "CronJob":
                o["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["annotations"] = {key: "unconfined"}
            else:
                o["spec"]["template"]["metadata"]["annotations"] = {key: "unconfined"}
        found = run(pack, mutated(golden(kind), annotate)).by_policy("pod-disallow-unconfined-apparmor")
        assert found and "unconfined" in found[0].message, kind


def test_a_deployments_own_annotations_do_not_reach_its_pods(pack):
    key = pss.APPARMOR_ANNOTATION_PREFIX + "app"
    obj = mutated(golden("Deployment"), lambda o: o["metadata"].update(annotations={key: "unconfined"}))
    assert not run(pack, obj).by_policy("pod-disallow-unconfined-apparmor")


@pytest.mark.parametrize("version,ok", [("v1.29", False), ("v1.30", True), ("v1.33", True), ("latest", True),
                                        ("v1.8", False)])
def test_enforce_version_floor(version, ok):
    policy = next(p for p in all_policies() if p.name == "namespace-enforce-pod-security")
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "t", "labels": {
        "pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": version}}}
    assert (not policy.run("kubernetes:core/v1:Namespace", ns)) == ok
