"""serviceaccount-missing-irsa-trust: a ServiceAccount's ``eks.amazonaws.com/role-arn`` names an IAM role of the stack whose trust policy names this exact ServiceAccount and the token's audience.

IRSA works only when three names agree: the annotation's role ARN, the role the stack
creates (its fixed ``name``: a generated name is known only after creation), and the role's trust
policy, an Allow of ``sts:AssumeRoleWithWebIdentity`` for the cluster's OIDC provider with
``<issuer>:sub`` equal to ``system:serviceaccount:<namespace>:<name>`` and ``<issuer>:aud`` equal
to the token's audience (``eks.amazonaws.com/audience``, default ``sts.amazonaws.com``: the EKS
Pod Identity Webhook's default). Any mismatch and STS refuses the token: the pod has no AWS
access, and the data path it serves (an audit trail, KMS auto-unseal) is dead. Judged when the
input holds IAM roles (``pulumi preview``, a render's resources.json).

The reference model lives in ``policy_pack/policies/_lib/wiring.py`` (``dangling_irsa``), shared with the
tests, which run it on the rendered prod stack (tests/wiring/).
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, stack_policy
from .._lib.wiring import KINDS, check_for

NAME = "serviceaccount-missing-irsa-trust"

POLICY = stack_policy(
    name=NAME,
    description="An IRSA role annotation names an IAM role of the stack that trusts exactly this ServiceAccount and audience.",
    kinds=KINDS[NAME],
    severity=Severity.HIGH,
    control=nist_800_171("3.5.2"),
    tags=['cmmc:AC.L1-3.1.1', 'cmmc:IA.L2-3.5.2', 'iec62443:SR 1.2', 'nist800-171:3.1.1', 'nist800-207:tenet-6'],
    remediation="""
Give the role a fixed name and annotate the ServiceAccount with arn:<partition>:iam::<account>:role/<that name>;
its trust policy's StringEquals must hold <issuer>:sub = system:serviceaccount:<namespace>:<name> and
<issuer>:aud = sts.amazonaws.com (or the ServiceAccount's eks.amazonaws.com/audience).""",
    check=check_for(NAME),
)
