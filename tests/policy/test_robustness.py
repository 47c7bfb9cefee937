"""Odd shapes, wrong types and unknown values never crash the pack: a policy that cannot check a
field fails closed with a violation naming it, and so does a value unknown during preview
("cannot verify <field> at preview", see test_unknowns.py)."""
from __future__ import annotations

import copy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hardened.manifests import UNKNOWN

from .helpers import container, golden, golden_others, messages, mutated, pod_spec, resource, run

DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def odd(mutate, kind="Deployment"):
    return mutated(golden(kind), mutate)


ODD_PODS = [
    ("containers-a-string", lambda o: pod_spec(o).update(containers="nginx"),
     "pod-disallow-privileged-containers", "spec.template.spec.containers: it is a string"),
    ("container-a-number", lambda o: pod_spec(o).update(containers=[42]),
     "container-missing-readonly-root-filesystem", "spec.template.spec.containers[0]: it is a number"),
    ("security-context-a-list", lambda o: container(o).update(securityContext=[{"privileged": False}]),
     "pod-disallow-privileged-containers", "securityContext: it is a list, expected an object"),
    ("run-as-user-a-string", lambda o: container(o)["securityContext"].update(runAsUser="1000"),
     "pod-disallow-root-user", "runAsUser: it is a string ('1000'), expected an integer"),
    ("privileged-a-string", lambda o: container(o)["securityContext"].update(privileged="false"),
     "pod-disallow-privileged-containers", "privileged: it is a string ('false'), expected true or false"),
    ("host-port-a-string", lambda o: container(o)["ports"][0].update(hostPort="80"),
     "pod-disallow-host-ports", "hostPort: it is a string ('80'), expected an integer"),
    ("drop-a-string", lambda o: container(o)["securityContext"]["capabilities"].update(drop="ALL"),
     "container-enforce-drop-all-capabilities", "capabilities.drop: it is a string"),
    ("limits-a-number", lambda o: container(o)["resources"].update(limits=4),
     "container-missing-resource-limits", "resources.limits: it is a number"),
    ("quantity-nonsense", lambda o: container(o)["resources"]["limits"].update(cpu="lots"),
     "container-missing-resource-limits", "limits.cpu: it is a string ('lots'), expected a quantity"),
    ("image-a-number", lambda o: container(o).update(image=42),
     "pod-disallow-untrusted-registries", "image: it is a number (42), expected a string"),
    ("volumes-a-mapping", lambda o: pod_spec(o).update(volumes={"tmp": {}}),
     "pod-disallow-host-path-volumes", "volumes: it is an object, expected a list"),
    ("host-network-a-string", lambda o: pod_spec(o).update(hostNetwork="yes"),
     "pod-disallow-host-namespaces", "hostNetwork: it is a string ('yes'), expected true or false"),
    ("missing-template", lambda o: o["spec"].pop("template"),
     "pod-disallow-privileged-containers", "spec.template: it is missing"),
    ("spec-null", lambda o: o.update(spec=None), "pod-disable-token-automount", "spec: it is missing"),
    ("spec-a-list", lambda o: o.update(spec=[1, 2]), "pod-disallow-root-user", "spec: it is a list"),
    ("metadata-a-list", lambda o: o.update(metadata=["x"]), None, None),
]


@pytest.mark.parametrize("case,mutate,policy,expected", ODD_PODS, ids=[c[0] for c in ODD_PODS])
def test_odd_pod_shapes_fail_closed_without_crashing(pack, case, mutate, policy, expected):
    analysis = run(pack, resource(odd(mutate), name=case, type_=DEPLOYMENT))
    if policy is not None:
        found = messages(analysis, policy)
        assert any("cannot verify" in m and expected in m and "fails closed" in m for m in found), found
        assert all(v.enforcement_level == "mandatory" for v in analysis.by_policy(policy))


def test_one_malformed_container_does_not_hide_the_others(pack):
    def two(o):
        good = copy.deepcopy(container(o))
        good["securityContext"]["privileged"] = True
        pod_spec(o)["containers"] = ["broken", good]
    found = messages(run(pack, odd(two)), "pod-disallow-privileged-containers")
    assert any("containers[0]: it is a string" in m for m in found)
    assert any('container "app" runs privileged' in m for m in found)


