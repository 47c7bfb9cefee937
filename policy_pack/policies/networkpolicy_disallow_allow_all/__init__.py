"""networkpolicy-disallow-allow-all: no NetworkPolicy rule allows everything.

NetworkPolicies are additive: one allow-all rule undoes the namespace's default-deny for the pods
it selects. A rule allows everything when its peer list (``from``/``to``) is missing or empty, or
a peer selects everything: ``{}``, a ``namespaceSelector: {}`` without a narrowing podSelector
(every pod of every namespace), or an ``ipBlock`` of the whole internet with no ``except`` on a
rule without ports.
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.k8s import get_list, get_map, get_str, maps, selector_is_empty

EVERYWHERE = ("0.0.0.0/0", "::/0")


def _peer_problem(peer, path):
    if not peer:
        return "an empty peer {} selects everything"
    if "namespaceSelector" in peer:
        ns = get_map(peer, "namespaceSelector", path)
        pods = get_map(peer, "podSelector", path)
        if selector_is_empty(ns, f"{path}.namespaceSelector") and selector_is_empty(pods, f"{path}.podSelector"):
            return "namespaceSelector: {} selects every pod of every namespace"
    return None


def check(obj, config):
    spec = obj.spec
    for direction, peers_key, side in (("ingress", "from", "source"), ("egress", "to", "destination")):
        for _, rule, path in maps(spec, direction, "spec"):
            peers = get_list(rule, peers_key, path)
            if not peers:
                state = "is empty" if rule.get(peers_key) is not None else "is missing"
                yield (f"{path}.{peers_key} {state}, which allows every {side}; "
                       f"name the {side} pods, namespaces or CIDRs")
                continue
            has_ports = bool(get_list(rule, "ports", path))
            for _, peer, peer_path in maps(rule, peers_key, path):
                problem = _peer_problem(peer, peer_path)
                if problem is None and "ipBlock" in peer and not has_ports:
                    block = get_map(peer, "ipBlock", peer_path)
                    if (get_str(block, "cidr", f"{peer_path}.ipBlock") in EVERYWHERE
                            and not get_list(block, "except", f"{peer_path}.ipBlock")):
                        problem = "an ipBlock of the whole internet on every port"
                if problem:
                    yield (f"{peer_path}: {problem}, which allows every {side}; "
                           f"narrow it to the {side}s that need it (and name the ports)")


POLICY = resource_policy(
    name="networkpolicy-disallow-allow-all",
    description="NetworkPolicies must not contain a rule that allows all sources or destinations.",
    kinds=[("networking.k8s.io", "NetworkPolicy")],
    severity=Severity.HIGH,
    control=nist_800_171("3.13.6"),
    tags=["cmmc:SC.L2-3.13.6", "iec62443:SR 5.1", "iec62443:SR 5.2", "nist800-207:3.1.2"],
    remediation="""
Give every ingress rule a `from` and every egress rule a `to` that names the peers (a
namespaceSelector on kubernetes.io/metadata.name with a podSelector, or specific CIDRs), and name
the ports. Traffic to the internet goes through an ipBlock with `except` for private ranges, on
named ports.""",
    check=check,
)
