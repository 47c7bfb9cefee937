"""pod-disallow-default-service-account: every pod runs under its own ServiceAccount.

Pods left on a namespace's ``default`` ServiceAccount share one identity: RBAC, the mesh
(SPIFFE IDs derive from the account) and audit logs can no longer tell them apart.
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.k8s import POD_KINDS, PodSpec, get_str


def check(obj, config):
    pod = PodSpec(obj)
    name = get_str(pod.spec, "serviceAccountName", pod.path) or get_str(pod.spec, "serviceAccount", pod.path)
    if not name or name == "default":
        state = "names the default ServiceAccount" if name else "names no ServiceAccount, so it runs as default"
        yield (f"the pod {state} ({pod.field('serviceAccountName')}); create a dedicated ServiceAccount with "
               "automountServiceAccountToken: false and name it there")


POLICY = resource_policy(
    name="pod-disallow-default-service-account",
    description="Pods must not run under the default ServiceAccount.",
    kinds=POD_KINDS,
    severity=Severity.MEDIUM,
    control=nist_800_171("3.1.5"),
    tags=["cmmc:AC.L2-3.1.5", "iec62443:SR 1.2", "nist800-207:tenet-6", "cis-k8s:5.1.5"],
    remediation="""
Create one ServiceAccount per workload (automountServiceAccountToken: false) and set
serviceAccountName in the pod spec; grant it only the RBAC the workload needs.""",
    check=check,
)
