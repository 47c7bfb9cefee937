"""pod-disallow-unsafe-sysctls: a pod sets only the sysctls the Pod Security Standards call safe.

The ``sysctls`` check (baseline): every ``spec.securityContext.sysctls[*].name`` is one of the safe,
namespaced set of the pinned version (kernel.shm_rmid_forced, net.ipv4.ip_local_port_range,
net.ipv4.ip_unprivileged_port_start, net.ipv4.tcp_syncookies, net.ipv4.ping_group_range,
net.ipv4.ip_local_reserved_ports, net.ipv4.tcp_keepalive_time, net.ipv4.tcp_fin_timeout,
net.ipv4.tcp_keepalive_intvl, net.ipv4.tcp_keepalive_probes). Any other sysctl can change the
node's kernel for every pod on it, or turn off a protection. A name written with ``/`` separators
is judged as the kubelet applies it (with dots).
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.k8s import POD_KINDS, PodSpec, get_str, join, maps
from .._lib.pss import SAFE_SYSCTLS


def check(obj, config):
    pod = PodSpec(obj)
    for _, sysctl, path in maps(pod.security_context, "sysctls", pod.sc_path):
        name = get_str(sysctl, "name", path)
        if name is None:
            yield f"{join(path, 'name')} is missing; name the sysctl (only the safe set is allowed)"
            continue
        if name.replace("/", ".") not in SAFE_SYSCTLS:
            yield (f"the pod sets sysctl {name!r} ({path}.name), outside the Pod Security Standards' safe set; "
                   f"remove it (allowed: {', '.join(sorted(SAFE_SYSCTLS))})")


POLICY = resource_policy(
    name="pod-disallow-unsafe-sysctls",
    description="Pods must set only the sysctls the Pod Security Standards call safe.",
    kinds=POD_KINDS,
    severity=Severity.HIGH,
    control=nist_800_171("3.4.6"),
    tags=["cmmc:CM.L2-3.4.6", "iec62443:SR 7.6", "nist800-207:tenet-5", "cis-k8s:5.2.1", "pss:sysctls"],
    remediation="""
Remove every sysctl outside the safe set from spec.securityContext.sysctls. A node-level kernel
setting belongs in the node image or its bootstrap, reviewed with the node, not in a pod.""",
    check=check,
)
