"""The AuthorizationPolicy model (policy_pack/policies/_lib/authz.py) against Istio's documented
semantics (istio.io reference/config/security/authorization-policy): DENY before ALLOW, an ALLOW
policy with no rules denies, AND within a rule, OR within a field, prefix/suffix wildcards."""
from __future__ import annotations

import pytest

from policy_pack.policies._lib.authz import Connection, allowed, string_matches, unknown_attributes

P = "td/ns/a/sa/x"


def _ap(name, spec, namespace="app", kind="AuthorizationPolicy"):
    return {"kind": kind, "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def _allow(rules, selector=None):
    return {"action": "ALLOW", "rules": rules, **({"selector": {"matchLabels": selector}} if selector else {})}


RULE = {"from": [{"source": {"principals": [P]}}], "to": [{"operation": {"ports": ["443"]}}],
        "when": [{"key": "connection.sni", "values": ["h.example"]}]}


def test_no_policy_allows_and_an_empty_allow_policy_denies():
    c = Connection(P, 443, "h.example")
    assert allowed([], "app", {}, c)
    assert not allowed([_ap("deny-all", {})], "app", {}, c)


def test_every_part_of_a_rule_must_match():
    ps = [_ap("a", _allow([RULE]))]
    assert allowed(ps, "app", {}, Connection(P, 443, "h.example"))
    assert not allowed(ps, "app", {}, Connection("td/ns/a/sa/y", 443, "h.example"))
    assert not allowed(ps, "app", {}, Connection(P, 80, "h.example"))
    assert not allowed(ps, "app", {}, Connection(P, 443, "other.example"))
    assert not allowed(ps, "app", {}, Connection(None, 443, "h.example"))


def test_any_allow_rule_of_any_policy_suffices():
    ps = [_ap("a", _allow([RULE])), _ap("b", _allow([{"from": [{"source": {"namespaces": ["b"]}}]}]))]
    assert allowed(ps, "app", {}, Connection("td/ns/b/sa/z", 9, None))


def test_deny_wins_over_allow():
    ps = [_ap("a", _allow([RULE])), _ap("d", {"action": "DENY", "rules": [{"when": [
        {"key": "connection.sni", "values": ["h.*"]}]}]})]
    assert not allowed(ps, "app", {}, Connection(P, 443, "h.example"))


def test_selector_namespace_and_root_namespace():
    ps = [_ap("a", _allow([], selector={"app": "gw"}))]
    assert not allowed(ps, "app", {"app": "gw"}, Connection(P, 443, "h.example"))
    assert allowed(ps, "app", {"app": "other"}, Connection(P, 443, "h.example"))
    assert allowed(ps, "elsewhere", {"app": "gw"}, Connection(P, 443, "h.example"))
    root = [_ap("mesh-deny", {}, namespace="istio-system")]
    assert not allowed(root, "elsewhere", {}, Connection(P, 443, "h.example"))


def test_not_values_exclude():
    ps = [_ap("a", _allow([{"when": [{"key": "connection.sni", "notValues": ["bad.example"]}]}]))]
    assert allowed(ps, "app", {}, Connection(P, 443, "good.example"))
    assert not allowed(ps, "app", {}, Connection(P, 443, "bad.example"))


@pytest.mark.parametrize("pattern, value, expected", [
    ("h.example", "h.example", True), ("h.example", "xh.example", False), ("*.example", "a.example", True),
    ("*.example", "example", False), ("td/ns/a/*", "td/ns/a/sa/x", True), ("*", "", False), ("*", "x", True),
    ("h.example", None, False)])
def test_string_matching(pattern, value, expected):
    assert string_matches(pattern, value) is expected


def test_unknown_attributes_never_open_an_allow_and_are_reported():
    rule = {"to": [{"operation": {"methods": ["GET"]}}]}
    ps = [_ap("a", _allow([rule]))]
    assert not allowed(ps, "app", {}, Connection(P, 443, "h.example"))
    assert unknown_attributes(ps) == ["a: to.operation.methods"]
