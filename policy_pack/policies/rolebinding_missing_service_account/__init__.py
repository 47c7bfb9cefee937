"""rolebinding-missing-service-account: a binding's ServiceAccount subjects exist.

A binding to a ServiceAccount that does not exist grants nothing to the workload that needs
it (it is refused at run time), and hands the permissions to whoever later creates an account of
that name. A RoleBinding's subject without a namespace is in the binding's namespace.

The reference model lives in ``policy_pack/policies/_lib/wiring.py`` (``dangling_binding_subjects``), shared with the
tests, which run it on the rendered prod stack (tests/wiring/).
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, stack_policy
from .._lib.wiring import KINDS, check_for

NAME = "rolebinding-missing-service-account"

POLICY = stack_policy(
    name=NAME,
    description="A RoleBinding's or ClusterRoleBinding's ServiceAccount subject exists.",
    kinds=KINDS[NAME],
    severity=Severity.MEDIUM,
    control=nist_800_171("3.1.5"),
    tags=['cis-k8s:5.1.5', 'cmmc:AC.L2-3.1.5', 'iec62443:SR 2.1', 'nist800-207:tenet-6'],
    remediation="""
Name the workload's real ServiceAccount (namespace and name, as its pod template's
serviceAccountName says), or delete the binding.""",
    check=check_for(NAME),
)
