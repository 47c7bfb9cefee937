"""certificate-missing-issuer: a Certificate's ``issuerRef`` names an Issuer or ClusterIssuer that exists.

A Certificate whose issuer does not exist is never issued: the Secret it writes never
appears and the TLS that depends on it never starts. ``issuerRef.kind`` defaults to Issuer (in
the Certificate's namespace) and ``group`` to cert-manager.io; another group is an external
issuer and is not judged. The ``cert-manager.io/issuer`` and ``cert-manager.io/cluster-issuer``
annotations of an Ingress or Gateway (cert-manager's ingress-shim and gateway-shim) are judged
the same way.

The reference model lives in ``policy_pack/policies/_lib/wiring.py`` (``dangling_issuers``), shared with the
tests, which run it on the rendered prod stack (tests/wiring/).
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, stack_policy
from .._lib.wiring import KINDS, check_for

NAME = "certificate-missing-issuer"

POLICY = stack_policy(
    name=NAME,
    description="A Certificate's issuer (and a cert-manager issuer annotation) names an Issuer or ClusterIssuer that exists.",
    kinds=KINDS[NAME],
    severity=Severity.MEDIUM,
    control=nist_800_171("3.13.8"),
    tags=['cmmc:SC.L2-3.13.8', 'iec62443:SR 4.1', 'nist800-207:tenet-2'],
    remediation="""
Name the stack's issuer (the internal CA ClusterIssuer, or the ACME ClusterIssuer for public
names) with its kind.""",
    check=check_for(NAME),
)
