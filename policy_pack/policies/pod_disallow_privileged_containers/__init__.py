"""pod-disallow-privileged-containers: no container runs privileged.

A privileged container holds every Linux capability and every host device, and escapes its
isolation with one mount. Applies to every container of every pod-bearing kind (init and
ephemeral containers too).
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.k8s import POD_KINDS, PodSpec, container_findings, get_bool


def _container(c):
    if get_bool(c.security_context, "privileged", c.sc_path):
        yield (f"{c.label} runs privileged ({c.sc_path}.privileged: true); remove the field or set it "
               "to false, and grant a single capability instead if one is truly needed")


def check(obj, config):
    yield from container_findings(PodSpec(obj), _container)


POLICY = resource_policy(
    name="pod-disallow-privileged-containers",
    description="Containers must not run privileged.",
    kinds=POD_KINDS,
    severity=Severity.CRITICAL,
    control=nist_800_171("3.1.7"),
    tags=["cmmc:AC.L2-3.1.7", "cmmc:AC.L2-3.1.5", "iec62443:SR 2.1", "nist800-207:tenet-5", "cis-k8s:5.2.2"],
    remediation="""
Remove securityContext.privileged from every container (or set it to false). If a system component
truly needs a privileged container (a kernel driver or probe), give it a named entry in
policy_pack/exemptions.yaml with its reason and an expiry date, and let its namespace carry the
`privileged` Pod Security level there.""",
    check=check,
)
