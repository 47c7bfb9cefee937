"""pod-disallow-custom-selinux-options: no pod or container picks its own SELinux user, role or a privileged type.

The ``seLinuxOptions`` check (baseline): in the pod's and every container's (init and ephemeral
too) ``securityContext.seLinuxOptions``, ``type`` is unset or one of container_t,
container_init_t, container_kvm_t, container_engine_t, and ``user`` and ``role`` are unset. A type
such as ``spc_t`` or ``unconfined_t`` runs the process outside SELinux confinement.
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.k8s import POD_KINDS, PodSpec, get_map, get_str, join
from .._lib.pss import SELINUX_TYPES, pod_and_containers


def _context(label, sc, sc_path):
    options = get_map(sc, "seLinuxOptions", sc_path)
    if not options:
        return
    path = join(sc_path, "seLinuxOptions")
    kind = get_str(options, "type", path)
    if kind and kind not in SELINUX_TYPES:
        yield (f"{label} runs with SELinux type {kind!r} ({path}.type); remove it or use one of "
               f"{', '.join(sorted(SELINUX_TYPES))}")
    for key in ("user", "role"):
        value = get_str(options, key, path)
        if value:
            yield f"{label} sets SELinux {key} {value!r} ({path}.{key}); remove it (the runtime assigns it)"


def check(obj, config):
    yield from pod_and_containers(PodSpec(obj), _context)


POLICY = resource_policy(
    name="pod-disallow-custom-selinux-options",
    description="Pods and containers must not set an SELinux user or role, or a type outside the container types.",
    kinds=POD_KINDS,
    severity=Severity.HIGH,
    control=nist_800_171("3.1.7"),
    tags=["cmmc:AC.L2-3.1.7", "iec62443:SR 2.1", "nist800-207:tenet-5", "cis-k8s:5.2.1", "pss:seLinuxOptions"],
    remediation="""
Remove seLinuxOptions.user and seLinuxOptions.role, and either remove seLinuxOptions.type or set it
to container_t (container_init_t, container_kvm_t or container_engine_t where that is the point).
seLinuxOptions.level (the MCS categories) may stay.""",
    check=check,
)
