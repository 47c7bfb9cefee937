"""networkpolicy-disallow-metadata-egress: no NetworkPolicy lets pods reach the cloud's instance
metadata service.

The metadata service hands any caller on the node the node's cloud credentials (AWS IMDS, GCP and
Azure metadata servers; the Kubernetes security checklist: "restrict access to the cloud metadata
API"). A NetworkPolicy egress rule allows it when one of its ``to[].ipBlock.cidr`` ranges contains a
metadata address that the block's ``except`` list does not take out, on a port the rule allows:
``169.254.169.254`` (AWS, GCP, Azure), ``169.254.170.2`` (AWS ECS and EKS Pod Identity credentials)
and ``fd00:ec2::254`` (AWS over IPv6), all served over TCP port 80. A rule's ports allow port 80
when it lists none, or an entry with no port, port 80, or a range (``endPort``) holding it, for TCP
(the default protocol). Named ports name ports of pods, which the metadata service is not, so they
do not count. A rule that reaches everyone or the whole internet with the private ranges (a rule
with no ``to``, ``0.0.0.0/0``, halves of it...) is networkpolicy-disallow-allow-all's finding
(its ``_rule_reach``), not this one's: this policy judges the narrower ranges that still hold a
metadata address (``169.254.0.0/16``, ``169.0.0.0/8``, ``fd00:ec2::/32``...).
"""
from __future__ import annotations

import ipaddress

from pulumi_policy import Severity

from .._lib.framework import finding, nist_800_171, resource_policy
from .._lib.k8s import get_int, get_map, get_str, maps, strings
from ..networkpolicy_disallow_allow_all import _rule_reach

METADATA = tuple(ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254"))
METADATA_PORT = 80


def _net(text, path):
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


def _reaches(block, path):
    cidr = _net(get_str(block, "cidr", path) or "", path)
    if cidr is None:
        return []
    excepts = [n for n in (_net(e, path) for e in strings(block, "except", path)) if n is not None]
    return [str(a) for a in METADATA if a.version == cidr.version and a in cidr
            and not any(e.version == a.version and a in e for e in excepts)]


def _port_80(rule, path) -> bool:
    entries = list(maps(rule, "ports", path))
    if not entries:
        return True
    for _, entry, epath in entries:
        if (get_str(entry, "protocol", epath) or "TCP") != "TCP":
            continue
        if "port" not in entry:
            return True
        port = entry.get("port")
        if isinstance(port, str):
            continue  # a named port names a pod's port; the metadata service is no pod
        start = get_int(entry, "port", epath)
        end = get_int(entry, "endPort", epath) or start
        if start is not None and start <= METADATA_PORT <= end:
            return True
    return False


def check(obj, config):
    spec = obj.spec
    for _, rule, path in maps(spec, "egress", "spec"):
        if not _port_80(rule, path) or _rule_reach(rule, "to", path)[0] is not None:
            continue
        for _, peer, ppath in maps(rule, "to", path):
            if "ipBlock" not in peer:
                continue
            hit = _reaches(get_map(peer, "ipBlock", ppath), f"{ppath}.ipBlock")
            if hit:
                yield finding("metadata-reachable", f"{ppath}.ipBlock allows egress to the cloud metadata service "
                                                    f"({', '.join(hit)}), which hands out the node's credentials; add "
                                                    f"{', '.join(a + ('/32' if '.' in a else '/128') for a in hit)} to "
                                                    "its except list, or narrow the cidr")


POLICY = resource_policy(
    name="networkpolicy-disallow-metadata-egress",
    description="NetworkPolicy egress never reaches the cloud instance metadata service (169.254.169.254, "
                "169.254.170.2, fd00:ec2::254).",
    kinds=[("networking.k8s.io", "NetworkPolicy")],
    severity=Severity.HIGH,
    control=nist_800_171("3.13.6"),
    tags=["cmmc:SC.L2-3.13.6", "iec62443:SR 5.1", "iec62443:SR 5.2", "nist800-207:tenet-5", "nist800-207:tenet-6"],
    remediation="""
Add the metadata addresses to the ipBlock's except list (169.254.169.254/32, 169.254.170.2/32,
fd00:ec2::254/128), or allow only the exact ranges the pods need. Workloads get cloud credentials
through IRSA or Workload Identity, never from the node.""",
    check=check,
)
