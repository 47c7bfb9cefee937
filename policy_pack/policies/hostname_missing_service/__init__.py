"""hostname-missing-service: a ``<service>.<namespace>[.svc[.cluster.local]]`` name written into a ConfigMap or a container's command, args or env resolves to a Service of the stack.

Components find each other by DNS name, written into their configuration. A name that does
not resolve breaks the path silently: the SPIRE agent's ``server_address`` pointed at
``<release>-server.spire-server`` while the Service is ``spire-server/spire-server``, so no node
ever attested. Names are read from every ConfigMap value and every container's command, args and
env values, as whole host names (``vault-active.vault.svc:8200``,
``https://spire-server.spire-server:443``; a headless Service's pods,
``<pod>.<service>.<namespace>.svc``). Only names whose namespace the input holds are judged
(``example.com`` or ``lego-mcp.io`` are not cluster names unless a namespace ``com`` or ``io``
exists), and a namespace must hold Services in the input (or the input be a whole stack).

The reference model lives in ``policy_pack/policies/_lib/wiring.py`` (``dangling_service_names``), shared with the
tests, which run it on the rendered prod stack (tests/wiring/).
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, stack_policy
from .._lib.wiring import KINDS, check_for

NAME = "hostname-missing-service"

POLICY = stack_policy(
    name=NAME,
    description="A cluster DNS name (<service>.<namespace>[.svc[.cluster.local]]) in a ConfigMap, command, args or env resolves to a Service.",
    kinds=KINDS[NAME],
    severity=Severity.MEDIUM,
    control=nist_800_171("3.4.2"),
    tags=['cmmc:CM.L2-3.4.2', 'iec62443:SR 7.6', 'nist800-207:tenet-5'],
    remediation="""
Write the Service's real name: a chart's fullnameOverride renames its objects, not every
reference the chart computes to them (set the chart's own address value, e.g. the spire-agent
chart's server.address).""",
    check=check_for(NAME),
)
