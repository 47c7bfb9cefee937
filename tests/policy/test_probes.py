"""container-missing-probes: mandatory where the Gatekeeper constraint denies (golden-path
workloads; the configured tenant namespaces), silent on upstream charts' readiness-only
Deployments and on the stack's own system objects, through the real gRPC path."""
from __future__ import annotations

import copy

import pytest

from .helpers import golden, messages, pod_spec, run

POLICY = "container-missing-probes"
GOLDEN_LABELS = {"app.kubernetes.io/part-of": "hardened-stack", "app.kubernetes.io/component": "workload"}


def template_labels(obj: dict) -> dict:
    tpl = obj["spec"]["jobTemplate"]["spec"]["template"] if obj["kind"] == "CronJob" else obj["spec"]["template"]
    return tpl.setdefault("metadata", {}).setdefault("labels", {})


def workload(kind: str = "Deployment", golden_path: bool = True, namespace: str = "lego-mcp-prod", **drop) -> dict:
    obj = golden(kind, namespace=namespace)
    if golden_path:
        template_labels(obj).update(GOLDEN_LABELS)
    for probe in drop.get("without", ()):
        pod_spec(obj)["containers"][0].pop(probe)
    return obj


def findings(pack, obj) -> list:
    return [v for v in run(pack, obj, stack=False).by_policy(POLICY)]


@pytest.mark.parametrize("kind,probe", [(k, p) for k in ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")
                                        for p in ("livenessProbe", "readinessProbe")
                                        if not (k in ("Job", "CronJob") and p == "readinessProbe")])
def test_a_golden_path_workload_without_a_probe_is_a_mandatory_violation(pack, kind, probe):
    found = findings(pack, workload(kind, without=[probe]))
    assert [v.enforcement_level for v in found] == ["mandatory"]
    assert f'container "app" has no {probe}' in found[0].message
    assert "containers[0]." + probe in found[0].message


@pytest.mark.parametrize("kind", ["Job", "CronJob"])
def test_batch_workloads_are_not_asked_for_readiness(pack, kind):
    """A Job's pods serve no traffic; liveness is still required of them (the test above)."""
    assert findings(pack, workload(kind, without=["readinessProbe"])) == []
    assert findings(pack, workload(kind, without=["readinessProbe", "livenessProbe"]))


def test_the_golden_path_with_both_probes_passes(pack):
    assert findings(pack, workload()) == []


def test_an_upstream_readiness_only_deployment_is_not_judged(pack):
    # Istio's gateway and Vault ship Deployments with a readiness probe alone: not golden path,
    # not in a configured namespace, so not this policy's business.
    obj = workload(golden_path=False, namespace="istio-ingress", without=["livenessProbe"])
    template_labels(obj).update({"app.kubernetes.io/part-of": "istio", "app.kubernetes.io/component": "workload"})
    assert findings(pack, obj) == []


def test_the_label_on_the_object_alone_does_not_count(pack):
    # The pods carry the template's labels; the controller's own labels say nothing about them.
    obj = workload(golden_path=False, without=["livenessProbe"])
    obj["metadata"]["labels"].update(GOLDEN_LABELS)
    assert findings(pack, obj) == []


def test_configured_namespaces_judge_every_workload_there(pack, configure):
    configure({POLICY: {"namespaces": ["lego-mcp-*"]}})
    inside = workload(golden_path=False, namespace="lego-mcp-prod", without=["livenessProbe"])
    outside = workload(golden_path=False, namespace="vault", without=["livenessProbe"])
    assert [v.enforcement_level for v in findings(pack, inside)] == ["mandatory"]
    assert findings(pack, outside) == []


def test_survey_everything_as_advisory(pack, configure):
    configure({POLICY: {"enforcementLevel": "advisory", "namespaces": ["*"]}})
    found = findings(pack, workload(golden_path=False, namespace="vault", without=["livenessProbe"]))
    assert [v.enforcement_level for v in found] == ["advisory"]


def test_the_required_probes_are_configurable(pack, configure):
    configure({POLICY: {"probes": ["livenessProbe", "readinessProbe", "startupProbe"]}})
    found = findings(pack, workload())
    assert len(found) == 1 and "has no startupProbe" in found[0].message


def test_init_containers_are_not_asked_for_probes(pack):
    obj = workload()
    init = pod_spec(obj)["initContainers"][0]
    init.pop("livenessProbe"), init.pop("readinessProbe")
    assert findings(pack, obj) == []


def test_bare_pods_are_not_judged(pack):
    # As the Gatekeeper constraint: the mesh injects its proxy into the Pod after the workload was declared.
    obj = workload("Pod", golden_path=False, without=["livenessProbe"])
    obj["metadata"]["labels"].update(GOLDEN_LABELS)
    assert findings(pack, obj) == []


def test_a_probe_without_a_handler_is_refused(pack):
    obj = workload()
    pod_spec(obj)["containers"][0]["livenessProbe"] = {"periodSeconds": 10}
    (v,) = findings(pack, obj)
    assert "livenessProbe has no handler" in v.message


def test_a_malformed_probe_fails_closed(pack):
    obj = workload()
    pod_spec(obj)["containers"][0]["readinessProbe"] = "/ready"
    (v,) = findings(pack, obj)
    assert v.message.startswith("cannot verify") and "readinessProbe" in v.message


def test_an_unknown_probe_in_the_configuration_is_refused_naming_the_field(pack):
    from hardened.analyzer import ConfigError

    with pytest.raises(ConfigError, match=r"container-missing-probes\.probes\[0\].*healthProbe"):
        pack.configure({POLICY: {"probes": ["healthProbe"]}})
    pack.configure({})


def test_every_container_is_judged_on_its_own(pack):
    obj = workload()
    spec = pod_spec(obj)
    spec["containers"].append({**copy.deepcopy(spec["containers"][0]), "name": "sidecar"})
    spec["containers"][1].pop("readinessProbe")
    (v,) = findings(pack, obj)
    assert 'container "sidecar" has no readinessProbe' in v.message
