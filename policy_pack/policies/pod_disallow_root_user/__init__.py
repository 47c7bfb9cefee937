"""pod-disallow-root-user: no container runs as root.

A container runs as non-root when its effective securityContext (the container's, else the
pod's) sets ``runAsNonRoot: true`` or a ``runAsUser`` above 0; UID 0 is refused either way. The
house style is a UID above 10000, so the container owns no file on the host.
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.k8s import POD_KINDS, PodSpec, container_findings, get_bool, get_int


def _container(c):
    uid, uid_path = c.effective("runAsUser", get_int)
    non_root, non_root_path = c.effective("runAsNonRoot", get_bool)
    if uid == 0:
        yield f"{c.label} runs as UID 0 ({uid_path}: 0); run it as a non-root UID (house style: above 10000)"
    elif uid is not None and uid < 0:
        yield f"{c.label} sets an invalid UID ({uid_path}: {uid}); use a non-root UID above 10000"
    elif non_root is True or (uid is not None and uid > 0):
        return
    elif non_root is False:
        yield (f"{c.label} sets {non_root_path}: false with no non-root runAsUser; set runAsNonRoot: true "
               "and runAsUser above 10000")
    else:
        yield (f"{c.label} may run as root: neither runAsNonRoot: true nor a runAsUser above 0 is set in its "
               "or the pod's securityContext; set runAsNonRoot: true and runAsUser above 10000")


def check(obj, config):
    yield from container_findings(PodSpec(obj), _container)


POLICY = resource_policy(
    name="pod-disallow-root-user",
    description="Containers must not run as root (runAsNonRoot: true or a runAsUser above 0).",
    kinds=POD_KINDS,
    severity=Severity.HIGH,
    control=nist_800_171("3.1.6"),
    tags=["cmmc:AC.L2-3.1.6", "cmmc:AC.L2-3.1.5", "iec62443:SR 2.1", "nist800-207:tenet-5", "cis-k8s:5.2.7"],
    remediation="""
Set securityContext.runAsNonRoot: true and runAsUser (and runAsGroup) to a UID above 10000 on the
pod, and build the image so it runs as that user.""",
    check=check,
)
