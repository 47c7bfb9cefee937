"""networkpolicy-disallow-allow-all: no NetworkPolicy rule allows everything, whatever its shape.

NetworkPolicies are additive: one allow-all rule undoes the namespace's default-deny for the pods
it selects. A rule is judged by what it allows, not by its literal form:

- its peers (``from``/``to``) reach **everyone** when the list is missing or empty, or a peer is
  ``{}``; **every pod of every namespace** when a peer's namespaceSelector matches every namespace
  (``{}``, ``Exists`` on ``kubernetes.io/metadata.name``, or a deny-list: ``NotIn``/``DoesNotExist``)
  and its podSelector is as broad; **the internet** when the ``ipBlock`` CIDRs of the rule, minus
  their ``except`` lists, together cover a quarter or more of the public IPv4 space (or of IPv6
  global unicast, 2000::/3): ``0.0.0.0/0``, ``0.0.0.0/1`` + ``128.0.0.0/1``, or ``0.0.0.0/0`` with a
  few addresses punched out are the same thing;
- its ports reach **every port** when ``ports`` is missing or empty, an entry has no ``port`` (every
  port of its protocol), or ``port``..``endPort`` ranges of one protocol together cover 1-65535.

Verdicts. An ingress rule from everyone, from every namespace or from the internet is refused on
any ports: a rule without ``from`` on port 443 and an ``ipBlock 0.0.0.0/0`` rule on port 443 both
expose the pods to the internet and get the same verdict. The one exception is the public entry
point: ingress from everyone or from the internet, on named ports (not every port), to the pods of
an ingress gateway (a policy in one of ``ingressGatewayNamespaces``, or whose podSelector names
gateway pods by label, see :data:`GATEWAY_LABELS`). An egress rule to everyone or to every
namespace is refused on any ports; an egress rule to the internet is allowed on named ports when
its CIDRs leave out the private ranges (RFC 1918 and link-local 169.254.0.0/16, the cloud metadata
endpoint; fc00::/7 and fe80::/10), and refused on every port or when it also reaches them (then it
is the same as a rule without ``to``).
"""
from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Iterable, Optional

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.k8s import Unverifiable, get_int, get_list, get_map, get_str, maps, strings, wrong

#: Labels that mark the pods of an ingress gateway (the public entry point). A podSelector that
#: requires one of these ``(key, value)`` pairs (value None: any value) selects gateway pods.
GATEWAY_LABELS: tuple[tuple[str, Optional[str]], ...] = (
    ("gateway.networking.k8s.io/gateway-name", None),   # Gateway API deployments (Istio, Envoy Gateway...)
    ("istio.io/gateway-name", None),
    ("istio", "ingressgateway"),                         # Istio's classic ingress gateway
    ("app", "istio-ingressgateway"),
)
#: ingress-nginx's controller pods: both labels together.
NGINX_CONTROLLER = {"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller"}
DEFAULT_GATEWAY_NAMESPACES = ["istio-ingress", "ingress-nginx"]

METADATA_NAME = "kubernetes.io/metadata.name"
ALL_PORTS = (1, 65535)
#: A rule reaching at least this share of the public address space reaches "the internet".
INTERNET_SHARE = 0.25

_V4_SPECIAL = ("0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
               "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
               "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4")
_V4_PRIVATE = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16")
_V6_PUBLIC = ("2000::/3",)
_V6_PRIVATE = ("fc00::/7", "fe80::/10")

Intervals = list[tuple[int, int]]


def _interval(net) -> tuple[int, int]:
    return int(net.network_address), int(net.broadcast_address)


def _union(intervals: Iterable[tuple[int, int]]) -> Intervals:
    out: Intervals = []
    for lo, hi in sorted(intervals):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def _subtract(base: Intervals, cut: Intervals) -> Intervals:
    out: Intervals = []
    for lo, hi in base:
        pieces = [(lo, hi)]
        for clo, chi in cut:
            nxt = []
            for plo, phi in pieces:
                if chi < plo or clo > phi:
                    nxt.append((plo, phi))
                    continue
                if plo < clo:
                    nxt.append((plo, clo - 1))
                if chi < phi:
                    nxt.append((chi + 1, phi))
            pieces = nxt
        out.extend(pieces)
    return _union(out)


def _size(intervals: Intervals) -> int:
    return sum(hi - lo + 1 for lo, hi in intervals)


def _overlaps(a: Intervals, b: Intervals) -> bool:
    return any(alo <= bhi and blo <= ahi for alo, ahi in a for blo, bhi in b)


