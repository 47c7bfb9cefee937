"""pod-disallow-unsafe-volume-types: a pod mounts only the volume types of the restricted profile.

The ``restrictedVolumes`` check: every ``spec.volumes[*]`` sets one of configMap, csi, downwardAPI,
emptyDir, ephemeral, persistentVolumeClaim, projected or secret. Everything else reaches outside
the pod's own storage with the node's or the pod's credentials: gitRepo (runs git on the node),
nfs, iscsi, rbd, cephfs, flexVolume (a driver binary on the node), cloud disks mounted by ID,
image... (storage for data goes through a PersistentVolumeClaim, where the cluster's
administrator defines the volume). A volume that names no source is an emptyDir (the API
server's default). ``hostPath`` is judged by pod-disallow-host-path-volumes (one policy per
field, so its exemptions stay in one place).
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.k8s import POD_KINDS, PodSpec, get_str, maps
from .._lib.pss import RESTRICTED_VOLUME_SOURCES

_ALLOWED = frozenset(RESTRICTED_VOLUME_SOURCES)
_SKIP = frozenset({"name", "hostPath"})


def check(obj, config):
    pod = PodSpec(obj)
    for _, volume, path in maps(pod.spec, "volumes", pod.path):
        name = get_str(volume, "name", path) or "(unnamed)"
        sources = [k for k in volume if k not in _SKIP and volume[k] is not None]
        refused = sorted(k for k in sources if k not in _ALLOWED)
        for key in refused:
            yield (f'volume "{name}" is of type {key} ({path}.{key}), which the restricted Pod Security '
                   f"profile refuses; use {', '.join(RESTRICTED_VOLUME_SOURCES)} (data: a PersistentVolumeClaim)")


POLICY = resource_policy(
    name="pod-disallow-unsafe-volume-types",
    description="Pods must use only the volume types of the restricted Pod Security profile.",
    kinds=POD_KINDS,
    severity=Severity.HIGH,
    control=nist_800_171("3.13.4"),
    tags=["cmmc:SC.L2-3.13.4", "iec62443:SR 5.1", "iec62443:SR 3.4", "nist800-207:tenet-5", "cis-k8s:5.2.1",
          "pss:restrictedVolumes"],
    remediation="""
Replace each volume of another type with a PersistentVolumeClaim (the cluster's storage class or
a PersistentVolume defines the backend), a CSI volume, or an emptyDir/configMap/secret/projected/
downwardAPI/ephemeral volume. Instead of gitRepo, clone in an init container into an emptyDir.""",
    check=check,
)
