"""HardenedWorkload: the golden path's security properties, one by one."""
from __future__ import annotations

import pytest

from components.config import WorkloadConfig
from components.workload import HardenedWorkloadArgs, workload_manifests

IMAGE = "ghcr.io/lego-mcp/dashboard@sha256:" + "1" * 64


def _objs(**overrides):
    w = WorkloadConfig(name="dashboard", namespace="lego-mcp-prod", image=IMAGE, port=5000, **overrides)
    return {m["kind"]: m for _, m in workload_manifests(HardenedWorkloadArgs(workload=w))}


@pytest.fixture
def objs():
    return _objs(writable_paths=["/tmp"], secrets=[{"env": "HSM_PIN", "vaultKey": "lego-mcp/hsm#pin"}],
                 env={"HSM_ENABLED": "true"})


def _pod(objs):
    return objs["Deployment"]["spec"]["template"]["spec"]


def _container(objs):
    (c,) = _pod(objs)["containers"]
    return c


def test_dedicated_service_account_without_token(objs):
    assert objs["ServiceAccount"]["metadata"]["name"] == "dashboard"
    assert objs["ServiceAccount"]["automountServiceAccountToken"] is False
    assert _pod(objs)["serviceAccountName"] == "dashboard"
    assert _pod(objs)["automountServiceAccountToken"] is False


@pytest.mark.parametrize("field, expected", [
    ("runAsNonRoot", True), ("readOnlyRootFilesystem", True), ("allowPrivilegeEscalation", False),
    ("privileged", False), ("capabilities", {"drop": ["ALL"]}), ("seccompProfile", {"type": "RuntimeDefault"}),
])
def test_container_security_context(objs, field, expected):
    assert _container(objs)["securityContext"][field] == expected


def test_runs_as_uid_above_10000(objs):
    assert _container(objs)["securityContext"]["runAsUser"] > 10000
    assert _pod(objs)["securityContext"]["runAsUser"] > 10000


def test_requests_and_limits_set(objs):
    res = _container(objs)["resources"]
    assert set(res) == {"requests", "limits"}
    assert set(res["limits"]) == {"cpu", "memory"} and set(res["requests"]) == {"cpu", "memory"}


def test_probes_target_the_workload_port(objs):
    c = _container(objs)
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": 5000}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": 5000}


def test_image_is_pinned_by_digest(objs):
    assert "@sha256:" in _container(objs)["image"]


def test_pod_disruption_budget_selects_the_pods(objs):
    pdb = objs["PodDisruptionBudget"]
    assert pdb["spec"]["selector"] == objs["Deployment"]["spec"]["selector"]
    assert pdb["spec"]["maxUnavailable"] == 1


def test_writable_emptydir_only_where_declared(objs):
    volumes = _pod(objs)["volumes"]
    assert len(volumes) == 1 and "emptyDir" in volumes[0]
    assert [m["mountPath"] for m in _container(objs)["volumeMounts"]] == ["/tmp"]
    plain = _objs()
    assert "volumes" not in _pod(plain) and "volumeMounts" not in _container(plain)


def test_secrets_come_from_external_secrets_never_literals(objs):
    assert "Secret" not in objs
    es = objs["ExternalSecret"]
    assert es["spec"]["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": "vault-lego-mcp-prod"}
    assert es["spec"]["data"] == [{"secretKey": "HSM_PIN", "remoteRef": {"key": "lego-mcp/hsm", "property": "pin"}}]
    env = {e["name"]: e for e in _container(objs)["env"]}
    assert env["HSM_PIN"]["valueFrom"]["secretKeyRef"] == {"name": "dashboard-secrets", "key": "HSM_PIN"}
    assert env["HSM_ENABLED"] == {"name": "HSM_ENABLED", "value": "true"}


def test_no_external_secret_without_secrets():
    assert "ExternalSecret" not in _objs()


def test_service_is_cluster_internal(objs):
    assert objs["Service"]["spec"]["type"] == "ClusterIP"
