"""Key policies with separation of duties for every KMS key the stack creates (issue 23, item 2).

AWS's default key policy gives the account root ``kms:*`` ("Allows access to the AWS account and
enables IAM policies", https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html):
any principal whose IAM policy says ``kms:*`` may then use the key, disable it or schedule its
deletion, which would crypto-shred the COMPLIANCE-locked audit archive. The policies built here
follow AWS KMS's best practices instead ("Least Privilege / Separation of Duties",
https://docs.aws.amazon.com/whitepapers/latest/kms-best-practices/least-privilege-separation-of-duties.html:
separate usage from administration, no ``kms:*``, and a top-level explicit deny of the KMS operations
to every principal but the ones that need them, so nobody can grant themselves access; services get
"only the permissions that it requires", https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-services.html):

* **administrators** (``cluster.keyAdmins``; ``vault.keyAdmins`` for the unseal key) manage the key:
  describe it, tag it, enable it, rotate it, cancel a scheduled deletion, manage its aliases,
  revoke grants. They may **not** use it (Encrypt/Decrypt/GenerateDataKey*/ReEncrypt*), rewrite
  its policy (``kms:PutKeyPolicy``), create grants (``kms:CreateGrant``: a grant is a second policy),
  disable it, turn rotation off, or schedule its deletion. An explicit ``Deny`` on their ARNs makes
  this hold even when an IAM policy of theirs says ``kms:*`` (an explicit deny wins,
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html);
* **break-glass**: ``DisableKey``, ``DisableKeyRotation``, ``ScheduleKeyDeletion`` and
  ``PutKeyPolicy`` are allowed only to the break-glass role (and the account's root user), only
  with MFA (``aws:MultiFactorAuthPresent``), and denied to every other principal. The statement
  names the account as principal with an ``aws:PrincipalArn`` condition rather than the role's ARN:
  a key policy that names a role binds to the role's unique id, so a deleted and re-created
  break-glass role would lose the key for good; the condition keeps the key manageable (the minimum
  the "allow the account" statement is there for) without giving any other principal of the account
  anything. The break-glass role's own IAM policy allows these actions (components.cluster);
* **users** get only the cryptographic actions their service needs, each with a condition:
  through one AWS service (``kms:ViaService``, https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service)
  and from this account (``kms:CallerAccount``), or as one named role; grants only for AWS
  resources (``kms:GrantIsForAWSResource``).

``kms:CreateKey`` checks that the caller can change the new policy later (the lockout safety check,
https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html). The deployer is a key
administrator and cannot, by design, so keys are created with ``bypass_policy_lockout_safety_check``:
the break-glass statement is what keeps the key manageable. Changing a key policy after creation
is therefore a break-glass operation (docs/cluster.md, "Break glass"). Organisations that enforce
Control Tower's CT.KMS.PV.3 list the deployer in its ExemptedPrincipalArns.
"""
from __future__ import annotations

from typing import Any, Optional

#: Everything an administrator may do. No use, no PutKeyPolicy, no CreateGrant, no Disable*,
#: no ScheduleKeyDeletion (AWS's console "key administrators" statement minus those).
ADMIN_ACTIONS = sorted([
    "kms:CancelKeyDeletion", "kms:CreateAlias", "kms:DeleteAlias", "kms:DescribeKey", "kms:EnableKey",
    "kms:EnableKeyRotation", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListGrants",
    "kms:ListKeyPolicies", "kms:ListKeyRotations", "kms:ListResourceTags", "kms:RevokeGrant",
    "kms:RotateKeyOnDemand", "kms:TagResource", "kms:UntagResource", "kms:UpdateAlias", "kms:UpdateKeyDescription",
])
#: What only the break-glass role may do (with MFA).
BREAK_GLASS_ACTIONS = sorted(["kms:DisableKey", "kms:DisableKeyRotation", "kms:PutKeyPolicy",
                              "kms:ScheduleKeyDeletion"])
#: The cryptographic operations (and grants, which delegate them) an administrator never gets.
CRYPTO_ACTIONS = sorted(["kms:CreateGrant", "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*",
                         "kms:ReEncrypt*"])


def _arn(partition: str, account: str, what: str) -> str:
    return f"arn:{partition}:iam::{account}:{what}"


