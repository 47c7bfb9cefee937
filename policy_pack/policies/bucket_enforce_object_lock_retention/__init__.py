"""bucket-enforce-object-lock-retention: an S3 Object Lock configuration keeps every object
version in COMPLIANCE mode for at least the audit-retention period (default 2555 days: the seven
years the seed's audit logger keeps, for CMMC).

COMPLIANCE mode is the only mode nobody can shorten or lift, the account root included; GOVERNANCE
can be bypassed by any principal with ``s3:BypassGovernanceRetention``, so audit evidence under it
can still be destroyed by a compromised administrator. Judges ``aws:s3`` BucketObjectLockConfiguration
(and its ``V2`` alias): ``objectLockEnabled`` not disabled, ``rule.defaultRetention.mode`` and the
retention (``days``, or ``years`` as 365 days each).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Iterator

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.k8s import Obj, get_int, get_map, get_str


def check(obj: Obj, config: Mapping[str, Any]) -> Iterator[str]:
    props = obj.props
    enabled = get_str(props, "objectLockEnabled", "")
    if enabled not in (None, "Enabled"):
        yield f"objectLockEnabled is {enabled!r}: Object Lock must be Enabled"
    retention = get_map(get_map(props, "rule", ""), "defaultRetention", "rule")
    if not retention:
        yield ("no rule.defaultRetention: objects are not locked unless each writer asks for it; set mode COMPLIANCE "
               f"and days >= {config['minRetentionDays']}")
        return
    mode = get_str(retention, "mode", "rule.defaultRetention")
    if mode not in config["allowedModes"]:
        yield (f"rule.defaultRetention.mode is {mode or 'unset'}: use {' or '.join(config['allowedModes'])} "
               "(GOVERNANCE retention can be bypassed with s3:BypassGovernanceRetention)")
    days = get_int(retention, "days", "rule.defaultRetention")
    years = get_int(retention, "years", "rule.defaultRetention")
    total = days if days is not None else (years * 365 if years is not None else None)
    minimum = config["minRetentionDays"]
    if total is None or total < minimum:
        yield (f"rule.defaultRetention keeps objects {total if total is not None else 'no'} days: audit records must "
               f"be kept at least {minimum} days (minRetentionDays)")


POLICY = resource_policy(
    name="bucket-enforce-object-lock-retention",
    description="S3 Object Lock keeps objects in COMPLIANCE mode for at least minRetentionDays (default 2555).",
    kinds=[("aws:s3", "BucketObjectLockConfiguration"), ("aws:s3", "BucketObjectLockConfigurationV2")],
    severity=Severity.HIGH,
    control=nist_800_171("3.3.1"),
    tags=["cmmc:AU.L2-3.3.1", "cmmc:AU.L2-3.3.8", "iec62443:SR 2.9", "iec62443:SR 3.9", "nist800-171:3.3.8",
          "nist800-207:tenet-7", "seed:audit-retention"],
    remediation="""
Set rule.defaultRetention to mode COMPLIANCE with days at least minRetentionDays (components/compliance.py
does this from compliance.auditRetention.retentionDays, default 2555). Object Lock needs versioning and
must be enabled on the bucket (object_lock_enabled=True).""",
    config={
        "minRetentionDays": {"type": "integer", "minimum": 1, "maximum": 36500, "default": 2555,
                             "description": "Shortest retention allowed (default 2555 days = 7 years, CMMC)."},
        "allowedModes": {"type": "array", "items": {"type": "string", "enum": ["COMPLIANCE", "GOVERNANCE"]},
                         "minItems": 1, "default": ["COMPLIANCE"],
                         "description": "Retention modes allowed (default COMPLIANCE only)."},
    },
    check=check,
)
