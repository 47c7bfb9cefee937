"""container-disallow-unmasked-proc-mount: every container mounts /proc with the default masks.

The Pod Security Standards' ``procMount`` check (baseline): ``securityContext.procMount`` of every
container (init and ephemeral too) is unset or ``Default``. ``Unmasked`` exposes the kernel
interfaces under /proc that the runtime masks (/proc/kcore, /proc/sysrq-trigger, ...).
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.k8s import POD_KINDS, PodSpec, container_findings, get_str
from .._lib.pss import PROC_MOUNT_TYPES


def _container(c):
    value = get_str(c.security_context, "procMount", c.sc_path)
    if value is not None and value not in PROC_MOUNT_TYPES:
        yield (f"{c.label} mounts /proc as {value!r} ({c.sc_path}.procMount), without the runtime's masks; "
               "remove procMount or set it to Default")


def check(obj, config):
    yield from container_findings(PodSpec(obj), _container)


POLICY = resource_policy(
    name="container-disallow-unmasked-proc-mount",
    description="Containers must mount /proc with the default masks (procMount unset or Default).",
    kinds=POD_KINDS,
    severity=Severity.HIGH,
    control=nist_800_171("3.13.4"),
    tags=["cmmc:SC.L2-3.13.4", "iec62443:SR 5.1", "nist800-207:tenet-5", "cis-k8s:5.2.1", "pss:procMount"],
    remediation="Remove securityContext.procMount from every container (or set it to Default).",
    check=check,
)
