"""pod-missing-service-account: a pod's ``serviceAccountName`` names a ServiceAccount of its namespace.

A pod whose ServiceAccount does not exist is never created: the ReplicaSet reports
``serviceaccount "<name>" not found`` and the workload stays at zero replicas. kube-linter's
``non-existent-service-account`` check (stackrox/kube-linter
pkg/templates/nonexistentserviceaccount/template.go) is the anchor: ``default`` always exists
(the ServiceAccount controller makes it in every namespace), any other name must be an object of
the input. Here a namespace is judged only when the input holds its ServiceAccounts, or when it
is a whole stack that holds the namespace (see ``_lib/wiring.py``), so ``check`` over one file
does not report every pod.

The reference model lives in ``policy_pack/policies/_lib/wiring.py`` (``dangling_service_accounts``), shared with the
tests, which run it on the rendered prod stack (tests/wiring/).
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, stack_policy
from .._lib.wiring import KINDS, check_for

NAME = "pod-missing-service-account"

POLICY = stack_policy(
    name=NAME,
    description="A pod's ServiceAccount exists in its namespace.",
    kinds=KINDS[NAME],
    severity=Severity.MEDIUM,
    control=nist_800_171("3.1.1"),
    tags=['cmmc:AC.L1-3.1.1', 'iec62443:SR 1.2', 'kube-linter:non-existent-service-account', 'nist800-207:tenet-6'],
    remediation="""
Create the ServiceAccount in the pod's namespace (the golden path, HardenedWorkload, creates one
per workload), or correct serviceAccountName to the ServiceAccount that exists. A chart's
serviceAccount.name value and its fullnameOverride must agree with what its pods name.""",
    check=check_for(NAME),
)
