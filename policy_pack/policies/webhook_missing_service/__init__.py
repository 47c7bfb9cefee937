"""webhook-missing-service: every ``clientConfig.service`` of a Validating/MutatingWebhookConfiguration names a Service that exists.

An admission webhook whose Service does not exist cannot be called: with failurePolicy Fail
the API server refuses every request the webhook covers (the cluster stops admitting pods);
with Ignore it silently skips the control. Judged for every namespace the input holds.

The reference model lives in ``policy_pack/policies/_lib/wiring.py`` (``dangling_webhooks``), shared with the
tests, which run it on the rendered prod stack (tests/wiring/).
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, stack_policy
from .._lib.wiring import KINDS, check_for

NAME = "webhook-missing-service"

POLICY = stack_policy(
    name=NAME,
    description="An admission webhook calls a Service that exists.",
    kinds=KINDS[NAME],
    severity=Severity.HIGH,
    control=nist_800_171("3.4.2"),
    tags=['cmmc:CM.L2-3.4.2', 'iec62443:SR 7.6', 'nist800-207:tenet-6'],
    remediation="""
Point clientConfig.service at the webhook's real Service (name and namespace as the chart
renders them: a fullnameOverride renames the Service, so the webhook configuration must follow).""",
    check=check_for(NAME),
)
