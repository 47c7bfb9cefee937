"""The wiring model (policy_pack/policies/_lib/wiring.py) on the rendered prod stack and on the
cases that decide its verdicts: prod has no dangling reference, and each check, fed the prod stack
with one name broken, finds exactly that reference (so no check is vacuous on real data)."""
from __future__ import annotations

import copy

import pytest

from policy_pack.policies._lib import wiring
from policy_pack.policies._lib.k8s import Obj
from policy_pack.policies._lib.wiring import ANY, inventory, selector_matches, service_names


def _obj(manifest: dict) -> Obj:
    from hardened.manifests import type_token

    return Obj(type_token(manifest["apiVersion"], manifest["kind"]), manifest, manifest["metadata"]["name"])


def _find(objects, kind, name, namespace=None):
    hits = [o for o in objects if o.info and o.kind == kind and o.name == name
            and (namespace is None or o.namespace == namespace)]
    assert len(hits) == 1, (kind, name, namespace, len(hits))
    return hits[0]


def _broken(objects, kind, name, namespace, change):
    """*objects* with a deep copy of one object changed by *change(props)*."""
    target = _find(objects, kind, name, namespace)
    props = copy.deepcopy(dict(target.props))
    change(props)
    return [Obj(o.type, props, o.resource_name) if o is target else o for o in objects]


def _found(objects, check):
    return [(wiring._where(d.obj), d.target) for d in wiring.CHECKS[check](inventory(objects))]


# --- the prod stack -------------------------------------------------------------------------------

def test_prod_has_no_dangling_reference(prod_objects):
    found = [f"{wiring._where(d.obj)}: {d.message}" for d in wiring.all_dangling(prod_objects)]
    assert found == []


def test_prod_is_judged_as_a_whole_stack(prod_objects):
    inv = inventory(prod_objects)
    assert inv.whole_stack and len(inv.roles) >= 4
    assert {"spire-server", "spire-system", "vault", "lego-mcp-prod", "istio-ingress"} <= inv.namespaces
    # the pods istiod deploys for the Gateway, from the runtime table
    assert any(p.labels.get("gateway.networking.k8s.io/gateway-name") == "public"
               for p in inv.pods_in("istio-ingress"))


def _sa(name):
    return lambda p: p["spec"]["template"]["spec"].__setitem__("serviceAccountName", name)


BREAKS = [
    ("pod-missing-service-account", ("Deployment", "dashboard", "lego-mcp-prod", _sa("dashbaord")),
     [("Deployment lego-mcp-prod/dashboard", "ServiceAccount lego-mcp-prod/dashbaord")]),
    ("service-missing-selected-pods",
     ("Service", "mcp-server", "lego-mcp-prod", lambda p: p["spec"]["selector"].__setitem__("app", "mcp")),
     [("Service lego-mcp-prod/mcp-server", "pods lego-mcp-prod (app=mcp)")]),
    ("networkpolicy-missing-selected-pods",
     ("NetworkPolicy", "allow-ingress-dashboard-to-mcp-server-8080", "lego-mcp-prod",
      lambda p: p["spec"]["podSelector"]["matchLabels"].__setitem__("app", "mcp_server")),
     [("NetworkPolicy lego-mcp-prod/allow-ingress-dashboard-to-mcp-server-8080", "pods lego-mcp-prod")]),
    ("webhook-missing-service",
     ("Service", "cert-manager-webhook", "cert-manager", lambda p: p["metadata"].__setitem__("name", "cm-webhook")),
     [("MutatingWebhookConfiguration cert-manager-webhook", "Service cert-manager/cert-manager-webhook"),
      ("ValidatingWebhookConfiguration cert-manager-webhook", "Service cert-manager/cert-manager-webhook")]),
    ("rolebinding-missing-service-account",
     ("ClusterRoleBinding", "vault-server-binding", None,
      lambda p: p["subjects"][0].__setitem__("name", "vault-server")),
     [("ClusterRoleBinding vault-server-binding", "ServiceAccount vault/vault-server")]),
    ("hostname-missing-service",
     ("Service", "spire-server", "spire-server", lambda p: p["metadata"].__setitem__("name", "spire")),
     [("ConfigMap spire-system/spire-agent", "Service spire-server/spire-server")]),
    ("spire-missing-attested-service-account",
     ("ServiceAccount", "spire-agent", "spire-system", lambda p: p["metadata"].__setitem__("name", "agent")),
     [("ConfigMap spire-server/spire-server", "ServiceAccount spire-system/spire-agent")]),
    ("volume-missing-storage-class",
     ("StorageClass", "gp3-encrypted", None, lambda p: p["metadata"].__setitem__("name", "gp3")),
     [("StatefulSet lego-mcp-prod/mcp-server", "StorageClass gp3-encrypted"),
      ("StatefulSet vault/vault", "StorageClass gp3-encrypted")]),
    ("httproute-missing-references",
     ("Gateway", "public", "istio-ingress", lambda p: p["metadata"].__setitem__("name", "edge")),
     [("HTTPRoute istio-ingress/https-redirect", "Gateway istio-ingress/public"),
      ("HTTPRoute lego-mcp-prod/dashboard", "Gateway istio-ingress/public")]),
    ("externalsecret-missing-store",
     ("ClusterSecretStore", "vault-ltmc-production", None, lambda p: p["metadata"].__setitem__("name", "vault-ltmc")),
     [("ExternalSecret ltmc-production/ltmc-mcp-server-secrets", "ClusterSecretStore vault-ltmc-production")]),
    ("certificate-missing-issuer",
     ("ClusterIssuer", "letsencrypt-prod", None, lambda p: p["metadata"].__setitem__("name", "letsencrypt")),
     [("Certificate istio-ingress/dashboard-tls", "ClusterIssuer letsencrypt-prod")]),
]


