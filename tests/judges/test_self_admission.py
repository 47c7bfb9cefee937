"""Judge: the stack admits itself. Every object of one prod render (chart children and the stack's
own objects), and everything their controllers create, goes through the stack's own Gatekeeper
as the render configures it (tests/judges/admission.py states the semantics and cites them)."""
from __future__ import annotations

import copy

import pytest

from .admission import (Cluster, constraint_matches, controller_children, enforcement_denies, selector_matches,
                        self_admission, webhook_selects, wildcard_matches)


def objects(rendered) -> list[dict]:
    return list(rendered.manifests.values())


@pytest.fixture(scope="module")
def prod_verdicts(rendered_prod):
    return self_admission(objects(rendered_prod))


@pytest.mark.selfadmission
def test_prod_admits_every_object_it_deploys(prod_verdicts):
    v = prod_verdicts
    if v.errors:
        pytest.fail("Gatekeeper could not use:\n" + "\n".join(v.errors), pytrace=False)
    if v.denials:
        pytest.fail(f"the stack's own admission refuses {len(v.denials)} of the {v.reviewed} requests a prod "
                    f"`pulumi up` makes ({v.derived} of them by controllers):\n" + v.summary(), pytrace=False)


def test_the_judge_sees_the_stacks_whole_gatekeeper(rendered_prod, prod_verdicts):
    """Guards against a vacuous pass: the render's templates, constraints, webhook, Config and
    namespaces all reach the judge, and workloads and their pods are actually evaluated."""
    cluster = Cluster(objects(rendered_prod))
    kinds = {o["kind"] for o in objects(rendered_prod) if o["apiVersion"].startswith("constraints.gatekeeper.sh/")}
    assert kinds and kinds <= set(cluster.templates), kinds - set(cluster.templates)
    assert len(cluster.constraints) == len(kinds)
    assert cluster.validating and all(w.get("failurePolicy") == "Fail" for w in cluster.validating)
    assert cluster.excluded["webhook"] and cluster.excluded["audit"]
    assert {"lego-mcp-prod", "gatekeeper-system"} <= set(cluster.namespaces)
    assert prod_verdicts.derived >= 10
    workloads = [o for o in objects(rendered_prod) if o["kind"] in ("Deployment", "DaemonSet", "StatefulSet")]
    assert prod_verdicts.judged >= len(workloads) * 3  # each workload, and what it creates, meets constraints


def _tenant_deployment(rendered) -> dict:
    return copy.deepcopy(next(o for o in objects(rendered) if o["kind"] == "Deployment"
                              and o["metadata"].get("namespace") == "lego-mcp-prod"))


def test_a_privileged_tenant_pod_is_denied_in_prod(rendered_prod):
    d = _tenant_deployment(rendered_prod)
    d["metadata"]["name"] = "intruder"
    d["spec"]["template"]["spec"]["containers"][0]["securityContext"]["privileged"] = True
    v = Cluster(objects(rendered_prod)).admit(d)
    mine = v.denials
    assert {x.by for x in mine} == {"K8sHardenedPrivilegedContainer/pods-disallow-privileged"}
    assert {x.object.split()[0] for x in mine} == {"Deployment", "ReplicaSet", "Pod"}
    assert "intruder" in v.summary() and "privileged" in v.summary()


def test_gatekeeper_system_is_exempt_in_prod_as_the_render_says(rendered_prod):
    d = _tenant_deployment(rendered_prod)
    d["metadata"].update(name="intruder", namespace="gatekeeper-system")
    d["spec"]["template"]["spec"]["containers"][0]["securityContext"]["privileged"] = True
    cluster = Cluster(objects(rendered_prod))
    assert cluster.admit(d).denials == []
    d["metadata"]["namespace"] = "lego-mcp-prod"
    assert cluster.admit(d).denials


# --- the match semantics on small synthetic clusters ------------------------------------------

REGO = """package k8stestdeny

violation contains {"msg": msg} if {
\tinput.review.object.metadata.labels[input.parameters.label] == "deny"
\tobj := input.review.object
\tmsg := sprintf("%v/%v carries %v=deny", [input.review.kind.kind, obj.metadata.name, input.parameters.label])
}

violation contains {"msg": msg} if {
\tinput.review.object.kind == "Pod"
\tsome c in input.review.object.spec.containers
\tc.securityContext.privileged == true
\tmsg := sprintf("container %v is privileged", [c.name])
}
"""

