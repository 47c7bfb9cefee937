"""httproute-missing-references: an HTTPRoute's (or GRPCRoute's) parent Gateways and backend Services exist.

A route attached to a Gateway that does not exist serves nothing; a backend Service that does
not exist makes the Gateway answer 500. Gateway API defaults apply: a parentRef is a
``gateway.networking.k8s.io`` Gateway, a backendRef a core Service, in the route's namespace
unless it names another.

The reference model lives in ``policy_pack/policies/_lib/wiring.py`` (``dangling_routes``), shared with the
tests, which run it on the rendered prod stack (tests/wiring/).
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, stack_policy
from .._lib.wiring import KINDS, check_for

NAME = "httproute-missing-references"

POLICY = stack_policy(
    name=NAME,
    description="An HTTPRoute's parent Gateways and backend Services exist.",
    kinds=KINDS[NAME],
    severity=Severity.MEDIUM,
    control=nist_800_171("3.13.1"),
    tags=['cmmc:SC.L1-3.13.1', 'iec62443:SR 5.2', 'nist800-207:tenet-3'],
    remediation="""
Name the stack's Gateway (ingress.gatewayName in ingress.namespace) in parentRefs, and the
backend's real Service (and namespace) in backendRefs.""",
    check=check_for(NAME),
)