ODD_OTHERS = [
    ("Namespace", lambda o: o["metadata"].update(labels=["restricted"]), "namespace-enforce-pod-security",
     "metadata.labels: it is a list"),
    ("Role", lambda o: o.update(rules="everything"), "role-disallow-wildcards", "rules: it is a string"),
    ("Role", lambda o: o["rules"][0].update(verbs="*"), "role-disallow-wildcards", "verbs: it is a string"),
    ("RoleBinding", lambda o: o.update(roleRef="cluster-admin"), "rolebinding-disallow-cluster-admin",
     "roleRef: it is a string"),
    ("NetworkPolicy", lambda o: o["spec"].update(egress={"to": []}), "networkpolicy-disallow-allow-all",
     "spec.egress: it is an object"),
    ("NetworkPolicy", lambda o: o["spec"]["egress"][0].update(to=["everyone"]), "networkpolicy-disallow-allow-all",
     "to[0]: it is a string"),
    ("Service", lambda o: o["spec"].update(type=["LoadBalancer"]), "service-disallow-external-exposure",
     "spec.type: it is a list"),
    ("Secret", lambda o: o.update(data=["c2VjcmV0"]), "secret-disallow-literal-data", "data: it is a list"),
    ("ServiceAccount", lambda o: o.update(automountServiceAccountToken="false"),
     "serviceaccount-disable-token-automount", "automountServiceAccountToken: it is a string"),
]


@pytest.mark.parametrize("kind,mutate,policy,expected", ODD_OTHERS, ids=[f"{k}-{p}" for k, _, p, _ in ODD_OTHERS])
def test_odd_shapes_of_other_kinds_fail_closed(pack, kind, mutate, policy, expected):
    found = messages(run(pack, mutated(golden_others()[kind], mutate), stack=False), policy)
    assert any("cannot verify" in m and expected in m for m in found), found


@pytest.mark.parametrize("inputs", [{}, {"kind": "Deployment"}, {"spec": "x", "metadata": 7}, {"apiVersion": None}],
                         ids=["empty", "kind-only", "spec-a-string", "nulls"])
def test_skeletal_inputs_never_crash(pack, inputs):
    for type_ in (DEPLOYMENT, "kubernetes:core/v1:Namespace", "kubernetes:networking.k8s.io/v1:NetworkPolicy",
                  "kubernetes:core/v1:Secret", "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole",
                  "kubernetes:helm.sh/v4:Chart", "aws:kms/key:Key"):
        run(pack, resource(inputs, name="skeleton", type_=type_))


def test_the_stack_policy_survives_odd_resources(pack):
    objs = [resource({"metadata": "x"}, "a", type_="kubernetes:core/v1:Namespace"),
            resource({"metadata": {"name": "b"}, "spec": ["x"]}, "b", type_="kubernetes:networking.k8s.io/v1:NetworkPolicy"),
            resource({"metadata": {"name": "c"}}, "c", type_="kubernetes:core/v1:Namespace")]
    found = messages(run(pack, *objs), "namespace-missing-default-deny")
    assert any("cannot verify metadata" in m for m in found), found
    assert any("Namespace c has no default-deny" in m for m in found), found


# --- unknown values during preview: see test_unknowns.py (they fail closed, issue 15) ----------------

# --- anything at all, anywhere ---------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2 ** 31, 2 ** 31) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12) | st.just(UNKNOWN),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, prefix + (i,))


GOLDEN = golden("CronJob")
PATHS = [p for p in _paths(GOLDEN) if p]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(where=st.sampled_from(PATHS), value=JSON)
def test_any_value_anywhere_never_crashes_the_pack(pack, where, value):
    obj = copy.deepcopy(GOLDEN)
    node = obj
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    analysis = run(pack, resource(obj, name="fuzzed", type_="kubernetes:batch/v1:CronJob"))
    for v in analysis.verdicts:
        assert v.policy in pack.policies and v.message
