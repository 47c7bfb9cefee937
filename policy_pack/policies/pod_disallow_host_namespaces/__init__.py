"""pod-disallow-host-namespaces: no pod shares the node's network, PID or IPC namespace.

hostNetwork exposes the node's interfaces (and bypasses NetworkPolicies), hostPID lets the pod
see and signal every process on the node, hostIPC lets it read other processes' shared memory.
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.k8s import POD_KINDS, PodSpec, get_bool

_WHAT = {
    "hostNetwork": "network namespace (its interfaces, and traffic no NetworkPolicy filters)",
    "hostPID": "process namespace (it can see and signal every process on the node)",
    "hostIPC": "IPC namespace (it can read other processes' shared memory)",
}


def check(obj, config):
    pod = PodSpec(obj)
    for key, what in _WHAT.items():
        if get_bool(pod.spec, key, pod.path):
            yield f"{pod.field(key)} is true: the pod shares the node's {what}; remove it or set it to false"


POLICY = resource_policy(
    name="pod-disallow-host-namespaces",
    description="Pods must not share the node's network, PID or IPC namespace.",
    kinds=POD_KINDS,
    severity=Severity.HIGH,
    control=nist_800_171("3.13.4"),
    tags=["cmmc:SC.L2-3.13.4", "iec62443:SR 5.1", "nist800-207:tenet-5",
          "cis-k8s:5.2.3", "cis-k8s:5.2.4", "cis-k8s:5.2.5"],
    remediation="""
Remove hostNetwork, hostPID and hostIPC from the pod spec (or set them to false). Expose a port
through a Service instead of the host network. A node agent that must see host processes gets a
named, expiring entry in policy_pack/exemptions.yaml.""",
    check=check,
)