def _nets(cidrs: Iterable[str]) -> Intervals:
    return _union(_interval(ipaddress.ip_network(c)) for c in cidrs)


V4_PUBLIC = _subtract(_nets(["0.0.0.0/0"]), _nets(_V4_SPECIAL))
V4_PRIVATE = _nets(_V4_PRIVATE)
V6_PUBLIC = _nets(_V6_PUBLIC)
V6_PRIVATE = _nets(_V6_PRIVATE)


class Coverage:
    """The addresses a rule's ipBlocks reach, per IP version."""

    def __init__(self) -> None:
        self.v4: Intervals = []
        self.v6: Intervals = []

    def add(self, block: Mapping, path: str) -> None:
        cidr = get_str(block, "cidr", path)
        if cidr is None:
            raise Unverifiable(f"{path}.cidr", "is missing", "give the ipBlock a cidr")
        net = _network(cidr, f"{path}.cidr")
        excepts = [_network(e, f"{path}.except[{i}]") for i, e in enumerate(strings(block, "except", path))]
        reached = _subtract([_interval(net)], _union(_interval(e) for e in excepts if e.version == net.version))
        if net.version == 4:
            self.v4 = _union(self.v4 + reached)
        else:
            self.v6 = _union(self.v6 + reached)

    def internet(self) -> bool:
        v4 = _size(_subtract(V4_PUBLIC, _subtract(V4_PUBLIC, self.v4)))
        v6 = _size(_subtract(V6_PUBLIC, _subtract(V6_PUBLIC, self.v6)))
        return v4 >= INTERNET_SHARE * _size(V4_PUBLIC) or v6 >= INTERNET_SHARE * _size(V6_PUBLIC)

    def private(self) -> bool:
        return _overlaps(self.v4, V4_PRIVATE) or _overlaps(self.v6, V6_PRIVATE)


def _network(text: str, path: str):
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise wrong(path, text, "a CIDR such as 10.0.0.0/16") from None


# ---------------------------------------------------------------------------------------------
# Selectors
# ---------------------------------------------------------------------------------------------

def matches_every_namespace(selector: Mapping, path: str) -> bool:
    """A namespaceSelector (or a podSelector, by the same reading) that matches every object, or
    every object but a few named ones: no matchLabels, and each expression is ``Exists`` on
    ``kubernetes.io/metadata.name`` (a label every namespace has) or a deny-list (``NotIn``,
    ``DoesNotExist`` on any other key)."""
    if get_map(selector, "matchLabels", path):
        return False
    for _, expr, epath in maps(selector, "matchExpressions", path):
        op = get_str(expr, "operator", epath)
        key = get_str(expr, "key", epath)
        if op == "Exists" and key == METADATA_NAME:
            continue
        if op == "NotIn" or (op == "DoesNotExist" and key != METADATA_NAME):
            continue
        return False
    return True


def _peer_scope(peer: Mapping, path: str) -> Optional[str]:
    """``everyone``, ``cluster`` or None (a narrow peer) for one peer (ipBlocks aside)."""
    if not peer:
        return "everyone"
    if "namespaceSelector" in peer:
        ns = get_map(peer, "namespaceSelector", path)
        pods = get_map(peer, "podSelector", path)
        if (matches_every_namespace(ns, f"{path}.namespaceSelector")
                and matches_every_namespace(pods, f"{path}.podSelector")):
            return "cluster"
    return None


# ---------------------------------------------------------------------------------------------
# Ports
# ---------------------------------------------------------------------------------------------

def every_port(rule: Mapping, path: str) -> bool:
    """Whether the rule's ports reach every port of some protocol."""
    entries = list(maps(rule, "ports", path))
    if not entries:
        return True
    ranges: dict[str, list[tuple[int, int]]] = {}
    for _, entry, epath in entries:
        protocol = get_str(entry, "protocol", epath) or "TCP"
        port = entry.get("port")
        if port is None:
            return True
        if isinstance(port, str):
            if port.isdigit():
                port = int(port)
            else:
                continue  # a named port is one port
        else:
            port = get_int(entry, "port", epath)
        end = get_int(entry, "endPort", epath) or port
        ranges.setdefault(protocol, []).append((max(port, ALL_PORTS[0]), end))
    for spans in ranges.values():
        if _union(spans) and _subtract([ALL_PORTS], _union(spans)) == []:
            return True
    return False


# ---------------------------------------------------------------------------------------------
# The public entry point
# ---------------------------------------------------------------------------------------------

