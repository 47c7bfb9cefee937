"""bucket-enforce-public-access-block: an S3 public access block turns on all four settings.

Each of the four closes a different path: ``blockPublicAcls`` (no new public ACL),
``ignorePublicAcls`` (existing public ACLs have no effect), ``blockPublicPolicy`` (no bucket
policy granting public access) and ``restrictPublicBuckets`` (cross-account access only by the
account's own principals and AWS services). One left false is enough to publish audit evidence
or CUI.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Iterator

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.k8s import Obj, get_bool

SETTINGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


def check(obj: Obj, config: Mapping[str, Any]) -> Iterator[str]:
    off = [s for s in SETTINGS if get_bool(obj.props, s, "") is not True]
    if off:
        yield (f"{', '.join(off)} {'is' if len(off) == 1 else 'are'} not true: the bucket can still be made public; "
               "set all four to true")


POLICY = resource_policy(
    name="bucket-enforce-public-access-block",
    description="S3 public access blocks set blockPublicAcls, blockPublicPolicy, ignorePublicAcls and "
                "restrictPublicBuckets to true.",
    kinds=[("aws:s3", "BucketPublicAccessBlock"), ("aws:s3", "AccountPublicAccessBlock")],
    severity=Severity.HIGH,
    control=nist_800_171("3.1.22"),
    tags=["cmmc:AC.L1-3.1.22", "cmmc:SC.L2-3.13.1", "iec62443:SR 5.1", "nist800-171:3.13.1", "nist800-207:tenet-3"],
    remediation="""
Create an aws.s3.BucketPublicAccessBlock for the bucket with block_public_acls, block_public_policy,
ignore_public_acls and restrict_public_buckets all True (components/compliance.py does this for the
audit-log bucket); better still, also set the account-level block (aws.s3.AccountPublicAccessBlock).""",
    check=check,
)
