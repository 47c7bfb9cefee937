"""pod-disable-token-automount: every pod spec sets automountServiceAccountToken: false.

The pod-level field wins over the ServiceAccount's, so the pod states its own intent; a pod that
calls the API mounts a projected, audience-bound token instead (or carries an exemption).
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.k8s import POD_KINDS, PodSpec, get_bool


def check(obj, config):
    pod = PodSpec(obj)
    value = get_bool(pod.spec, "automountServiceAccountToken", pod.path)
    if value is not False:
        state = "true" if value else "unset, so the ServiceAccount decides, and by default it mounts"
        yield (f"the pod mounts a service account token ({pod.field('automountServiceAccountToken')} is {state}); "
               "set it to false, and mount a projected token only where the pod calls the API")


POLICY = resource_policy(
    name="pod-disable-token-automount",
    description="Pod specs must set automountServiceAccountToken: false.",
    kinds=POD_KINDS,
    severity=Severity.MEDIUM,
    control=nist_800_171("3.1.5"),
    tags=["cmmc:AC.L2-3.1.5", "iec62443:SR 1.5", "nist800-207:tenet-6", "cis-k8s:5.1.6"],
    remediation="""
Set automountServiceAccountToken: false in the pod spec (spec.template.spec for controllers). A
pod that calls the Kubernetes API mounts a projected serviceAccountToken volume with an audience
and a short expiry, or gets a named exemption in the policy configuration.""",
    check=check,
)
