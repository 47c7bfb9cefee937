"""The pack's admission and edge policies judge the rendered stack: the default prod stack
passes them, and switching a protection off fails the matching policy."""
from __future__ import annotations

import importlib

import pytest

from tests.admission.harness import prod_document, render
from tests.harness import reviewed

MINE = ["stack_missing_gatekeeper_fail_closed", "gateway_missing_tls13_minimum", "httproute_missing_hsts",
        "configmap_configure_nginx_tls13_hsts", "ingress_missing_tls", "webacl_missing_managed_rules"]


def policy(name):
    return importlib.import_module(f"policy_pack.policies.{name}").POLICY


def findings(records, name) -> list[str]:
    from policy_pack.policies._lib.k8s import Obj

    pol = policy(name)
    if hasattr(pol, "run"):
        return [m for r in records if r.custom for m in pol.run(r.type, r.inputs, None, r.name)]
    # Stack policies see every resource of the stack, components included (helm.v4.Chart is one).
    objs = [Obj(r.type, r.inputs, r.name) for r in records if pol.applies_to(r.type)]
    return [m for _, m in pol.check(objs, pol.configuration.default_settings.values)]


@pytest.fixture(scope="module")
def prod_records():
    return render()[0]


@pytest.mark.parametrize("name", MINE)
def test_prod_stack_passes(prod_records, name):
    assert findings(prod_records, name) == []


def test_nginx_form_passes_its_policies():
    doc = prod_document()
    alb = {**doc["ingress"]["alb"], "targetService": "ingress-nginx-controller"}
    records, _ = render({"ingress": {**doc["ingress"], "controller": "nginx", "namespace": "ingress-nginx",
                                     "alb": alb}})
    assert findings(records, "configmap_configure_nginx_tls13_hsts") == []
    assert findings(records, "ingress_missing_tls") == []


def test_fail_open_gatekeeper_is_caught():
    doc = prod_document()
    records, _ = render(reviewed({"admission": {**doc["admission"], "failurePolicy": "Ignore"}}))
    (msg,) = findings(records, "stack_missing_gatekeeper_fail_closed")
    assert "failurePolicy of Gatekeeper's webhook validation.gatekeeper.sh is Ignore" in msg


def test_extra_values_cannot_silently_reopen_the_webhook():
    doc = prod_document()
    records, _ = render(reviewed({"admission": {**doc["admission"],
                                                "extraValues": {"validatingWebhookFailurePolicy": "Ignore"}}}))
    assert findings(records, "stack_missing_gatekeeper_fail_closed")


def test_waf_in_count_mode_is_caught():
    doc = prod_document()
    records, _ = render(reviewed({"ingress": {**doc["ingress"], "waf": {**doc["ingress"]["waf"], "mode": "count"}}}))
    msgs = findings(records, "webacl_missing_managed_rules")
    assert len([m for m in msgs if "overridden to count" in m]) == 4 and any("does not block" in m for m in msgs)
