"""externalsecret-missing-store: an ExternalSecret's ``secretStoreRef`` (and each ``sourceRef.storeRef``) names a store that exists.

An ExternalSecret whose store does not exist never writes its Secret, and the workload that
mounts it does not start. ``secretStoreRef.kind`` defaults to SecretStore (in the ExternalSecret's
namespace); ClusterSecretStore is cluster-scoped (external-secrets apis/externalsecrets/v1,
``SecretStoreRef``).

The reference model lives in ``policy_pack/policies/_lib/wiring.py`` (``dangling_secret_stores``), shared with the
tests, which run it on the rendered prod stack (tests/wiring/).
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, stack_policy
from .._lib.wiring import KINDS, check_for

NAME = "externalsecret-missing-store"

POLICY = stack_policy(
    name=NAME,
    description="An ExternalSecret's SecretStore or ClusterSecretStore exists.",
    kinds=KINDS[NAME],
    severity=Severity.MEDIUM,
    control=nist_800_171("3.13.10"),
    tags=['cmmc:SC.L2-3.13.10', 'iec62443:SR 1.5', 'nist800-171:3.13.16'],
    remediation="""
Name the store the stack creates for the namespace (TenantSecretIsolation: vault-<namespace>,
or the platform's vault-backend ClusterSecretStore), with its kind.""",
    check=check_for(NAME),
)
