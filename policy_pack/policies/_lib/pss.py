"""The Kubernetes Pod Security Standards, as facts the pod-level policies share.

Values are those of the ``restricted`` profile (which contains ``baseline``) at the version the
stack pins (``components/base.py`` ``PSS_VERSION``), from the Kubernetes "Pod Security Standards"
page and the checks of ``k8s.io/pod-security-admission/policy``. :data:`CHECKS` maps every check
id of that package to the policy of this pack that enforces it (docs/policies.md shows the same
table; tests/policy/test_pss.py holds both to the upstream list).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Iterator, Optional

from .k8s import EMPTY, PodSpec, Unverifiable, container_findings, get_map, join, wrong

#: The Pod Security Standards version the stack pins (kept equal to components.base.PSS_VERSION).
PSS_VERSION = "v1.33"

#: Sysctls the baseline profile allows (``sysctls`` check): namespaced and isolated per pod.
SAFE_SYSCTLS = frozenset({
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",   # since v1.27
    "net.ipv4.tcp_keepalive_time",        # since v1.29
    "net.ipv4.tcp_fin_timeout",           # since v1.29
    "net.ipv4.tcp_keepalive_intvl",       # since v1.29
    "net.ipv4.tcp_keepalive_probes",      # since v1.29
})

#: SELinux types a pod or container may request (``seLinuxOptions`` check); user and role must be unset.
SELINUX_TYPES = frozenset({"container_t", "container_init_t", "container_kvm_t",
                           "container_engine_t"})  # container_engine_t since v1.31

#: The volume sources the restricted profile allows (``restrictedVolumes`` check).
RESTRICTED_VOLUME_SOURCES = ("configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                             "persistentVolumeClaim", "projected", "secret")

#: Every other volume source of core/v1 Volume (the ones the restricted profile refuses).
OTHER_VOLUME_SOURCES = ("hostPath", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "nfs", "iscsi",
                        "glusterfs", "rbd", "flexVolume", "cinder", "cephfs", "flocker", "fc", "azureFile",
                        "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk", "portworxVolume",
                        "scaleIO", "storageos", "image")

#: AppArmor profile types allowed in ``securityContext.appArmorProfile.type`` (``appArmorProfile``).
APPARMOR_TYPES = ("RuntimeDefault", "Localhost")
#: The beta annotation (one per container) and its allowed values: runtime/default, localhost/<name>.
APPARMOR_ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/"

#: procMount values allowed (``procMount``): unset or Default.
PROC_MOUNT_TYPES = ("Default",)

#: Restricted-profile checks that appeared after v1.0, by the version that introduced them: a
#: namespace pinning ``enforce-version`` below one of these does not enforce that rule.
CHECKS_SINCE: tuple[tuple[tuple[int, int], str], ...] = (
    ((1, 8), "allowPrivilegeEscalation"),
    ((1, 19), "seccompProfile_restricted (RuntimeDefault or Localhost required)"),
    ((1, 22), "capabilities_restricted (drop ALL)"),
    ((1, 23), "runAsUser (UID 0 refused)"),
    ((1, 30), "appArmorProfile on the securityContext field (not only the annotation)"),
)
#: The oldest enforce-version that holds every rule the pinned version holds.
MINIMUM_VERSION = max(v for v, _ in CHECKS_SINCE)

#: PSS check id (k8s.io/pod-security-admission/policy, ``Check.ID``) -> the policy enforcing it.
CHECKS: dict[str, str] = {
    "windowsHostProcess": "pod-disallow-windows-host-process",
    "hostNamespaces": "pod-disallow-host-namespaces",
    "privileged": "pod-disallow-privileged-containers",
    "capabilities_baseline": "container-enforce-drop-all-capabilities",
    "hostPathVolumes": "pod-disallow-host-path-volumes",
    "hostPorts": "pod-disallow-host-ports",
    "hostProbesAndHostLifecycle": "container-disallow-probe-hosts",
    "appArmorProfile": "pod-disallow-unconfined-apparmor",
    "seLinuxOptions": "pod-disallow-custom-selinux-options",
    "procMount": "container-disallow-unmasked-proc-mount",
    "seccompProfile_baseline": "pod-enforce-seccomp-profile",
    "sysctls": "pod-disallow-unsafe-sysctls",
    "restrictedVolumes": "pod-disallow-unsafe-volume-types",
    "allowPrivilegeEscalation": "container-disallow-privilege-escalation",
    "runAsNonRoot": "pod-disallow-root-user",
    "runAsUser": "pod-disallow-root-user",
    "seccompProfile_restricted": "pod-enforce-seccomp-profile",
    "capabilities_restricted": "container-enforce-drop-all-capabilities",
}


def parse_version(value: Any) -> Optional[tuple[int, int]]:
    """``v1.33`` -> (1, 33); None for ``latest`` or anything else."""
    if not isinstance(value, str) or not value.startswith("v1."):
        return None
    minor = value[3:]
    return (1, int(minor)) if minor.isdigit() else None


def pod_annotations(pod: PodSpec) -> tuple[Mapping, str]:
    """The annotations of the pod the spec belongs to (a template's, for a controller), and their path.

    The pod spec sits at ``<prefix>.spec``; its metadata is ``<prefix>.metadata`` (top-level
    ``metadata`` for a Pod)."""
    parts = pod.path.split(".")
    prefix = parts[:-1]
    node: Any = pod.obj.props
    path = ""
    for key in prefix:
        node = node.get(key) if isinstance(node, Mapping) else None
        path = join(path, key)
        if node is None:
            return EMPTY, join(join(path, "metadata"), "annotations")
        if not isinstance(node, Mapping):
            raise wrong(path, node, "an object")
    meta = get_map(node, "metadata", path)
    meta_path = join(path, "metadata")
    return get_map(meta, "annotations", meta_path), join(meta_path, "annotations")


def pod_and_containers(pod: PodSpec, check) -> Iterator[str]:
    """Run ``check(label, securityContext, path)`` on the pod's securityContext, then on every
    container's (init and ephemeral containers too), each judged on its own."""
    try:
        yield from check("the pod", pod.security_context, pod.sc_path)
    except Unverifiable as e:
        yield e.message
    yield from container_findings(pod, lambda c: check(c.label, c.security_context, c.sc_path))


def windows_pod(pod: PodSpec) -> bool:
    """``spec.os.name: windows``: the API server then refuses the Linux-only security fields
    (allowPrivilegeEscalation, capabilities, seccompProfile, ...), and the Pod Security Standards
    exempt such a pod from the restricted rules on them (v1.25+)."""
    os_field = get_map(pod.spec, "os", pod.path)
    return os_field.get("name") == "windows"
