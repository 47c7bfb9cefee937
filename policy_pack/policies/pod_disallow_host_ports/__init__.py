"""pod-disallow-host-ports: no container binds a port on the node (hostPort).

A hostPort opens the node's own address to the pod, outside Services and NetworkPolicies, and
pins the pod to nodes where the port is free. Every container is judged (init and ephemeral too,
as the Pod Security Standards' ``hostPorts`` check does).
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.k8s import POD_KINDS, PodSpec, container_findings, get_int, maps


def _container(c):
    for _, port, path in maps(c.obj, "ports", c.path):
        host_port = get_int(port, "hostPort", path)
        if host_port:
            yield (f"{c.label} binds node port {host_port} ({path}.hostPort); remove hostPort and "
                   "expose the port through a Service")


def check(obj, config):
    yield from container_findings(PodSpec(obj), _container)


POLICY = resource_policy(
    name="pod-disallow-host-ports",
    description="Containers must not bind ports on the node (hostPort).",
    kinds=POD_KINDS,
    severity=Severity.MEDIUM,
    control=nist_800_171("3.4.7"),
    tags=["cmmc:CM.L2-3.4.7", "iec62443:SR 7.7", "iec62443:SR 5.1", "cis-k8s:5.2.13"],
    remediation="""
Remove ports[].hostPort from every container and publish the port with a ClusterIP Service (and
the TLS ingress gateway for traffic from outside the cluster).""",
    check=check,
)
