"""kms-enforce-separation-of-duties: a KMS key has an explicit key policy under which nobody
administers and uses the key, nobody can rewrite the policy or grant themselves use on their own,
and nobody can disable or delete the key without MFA.

AWS's default key policy gives the account root ``kms:*``: every principal whose IAM policy says
``kms:*`` may then use the key, disable it or schedule its deletion (crypto-shredding what it
protects). An administrator holding ``kms:PutKeyPolicy`` or ``kms:CreateGrant`` can give themselves
``Decrypt`` (issue 23). AWS's KMS best practices ("Least Privilege / Separation of Duties",
https://docs.aws.amazon.com/whitepapers/latest/kms-best-practices/least-privilege-separation-of-duties.html)
separate administration from use and deny the rest explicitly.

The policy is judged by simulation with the pack's IAM evaluator (policy_pack/policies/_lib/iam.py)
for every AWS principal the policy names and for any other principal of the key's account whose IAM
policy allows everything, without MFA: whoever may ``PutKeyPolicy``, ``CreateGrant`` (other than for
an AWS resource), ``DisableKey`` or ``ScheduleKeyDeletion`` that way, or may both administer
(``EnableKey``, ``TagResource``, ``UpdateAlias``...) and ``Decrypt``, is a finding. ``Allow`` of ``*`` or
``kms:*`` is a finding too.
"""
from __future__ import annotations

import json

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.iam import Request, allowed, wildcard_actions
from .._lib.k8s import get_str

SELF_GRANTING = ("kms:PutKeyPolicy", "kms:CreateGrant")
DESTRUCTIVE = ("kms:ScheduleKeyDeletion", "kms:DisableKey")
ADMINISTRATION = ("kms:EnableKey", "kms:TagResource", "kms:UpdateAlias", "kms:UpdateKeyDescription",
                  "kms:CancelKeyDeletion")


def _principals(document: dict) -> list[str]:
    out = set()
    accounts = set()
    for stmt in document.get("Statement") or []:
        if not isinstance(stmt, dict) or stmt.get("Effect") != "Allow":
            continue
        principal = stmt.get("Principal")
        values = principal.get("AWS") if isinstance(principal, dict) else principal
        for value in values if isinstance(values, list) else [values]:
            if not isinstance(value, str) or value == "*":
                continue
            out.add(value)
            parts = value.split(":")
            if len(parts) > 4 and parts[4].isdigit():
                accounts.add(parts[4])
            elif value.isdigit():
                accounts.add(value)
    # any other principal of the account, with an IAM policy that allows everything
    out |= {f"arn:aws:iam::{a}:role/any-principal-with-kms-star" for a in accounts}
    return sorted(out)


def check(obj, config):
    text = get_str(obj.props, "policy", "")
    if not text:
        yield ("the key has no explicit policy: AWS's default gives the account root kms:*, so any principal with "
               "kms:* in IAM may use, disable or delete the key; set a key policy that separates administration "
               "from use (components/kms.py)")
        return
    try:
        document = json.loads(text)
    except ValueError:
        yield "policy is not a JSON key policy"
        return
    if not isinstance(document, dict):
        yield "policy is not a JSON key policy"
        return
    for index, action in wildcard_actions(document):
        yield f"Statement[{index}] allows {action}: administration and use together; list the actions"
    for principal in _principals(document):
        def may(action: str) -> bool:
            return allowed(document, Request(principal, action, {"aws:PrincipalArn": principal}), iam_allows=True)

        for action in SELF_GRANTING:
            if may(action):
                yield (f"{principal} may {action} on its own (no MFA, not for an AWS resource): it can give itself "
                       "Decrypt; leave policy changes and grants to the break-glass role")
        for action in DESTRUCTIVE:
            if may(action):
                yield f"{principal} may {action} without MFA; only the break-glass role, with MFA, may"
        if may("kms:Decrypt") and any(may(a) for a in ADMINISTRATION):
            yield f"{principal} both administers and uses the key (Decrypt); separate the two duties"


POLICY = resource_policy(
    name="kms-enforce-separation-of-duties",
    description="KMS key policies separate administration from use; nobody rewrites the policy, grants or "
                "destroys the key on their own.",
    kinds=[("aws:kms", "Key"), ("aws:kms", "KeyPolicy")],
    severity=Severity.HIGH,
    control=nist_800_171("3.1.4"),
    tags=["aws-kms-best-practices:least-privilege-separation-of-duties", "cmmc:AC.L2-3.1.4", "cmmc:SC.L2-3.13.10",
          "nist800-171:3.13.10", "iec62443:SR 1.9"],
    remediation="""
Build key policies with components/kms.py key_policy: administrators without use, CreateGrant or
PutKeyPolicy (an explicit Deny on their ARNs); DisableKey, DisableKeyRotation, ScheduleKeyDeletion
and PutKeyPolicy only for the break-glass role with MFA; users only through their service
(kms:ViaService) or as a named role; grants only for AWS resources.""",
    check=check,
)