TEMPLATE = {"apiVersion": "templates.gatekeeper.sh/v1", "kind": "ConstraintTemplate",
            "metadata": {"name": "k8stestdeny"},
            "spec": {"crd": {"spec": {"names": {"kind": "K8sTestDeny"}}},
                     "targets": [{"target": "admission.k8s.gatekeeper.sh",
                                  "code": [{"engine": "Rego", "source": {"version": "v1", "rego": REGO}}]}]}}

WEBHOOK = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
           "metadata": {"name": "gatekeeper-validating-webhook-configuration"},
           "webhooks": [{"name": "validation.gatekeeper.sh", "failurePolicy": "Fail",
                         "clientConfig": {"service": {"name": "gatekeeper-webhook-service",
                                                      "namespace": "gatekeeper-system"}},
                         "namespaceSelector": {"matchExpressions": [
                             {"key": "admission.gatekeeper.sh/ignore", "operator": "DoesNotExist"},
                             {"key": "kubernetes.io/metadata.name", "operator": "NotIn",
                              "values": ["gatekeeper-system"]}]},
                         "rules": [{"apiGroups": ["*"], "apiVersions": ["*"], "operations": ["CREATE", "UPDATE"],
                                    "resources": ["*"], "scope": "*"}]}]}


def ns(name, **labels):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def constraint(match=None, action=None, name="deny-labelled", **spec):
    body = {"match": match or {}, "parameters": {"label": "verdict"}, **spec}
    if action:
        body["enforcementAction"] = action
    return {"apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": "K8sTestDeny", "metadata": {"name": name},
            "spec": body}


def cm(namespace="apps", name="c", verdict="deny", **labels):
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace, "labels": {"verdict": verdict, **labels}}}


def denied(objs, *requests) -> list[str]:
    cluster = Cluster([TEMPLATE, WEBHOOK, ns("apps", team="a"), ns("kube-system"), ns("gatekeeper-system"),
                       ns("quiet", **{"admission.gatekeeper.sh/ignore": "x"}), *objs])
    v = None
    for r in requests:
        v = cluster.review(r, verdicts=v)
    return [d.object for d in (v.denials if v else [])]


def test_a_matching_object_is_denied_with_the_rego_message():
    cluster = Cluster([TEMPLATE, WEBHOOK, ns("apps"), constraint()])
    (d,) = cluster.review(cm()).denials
    assert d.by == "K8sTestDeny/deny-labelled" and d.object == "ConfigMap apps/c"
    assert d.message == "ConfigMap/c carries verdict=deny"
    assert cluster.review(cm(verdict="fine")).denials == []


def test_parameters_reach_the_rego():
    c = constraint()
    c["spec"]["parameters"] = {"label": "other"}
    assert denied([c], cm()) == []
    assert denied([c], cm(other="deny")) == ["ConfigMap apps/c"]


@pytest.mark.parametrize("kinds,expected", [
    ([{"apiGroups": [""], "kinds": ["ConfigMap"]}], True),
    ([{"apiGroups": ["*"], "kinds": ["*"]}], True),
    ([{"kinds": ["ConfigMap"]}], True),                      # no apiGroups: any group
    ([{"apiGroups": [""]}], True),                           # no kinds: any kind
    ([{"apiGroups": ["apps"], "kinds": ["ConfigMap"]}], False),  # kind and group must hold in one entry
    ([{"apiGroups": ["apps"], "kinds": ["Deployment"]}, {"apiGroups": [""], "kinds": ["Secret"]}], False),
])
def test_kinds_match_group_and_kind_in_the_same_entry(kinds, expected):
    assert constraint_matches({"kinds": kinds}, cm()) is expected


@pytest.mark.parametrize("pattern,name,expected", [
    ("kube-*", "kube-system", True), ("kube-*", "my-kube-system", False),
    ("*-system", "kube-system", True), ("*-system", "kube-systems", False),
    ("*sys*", "kube-system", True), ("kube-system", "kube-system", True),
    ("kube*system", "kube-system", False),   # a * in the middle is literal
    ("*", "anything", True),
])
def test_wildcards_glob_only_at_their_ends(pattern, name, expected):
    assert wildcard_matches(pattern, name) is expected


def test_namespaces_and_excluded_namespaces_use_the_wildcards():
    assert denied([constraint({"namespaces": ["app*"]})], cm()) == ["ConfigMap apps/c"]
    assert denied([constraint({"namespaces": ["other"]})], cm()) == []
    assert denied([constraint({"excludedNamespaces": ["*ps"]})], cm()) == []
    assert denied([constraint({"excludedNamespaces": ["kube-*"]})], cm()) == ["ConfigMap apps/c"]


