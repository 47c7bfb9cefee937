"""networkpolicy-missing-selected-pods: a NetworkPolicy's podSelector, where it names pods, matches some pod of its namespace.

A NetworkPolicy that selects nothing does nothing: an allow rule with a typo leaves the
intended pods cut off by default-deny, an isolation policy with a typo isolates nobody.
kube-linter's ``dangling-networkpolicy`` (stackrox/kube-linter
pkg/templates/danglingnetworkpolicy/template.go) is the anchor. An empty podSelector, or one made
only of exclusions (``NotIn``, ``DoesNotExist``: allow-dns of a namespace under emergency
isolation), is a namespace-wide rule that rightly holds while no pod it would select exists, and
is not judged; matchExpressions are evaluated as the API server does (In, NotIn, Exists,
DoesNotExist). Runtime pods and labels come from ``_lib/wiring.py`` (``RUNTIME``).

The reference model lives in ``policy_pack/policies/_lib/wiring.py`` (``dangling_network_policies``), shared with the
tests, which run it on the rendered prod stack (tests/wiring/).
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, stack_policy
from .._lib.wiring import KINDS, check_for

NAME = "networkpolicy-missing-selected-pods"

POLICY = stack_policy(
    name=NAME,
    description="A NetworkPolicy with a non-empty podSelector selects the pods of some workload in its namespace.",
    kinds=KINDS[NAME],
    severity=Severity.MEDIUM,
    control=nist_800_171("3.13.1"),
    tags=['cmmc:SC.L1-3.13.1', 'iec62443:SR 5.1', 'kube-linter:dangling-networkpolicy', 'nist800-207:3.1.2'],
    remediation="""
Make spec.podSelector the labels of the pods the policy is written for (the pod template's
labels, in the policy's namespace), or delete the policy if the workload is gone.""",
    check=check_for(NAME),
)
