"""kms-enable-key-rotation: every symmetric AWS KMS key rotates automatically, at least as often
as the rotation policy's encryption-key period (the seed: 365 days)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Iterator

from pulumi_policy import Severity

from .._lib.framework import finding, nist_800_171, resource_policy
from .._lib.k8s import Obj, get_bool, get_int, get_str

#: Key specs AWS can rotate automatically (asymmetric and HMAC keys cannot be).
_ROTATABLE = ("SYMMETRIC_DEFAULT",)
KMS_MIN_DAYS = 90


def check(obj: Obj, config: Mapping[str, Any]) -> Iterator[str]:
    props = obj.props
    spec = get_str(props, "customerMasterKeySpec", "") or get_str(props, "keySpec", "") or "SYMMETRIC_DEFAULT"
    if spec not in _ROTATABLE:
        return  # AWS offers no automatic rotation for asymmetric or HMAC keys
    if get_str(props, "keyUsage", "") not in (None, "ENCRYPT_DECRYPT"):
        return
    if get_bool(props, "enableKeyRotation", "") is not True:
        yield finding("rotation-off", "enableKeyRotation is not true: the key material never changes, so one leaked or broken key "
               "exposes every ciphertext it ever protected")
        return
    days = get_int(props, "rotationPeriodInDays", "")
    maximum = config["maxRotationDays"]
    if days is not None and not KMS_MIN_DAYS <= days <= maximum:
        yield finding("rotation-period", f"rotationPeriodInDays is {days}: the rotation policy allows {KMS_MIN_DAYS} to {maximum} days "
               "(secrets.rotation.encryptionKeyDays)")


POLICY = resource_policy(
    name="kms-enable-key-rotation",
    description="Symmetric AWS KMS keys rotate automatically, at least every maxRotationDays (default 365).",
    kinds=[("aws:kms", "Key")],
    severity=Severity.HIGH,
    control=nist_800_171("3.13.10"),
    tags=["nist800-171:3.13.16", "cmmc:SC.L2-3.13.10", "iec62443:SR 4.3", "seed:key-rotation"],
    remediation="""
Set enable_key_rotation=True and rotation_period_in_days to at most the rotation policy's encryption-key
period (components/vault.py does this from secrets.rotation.encryptionKeyDays; AWS accepts 90 to 2560).
""",
    config={
        "maxRotationDays": {"type": "integer", "minimum": KMS_MIN_DAYS, "maximum": 2560, "default": 365,
                            "description": "Longest rotation period allowed (default 365, the seed's policy)."},
    },
    check=check,
)
