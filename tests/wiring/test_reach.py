"""Who can reach whom (policy_pack/policies/_lib/reach.py): the NetworkPolicy semantics, then the
two claims of the stack: an isolated workload can reach nothing and be reached by nothing, and
the intents open exactly the flows they name."""
from __future__ import annotations

import pytest

from components.namespace import FlowPeer, FlowRule, HardenedNamespaceArgs, namespace_manifests
from policy_pack.policies._lib.reach import EGRESS, INGRESS, External, Network, Pod, Port, network_of

from .conftest import ISOLATED, manifests

#: What is outside the render but on every cluster: kube-dns (allow-dns's peer).
KUBE_DNS = Pod("kube-system", "kube-dns", {"k8s-app": "kube-dns"},
               [Port(53, "UDP", "dns"), Port(53, "TCP", "dns-tcp")], "10.100.0.10")
#: Addresses a pod might try: the internet, the API server (a control-plane CIDR), a node (kubelet),
#: the VPC, the cloud metadata endpoint.
EXTERNALS = [External("8.8.8.8"), External("52.94.1.1"), External("10.0.0.10"), External("10.0.1.20"),
             External("172.20.0.5"), External("169.254.169.254")]


def _net(policies, pods, namespaces=None):
    return Network(namespaces=namespaces or {}, pods=pods, policies=policies)


def _np(name, ns, spec):
    return {"metadata": {"name": name, "namespace": ns}, "spec": spec}


A = Pod("shop", "api", {"app": "api"}, [Port(8080, "TCP", "http")], "10.244.0.2")
W = Pod("shop", "web", {"app": "web"}, [Port(5000)], "10.244.0.3")
X = Pod("other", "x", {"app": "x"}, [Port(8080, "TCP", "http")], "10.244.0.4")


# --- semantics ------------------------------------------------------------------------------------

def test_no_policy_allows_everything():
    net = _net([], [A, W])
    assert net.can_connect(W, A, 1234) and net.can_connect(A, External("8.8.8.8"), 443)


def test_default_deny_isolates_both_directions():
    net = _net([_np("deny", "shop", {"podSelector": {}, "policyTypes": [INGRESS, EGRESS]})], [A, W, X])
    assert net.isolated(A, INGRESS) and net.isolated(A, EGRESS)
    assert not net.can_connect(W, A, 8080) and not net.can_connect(A, X, 8080)
    assert net.can_connect(X, External("8.8.8.8"), 443)  # another namespace is not selected


def test_policy_types_default_to_ingress_plus_egress_when_an_egress_section_exists():
    ingress_only = _np("p", "shop", {"podSelector": {}})
    both = _np("q", "shop", {"podSelector": {}, "egress": []})
    assert _net([ingress_only], [A]).isolated(A, INGRESS) and not _net([ingress_only], [A]).isolated(A, EGRESS)
    assert _net([both], [A]).isolated(A, EGRESS)


def test_allowed_is_the_union_of_every_selecting_policy():
    deny = _np("deny", "shop", {"podSelector": {}, "policyTypes": [INGRESS]})
    web = _np("from-web", "shop", {"podSelector": {"matchLabels": {"app": "api"}}, "policyTypes": [INGRESS],
                                   "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}],
                                                "ports": [{"port": 8080}]}]})
    other = _np("from-other", "shop", {"podSelector": {"matchLabels": {"app": "api"}}, "policyTypes": [INGRESS],
                                       "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {
                                           "kubernetes.io/metadata.name": "other"}}}]}]})
    net = _net([deny, web, other], [A, W, X])
    assert net.can_connect(W, A, 8080) and not net.can_connect(W, A, 8081)
    assert net.can_connect(X, A, 9999)  # no ports: every port
    assert not net.can_connect(A, W, 5000)  # web is isolated for ingress and nothing opens it


def test_namespace_and_pod_selector_in_one_peer_are_anded_in_two_peers_ored():
    anded = _np("and", "shop", {"podSelector": {}, "policyTypes": [INGRESS], "ingress": [{"from": [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "other"}},
         "podSelector": {"matchLabels": {"app": "web"}}}]}]})
    ored = _np("or", "shop", {"podSelector": {}, "policyTypes": [INGRESS], "ingress": [{"from": [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "other"}}},
        {"podSelector": {"matchLabels": {"app": "web"}}}]}]})
    assert not _net([anded], [A, W, X]).can_connect(X, A, 8080)  # x is not app=web
    assert not _net([anded], [A, W, X]).can_connect(W, A, 8080)  # web is not in namespace other
    assert _net([ored], [A, W, X]).can_connect(X, A, 8080) and _net([ored], [A, W, X]).can_connect(W, A, 8080)