def test_a_namespace_object_is_judged_by_its_own_name():
    labelled = ns("apps", verdict="deny")
    assert denied([constraint({"excludedNamespaces": ["apps"]})], labelled) == []
    assert denied([constraint({"namespaces": ["apps"]})], labelled) == ["Namespace apps"]


def test_cluster_scoped_objects_ignore_namespace_lists_and_selectors():
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "r", "labels": {"verdict": "deny"}}}
    assert denied([constraint({"namespaces": ["apps"], "excludedNamespaces": ["*"],
                               "namespaceSelector": {"matchLabels": {"team": "b"}}})], role) == ["ClusterRole r"]


def test_scope_selects_cluster_or_namespaced_objects():
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "r", "labels": {"verdict": "deny"}}}
    assert denied([constraint({"scope": "Namespaced"})], role, cm()) == ["ConfigMap apps/c"]
    assert denied([constraint({"scope": "Cluster"})], role, cm()) == ["ClusterRole r"]
    assert denied([constraint({"scope": "cluster"})], role, cm()) == ["ClusterRole r", "ConfigMap apps/c"]


def test_label_and_namespace_selectors():
    assert denied([constraint({"labelSelector": {"matchLabels": {"tier": "web"}}})], cm()) == []
    assert denied([constraint({"labelSelector": {"matchExpressions": [
        {"key": "tier", "operator": "In", "values": ["web"]}]}})], cm(tier="web")) == ["ConfigMap apps/c"]
    assert denied([constraint({"namespaceSelector": {"matchLabels": {"team": "a"}}})], cm()) == ["ConfigMap apps/c"]
    assert denied([constraint({"namespaceSelector": {"matchLabels": {"team": "b"}}})], cm()) == []
    # every namespace carries kubernetes.io/metadata.name, set by the API server
    assert denied([constraint({"namespaceSelector": {"matchExpressions": [
        {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["apps"]}]}})], cm()) == ["ConfigMap apps/c"]


def test_selector_operators():
    labels = {"a": "1"}
    assert selector_matches({"matchExpressions": [{"key": "b", "operator": "NotIn", "values": ["1"]}]}, labels)
    assert not selector_matches({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, labels)
    assert selector_matches({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, labels)
    assert not selector_matches({"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}, labels)
    assert selector_matches({}, labels)


def test_enforcement_actions():
    assert denied([constraint(action="dryrun")], cm()) == []
    assert denied([constraint(action="warn")], cm()) == []
    assert denied([constraint(action="deny")], cm()) == ["ConfigMap apps/c"]
    scoped = [{"action": "deny", "enforcementPoints": [{"name": "audit.gatekeeper.sh"}]},
              {"action": "warn", "enforcementPoints": [{"name": "validation.gatekeeper.sh"}]}]
    assert not enforcement_denies({"enforcementAction": "scoped", "scopedEnforcementActions": scoped})
    scoped[0]["enforcementPoints"].append({"name": "validation.gatekeeper.sh"})
    assert denied([constraint(action="scoped", scopedEnforcementActions=scoped)], cm()) == ["ConfigMap apps/c"]
    cluster = Cluster([TEMPLATE, WEBHOOK, ns("apps"), constraint(action="warn")])
    v = cluster.review(cm())
    assert not v.denials and len(v.warnings) == 1 and len(v.audit) == 1


def test_config_exclusions_per_process():
    config = {"apiVersion": "config.gatekeeper.sh/v1alpha1", "kind": "Config",
              "metadata": {"name": "config", "namespace": "gatekeeper-system"},
              "spec": {"match": [{"excludedNamespaces": ["ap*"], "processes": ["webhook"]}]}}
    cluster = Cluster([TEMPLATE, WEBHOOK, ns("apps"), constraint(), config])
    v = cluster.review(cm())
    assert not v.denials and len(v.audit) == 1          # admitted, but audit still lists it
    config["spec"]["match"][0]["processes"] = ["*"]
    v = Cluster([TEMPLATE, WEBHOOK, ns("apps"), constraint(), config]).review(cm())
    assert not v.denials and not v.audit


def test_the_webhooks_namespace_selector_exempts_namespaces():
    assert denied([constraint()], cm(namespace="quiet")) == []            # admission.gatekeeper.sh/ignore
    assert denied([constraint()], cm(namespace="gatekeeper-system")) == []
    assert denied([constraint()], cm(namespace="kube-system")) == ["ConfigMap kube-system/c"]
    assert webhook_selects(WEBHOOK["webhooks"][0], cm(), ns("apps"))


def test_a_pod_only_constraint_stops_the_pods_of_an_admitted_deployment():
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "apps"},
              "spec": {"selector": {"matchLabels": {"app": "web"}},
                       "template": {"metadata": {"labels": {"app": "web"}},
                                    "spec": {"containers": [{"name": "c", "image": "x",
                                                             "securityContext": {"privileged": True}}]}}}}
    c = constraint({"kinds": [{"apiGroups": [""], "kinds": ["Pod"]}]})
    cluster = Cluster([TEMPLATE, WEBHOOK, ns("apps"), c, deploy])
    v = cluster.admit_all()
    assert [(d.object.split()[0], d.created_by) for d in v.denials] == [("Pod", "Deployment apps/web")]
    assert "container c is privileged" in v.summary()
    (rs,) = controller_children(deploy)
    (pod,) = controller_children(rs)
    assert rs["kind"] == "ReplicaSet" and pod["kind"] == "Pod" and pod["metadata"]["namespace"] == "apps"
    assert pod["metadata"]["labels"]["app"] == "web" and "pod-template-hash" in pod["metadata"]["labels"]


def test_cronjobs_create_jobs_that_create_pods():
    cj = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "scan", "namespace": "apps"},
          "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {
              "containers": [{"name": "c", "image": "x"}]}}}}}}
    (job,) = controller_children(cj)
    (pod,) = controller_children(job)
    assert (job["kind"], pod["kind"]) == ("Job", "Pod")
    assert pod["metadata"]["labels"]["job-name"] == job["metadata"]["name"]


