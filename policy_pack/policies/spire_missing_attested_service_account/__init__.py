"""spire-missing-attested-service-account: every ``namespace:name`` in SPIRE's k8s_psat ``service_account_allow_list`` names a ServiceAccount of the input.

The SPIRE server's k8s_psat node attestor admits an agent only if the projected token's
ServiceAccount is in ``service_account_allow_list`` (spiffe/spire
pkg/server/plugin/nodeattestor/k8spsat/psat.go, ``ClusterConfig.ServiceAccountAllowList``, entries
``namespace:name``). An entry naming no ServiceAccount means no agent attests, no workload gets an
SVID, and every meshed pod waits for an identity that never comes. The list is read from the
server's ConfigMap (``server.conf``, JSON as the spire chart renders it, or HCL).

The reference model lives in ``policy_pack/policies/_lib/wiring.py`` (``dangling_psat_allow_list``), shared with the
tests, which run it on the rendered prod stack (tests/wiring/).
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, stack_policy
from .._lib.wiring import KINDS, check_for

NAME = "spire-missing-attested-service-account"

POLICY = stack_policy(
    name=NAME,
    description="Every entry of SPIRE's k8s_psat service_account_allow_list names a ServiceAccount that exists.",
    kinds=KINDS[NAME],
    severity=Severity.HIGH,
    control=nist_800_171("3.5.2"),
    tags=['cmmc:IA.L2-3.5.2', 'iec62443:SR 1.2', 'nist800-207:tenet-6'],
    remediation="""
List the agent DaemonSet's real namespace and serviceAccountName (with the spire chart:
spire-server.nodeAttestor.k8sPSAT.serviceAccountAllowList, since the chart's default
<agent namespace>:<release>-agent ignores the agent's serviceAccount.name).""",
    check=check_for(NAME),
)