@pytest.mark.parametrize("check,change,expected", BREAKS, ids=[b[0] for b in BREAKS])
def test_each_check_finds_one_broken_name_in_prod(prod_objects, check, change, expected):
    kind, name, namespace, fn = change
    assert _found(prod_objects, check) == []
    assert sorted(set(_found(_broken(prod_objects, kind, name, namespace, fn), check))) == expected


def test_irsa_check_finds_a_trust_for_another_service_account_in_prod(prod_objects):
    """The falco role's trust names falco/falcosidekick; made to name vault/vault, the annotation
    of falcosidekick's ServiceAccount no longer resolves to a role that trusts it."""
    role = next(o for o in prod_objects if o.type == wiring.IAM_ROLE_TOKEN and "falco" in o.resource_name)
    props = dict(role.props)
    props["assumeRolePolicy"] = props["assumeRolePolicy"].replace("falco:falcosidekick", "vault:vault")
    objects = [Obj(o.type, props, o.resource_name) if o is role else o for o in prod_objects]
    assert _found(objects, "serviceaccount-missing-irsa-trust") == [
        ("ServiceAccount falco/falcosidekick", "IAM role lego-mcp-prod-falco-audit")]


def test_irsa_annotations_of_prod_name_roles_with_fixed_names(prod_objects):
    """Every IRSA annotation of prod names a role by a fixed name, known at preview (a generated
    one would make the annotation unknown, and the pack unable to judge it)."""
    inv = inventory(prod_objects)
    names = {o.props.get("name") for o in inv.roles}
    annotated = [o.annotations()[wiring.IRSA_ANNOTATION] for o in prod_objects
                 if o.kind == "ServiceAccount" and wiring.IRSA_ANNOTATION in o.annotations()]
    # Vault (unseal, and its audit sidecar's writes) and falcosidekick at least; the cluster's add-ons too
    assert {"lego-mcp-prod-vault-unseal", "lego-mcp-prod-falco-audit"} <= {
        wiring.ROLE_ARN.match(a).group(2) for a in annotated}
    assert all(wiring.ROLE_ARN.match(a).group(2) in names for a in annotated)


# --- the model's semantics --------------------------------------------------------------------------

@pytest.mark.parametrize("selector,labels,expected", [
    ({}, {}, True),
    ({"matchLabels": {"app": "a"}}, {"app": "a", "x": "y"}, True),
    ({"matchLabels": {"app": "a"}}, {"app": "b"}, False),
    ({"matchExpressions": [{"key": "app", "operator": "In", "values": ["a", "b"]}]}, {"app": "b"}, True),
    ({"matchExpressions": [{"key": "app", "operator": "In", "values": ["a"]}]}, {}, False),
    ({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["a"]}]}, {}, True),
    ({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["a"]}]}, {"app": "a"}, False),
    ({"matchExpressions": [{"key": "app", "operator": "Exists"}]}, {"app": ""}, True),
    ({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}, {"app": "a"}, False),
    ({"matchLabels": {"app": "a"}, "matchExpressions": [{"key": "t", "operator": "Exists"}]}, {"app": "a"}, False),
    # a label set at run time may hold any value, or none
    ({"matchLabels": {"vault-active": "true"}}, {"vault-active": ANY}, True),
    ({"matchExpressions": [{"key": "vault-active", "operator": "DoesNotExist"}]}, {"vault-active": ANY}, True),
], ids=lambda v: str(v).replace(repr(ANY), "<any value>")[:40])
def test_selector_semantics(selector, labels, expected):
    assert selector_matches(selector, labels) is expected


