"""iampolicy-disallow-wildcard-actions: no IAM policy of the stack allows ``*`` or a whole service
(``s3:*``), or allows through ``NotAction``.

A wildcard action grants every action the service has and every one it will ever add, including
the ones that change permissions (``iam:*`` is account takeover, ``kms:*`` on a key is its
deletion). Anchors: CIS AWS Foundations Benchmark 1.16 (no full ``*:*`` administrative privileges),
checkov CKV_AWS_63 (no ``*`` actions) and CKV_AWS_62; issue 22 ("no IAM policy of the stack has *
actions"). Judged: managed policies, inline role/user/group policies and a role's
``inlinePolicies``, parsed with the pack's IAM evaluator (policy_pack/policies/_lib/iam.py).
Prefix wildcards such as ``kms:GenerateDataKey*`` name a family of actions and pass.
"""
from __future__ import annotations

import json

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.iam import wildcard_actions
from .._lib.k8s import get_str, maps


def _judge(text, path):
    if not text:
        return
    try:
        document = json.loads(text)
    except ValueError:
        yield f"{path} is not a JSON policy document"
        return
    if not isinstance(document, dict):
        yield f"{path} is not a JSON policy document"
        return
    for index, action in wildcard_actions(document):
        what = "allows everything except a list (NotAction)" if action == "NotAction" else f"allows {action!r}"
        yield f"{path} Statement[{index}] {what}; list the actions the principal needs"


def check(obj, config):
    yield from _judge(get_str(obj.props, "policy", ""), "policy")
    for _, inline, path in maps(obj.props, "inlinePolicies", ""):
        yield from _judge(get_str(inline, "policy", path), f"{path}.policy")


POLICY = resource_policy(
    name="iampolicy-disallow-wildcard-actions",
    description="IAM policies allow no '*' or 'service:*' action and no NotAction.",
    kinds=[("aws:iam", "Policy"), ("aws:iam", "RolePolicy"), ("aws:iam", "UserPolicy"), ("aws:iam", "GroupPolicy"),
           ("aws:iam", "Role")],
    severity=Severity.HIGH,
    control=nist_800_171("3.1.5"),
    tags=["cis-aws:1.16", "checkov:CKV_AWS_62", "checkov:CKV_AWS_63", "cmmc:AC.L2-3.1.5", "iec62443:SR 2.1"],
    remediation="""
List the actions the role needs (the stack's roles: components/audit.py write_only_policy,
components/vault.py role_policy, components/storage.py csi_key_policy); AWS managed policies for
EKS (worker, ECR pull, CNI, EBS CSI) are attached by ARN rather than copied.""",
    check=check,
)
