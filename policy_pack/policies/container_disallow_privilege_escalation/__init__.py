"""container-disallow-privilege-escalation: every container sets allowPrivilegeEscalation: false.

Unset, it defaults to true: a setuid binary in the image can then gain more privileges than its
parent process (no_new_privs is not set).
A Windows pod (``spec.os.name: windows``) is not judged: the field does not exist there (the
API server refuses it), and the Pod Security Standards exempt it.
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.pss import windows_pod
from .._lib.k8s import POD_KINDS, PodSpec, container_findings, get_bool


def _container(c):
    value = get_bool(c.security_context, "allowPrivilegeEscalation", c.sc_path)
    if value is not False:
        state = "true" if value else "unset, which means true"
        yield (f"{c.label} allows privilege escalation ({c.sc_path}.allowPrivilegeEscalation is {state}); "
               "set it to false")


def check(obj, config):
    pod = PodSpec(obj)
    if windows_pod(pod):
        return  # the field does not exist on Windows (the API server refuses it there)
    yield from container_findings(pod, _container)


POLICY = resource_policy(
    name="container-disallow-privilege-escalation",
    description="Containers must set allowPrivilegeEscalation: false.",
    kinds=POD_KINDS,
    severity=Severity.HIGH,
    control=nist_800_171("3.1.7"),
    tags=["cmmc:AC.L2-3.1.7", "iec62443:SR 2.1", "nist800-207:tenet-5", "cis-k8s:5.2.6"],
    remediation="Set securityContext.allowPrivilegeEscalation: false on every container.",
    check=check,
)