@pytest.mark.parametrize("text,expected", [
    ("spire-server.spire-server", [(None, "spire-server", "spire-server")]),
    ("https://vault-active.vault.svc:8200/v1", [(None, "vault-active", "vault")]),
    ("vault-active.vault.svc.cluster.local", [(None, "vault-active", "vault")]),
    ("vault-0.vault-internal.vault.svc:8201", [("vault-0", "vault-internal", "vault")]),
    ("--server=a.b", [(None, "a", "b")]),
    # not cluster names: longer dotted names, a zone without .svc, emails, label keys
    ("dashboard.lego-mcp.io", []),
    ("a.b.cluster.local", []),
    ("ops@vault.vault", []),
    ("app.kubernetes.io/name", []),
    ("x.y.z", []),
    # the short form only where a host stands: a bare word pair is not one
    ("secretName: istio.default", []),
    ("see a.b here", []),
    ("host: a.b", [(None, "a", "b")]),
    ("a.b:8200", [(None, "a", "b")]),
])
def test_cluster_dns_names(text, expected):
    assert [(h, s, n) for h, s, n, _ in service_names(text)] == expected


def test_runtime_table_is_one_documented_table():
    """Every entry names what is made, by whom, and the upstream file that makes it."""
    assert len(wiring.RUNTIME) >= 5
    for made in wiring.RUNTIME:
        assert made.what and made.made_by and "/" in made.source


def test_partial_input_judges_only_what_it_holds():
    """One Deployment alone: its ServiceAccount's namespace holds none in the input, so nothing is
    judged; add any ServiceAccount of that namespace and the missing one is reported."""
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api", "namespace": "shop"},
                  "spec": {"template": {"metadata": {"labels": {"app": "api"}},
                                        "spec": {"serviceAccountName": "api", "containers": [{"name": "c"}]}}}}
    other = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "web", "namespace": "shop"}}
    assert list(wiring.dangling_service_accounts(inventory([_obj(deployment)]))) == []
    found = list(wiring.dangling_service_accounts(inventory([_obj(deployment), _obj(other)])))
    assert [d.target for d in found] == ["ServiceAccount shop/api"]


def test_hcl_allow_list_is_read():
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "spire-server", "namespace": "spire"},
          "data": {"server.conf": 'NodeAttestor "k8s_psat" { plugin_data { clusters = { "c" = {\n'
                                  '  service_account_allow_list = ["spire:agent", "spire:spire-agent"] } } } }'}}
    sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "spire-agent", "namespace": "spire"}}
    found = list(wiring.dangling_psat_allow_list(inventory([_obj(cm), _obj(sa)])))
    assert [d.target for d in found] == ["ServiceAccount spire/agent"]


def test_a_malformed_reference_is_reported_on_its_object_and_the_others_still_judged():
    bad = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a", "namespace": "shop"},
           "spec": {"selector": "app=a"}}
    dangling = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "b", "namespace": "shop"},
                "spec": {"selector": {"app": "b"}}}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "shop", "labels": {"app": "p"}},
           "spec": {"containers": [{"name": "c"}]}}
    found = list(wiring.dangling_services(inventory([_obj(bad), _obj(dangling), _obj(pod)])))
    assert [(d.obj.name, "cannot verify" in d.message) for d in found] == [("a", True), ("b", False)]


def test_policies_run_the_library_checks():
    """Each wiring policy is the library's check of the same name, over the kinds it reads."""
    from policy_pack.policies import all_policies

    by_name = {p.name: p for p in all_policies()}
    for name in wiring.CHECKS:
        policy = by_name[name]
        assert policy.kinds == frozenset(wiring.KINDS[name])
        assert policy.applies_to(wiring.WHOLE_STACK_TOKEN)
