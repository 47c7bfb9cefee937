"""Issue 23.7, attacked: no ServiceAccount of the prod render holds a sensitive power that no
workload uses. The walk (policy_pack/policies/_lib/rbac.py ``idle_powers``, the model the stack
policy serviceaccount-disallow-idle-sensitive-permissions uses) binds every ServiceAccount to the
roles of its bindings and looks for who runs as it: every pod spec of the render, whatever embeds
it, and every object that asks for its token."""
from __future__ import annotations

import copy

from components.mesh import _base_values, _values
from policy_pack.policies._lib import rbac


def objects(rendered) -> list[dict]:
    return list(rendered.manifests.values())


def test_no_service_account_of_the_prod_render_holds_idle_power(rendered_prod):
    assert [(sa["metadata"]["namespace"], sa["metadata"]["name"], why)
            for sa, why in rbac.idle_powers(objects(rendered_prod))] == []


def test_the_istio_reader_account_and_its_secret_read_are_gone(rendered_prod):
    names = {(o["kind"], o["metadata"].get("name")) for o in objects(rendered_prod)}
    assert not {n for n in names if "istio-reader" in str(n[1])}


def test_the_switch_is_enable_reader_rbac_in_both_istio_charts():
    """base 1.30 templates/reader-serviceaccount.yaml and istiod 1.30 templates/reader-clusterrole*.yaml
    render only when global.enableReaderRBAC (default true) holds."""
    from components.mesh import MeshConfig, ZeroTrustMeshArgs

    args = ZeroTrustMeshArgs(config=MeshConfig(), trust_domain="lego-mcp.io")
    assert _base_values(args)["global"]["enableReaderRBAC"] is False
    assert _values(args)["global"]["enableReaderRBAC"] is False


def test_the_walk_finds_the_reader_when_it_comes_back(rendered_prod):
    """Guards against a vacuous pass: the chart's reader objects, put back into the render, are found."""
    reader = {"apiVersion": "v1", "kind": "ServiceAccount",
              "metadata": {"name": "istio-reader-service-account", "namespace": "istio-system"}}
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "r"},
            "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch"]}]}
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "r"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "r"},
               "subjects": [{"kind": "ServiceAccount", "name": "istio-reader-service-account",
                             "namespace": "istio-system"}]}
    objs = objects(rendered_prod) + [reader, role, binding]
    (found,) = rbac.idle_powers(objs)
    assert found[0] is reader and "reads Secrets" in found[1]
    # a pod that runs as it makes it used; so does a runtime user listed by name
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "istio-system"},
           "spec": {"serviceAccountName": "istio-reader-service-account", "containers": [{"name": "c", "image": "x"}]}}
    assert rbac.idle_powers(objs + [pod]) == []
    assert rbac.idle_powers(objs, ["istio-system/istio-reader-service-account"]) == []


def test_every_sensitive_grant_is_seen():
    cases = {
        "reads Secrets": {"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]},
        "escalates through RBAC": {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"],
                                   "verbs": ["bind"]},
        "impersonates": {"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"]},
        "mints ServiceAccount tokens": {"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]},
        "wildcard": {"apiGroups": ["apps"], "resources": ["*"], "verbs": ["get"]},
    }
    for what, rule in cases.items():
        assert any(what in g for g in rbac.sensitive_grants([rule])), what
    named = {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"], "resourceNames": ["one"]}
    assert rbac.sensitive_grants([named]) == []
    assert rbac.sensitive_grants([copy.deepcopy(cases["reads Secrets"]) | {"verbs": ["create"]}]) == []
