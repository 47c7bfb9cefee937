"""A small IAM policy evaluator for key policies and identity policies (stdlib only).

It decides one request against one policy document the way AWS's evaluation logic does for the
parts the stack's policies use (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):

* an explicit ``Deny`` that matches wins; otherwise an ``Allow`` that matches allows; otherwise
  the request is implicitly denied;
* ``Action``/``NotAction`` with ``*`` and ``?`` wildcards, case-insensitive (action names are);
* ``Principal``/``NotPrincipal``: ``"*"``, ``{"AWS": ...}`` (a role, a user, or an account:
  ``arn:aws:iam::<account>:root`` or the bare account id, which matches every principal of that
  account *whose IAM policy also allows*: :func:`allowed` models it with ``iam_allows``),
  ``{"Service": ...}``;
* ``Condition`` operators ``StringEquals``, ``StringNotEquals``, ``StringLike``, ``StringNotLike``,
  ``ArnEquals``, ``ArnLike``, ``ArnNotEquals``, ``ArnNotLike``, ``Bool``, ``NumericLessThan``,
  ``NumericLessThanEquals``, ``NumericGreaterThan``, each with the ``...IfExists`` suffix. Several
  values of one key are ORed, several keys and operators ANDed; a missing key fails an operator
  (except the negated ones and ``IfExists``, which pass), as AWS evaluates them.

A key policy is the primary authority for a KMS key: a principal named in it needs no IAM policy,
while a statement naming the account delegates to IAM (``iam_allows``).
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from collections.abc import Mapping
from typing import Any, Iterable, Optional


@dataclass(frozen=True)
class Request:
    """One API call: who (an IAM ARN or a service principal), what, and its context keys."""

    principal: str
    action: str
    context: Mapping[str, Any] = field(default_factory=dict)
    service: bool = False  # the principal is an AWS service principal (delivery.logs.amazonaws.com)

    @property
    def account(self) -> Optional[str]:
        parts = self.principal.split(":")
        return parts[4] if len(parts) > 4 and parts[4].isdigit() else None


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _glob(pattern: str, value: str, case: bool = True) -> bool:
    if not case:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern)


def action_matches(patterns: Iterable[str], action: str) -> bool:
    return any(_glob(p, action, case=False) for p in patterns)


def _account_of(arn: str) -> Optional[str]:
    if arn.isdigit() and len(arn) == 12:
        return arn
    parts = arn.split(":")
    if len(parts) >= 6 and parts[5] == "root":
        return parts[4]
    return None


def principal_matches(principal: Any, request: Request) -> tuple[bool, bool]:
    """(matches, through the account): whether the statement's principal covers the request,
    and whether only as the account (so IAM must allow too)."""
    if principal == "*" or principal == {"AWS": "*"}:
        return True, False
    if not isinstance(principal, Mapping):
        return False, False
    if request.service:
        return request.principal in _as_list(principal.get("Service")), False
    for entry in _as_list(principal.get("AWS")):
        if entry == "*" or entry == request.principal:
            return True, False
        account = _account_of(str(entry))
        if account and account == request.account:
            # the root user itself is the account; anyone else in it needs IAM's say-so
            return True, not request.principal.endswith(":root")
    return False, False


def _numeric(a: Any, b: Any, op: str) -> bool:
    try:
        x, y = float(a), float(b)
    except (TypeError, ValueError):
        return False
    return {"NumericLessThan": x < y, "NumericLessThanEquals": x <= y, "NumericGreaterThan": x > y}[op]


def _one(op: str, actual: Any, expected: list) -> bool:
    actual_values = [str(v) for v in _as_list(actual)]
    if op in ("StringEquals", "ArnEquals"):
        return any(a == str(e) for a in actual_values for e in expected)
    if op in ("StringLike", "ArnLike"):
        return any(_glob(str(e), a) for a in actual_values for e in expected)
    if op == "Bool":
        return any(a.lower() == str(e).lower() for a in actual_values for e in expected)
    if op.startswith("Numeric"):
        return any(_numeric(a, e, op) for a in actual_values for e in expected)
    raise ValueError(f"condition operator {op} is not modelled")


_NEGATED = {"StringNotEquals": "StringEquals", "StringNotLike": "StringLike", "ArnNotEquals": "ArnEquals",
            "ArnNotLike": "ArnLike"}


def condition_holds(condition: Optional[Mapping[str, Mapping[str, Any]]], context: Mapping[str, Any]) -> bool:
    for raw_op, keys in (condition or {}).items():
        if_exists = raw_op.endswith("IfExists")
        op = raw_op[:-len("IfExists")] if if_exists else raw_op
        for key, expected in keys.items():
            present = key in context
            if not present:
                if if_exists or op in _NEGATED:
                    continue
                return False
            values = _as_list(expected)
            if op in _NEGATED:
                if _one(_NEGATED[op], context[key], values):
                    return False
            elif not _one(op, context[key], values):
                return False
    return True


def statement_applies(stmt: Mapping[str, Any], request: Request) -> tuple[bool, bool]:
    """(applies, only through the account) for one statement."""
    if "Action" in stmt and not action_matches(_as_list(stmt["Action"]), request.action):
        return False, False
    if "NotAction" in stmt and action_matches(_as_list(stmt["NotAction"]), request.action):
        return False, False
    if "Principal" in stmt:
        matched, via_account = principal_matches(stmt["Principal"], request)
    elif "NotPrincipal" in stmt:
        matched, via_account = not principal_matches(stmt["NotPrincipal"], request)[0], False
    else:  # an identity policy: the principal is whoever holds it
        matched, via_account = True, False
    if not matched or not condition_holds(stmt.get("Condition"), request.context):
        return False, False
    return True, via_account


def decide(policy: Mapping[str, Any], request: Request, iam_allows: bool = False) -> str:
    """``"Deny"`` (explicit), ``"Allow"`` or ``"ImplicitDeny"``. *iam_allows*: the principal's
    own IAM policies allow the action (counts only where a statement names the account)."""
    allowed_ = False
    for stmt in _as_list(policy.get("Statement")):
        applies, via_account = statement_applies(stmt, request)
        if not applies:
            continue
        if stmt.get("Effect") == "Deny":
            return "Deny"
        if stmt.get("Effect") == "Allow" and (not via_account or iam_allows):
            allowed_ = True
    return "Allow" if allowed_ else "ImplicitDeny"


def allowed(policy: Mapping[str, Any], request: Request, iam_allows: bool = False) -> bool:
    return decide(policy, request, iam_allows) == "Allow"


def wildcard_actions(policy: Mapping[str, Any]) -> list[tuple[int, str]]:
    """``(statement index, action)`` of every Allow that grants ``*`` or a whole service
    (``s3:*``), or grants through ``NotAction`` (everything but a list)."""
    out = []
    for i, stmt in enumerate(_as_list(policy.get("Statement"))):
        if not isinstance(stmt, Mapping) or stmt.get("Effect") != "Allow":
            continue
        for action in _as_list(stmt.get("Action")):
            if isinstance(action, str) and (action == "*" or action.endswith(":*")):
                out.append((i, action))
        if "NotAction" in stmt:
            out.append((i, "NotAction"))
    return out
