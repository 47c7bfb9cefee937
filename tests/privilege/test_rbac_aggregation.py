"""Issue 23.3, attacked: a walk of the prod render's RBAC graph. Whoever holds the built-in
``edit`` or ``admin`` role (a tenant editor; with a ClusterRoleBinding, as teams' groups often are)
holds every rule aggregated into it (Kubernetes' clusterroleaggregation controller: the labelled
ClusterRoles of the render). None of those rules may write a cluster-scoped kind: built-in ones,
every CRD of the render with ``scope: Cluster`` (ClusterSecretStores, ClusterGenerators,
ClusterIssuers, ...), and Gatekeeper's constraints.

Through a RoleBinding the editor could not reach them anyway (``rbac.go`` ``VisitRulesFor``:
RoleBindings apply only to requests in their namespace, and a cluster-scoped request has none);
the walk proves it holds for the ClusterRoleBinding case too, the one the issue's route needs.
"""
from __future__ import annotations

import pytest

from components.secrets import eso_values, tenant_edit_role
from components.secrets import SecretsConfig
from policy_pack.policies._lib import rbac


def objects(rendered) -> list[dict]:
    return list(rendered.manifests.values())


@pytest.fixture(scope="module")
def scoped(rendered_prod) -> set:
    return rbac.BUILTIN_CLUSTER_SCOPED | rbac.crd_cluster_scoped(objects(rendered_prod))


def test_the_render_holds_the_cluster_scoped_crds_the_route_used(scoped):
    assert {("external-secrets.io", "clustersecretstores"), ("generators.external-secrets.io", "clustergenerators"),
            ("cert-manager.io", "clusterissuers")} <= scoped


@pytest.mark.parametrize("role", ["edit", "admin", "view"])
def test_a_tenant_editor_writes_no_cluster_scoped_kind(rendered_prod, scoped, role):
    rules = rbac.aggregated_rules(objects(rendered_prod), role)
    assert rules, f"nothing aggregates into {role}: the walk would prove nothing"
    found = [f"{source}: {text}" for source, rule in rules for _, text in rbac.cluster_writes([rule], scoped)]
    assert found == []
    plain = [rule for _, rule in rules]
    for verb in ("create", "patch", "update", "delete"):
        for group, resource in sorted(scoped):
            assert not rbac.allows(plain, verb, group, resource), (role, verb, group, resource)


def test_the_editor_still_manages_its_namespaced_external_secrets(rendered_prod):
    plain = [rule for _, rule in rbac.aggregated_rules(objects(rendered_prod), "edit")]
    for resource in ("externalsecrets", "secretstores"):
        assert rbac.allows(plain, "create", "external-secrets.io", resource)
    assert rbac.allows(plain, "list", "external-secrets.io", "clustersecretstores")  # view: reads only


def test_the_charts_own_edit_role_is_no_longer_aggregated(rendered_prod):
    (eso_edit,) = [o for o in objects(rendered_prod) if o["kind"] == "ClusterRole"
                   and o["metadata"]["name"] == "external-secrets-edit"]
    assert rbac.aggregation_targets(eso_edit["metadata"].get("labels") or {}) == []
    # ... and what it grants is exactly the route the issue found: the walk sees it when aggregated
    assert list(rbac.cluster_writes(eso_edit["rules"], rbac.KNOWN_CLUSTER_SCOPED_CRDS))


def test_the_switch_is_the_charts_rbac_values():
    """external-secrets 2.9.0 templates/rbac.yaml labels external-secrets-edit with aggregate-to-edit
    and aggregate-to-admin under rbac.aggregateToEdit / rbac.aggregateToAdmin (both default true)."""
    values = eso_values(SecretsConfig())
    assert values["rbac"] == {"aggregateToEdit": False, "aggregateToAdmin": False}
    role = tenant_edit_role()
    assert not list(rbac.cluster_writes(role["rules"], rbac.KNOWN_CLUSTER_SCOPED_CRDS | rbac.BUILTIN_CLUSTER_SCOPED))


def test_the_walk_finds_a_cluster_scoped_write_when_one_is_aggregated(rendered_prod, scoped):
    """Guards against a vacuous pass: the chart's old label set, put back, is found."""
    objs = [dict(o) for o in objects(rendered_prod)]
    for i, o in enumerate(objs):
        if o["kind"] == "ClusterRole" and o["metadata"]["name"] == "external-secrets-edit":
            objs[i] = {**o, "metadata": {**o["metadata"], "labels": {
                **(o["metadata"].get("labels") or {}), "rbac.authorization.k8s.io/aggregate-to-edit": "true"}}}
    plain = [rule for _, rule in rbac.aggregated_rules(objs, "admin")]
    assert rbac.allows(plain, "patch", "external-secrets.io", "clustersecretstores")