def via_service_use(service: str, region: str, account: str, actions: list[str], sid: str,
                    encryption_context: Optional[dict[str, str]] = None) -> dict:
    """Use of the key through one AWS service by principals of this account whose IAM policies
    allow it (e.g. S3 SSE-KMS writes, EBS volumes)."""
    condition: dict[str, Any] = {"StringEquals": {"kms:ViaService": f"{service}.{region}.amazonaws.com",
                                                  "kms:CallerAccount": account}}
    for key, value in (encryption_context or {}).items():
        condition["StringEquals"][f"kms:EncryptionContext:{key}"] = value
    return {"Sid": sid, "Effect": "Allow", "Principal": {"AWS": _arn("aws", account, "root")},
            "Action": sorted(actions), "Resource": "*", "Condition": condition}


def role_use(role_arn: Any, actions: list[str], sid: str, grants_for_aws_resources: bool = False) -> list[dict]:
    """Use of the key by one named role (Vault's unseal role, the EKS cluster role)."""
    out = [{"Sid": sid, "Effect": "Allow", "Principal": {"AWS": role_arn}, "Action": sorted(actions),
            "Resource": "*"}]
    if grants_for_aws_resources:
        out.append({"Sid": f"{sid}Grants", "Effect": "Allow", "Principal": {"AWS": role_arn},
                    "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"], "Resource": "*",
                    "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}})
    return out


def service_use(service_principal: str, account: str, actions: list[str], sid: str) -> dict:
    """Use of the key by an AWS service principal on this account's behalf (log delivery)."""
    return {"Sid": sid, "Effect": "Allow", "Principal": {"Service": service_principal}, "Action": sorted(actions),
            "Resource": "*", "Condition": {"StringEquals": {"aws:SourceAccount": account}}}


def key_policy(*, account: str, admins: list[str], break_glass_arn: str, users: list[dict],
               partition: str = "aws") -> dict:
    """The key policy: administrators without use, break-glass for the destructive actions, users
    as given (statements from :func:`via_service_use`, :func:`role_use`, :func:`service_use`)."""
    root_user = _arn(partition, account, "root")
    lifeline = sorted({break_glass_arn, root_user})
    statements: list[dict] = []
    if admins:
        statements.append({"Sid": "KeyAdministrationWithoutUse", "Effect": "Allow",
                           "Principal": {"AWS": sorted(admins)}, "Action": ADMIN_ACTIONS, "Resource": "*"})
    statements.append({
        "Sid": "BreakGlassOnlyWithMfa", "Effect": "Allow", "Principal": {"AWS": root_user},
        "Action": sorted(BREAK_GLASS_ACTIONS + ["kms:DescribeKey", "kms:GetKeyPolicy"]), "Resource": "*",
        "Condition": {"ArnEquals": {"aws:PrincipalArn": lifeline},
                      "Bool": {"aws:MultiFactorAuthPresent": "true"}}})
    statements += users
    if admins:
        statements.append({"Sid": "DenyAdministratorsUseAndGrants", "Effect": "Deny", "Principal": {"AWS": "*"},
                           "Action": CRYPTO_ACTIONS + ["kms:PutKeyPolicy"], "Resource": "*",
                           "Condition": {"ArnEquals": {"aws:PrincipalArn": sorted(admins)}}})
    statements += [
        {"Sid": "DenyDestructiveButBreakGlass", "Effect": "Deny", "Principal": {"AWS": "*"},
         "Action": BREAK_GLASS_ACTIONS, "Resource": "*",
         "Condition": {"ArnNotEquals": {"aws:PrincipalArn": lifeline}}},
        {"Sid": "DenyDestructiveWithoutMfa", "Effect": "Deny", "Principal": {"AWS": "*"},
         "Action": BREAK_GLASS_ACTIONS, "Resource": "*",
         "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}},
        {"Sid": "DenyGrantsButForAwsResources", "Effect": "Deny", "Principal": {"AWS": "*"},
         "Action": ["kms:CreateGrant"], "Resource": "*",
         "Condition": {"BoolIfExists": {"kms:GrantIsForAWSResource": "false"}}},
    ]
    return {"Version": "2012-10-17", "Statement": statements}


def break_glass_role_name(cluster_name: str) -> str:
    """The break-glass role's fixed name (its ARN is known before it exists)."""
    return f"{cluster_name}-break-glass"


def break_glass_arn(cluster_name: str, account: str, partition: str = "aws") -> str:
    return _arn(partition, account, f"role/{break_glass_role_name(cluster_name)}")
