"""HardenedNamespace: restricted pod security, default-deny both ways, DNS only to kube-dns."""
from __future__ import annotations

import pytest

from components.base import PSS_VERSION
from components.namespace import FlowPeer, FlowRule, HardenedNamespaceArgs, namespace_manifests


def _by_kind(objs, kind):
    return [m for _, m in objs if m["kind"] == kind]


def _policy(objs, name):
    return next(m for _, m in objs if m["kind"] == "NetworkPolicy" and m["metadata"]["name"] == name)


@pytest.fixture
def objs():
    return namespace_manifests(HardenedNamespaceArgs(name="shop"))


@pytest.mark.parametrize("mode", ["enforce", "audit", "warn"])
def test_pod_security_labels_are_restricted_and_pinned(objs, mode):
    labels = _by_kind(objs, "Namespace")[0]["metadata"]["labels"]
    assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
    assert labels[f"pod-security.kubernetes.io/{mode}-version"] == PSS_VERSION


def test_default_deny_selects_every_pod_both_directions_and_allows_nothing(objs):
    spec = _policy(objs, "default-deny-all")["spec"]
    assert spec["podSelector"] == {}
    assert sorted(spec["policyTypes"]) == ["Egress", "Ingress"]
    assert "ingress" not in spec and "egress" not in spec


def test_dns_egress_only_to_kube_dns_on_port_53(objs):
    spec = _policy(objs, "allow-dns")["spec"]
    assert spec["policyTypes"] == ["Egress"]
    (rule,) = spec["egress"]
    (peer,) = rule["to"]
    assert peer["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}
    assert peer["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}
    assert sorted((p["protocol"], p["port"]) for p in rule["ports"]) == [("TCP", 53), ("UDP", 53)]


def test_quota_and_limit_range_present(objs):
    (quota,) = _by_kind(objs, "ResourceQuota")
    assert quota["spec"]["hard"]["limits.cpu"] == "8" and quota["spec"]["hard"]["pods"] == "50"
    (lr,) = _by_kind(objs, "LimitRange")
    limit = lr["spec"]["limits"][0]
    assert limit["type"] == "Container" and limit["default"] == {"cpu": "500m", "memory": "512Mi"}


def test_no_policy_allows_traffic_without_peers_or_ports(objs):
    for _, m in objs:
        if m["kind"] != "NetworkPolicy":
            continue
        for rule in m["spec"].get("ingress", []) + m["spec"].get("egress", []):
            assert rule.get("from") or rule.get("to"), m["metadata"]["name"]
            assert rule.get("ports"), m["metadata"]["name"]


def _flow(src_ns, src_app, dst_ns, dst_app, port):
    return FlowRule(name=f"{src_app or 'all'}-to-{dst_app}-{port}",
                    source=FlowPeer(namespace=src_ns, app=src_app),
                    destination=FlowPeer(namespace=dst_ns, app=dst_app), port=port)


def test_same_namespace_flow_renders_egress_at_source_and_ingress_at_destination():
    flow = _flow("shop", "web", "shop", "api", 8080)
    objs = namespace_manifests(HardenedNamespaceArgs(name="shop", flows=[flow]))
    egress = _policy(objs, "allow-egress-web-to-api-8080")["spec"]
    ingress = _policy(objs, "allow-ingress-web-to-api-8080")["spec"]
    assert egress["podSelector"] == {"matchLabels": {"app": "web"}}
    assert egress["egress"][0]["to"][0]["podSelector"] == {"matchLabels": {"app": "api"}}
    assert ingress["podSelector"] == {"matchLabels": {"app": "api"}}
    assert ingress["ingress"][0]["from"][0]["podSelector"] == {"matchLabels": {"app": "web"}}
    assert ingress["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 8080}]


def test_cross_namespace_flow_renders_only_the_owned_side():
    flow = _flow("gateway", None, "shop", "api", 8080)
    objs = namespace_manifests(HardenedNamespaceArgs(name="shop", flows=[flow]))
    names = [m["metadata"]["name"] for _, m in objs if m["kind"] == "NetworkPolicy"]
    assert "allow-ingress-all-to-api-8080" in names
    assert not any(n.startswith("allow-egress-") for n in names)
    peer = _policy(objs, "allow-ingress-all-to-api-8080")["spec"]["ingress"][0]["from"][0]
    assert peer["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "gateway"}}
    assert peer["podSelector"] == {}


def test_isolated_app_gets_emergency_isolate_policy():
    objs = namespace_manifests(HardenedNamespaceArgs(name="shop", isolate_apps=["api"]))
    spec = _policy(objs, "emergency-isolate-api")["spec"]
    assert spec == {"podSelector": {"matchLabels": {"app": "api"}}, "policyTypes": ["Ingress", "Egress"]}


def test_weaker_pod_security_is_explicit_and_only_changes_enforce():
    objs = namespace_manifests(HardenedNamespaceArgs(name="falco", pod_security="privileged"))
    labels = _by_kind(objs, "Namespace")[0]["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "privileged"
    # audit and warn stay restricted, so every exemption keeps showing up in audit logs
    assert labels["pod-security.kubernetes.io/audit"] == "restricted"
    assert labels["pod-security.kubernetes.io/warn"] == "restricted"