def selects_gateway(obj, gateway_namespaces) -> bool:
    """The policy selects the pods of an ingress gateway: it lives in a gateway namespace, or its
    podSelector requires a gateway label."""
    if (obj.namespace or "default") in gateway_namespaces:
        return True
    labels = get_map(get_map(obj.spec, "podSelector", "spec"), "matchLabels", "spec.podSelector")
    for key, value in GATEWAY_LABELS:
        if key in labels and (value is None or labels.get(key) == value):
            return True
    return all(labels.get(k) == v for k, v in NGINX_CONTROLLER.items())


# ---------------------------------------------------------------------------------------------
# The check
# ---------------------------------------------------------------------------------------------

_WHO = {"everyone": "every {side} (every pod and every address)",
        "cluster": "every pod of every namespace",
        "internet": "the internet",
        "all-addresses": "the internet and the private ranges (the cluster, the VPC, the metadata endpoint)"}


def _rule_reach(rule: Mapping, peers_key: str, path: str) -> tuple[Optional[str], str]:
    """What a rule's peers reach (the widest of them) and where that is said."""
    if not get_list(rule, peers_key, path):
        state = "is empty" if rule.get(peers_key) is not None else "is missing"
        return "everyone", f"{path}.{peers_key} {state}"
    coverage = Coverage()
    blocks = []
    for _, peer, peer_path in maps(rule, peers_key, path):
        scope = _peer_scope(peer, peer_path)
        if scope is not None:
            return scope, peer_path
        if "ipBlock" in peer:
            coverage.add(get_map(peer, "ipBlock", peer_path), f"{peer_path}.ipBlock")
            blocks.append(peer_path)
    if blocks and coverage.internet():
        where = blocks[0] if len(blocks) == 1 else f"{path}.{peers_key} (ipBlocks together)"
        return ("all-addresses" if coverage.private() else "internet"), where
    return None, ""


def check(obj, config):
    spec = obj.spec
    gateway_namespaces = config["ingressGatewayNamespaces"]
    for direction, peers_key, side in (("ingress", "from", "source"), ("egress", "to", "destination")):
        for _, rule, path in maps(spec, direction, "spec"):
            reach, where = _rule_reach(rule, peers_key, path)
            if reach is None:
                continue
            all_ports = every_port(rule, path)
            ports = "on every port" if all_ports else "on its ports"
            who = _WHO[reach].format(side=side)
            if direction == "ingress":
                if reach != "cluster" and not all_ports and selects_gateway(obj, gateway_namespaces):
                    continue  # the public entry point: an ingress gateway on named ports
                yield (f"{where}: the rule admits {who} {ports}, which undoes the default-deny for the pods it "
                       f"selects; name the sources (a namespaceSelector on {METADATA_NAME} with a podSelector). "
                       "Only an ingress gateway's pods take traffic from the internet, on named ports")
            else:
                if reach == "internet" and not all_ports:
                    continue  # the internet, private ranges left out, on named ports
                fix = ("name the ports and leave out the private ranges (except: 10.0.0.0/8, 172.16.0.0/12, "
                       "192.168.0.0/16, 169.254.0.0/16)" if reach in ("internet", "all-addresses")
                       else "name the destination pods, namespaces or CIDRs and the ports")
                yield f"{where}: the rule allows {who} {ports}; {fix}"


POLICY = resource_policy(
    name="networkpolicy-disallow-allow-all",
    description="NetworkPolicies must not contain a rule that allows all sources or destinations, in any shape.",
    kinds=[("networking.k8s.io", "NetworkPolicy")],
    severity=Severity.HIGH,
    control=nist_800_171("3.13.6"),
    tags=["cmmc:SC.L2-3.13.6", "iec62443:SR 5.1", "iec62443:SR 5.2", "nist800-207:3.1.2"],
    remediation="""
Give every ingress rule a `from` and every egress rule a `to` that names the peers (a
namespaceSelector on kubernetes.io/metadata.name with a podSelector, or specific CIDRs), and name
the ports. Traffic to the internet goes through an ipBlock with `except` for private ranges, on
named ports; traffic from the internet reaches only the ingress gateway's pods, on named ports.""",
    config={
        "ingressGatewayNamespaces": {
            "type": "array", "items": {"type": "string", "minLength": 1}, "uniqueItems": True,
            "default": DEFAULT_GATEWAY_NAMESPACES,
            "description": "Namespaces that hold only ingress gateway pods (the public entry point): their "
                           "NetworkPolicies may admit the internet on named ports.",
        },
    },
    check=check,
)
