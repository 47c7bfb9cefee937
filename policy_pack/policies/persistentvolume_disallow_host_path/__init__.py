"""persistentvolume-disallow-host-path: no PersistentVolume is a directory of a node.

A PersistentVolume with ``spec.hostPath`` hands the node's files to any pod whose claim binds to
it: the restricted Pod Security profile allows persistentVolumeClaim volumes, so this is the way
around pod-disallow-host-path-volumes. Node-local storage is a ``local`` PersistentVolume (with its
node affinity) or a CSI driver; a system component that truly needs one gets a named, expiring
entry in policy_pack/exemptions.yaml.
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.k8s import get_map, get_str


def check(obj, config):
    spec = obj.spec
    if spec.get("hostPath") is None:
        return
    host = get_map(spec, "hostPath", "spec")
    target = get_str(host, "path", "spec.hostPath") or "(no path)"
    yield (f"the PersistentVolume is the node's directory {target} (spec.hostPath): every pod whose claim "
           "binds to it gets the node's files; use a CSI driver or a local volume with node affinity")


POLICY = resource_policy(
    name="persistentvolume-disallow-host-path",
    description="PersistentVolumes must not be hostPath volumes.",
    kinds=[("core", "PersistentVolume")],
    severity=Severity.HIGH,
    control=nist_800_171("3.13.4"),
    tags=["cmmc:SC.L2-3.13.4", "iec62443:SR 5.1", "iec62443:SR 3.4", "nist800-207:tenet-5", "cis-k8s:5.2.12"],
    remediation="""
Back the PersistentVolume with a CSI driver (the cloud's block storage), or use a `local`
PersistentVolume with nodeAffinity for node-local disks; never spec.hostPath.""",
    check=check,
)
