"""Who can reach whom: a small evaluator of Kubernetes NetworkPolicy semantics, the one model the
wiring policies and the tests share (STYLE.md: never a test-only twin).

The semantics are the API's (kubernetes/api networking/v1 types.go, ``NetworkPolicySpec``, and
the "Network Policies" concept page):

- A pod is isolated for a direction when at least one NetworkPolicy of its namespace whose
  ``policyTypes`` holds that direction selects it (``policyTypes`` absent: ``Ingress``, plus
  ``Egress`` when the policy has an ``egress`` section). A non-isolated direction allows all.
- What an isolated direction allows is the union of the rules of every policy that selects the
  pod for it; a policy with no rules for it allows nothing (default-deny).
- A rule with no ``from``/``to`` matches every peer; with no ``ports``, every port. A peer is a
  ``podSelector`` (the policy's namespace), a ``namespaceSelector`` (every pod of the selected
  namespaces), both (ANDed), or an ``ipBlock`` (``cidr`` minus ``except``).
- A port is a number or a named container port of the destination pod, with ``protocol``
  (default TCP) and, for a number, ``endPort`` (a range).
- A connection from A to B on a port is allowed only if A's egress allows it and B's ingress
  allows it (each side is judged on its own pods' policies).

An ipBlock also matches a pod's own address when the pod has one: whether a CNI applies ipBlocks
to pod addresses is implementation-defined, so for a proof of isolation the stricter reading,
that it may, is the safe one.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from collections.abc import Mapping, Sequence
from typing import Any, Iterable, Optional, Union

from .wiring import selector_matches

INGRESS, EGRESS = "Ingress", "Egress"


@dataclass(frozen=True)
class Port:
    """A container port a pod listens on."""

    port: int
    protocol: str = "TCP"
    name: Optional[str] = None


@dataclass
class Pod:
    namespace: str
    name: str
    labels: Mapping[str, str]
    ports: Sequence[Port] = ()
    ip: Optional[str] = None

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"

    def port_named(self, name: str, protocol: str) -> Optional[int]:
        for p in self.ports:
            if p.name == name and p.protocol == protocol:
                return p.port
        return None


@dataclass(frozen=True)
class External:
    """An address outside the pods of the model (an IP, e.g. 8.8.8.8 or the API server's)."""

    ip: str

    def __str__(self) -> str:
        return self.ip


Peer = Union[Pod, External]


@dataclass
class Network:
    """Namespaces (name -> labels), pods and NetworkPolicies (manifests)."""

    namespaces: dict[str, Mapping[str, str]] = field(default_factory=dict)
    pods: list[Pod] = field(default_factory=list)
    policies: list[Mapping[str, Any]] = field(default_factory=list)

    def namespace_labels(self, name: str) -> Mapping[str, str]:
        # every namespace carries kubernetes.io/metadata.name (the API server sets it since 1.21)
        return {**self.namespaces.get(name, {}), "kubernetes.io/metadata.name": name}

    # --- which policies apply ---------------------------------------------------------------

    def selecting(self, pod: Pod, direction: str) -> list[Mapping[str, Any]]:
        """The policies that select *pod* for *direction*."""
        out = []
        for p in self.policies:
            meta = p.get("metadata", {})
            if (meta.get("namespace") or "default") != pod.namespace:
                continue
            spec = p.get("spec", {}) or {}
            if direction not in policy_types(spec):
                continue
            if selector_matches(spec.get("podSelector") or {}, pod.labels, "spec.podSelector"):
                out.append(p)
        return out

    def isolated(self, pod: Pod, direction: str) -> bool:
        return bool(self.selecting(pod, direction))

    def rules(self, pod: Pod, direction: str) -> list[tuple[str, Mapping[str, Any]]]:
        """``(policy name, rule)`` of every rule that applies to *pod* for *direction*; [] for an
        isolated pod that nothing opens. Not isolated: ``[("(not isolated)", {})]``, all allowed."""
        policies = self.selecting(pod, direction)
        if not policies:
            return [("(not isolated)", {})]
        key = "ingress" if direction == INGRESS else "egress"
        return [(p["metadata"]["name"], r) for p in policies for r in (p.get("spec", {}).get(key) or [])]

    # --- peers and ports ---------------------------------------------------------------------

    def _peer_matches(self, peer: Mapping[str, Any], policy_ns: str, other: Peer) -> bool:
        block = peer.get("ipBlock")
        if block:
            ip = other.ip
            return ip is not None and in_block(ip, block)
        if isinstance(other, External):
            return False
        ns_sel = peer.get("namespaceSelector")
        pod_sel = peer.get("podSelector")
        if ns_sel is None:
            if other.namespace != policy_ns:
                return False
        elif not selector_matches(ns_sel, self.namespace_labels(other.namespace), "namespaceSelector"):
            return False
        return pod_sel is None or selector_matches(pod_sel, other.labels, "podSelector")

    def _rule_allows(self, rule: Mapping[str, Any], direction: str, policy_ns: str, other: Peer,
                     destination: Peer, port: int, protocol: str) -> bool:
        peers = rule.get("from" if direction == INGRESS else "to")
        if peers and not any(self._peer_matches(p, policy_ns, other) for p in peers):
            return False
        ports = rule.get("ports")
        return not ports or any(port_matches(p, destination, port, protocol) for p in ports)

    def allows(self, pod: Pod, direction: str, other: Peer, port: int, protocol: str = "TCP") -> bool:
        """Whether *pod*'s policies let *other* in (Ingress, *pod* is the destination) or let *pod*
        out to *other* (Egress, *other* is the destination) on *port*/*protocol*."""
        policies = self.selecting(pod, direction)
        if not policies:
            return True
        key = "ingress" if direction == INGRESS else "egress"
        destination = pod if direction == INGRESS else other
        return any(self._rule_allows(r, direction, pod.namespace, other, destination, port, protocol)
                   for p in policies for r in (p.get("spec", {}).get(key) or []))

    def can_connect(self, source: Peer, destination: Peer, port: int, protocol: str = "TCP") -> bool:
        """Whether *source* may open a connection to *destination* on *port*: the source pod's
        egress and the destination pod's ingress both allow it."""
        if isinstance(source, Pod) and not self.allows(source, EGRESS, destination, port, protocol):
            return False
        if isinstance(destination, Pod) and not self.allows(destination, INGRESS, source, port, protocol):
            return False
        return True

    def reachable(self, pod: Pod, peers: Iterable[Peer], ports: Iterable[tuple[int, str]]
                  ) -> dict[str, list[tuple[str, int, str]]]:
        """``{"in": [(peer, port, protocol)], "out": [...]}``: every (peer, port) among *peers* x
        *ports* that may reach *pod*, and that *pod* may reach."""
        ports = list(ports)
        out: dict[str, list[tuple[str, int, str]]] = {"in": [], "out": []}
        for peer in peers:
            if peer is pod:
                continue
            for port, proto in ports:
                if self.can_connect(peer, pod, port, proto):
                    out["in"].append((str(peer), port, proto))
                if self.can_connect(pod, peer, port, proto):
                    out["out"].append((str(peer), port, proto))
        return out

    def probe_ports(self, extra: Iterable[tuple[int, str]] = ()) -> list[tuple[int, str]]:
        """Every port a pod of the model listens on or a policy names, plus *extra*: the ports on
        which a proof over the model has to hold."""
        seen = set(extra)
        for pod in self.pods:
            seen.update((p.port, p.protocol) for p in pod.ports)
        for policy in self.policies:
            spec = policy.get("spec", {}) or {}
            for key in ("ingress", "egress"):
                for rule in spec.get(key) or []:
                    for p in rule.get("ports") or []:
                        if isinstance(p.get("port"), int):
                            seen.add((p["port"], p.get("protocol") or "TCP"))
                            if p.get("endPort"):
                                seen.add((int(p["endPort"]), p.get("protocol") or "TCP"))
        return sorted(seen)


def policy_types(spec: Mapping[str, Any]) -> list[str]:
    """``policyTypes``, or the API's default: Ingress, plus Egress when there is an egress section."""
    types = spec.get("policyTypes")
    if types:
        return list(types)
    return [INGRESS, EGRESS] if spec.get("egress") is not None else [INGRESS]


def in_block(ip: str, block: Mapping[str, Any]) -> bool:
    address = ipaddress.ip_address(ip)
    network = ipaddress.ip_network(block["cidr"], strict=False)
    if address.version != network.version or address not in network:
        return False
    for excluded in block.get("except") or []:
        ex = ipaddress.ip_network(excluded, strict=False)
        if ex.version == address.version and address in ex:
            return False
    return True


def port_matches(spec: Mapping[str, Any], destination: Peer, port: int, protocol: str) -> bool:
    """A NetworkPolicyPort against a connection to *destination* on *port*/*protocol*."""
    if (spec.get("protocol") or "TCP") != protocol:
        return False
    want = spec.get("port")
    if want is None:
        return True
    if isinstance(want, str):
        if want.isdigit():
            want = int(want)
        else:
            number = destination.port_named(want, protocol) if isinstance(destination, Pod) else None
            return number is not None and number == port
    end = spec.get("endPort")
    if end is not None:
        return int(want) <= port <= int(end)
    return int(want) == port


# ---------------------------------------------------------------------------------------------
# A network from manifests
# ---------------------------------------------------------------------------------------------

def network_of(manifests: Iterable[Mapping[str, Any]], extra_pods: Sequence[Pod] = (),
               extra_namespaces: Optional[Mapping[str, Mapping[str, str]]] = None) -> Network:
    """Namespaces, NetworkPolicies and one pod per pod template (its template labels and
    container ports, ``<kind>-<name>``) from *manifests*, plus *extra_pods*/*extra_namespaces*
    (pods from outside the input: kube-dns, a node). Pod addresses are handed out from
    10.244.0.0/16 in order (so ipBlocks over the pod network are judged too)."""
    from .k8s import POD_SPEC_PATHS

    net = Network(namespaces=dict(extra_namespaces or {}))
    index = 10
    for m in manifests:
        kind = m.get("kind")
        meta = m.get("metadata") or {}
        if kind == "Namespace":
            net.namespaces[meta["name"]] = dict(meta.get("labels") or {})
        elif kind == "NetworkPolicy":
            net.policies.append(m)
        else:
            group = (m.get("apiVersion") or "").rpartition("/")[0] or "core"
            keys = POD_SPEC_PATHS.get((group, kind))
            if not keys:
                continue
            node: Any = m
            for key in keys[:-1]:
                node = (node or {}).get(key)
            template = node or {}
            labels = (meta.get("labels") if kind == "Pod" else (template.get("metadata") or {}).get("labels")) or {}
            spec = template.get("spec") if kind != "Pod" else m.get("spec")
            ports = [Port(int(p["containerPort"]), p.get("protocol") or "TCP", p.get("name"))
                     for c in (spec or {}).get("containers") or [] for p in c.get("ports") or []]
            ns = meta.get("namespace") or "default"
            index += 1
            net.pods.append(Pod(ns, f"{kind.lower()}-{meta.get('name')}", dict(labels), ports,
                                f"10.244.{index // 250}.{index % 250 + 1}"))
    net.pods.extend(runtime_pods(manifests, index))
    net.pods.extend(extra_pods)
    return net


def runtime_pods(manifests: Iterable[Mapping[str, Any]], index: int = 200) -> list[Pod]:
    """The pods controllers create at run time from *manifests* (an Istio Gateway's), from the
    one table in :mod:`.wiring` (``RUNTIME``); a pod template's own pods are already in the model."""
    from .k8s import POD_SPEC_PATHS, Obj
    from .wiring import ANY, RUNTIME

    out = []
    for m in manifests:
        kind = m.get("kind")
        for made in RUNTIME:
            if kind not in made.kinds or any(k == kind for _, k in POD_SPEC_PATHS):
                continue
            api = m.get("apiVersion") or "v1"
            token = f"kubernetes:{api if '/' in api else 'core/' + api}:{kind}"
            try:
                items = list(made.derive(Obj(token, m, (m.get("metadata") or {}).get("name", ""))))
            except Exception:  # noqa: BLE001 - a malformed object makes no pods
                continue
            for item in items:
                if item[0] != "Pod":
                    continue
                index += 1
                labels = {k: v for k, v in item[2].items() if v is not ANY}
                out.append(Pod(item[1], f"{kind.lower()}-{(m.get('metadata') or {}).get('name')}", labels, (),
                               f"10.244.{index // 250}.{index % 250 + 1}"))
    return out