def test_pod_selector_alone_means_the_policys_namespace():
    p = _np("p", "shop", {"podSelector": {}, "policyTypes": [INGRESS],
                          "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "x"}}}]}]})
    assert not _net([p], [A, X]).can_connect(X, A, 8080)


def test_ip_block_with_except():
    p = _np("p", "shop", {"podSelector": {}, "policyTypes": [EGRESS], "egress": [{"to": [
        {"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "169.254.0.0/16"]}}], "ports": [{"port": 443}]}]})
    net = _net([p], [A, X])
    assert net.can_connect(A, External("8.8.8.8"), 443)
    assert not net.can_connect(A, External("10.0.0.10"), 443) and not net.can_connect(A, External("169.254.169.254"), 443)
    assert not net.can_connect(A, External("8.8.8.8"), 80)


def test_ip_block_may_match_a_pods_own_address():
    p = _np("p", "other", {"podSelector": {}, "policyTypes": [EGRESS], "egress": [{"to": [
        {"ipBlock": {"cidr": "10.244.0.0/16"}}]}]})
    assert _net([p], [A, X]).can_connect(X, A, 8080)


def test_named_ports_resolve_on_the_destination_and_end_port_is_a_range():
    named = _np("p", "shop", {"podSelector": {}, "policyTypes": [INGRESS],
                              "ingress": [{"ports": [{"port": "http"}]}]})
    ranged = _np("q", "shop", {"podSelector": {}, "policyTypes": [INGRESS],
                               "ingress": [{"ports": [{"port": 5000, "endPort": 5010, "protocol": "TCP"}]}]})
    assert _net([named], [A, W]).can_connect(W, A, 8080) and not _net([named], [A, W]).can_connect(A, W, 5000)
    assert _net([ranged], [A, W]).can_connect(A, W, 5010) and not _net([ranged], [A, W]).can_connect(A, W, 5011)
    assert not _net([ranged], [A, W]).can_connect(A, W, 5005, "UDP")


def test_a_connection_needs_both_the_sources_egress_and_the_destinations_ingress():
    out = _np("out", "shop", {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": [EGRESS],
                              "egress": [{"to": [{"podSelector": {"matchLabels": {"app": "api"}}}]}]})
    deny_in = _np("deny", "shop", {"podSelector": {"matchLabels": {"app": "api"}}, "policyTypes": [INGRESS]})
    assert _net([out], [A, W]).can_connect(W, A, 8080)
    assert not _net([out, deny_in], [A, W]).can_connect(W, A, 8080)


# --- emergency isolation --------------------------------------------------------------------------

def _isolated_namespace(selecting=None):
    """A namespace with every kind of allow policy that could select the isolated pod: DNS, a
    namespace-wide flow (the istiod egress), a flow into it, a flow out of a `*` source."""
    args = HardenedNamespaceArgs(name="shop", isolate_apps=["api"], flows=[
        FlowRule(name="proxy-to-istiod-15012", source=FlowPeer(namespace="shop"),
                 destination=FlowPeer(namespace="istio-system", app="istiod"), port=15012),
        FlowRule(name="ns-shop-to-web-5000", source=FlowPeer(namespace="shop"),
                 destination=FlowPeer(namespace="shop", app="web"), port=5000),
        FlowRule(name="web-to-api-8080", source=FlowPeer(namespace="shop", app="web"),
                 destination=FlowPeer(namespace="shop", app="api"), port=8080),
        FlowRule(name="api-to-x-8080", source=FlowPeer(namespace="shop", app="api"),
                 destination=FlowPeer(namespace="other", app="x"), port=8080)])
    istiod = Pod("istio-system", "istiod", {"app": "istiod"}, [Port(15012)], "10.244.9.9")
    pods = [A, W, X, istiod, KUBE_DNS]
    return network_of([m for _, m in namespace_manifests(args)], extra_pods=pods), pods


def test_an_isolated_workload_reaches_nothing_and_nothing_reaches_it():
    net, pods = _isolated_namespace()
    ports = net.probe_ports([(53, "UDP"), (443, "TCP")])
    assert net.reachable(A, [*pods, *EXTERNALS], ports) == {"in": [], "out": []}
    # its neighbours keep what their own policies allow
    assert net.can_connect(W, KUBE_DNS, 53, "UDP") and net.can_connect(W, W, 5000)


def test_without_narrowed_selectors_isolation_leaks_dns_and_istiod(monkeypatch):
    """The evaluator sees the leak issue 21 describes: with allow policies that still select the
    isolated pod (the selectors as they were), it resolves DNS and reaches istiod."""
    import components.namespace as namespace

    monkeypatch.setattr(namespace, "_selecting", lambda selector, isolated: (
        None if selector.get("matchLabels", {}).get("app") in isolated else selector))
    net, pods = _isolated_namespace()
    out = net.reachable(A, [*pods, *EXTERNALS], net.probe_ports([(53, "UDP")]))["out"]
    assert ("kube-system/kube-dns", 53, "UDP") in out and ("istio-system/istiod", 15012, "TCP") in out


@pytest.fixture(scope="module")
def isolated_prod(isolated_records):
    return network_of(manifests(isolated_records), extra_pods=[KUBE_DNS])


@pytest.mark.parametrize("key", ISOLATED)
def test_prod_isolated_workloads_reach_nothing_and_nothing_reaches_them(isolated_prod, key):
    net = isolated_prod
    namespace, app = key.split("/")
    targets = [p for p in net.pods if p.namespace == namespace and p.labels.get("app") == app]
    assert targets, f"no pod of {key} in the render"
    ports = net.probe_ports([(53, "UDP"), (53, "TCP"), (443, "TCP"), (15012, "TCP")])
    for pod in targets:
        assert net.reachable(pod, [*net.pods, *EXTERNALS], ports) == {"in": [], "out": []}, pod


def test_prod_isolation_keeps_the_other_workloads_dns_and_mesh(isolated_prod):
    net = isolated_prod
    (dashboard,) = [p for p in net.pods if p.namespace == "lego-mcp-prod" and p.labels.get("app") == "dashboard"]
    (istiod,) = [p for p in net.pods if p.namespace == "istio-system" and p.labels.get("app") == "istiod"]
    assert net.can_connect(dashboard, KUBE_DNS, 53, "UDP") and net.can_connect(dashboard, istiod, 15012)


# --- intents open exactly the flows they name -----------------------------------------------------

def _flows(records, isolate=()):
    """The allowed and the intended (source, destination, port) between the tenant workloads and
    the ingress gateway's pods, on every TCP port any pod listens on or any policy names."""
    from components.config import parse_stack_config
    from tests.harness import prod_document

    net = network_of(manifests(records), extra_pods=[KUBE_DNS])
    cfg = parse_stack_config(prod_document())
    tenant_ns = {n.name for n in cfg.namespaces}
    pods = [p for p in net.pods if p.namespace in tenant_ns and "app" in p.labels]
    pods += [p for p in net.pods if p.namespace == cfg.ingress.namespace
             and "gateway.networking.k8s.io/gateway-name" in p.labels]
    assert len(pods) >= 4

    def members(endpoint: str):
        ns, app = endpoint.split("/")
        return [p for p in pods if p.namespace == ns and (app == "*" or p.labels.get("app") == app)
                and f"{p.namespace}/{p.labels.get('app')}" not in isolate]

    expected = {(str(s), str(d), i.port) for i in cfg.intents if i.source not in isolate and i.destination not in isolate
                for s in members(i.source) for d in members(i.destination)}
    ports = [p for p in net.probe_ports() if p[1] == "TCP"]
    allowed = {(str(s), str(d), port) for s in pods for d in pods for port, proto in ports
               if net.can_connect(s, d, port, proto)}
    return allowed, expected


def test_prod_intents_open_exactly_the_flows_they_name(prod_records):
    allowed, expected = _flows(prod_records)
    assert len(expected) >= 3 and allowed == expected


def test_under_isolation_the_other_intents_still_open_exactly_their_flows(isolated_records):
    """Isolating two workloads withdraws exactly their flows: the gateway still reaches the
    dashboard, and nothing else is opened."""
    allowed, expected = _flows(isolated_records, ISOLATED)
    assert expected == {("istio-ingress/gateway-public", "lego-mcp-prod/deployment-dashboard", 5000)}
    assert allowed == expected


def test_prod_under_isolation_still_has_no_dangling_reference(isolated_records):
    from policy_pack.policies._lib.wiring import _where, all_dangling, objects_of

    assert [f"{_where(d.obj)}: {d.message}" for d in all_dangling(objects_of(isolated_records))] == []


# --- the same evaluator as a policy: networkpolicy-enforce-emergency-isolation ------------------------

def _isolation_findings(manifests_):
    from policy_pack.policies.networkpolicy_enforce_emergency_isolation import POLICY, check
    from policy_pack.policies._lib.wiring import objects_of
    from hardened.manifests import type_token

    objects = [o for o in objects_of([(type_token(m["apiVersion"], m["kind"]), m) for m in manifests_])
               if POLICY.applies_to(o.type)]
    return [message for _, message in check(objects, {})]


def test_the_isolation_policy_passes_the_isolated_prod(isolated_records):
    assert _isolation_findings(manifests(isolated_records)) == []


def test_the_isolation_policy_catches_the_old_selectors(monkeypatch):
    import components.namespace as namespace

    args = HardenedNamespaceArgs(name="shop", isolate_apps=["api"], flows=[
        FlowRule(name="proxy-to-istiod-15012", source=FlowPeer(namespace="shop"),
                 destination=FlowPeer(namespace="istio-system", app="istiod"), port=15012)])
    pods = [{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": app, "namespace": "shop"},
             "spec": {"template": {"metadata": {"labels": {"app": app}}, "spec": {"containers": [{"name": "c"}]}}}}
            for app in ("api", "web")]
    assert _isolation_findings([m for _, m in namespace_manifests(args)] + pods) == []
    monkeypatch.setattr(namespace, "_selecting", lambda selector, isolated: (
        None if selector.get("matchLabels", {}).get("app") in isolated else selector))
    found = _isolation_findings([m for _, m in namespace_manifests(args)] + pods)
    assert len(found) == 1 and "allow-dns, allow-egress-proxy-to-istiod-15012 still select them for Egress" in found[0]
