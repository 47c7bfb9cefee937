"""pod-disallow-windows-host-process: no Windows pod or container runs as a HostProcess.

The ``windowsHostProcess`` check (baseline): ``securityContext.windowsOptions.hostProcess`` of the
pod and of every container (init and ephemeral too) is unset or false. A HostProcess container
runs directly on the Windows node with its network and file system: the Windows form of a
privileged container.
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.k8s import POD_KINDS, PodSpec, get_bool, get_map, join
from .._lib.pss import pod_and_containers


def _context(label, sc, sc_path):
    options = get_map(sc, "windowsOptions", sc_path)
    path = join(sc_path, "windowsOptions")
    if get_bool(options, "hostProcess", path):
        yield (f"{label} runs as a Windows HostProcess ({path}.hostProcess: true), with the node's "
               "privileges; remove hostProcess or set it to false")


def check(obj, config):
    yield from pod_and_containers(PodSpec(obj), _context)


POLICY = resource_policy(
    name="pod-disallow-windows-host-process",
    description="Windows pods and containers must not run as HostProcess.",
    kinds=POD_KINDS,
    severity=Severity.CRITICAL,
    control=nist_800_171("3.1.7"),
    tags=["cmmc:AC.L2-3.1.7", "iec62443:SR 2.1", "nist800-207:tenet-5", "cis-k8s:5.2.1", "pss:windowsHostProcess"],
    remediation="Remove securityContext.windowsOptions.hostProcess from the pod and its containers (or set it to false).",
    check=check,
)
