"""pod-disallow-host-path-volumes: no pod mounts a directory of the node (hostPath).

A hostPath volume gives the pod the node's files (a container runtime socket or /etc is a full
node takeover). System components that need one (Falco's driver, the SPIRE agent's socket
directory) carry a named, justified, expiring entry in policy_pack/exemptions.yaml.
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.k8s import POD_KINDS, PodSpec, get_map, get_str, maps


def check(obj, config):
    pod = PodSpec(obj)
    for _, volume, path in maps(pod.spec, "volumes", pod.path):
        if volume.get("hostPath") is None:
            continue
        host = get_map(volume, "hostPath", path)
        name = get_str(volume, "name", path) or "(unnamed)"
        target = get_str(host, "path", f"{path}.hostPath") or "(no path)"
        yield (f'volume "{name}" mounts the node\'s {target} ({path}.hostPath); use an emptyDir, a '
               "PersistentVolumeClaim, a CSI or a projected volume instead")


POLICY = resource_policy(
    name="pod-disallow-host-path-volumes",
    description="Pods must not mount hostPath volumes.",
    kinds=POD_KINDS,
    severity=Severity.HIGH,
    control=nist_800_171("3.13.4"),
    tags=["cmmc:SC.L2-3.13.4", "iec62443:SR 5.1", "iec62443:SR 3.4", "nist800-207:tenet-5", "cis-k8s:5.2.12"],
    remediation="""
Replace each hostPath volume with an emptyDir (scratch space), a PersistentVolumeClaim (data), a
CSI volume (e.g. the SPIFFE CSI driver for the workload API socket) or a projected volume
(tokens, config). Node agents that must read the host get a named, expiring entry in
policy_pack/exemptions.yaml.""",
    check=check,
)
