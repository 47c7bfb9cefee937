"""Issue 23 item 6: Falco ran privileged with the docker, podman, CRI-O and k3s sockets mounted and
tolerated the control-plane taint only. Read on the DaemonSet the falco chart renders (its
falco.securityContext helper, pod-template.tpl and the container engines of _helpers.tpl)."""
from __future__ import annotations

import pytest
import yaml

from components.runtime_detection import FALCO_CAPABILITIES
from tests.harness import ROOT, k8s

SOCKETS = ("docker.sock", "podman.sock", "crio.sock", "containerd.sock")


def _pod(prod) -> dict:
    (ds,) = k8s(prod, "DaemonSet", "falco", "falco")
    return ds["spec"]["template"]["spec"]


def test_modern_ebpf_least_privileged(prod):
    (falco,) = [c for c in _pod(prod)["containers"] if c["name"] == "falco"]
    sc = falco["securityContext"]
    assert sc.get("privileged") is False and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"], "add": sorted(FALCO_CAPABILITIES)}
    assert set(FALCO_CAPABILITIES) == {"BPF", "PERFMON", "SYS_RESOURCE", "SYS_PTRACE"}  # the chart's helper's four
    assert sc["readOnlyRootFilesystem"] is True
    assert not _pod(prod).get("initContainers")  # no driver loader, no falcoctl
    assert all(not (c.get("securityContext") or {}).get("privileged") for c in _pod(prod)["containers"])


def test_only_the_containerd_socket_is_mounted(prod):
    paths = [v["hostPath"]["path"] for v in _pod(prod)["volumes"] if "hostPath" in v]
    sockets = [p for p in paths if p.endswith(SOCKETS)]
    assert sockets == ["/run/containerd/containerd.sock"]
    (cm,) = k8s(prod, "ConfigMap", "falco", "falco")
    conf = yaml.safe_load(cm["data"]["falco.yaml"])
    (plugin,) = [p for p in conf["plugins"] if p["name"] == "container"]
    engines = plugin["init_config"]["engines"]
    assert [name for name, e in engines.items() if e.get("enabled")] == ["containerd"]
    assert engines["containerd"]["sockets"] == ["/run/containerd/containerd.sock"]


def tolerates(tolerations: list[dict], taint: dict) -> bool:
    """Kubernetes' ToleratesTaint: an empty key with Exists matches every key; an empty effect every
    effect; otherwise the key matches and Exists, or Equal with the same value."""
    for t in tolerations:
        if t.get("effect") and t["effect"] != taint["effect"]:
            continue
        if not t.get("key"):
            if t.get("operator") == "Exists":
                return True
            continue
        if t["key"] == taint["key"] and (t.get("operator") == "Exists" or t.get("value", "") == taint.get("value", "")):
            return True
    return False


@pytest.mark.parametrize("taint", [
    {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"},
    {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"},
    {"key": "eks.amazonaws.com/compute-type", "value": "hybrid", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"},
    {"key": "karpenter.sh/disrupted", "effect": "NoSchedule"},
])
def test_every_node_is_watched_whatever_its_taints(prod, taint):
    assert tolerates(_pod(prod)["tolerations"], taint)
    assert not tolerates([{"effect": "NoSchedule", "key": "node-role.kubernetes.io/control-plane"}],
                         {**taint, "key": taint["key"] + "-x"})


def test_the_exemption_lifts_only_what_least_privilege_still_needs():
    doc = yaml.safe_load((ROOT / "policy_pack" / "exemptions.yaml").read_text())
    (entry,) = [e for e in doc["exemptions"] if e["id"] == "falco-driver"]
    assert sorted(entry["policies"]) == ["container-enforce-drop-all-capabilities", "pod-disallow-host-path-volumes",
                                         "pod-disallow-root-user", "pod-disallow-unconfined-apparmor"]
    assert entry["images"] == ["docker.io/falcosecurity/falco"]
    # Pod Security: baseline forbids hostPath volumes and these capabilities, so privileged is the
    # strictest level the DaemonSet allows
    assert entry["namespacePodSecurity"] == "privileged"
