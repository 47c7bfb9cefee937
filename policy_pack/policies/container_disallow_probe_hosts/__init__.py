"""container-disallow-probe-hosts: probes and lifecycle hooks target the pod itself, never another host.

The ``hostProbesAndHostLifecycle`` check (baseline from v1.34; the pack applies it already):
``host`` of the ``httpGet`` and ``tcpSocket`` actions of every container's liveness, readiness and
startup probes and postStart/preStop hooks (init and ephemeral containers too) is unset or empty.
The kubelet performs these requests from the node's network: a host field lets a pod make the
node connect to any address it can reach (the cloud metadata service, the node's own ports).
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.k8s import POD_KINDS, PodSpec, container_findings, get_map, get_str, join

_PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
_HOOKS = ("postStart", "preStop")
_ACTIONS = ("httpGet", "tcpSocket")


def _handler(c, handler, path):
    for action in _ACTIONS:
        spec = get_map(handler, action, path)
        host = get_str(spec, "host", join(path, action))
        if host:
            yield (f"{c.label} makes the kubelet connect to host {host!r} ({path}.{action}.host); remove host "
                   "(the probe then targets the pod's own IP)")


def _container(c):
    for probe in _PROBES:
        yield from _handler(c, get_map(c.obj, probe, c.path), join(c.path, probe))
    lifecycle = get_map(c.obj, "lifecycle", c.path)
    for hook in _HOOKS:
        yield from _handler(c, get_map(lifecycle, hook, join(c.path, "lifecycle")), join(c.path, f"lifecycle.{hook}"))


def check(obj, config):
    yield from container_findings(PodSpec(obj), _container)


POLICY = resource_policy(
    name="container-disallow-probe-hosts",
    description="Container probes and lifecycle hooks must not set a host (the kubelet would connect to it from the node).",
    kinds=POD_KINDS,
    severity=Severity.MEDIUM,
    control=nist_800_171("3.13.1"),
    tags=["cmmc:SC.L1-3.13.1", "iec62443:SR 5.2", "nist800-207:tenet-5", "cis-k8s:5.2.1",
          "pss:hostProbesAndHostLifecycle"],
    remediation="""
Remove host from the httpGet and tcpSocket actions of every probe and lifecycle hook: the kubelet
then targets the pod's own IP. To check a dependency, do it inside the container (an exec probe or
the application's own readiness logic).""",
    check=check,
)