def test_limit_range_defaults_apply_to_derived_pods_only():
    lr = {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "d", "namespace": "apps"},
          "spec": {"limits": [{"type": "Container", "default": {"cpu": "1"}, "defaultRequest": {"cpu": "100m"}}]}}
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "apps"},
              "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x"}]}}}}
    cluster = Cluster([ns("apps"), lr, deploy])
    seen = []
    original = cluster.review

    def spy(obj, created_by=None, verdicts=None, source="Original"):
        seen.append(copy.deepcopy(obj))
        return original(obj, created_by, verdicts, source)

    cluster.review = spy
    cluster.admit_all()
    pod = next(o for o in seen if o["kind"] == "Pod")
    assert pod["spec"]["containers"][0]["resources"] == {"limits": {"cpu": "1"}, "requests": {"cpu": "100m"}}
    deployment = next(o for o in seen if o["kind"] == "Deployment")
    assert "resources" not in deployment["spec"]["template"]["spec"]["containers"][0]


def test_failure_policy_fail_must_not_cover_gatekeepers_own_namespace():
    webhook = copy.deepcopy(WEBHOOK)
    del webhook["webhooks"][0]["namespaceSelector"]
    v = Cluster([TEMPLATE, webhook, ns("gatekeeper-system")]).admit_all()
    assert [d.by for d in v.denials] == ["validation.gatekeeper.sh"] and "failurePolicy" in v.denials[0].message
    webhook["webhooks"][0]["failurePolicy"] = "Ignore"
    assert Cluster([TEMPLATE, webhook, ns("gatekeeper-system")]).admit_all().denials == []


def test_only_exempt_namespaces_may_carry_the_ignore_label():
    label_webhook = copy.deepcopy(WEBHOOK)
    label_webhook["webhooks"] = [{"name": "check-ignore-label.gatekeeper.sh", "failurePolicy": "Fail",
                                  "clientConfig": {"service": {"name": "s", "namespace": "gatekeeper-system"}},
                                  "namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name",
                                                                             "operator": "NotIn",
                                                                             "values": ["gatekeeper-system"]}]},
                                  "rules": [{"apiGroups": [""], "apiVersions": ["*"], "operations": ["CREATE"],
                                             "resources": ["namespaces"], "scope": "*"}]}]
    manager = {"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "gatekeeper-controller-manager", "namespace": "gatekeeper-system"},
               "spec": {"template": {"spec": {"containers": [{"name": "m", "args": [
                   "--operation=webhook", "--exempt-namespace-prefix=tools-"]}]}}}}
    cluster = Cluster([label_webhook, manager])
    ignored = {"admission.gatekeeper.sh/ignore": "x"}
    assert [d.object for d in cluster.review(ns("sneaky", **ignored)).denials] == ["Namespace sneaky"]
    assert cluster.review(ns("tools-a", **ignored)).denials == []
    assert cluster.review(ns("gatekeeper-system", **ignored)).denials == []


def test_a_constraint_without_its_template_is_an_error():
    v = Cluster([WEBHOOK, constraint()]).admit_all()
    assert v.errors and "no ConstraintTemplate" in v.errors[0]
