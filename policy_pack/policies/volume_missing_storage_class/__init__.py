"""volume-missing-storage-class: a ``storageClassName`` names a StorageClass of the stack.

A claim naming a StorageClass that does not exist stays Pending and its pod never starts;
worse, once someone creates a class of that name, the data lands wherever that class puts it
(not necessarily encrypted with the stack's key). Judged on PersistentVolumeClaims, PersistentVolumes,
StatefulSet volumeClaimTemplates and generic ephemeral volumes, when the input holds StorageClasses
or is a whole stack; ``""`` (no class, static binding) is not judged.

The reference model lives in ``policy_pack/policies/_lib/wiring.py`` (``dangling_storage_classes``), shared with the
tests, which run it on the rendered prod stack (tests/wiring/).
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, stack_policy
from .._lib.wiring import KINDS, check_for

NAME = "volume-missing-storage-class"

POLICY = stack_policy(
    name=NAME,
    description="A claim's storageClassName names a StorageClass that exists.",
    kinds=KINDS[NAME],
    severity=Severity.MEDIUM,
    control=nist_800_171("3.13.16"),
    tags=['cmmc:SC.L2-3.13.16', 'iec62443:SR 4.1', 'nist800-207:tenet-5'],
    remediation="""
Name the stack's StorageClass (storage.className, default gp3-encrypted), or add the class
the claim needs to the stack.""",
    check=check_for(NAME),
)
