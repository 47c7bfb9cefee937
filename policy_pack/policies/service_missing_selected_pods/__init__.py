"""service-missing-selected-pods: a Service's selector matches some pod template of its namespace.

A Service whose selector matches no pod has no endpoints: every connection to it fails,
and a policy written for the pods it was meant to front protects nothing. kube-linter's
``dangling-service`` (stackrox/kube-linter pkg/templates/danglingservice/template.go) is the
anchor: the selector must match the pod template labels of an object in the same namespace.
Pods that controllers create at run time (an Istio Gateway's Deployment) and labels a workload
sets on itself (Vault's ``vault-active``, which the chart's ``vault-active`` Service selects)
come from the one table in ``_lib/wiring.py`` (``RUNTIME``). ExternalName Services and Services
without a selector are not judged.

The reference model lives in ``policy_pack/policies/_lib/wiring.py`` (``dangling_services``), shared with the
tests, which run it on the rendered prod stack (tests/wiring/).
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, stack_policy
from .._lib.wiring import KINDS, check_for

NAME = "service-missing-selected-pods"

POLICY = stack_policy(
    name=NAME,
    description="A Service's selector matches the pods of some workload in its namespace.",
    kinds=KINDS[NAME],
    severity=Severity.MEDIUM,
    control=nist_800_171("3.4.2"),
    tags=['cmmc:CM.L2-3.4.2', 'iec62443:SR 7.6', 'kube-linter:dangling-service'],
    remediation="""
Make spec.selector the labels of the pods the Service fronts (the pod template's labels, not
the Deployment's own), in the same namespace. For a pod label set at run time by a controller
or by the workload itself, add it to RUNTIME in policy_pack/policies/_lib/wiring.py with the
upstream source that sets it.""",
    check=check_for(NAME),
)
