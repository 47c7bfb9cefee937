"""serviceaccount-disable-token-automount: every ServiceAccount sets
automountServiceAccountToken: false.

Unset, every pod of the account gets an API token mounted whether it calls the API or not: a
credential for an intruder to steal. Pods that call the API opt in on their own spec.
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.k8s import get_bool


def check(obj, config):
    value = get_bool(obj.props, "automountServiceAccountToken", "")
    if value is not False:
        state = "true" if value else "unset, which means true"
        yield (f"the ServiceAccount mounts its API token into every pod (automountServiceAccountToken is "
               f"{state}); set automountServiceAccountToken: false")


POLICY = resource_policy(
    name="serviceaccount-disable-token-automount",
    description="ServiceAccounts must set automountServiceAccountToken: false.",
    kinds=[("core", "ServiceAccount")],
    severity=Severity.MEDIUM,
    control=nist_800_171("3.1.5"),
    tags=["cmmc:AC.L2-3.1.5", "iec62443:SR 1.5", "nist800-207:tenet-6", "cis-k8s:5.1.6"],
    remediation="""
Set automountServiceAccountToken: false on the ServiceAccount. A pod that must call the
Kubernetes API sets automountServiceAccountToken: true on its own spec, or mounts a projected,
audience-bound, short-lived token.""",
    check=check,
)
