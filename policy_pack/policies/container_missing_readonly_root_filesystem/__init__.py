"""container-missing-readonly-root-filesystem: every container's root filesystem is read-only.

A read-only root filesystem stops an intruder from dropping tools or changing the binaries;
writable paths are declared as emptyDir volumes.
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.k8s import POD_KINDS, PodSpec, container_findings, get_bool


def _container(c):
    value = get_bool(c.security_context, "readOnlyRootFilesystem", c.sc_path)
    if value is not True:
        state = "false" if value is False else "unset"
        yield (f"{c.label} has a writable root filesystem ({c.sc_path}.readOnlyRootFilesystem is {state}); "
               "set it to true and mount an emptyDir where the process must write")


def check(obj, config):
    yield from container_findings(PodSpec(obj), _container)


POLICY = resource_policy(
    name="container-missing-readonly-root-filesystem",
    description="Containers must run with a read-only root filesystem.",
    kinds=POD_KINDS,
    severity=Severity.MEDIUM,
    control=nist_800_171("3.4.2"),
    tags=["cmmc:CM.L2-3.4.2", "iec62443:SR 3.4", "nist800-207:tenet-5", "cis-k8s:5.7.3"],
    remediation="""
Set securityContext.readOnlyRootFilesystem: true on every container; mount an emptyDir volume
(with a sizeLimit) at each path the process must write, such as /tmp.""",
    check=check,
)
