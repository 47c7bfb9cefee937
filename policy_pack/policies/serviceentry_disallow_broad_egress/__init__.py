"""serviceentry-disallow-broad-egress: no ServiceEntry opens the mesh's egress to every host, or to
the cloud metadata endpoint.

Under REGISTRY_ONLY egress, a ServiceEntry is the allow list of external destinations
(istio.io/latest/docs/ops/best-practices/security, "Egress"; networking/v1 ServiceEntry). Refused:

- a host that is ``*`` or a wildcard over a whole public suffix (``*.com``: one label after the
  ``*.``): the allow list then allows everything;
- an address (``spec.addresses``) or endpoint address (``spec.endpoints[].address``) that is a CIDR
  covering every address (``0.0.0.0/0``, ``::/0``, or a prefix of length 0 to 1);
- the instance metadata services of the clouds, which hand out the node's credentials: the hosts
  ``metadata.google.internal``, ``metadata.goog`` and ``metadata``, and the addresses
  ``169.254.169.254`` (AWS, GCP, Azure), ``fd00:ec2::254`` (AWS over IPv6), ``169.254.170.2`` (AWS
  ECS/EKS Pod Identity credentials), in a host, an address or an endpoint.
"""
from __future__ import annotations

import ipaddress

from pulumi_policy import Severity

from .._lib.framework import finding, nist_800_171, resource_policy
from .._lib.k8s import get_str, maps, strings

METADATA_HOSTS = ("metadata.google.internal", "metadata.goog", "metadata")
METADATA_ADDRESSES = tuple(ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "169.254.170.2"))


def _network(text: str):
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


def _metadata(text: str) -> bool:
    if text.strip().rstrip(".").lower() in METADATA_HOSTS:
        return True
    net = _network(text)
    return net is not None and any(a.version == net.version and a in net for a in METADATA_ADDRESSES)


def check(obj, config):
    spec = obj.spec
    for i, host in enumerate(strings(spec, "hosts", "spec")):
        labels = host.split(".")
        if host == "*" or (labels[0] == "*" and len(labels) == 2):
            yield finding("wildcard-host", f"spec.hosts[{i}] is {host!r}: every host under it becomes an allowed "
                                           "egress destination; list the exact hosts the workloads call")
        if _metadata(host):
            yield finding("metadata-endpoint", f"spec.hosts[{i}] is {host!r}, the cloud metadata service, which "
                                               "hands out the node's credentials; remove it")
    places = [(f"spec.addresses[{i}]", a) for i, a in enumerate(strings(spec, "addresses", "spec"))]
    places += [(f"{path}.address", get_str(e, "address", path) or "") for _, e, path in maps(spec, "endpoints", "spec")]
    for path, address in places:
        net = _network(address)
        if net is not None and net.prefixlen <= 1:
            yield finding("every-address", f"{path} is {address!r}, which covers every address: the mesh's egress "
                                           "allow list then allows the whole internet; list the exact addresses")
        elif _metadata(address):
            yield finding("metadata-endpoint", f"{path} is {address!r}, the cloud metadata service, which hands out "
                                               "the node's credentials; remove it")


POLICY = resource_policy(
    name="serviceentry-disallow-broad-egress",
    description="ServiceEntries name exact external destinations: no wildcard-everything host, no all-address "
                "CIDR, no cloud metadata endpoint.",
    kinds=[("networking.istio.io", "ServiceEntry")],
    severity=Severity.HIGH,
    control=nist_800_171("3.13.6"),
    tags=["cmmc:SC.L2-3.13.6", "iec62443:SR 5.1", "iec62443:SR 5.2", "nist800-207:tenet-5"],
    remediation="""
List the exact external hosts (and, for TCP, the exact addresses) the workloads call. Never
admit the cloud metadata service (169.254.169.254, fd00:ec2::254, metadata.google.internal):
workloads get cloud credentials through IRSA/Workload Identity, not the node's.""",
    check=check,
)
