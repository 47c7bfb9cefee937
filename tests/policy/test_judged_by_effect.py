"""Rules judged by what they do, not by their literal form (issue 16, classes 3-6): equivalent
shapes get one verdict, wide trust is refused in every spelling, and the look-alikes pass."""
from __future__ import annotations

import pytest

from components.config import StackConfig
from policy_pack.policies._lib.registries import shared_host
from policy_pack.policies.container_disallow_literal_credentials import could_be_credential, names_credential
from policy_pack.policies.networkpolicy_disallow_allow_all import Coverage, every_port, matches_every_namespace

from .helpers import messages, run

NETPOL = "networkpolicy-disallow-allow-all"
DIGEST = "sha256:" + "a" * 64


def _netpol(namespace: str, rule: dict, selector: dict | None = None, direction: str = "ingress") -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "p", "namespace": namespace},
            "spec": {"podSelector": selector or {}, "policyTypes": [direction.capitalize()], direction: [rule]}}


# --- NetworkPolicy: equivalent rules, one verdict ---------------------------------------------------

HTTPS = [{"protocol": "TCP", "port": 443}]
EQUIVALENT_INGRESS = {
    "no-from": {"ports": HTTPS},
    "empty-from": {"from": [], "ports": HTTPS},
    "empty-peer": {"from": [{}], "ports": HTTPS},
    "ipblock-everything": {"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": HTTPS},
    "ipblock-halves": {"from": [{"ipBlock": {"cidr": "0.0.0.0/1"}}, {"ipBlock": {"cidr": "128.0.0.0/1"}}],
                       "ports": HTTPS},
    "ipblock-public-only": {"from": [{"ipBlock": {"cidr": "0.0.0.0/0",
                                                  "except": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]}}],
                            "ports": HTTPS},
    "ipv6-everything": {"from": [{"ipBlock": {"cidr": "::/0"}}], "ports": HTTPS},
}


@pytest.mark.parametrize("shape", sorted(EQUIVALENT_INGRESS))
def test_public_ingress_gets_one_verdict_whatever_its_shape(pack, shape):
    rule = EQUIVALENT_INGRESS[shape]
    tenant = messages(run(pack, _netpol("lego-mcp-prod", rule, {"matchLabels": {"app": "dashboard"}})), NETPOL)
    gateway_ns = messages(run(pack, _netpol("istio-ingress", rule)), NETPOL)
    gateway_pods = messages(run(pack, _netpol("shop", rule, {"matchLabels": {"istio": "ingressgateway"}})), NETPOL)
    assert len(tenant) == 1, tenant
    assert not gateway_ns and not gateway_pods, (gateway_ns, gateway_pods)


def test_the_gateway_exception_needs_named_ports(pack):
    rule = {"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"protocol": "TCP"}]}
    assert messages(run(pack, _netpol("istio-ingress", rule)), NETPOL)


def test_the_gateway_exception_is_configurable(pack, configure):
    configure({NETPOL: {"ingressGatewayNamespaces": ["edge"]}})
    rule = EQUIVALENT_INGRESS["no-from"]
    assert not messages(run(pack, _netpol("edge", rule)), NETPOL)
    assert messages(run(pack, _netpol("istio-ingress", rule)), NETPOL)


@pytest.mark.parametrize("to,ports,refused", [
    ([{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                                   "169.254.0.0/16"]}}], HTTPS, False),
    ([{"ipBlock": {"cidr": "0.0.0.0/0"}}], HTTPS, True),                      # reaches the private ranges too
    ([{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]}}], HTTPS, True),
    (None, HTTPS, True),                                                      # no `to`: the same thing
    ([{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                                   "169.254.0.0/16"]}}], [{"protocol": "TCP", "port": 1,
                                                                            "endPort": 65535}], True),
    ([{"ipBlock": {"cidr": "52.94.0.0/16"}}], [{"protocol": "TCP"}], False),  # one provider range, all ports
], ids=["internet-443", "everything-443", "everything-but-metadata", "no-to", "internet-all-ports", "one-range"])
def test_egress_to_the_internet(pack, to, ports, refused):
    rule = {"ports": ports} if to is None else {"to": to, "ports": ports}
    found = messages(run(pack, _netpol("vault", rule, direction="egress")), NETPOL)
    assert bool(found) == refused, found


@pytest.mark.parametrize("cidrs,internet", [
    (["0.0.0.0/0"], True),
    (["0.0.0.0/1", "128.0.0.0/1"], True),
    (["0.0.0.0/2"], True),                 # a quarter of the public space
    (["0.0.0.0/3"], False),
    (["203.0.113.0/24", "198.51.100.0/24"], False),
    (["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"], False),
    (["2000::/3"], True),
    (["2001:db8::/32"], False),
], ids=lambda v: str(v))
def test_cidr_sets_are_judged_by_coverage(cidrs, internet):
    coverage = Coverage()
    for cidr in cidrs:
        coverage.add({"cidr": cidr}, "ipBlock")
    assert coverage.internet() is internet


def test_excepts_are_subtracted_from_coverage():
    coverage = Coverage()
    coverage.add({"cidr": "0.0.0.0/0", "except": ["0.0.0.0/1"]}, "ipBlock")
    assert coverage.internet()          # still half the internet
    narrow = Coverage()
    narrow.add({"cidr": "0.0.0.0/0", "except": ["0.0.0.0/1", "128.0.0.0/2", "192.0.0.0/3"]}, "ipBlock")
    assert not narrow.internet()


@pytest.mark.parametrize("ports,every", [
    ([], True),
    ([{"protocol": "UDP"}], True),
    ([{"port": 1, "endPort": 30000}, {"port": 30001, "endPort": 65535}], True),
    ([{"port": 1, "endPort": 30000}, {"port": 30002, "endPort": 65535}], False),
    ([{"port": 1, "endPort": 65535, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}], True),
    ([{"port": "https"}, {"port": 8080}], False),
    ([{"port": "8080"}], False),
])
def test_every_port_is_judged_by_coverage(ports, every):
    assert every_port({"ports": ports}, "rule") is every


@pytest.mark.parametrize("selector,everything", [
    ({}, True),
    ({"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "Exists"}]}, True),
    ({"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["a"]}]}, True),
    ({"matchExpressions": [{"key": "team", "operator": "DoesNotExist"}]}, True),
    ({"matchExpressions": [{"key": "team", "operator": "Exists"}]}, False),
    ({"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["a"]}]}, False),
    ({"matchLabels": {"kubernetes.io/metadata.name": "a"}}, False),
])
def test_namespace_selectors_are_judged_by_what_they_match(selector, everything):
    assert matches_every_namespace(selector, "namespaceSelector") is everything


# --- AuthorizationPolicy ------------------------------------------------------------------------

def _authz(rules: list, namespace: str = "lego-mcp-prod", selector: dict | None = None) -> dict:
    spec = {"action": "ALLOW", "rules": rules, "selector": selector or {"matchLabels": {"app": "mcp-server"}}}
    return {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
            "metadata": {"name": "p", "namespace": namespace}, "spec": spec}


@pytest.mark.parametrize("rule,refused", [
    ({"to": [{"operation": {"ports": ["8080"]}}]}, True),
    ({"when": [{"key": "request.headers[x-debug]", "values": ["1"]}]}, True),
    ({"from": [{"source": {"notNamespaces": ["legacy"]}}]}, True),
    ({"from": [{"source": {"namespaces": ["*"]}}], "when": [{"key": "request.auth.claims[iss]", "values": ["*"]}]},
     True),
    ({"from": [{"source": {"principals": ["td/ns/a/sa/b"], "notNamespaces": ["c"]}}]}, False),
    ({"to": [{"operation": {"ports": ["8080"]}}], "when": [{"key": "source.principal", "values": ["td/ns/a/sa/b"]}]},
     False),
], ids=["to-only", "when-not-about-caller", "not-only", "wildcards", "positive-and-negative", "when-names-caller"])
def test_an_allow_rule_must_name_its_callers(pack, rule, refused):
    found = messages(run(pack, _authz([rule])), "authorizationpolicy-disallow-allow-all")
    assert bool(found) == refused, found


def test_the_public_entry_point_may_omit_from_but_not_everything(pack):
    gateway = {"matchLabels": {"gateway.networking.k8s.io/gateway-name": "public"}}
    assert not messages(run(pack, _authz([{"to": [{"operation": {"ports": ["443"]}}]}], "shop", gateway)),
                        "authorizationpolicy-disallow-allow-all")
    assert messages(run(pack, _authz([{}], "istio-ingress")), "authorizationpolicy-disallow-allow-all")


# --- RBAC ---------------------------------------------------------------------------------------

RBAC = "rbac.authorization.k8s.io/v1"


def _cluster_role(name: str, rules: list, labels: dict | None = None) -> dict:
    return {"apiVersion": RBAC, "kind": "ClusterRole", "metadata": {"name": name, "labels": labels or {}},
            "rules": rules}


def _binding(kind: str, role: str, namespace: str | None = None, subject: dict | None = None) -> dict:
    meta = {"name": f"{role}-binding", **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": RBAC, "kind": kind, "metadata": meta,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [subject or {"kind": "ServiceAccount", "name": "app", "namespace": "lego-mcp-prod"}]}


SECRETS_READ = [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}]


@pytest.mark.parametrize("bindings,refused", [
    ([("RoleBinding", "lego-mcp-prod")], False),
    ([("RoleBinding", "lego-mcp-prod"), ("RoleBinding", "ltmc-production")], False),
    ([("ClusterRoleBinding", None)], True),
    ([("RoleBinding", "lego-mcp-prod"), ("ClusterRoleBinding", None)], True),
    ([], True),
], ids=["one-namespace", "two-namespaces", "cluster-wide", "both", "unbound"])
def test_secrets_read_is_judged_by_the_bindings(pack, bindings, refused):
    objs = [_cluster_role("secret-reader", SECRETS_READ)]
    objs += [_binding(kind, "secret-reader", ns) for kind, ns in bindings]
    found = messages(run(pack, *objs), "clusterrole-disallow-secrets-read")
    assert bool(found) == refused, found


def test_a_binding_to_another_role_does_not_scope_the_secret_reader(pack):
    objs = [_cluster_role("secret-reader", SECRETS_READ), _binding("RoleBinding", "other", "lego-mcp-prod")]
    assert messages(run(pack, *objs), "clusterrole-disallow-secrets-read")


@pytest.mark.parametrize("rule,refused", [
    ({"apiGroups": ["*"], "resources": ["clusterroles"], "verbs": ["escalate"]}, True),
    ({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["*"], "verbs": ["bind"]}, True),
    ({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["*"]}, True),
    ({"apiGroups": [""], "resources": ["users", "groups"], "verbs": ["impersonate"]}, True),
    ({"apiGroups": ["authentication.k8s.io"], "resources": ["userextras/scopes"], "verbs": ["impersonate"]}, True),
    ({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["bind"],
      "resourceNames": ["view"]}, False),
    ({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["escalate"],
      "resourceNames": ["view"]}, True),
    ({"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["impersonate", "bind"]}, False),
    ({"apiGroups": [""], "resources": ["users"], "verbs": ["get"]}, False),
], ids=["escalate-any-group", "bind-any-resource", "star-verbs-on-roles", "impersonate-users",
        "impersonate-extras", "bind-named", "escalate-named", "verbs-on-other-resources", "read-users"])
def test_escalation_verbs(pack, rule, refused):
    found = messages(run(pack, _cluster_role("r", [rule])), "role-disallow-privilege-escalation")
    assert bool(found) == refused, found


@pytest.mark.parametrize("kind,name,role,refused", [
    ("Group", "system:unauthenticated", "system:public-info-viewer", True),
    ("User", "system:anonymous", "view", True),
    ("Group", "system:masters", "view", True),
    ("Group", "system:authenticated", "view", True),
    ("Group", "system:serviceaccounts", "view", True),
    ("Group", "system:authenticated", "system:discovery", False),
    ("Group", "system:serviceaccounts:lego-mcp-prod", "view", False),
    ("User", "alice@example.com", "view", False),
])
def test_broad_subjects(pack, kind, name, role, refused):
    subject = {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name}
    for binding_kind, ns in (("RoleBinding", "lego-mcp-prod"), ("ClusterRoleBinding", None)):
        found = messages(run(pack, _binding(binding_kind, role, ns, subject)), "rolebinding-disallow-broad-subjects")
        assert bool(found) == refused, (binding_kind, found)


# --- Mesh bypass --------------------------------------------------------------------------------

def _pod(namespace: str, annotations: dict) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": namespace, "annotations": annotations},
            "spec": {"containers": [{"name": "c", "image": f"ghcr.io/lego-mcp/c@{DIGEST}"}]}}


def _namespace(name: str, labels: dict) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def test_opting_out_counts_only_in_a_mesh_namespace(pack):
    pod = _pod("team", {"sidecar.istio.io/inject": "false"})
    assert not messages(run(pack, pod), "pod-disallow-mesh-bypass")
    assert not messages(run(pack, _namespace("team", {}), pod), "pod-disallow-mesh-bypass")
    assert messages(run(pack, _namespace("team", {"istio-injection": "enabled"}), pod), "pod-disallow-mesh-bypass")
    assert messages(run(pack, _namespace("team", {"istio.io/rev": "1-27"}), pod), "pod-disallow-mesh-bypass")


def test_exclusions_count_in_every_tenant_namespace_only(pack, configure):
    pod = _pod("team", {"traffic.sidecar.istio.io/excludeInboundPorts": "9090"})
    assert messages(run(pack, pod), "pod-disallow-mesh-bypass")
    assert not messages(run(pack, _pod("istio-system", pod["metadata"]["annotations"])), "pod-disallow-mesh-bypass")
    configure({"pod-disallow-mesh-bypass": {"systemNamespaces": ["team"]}})
    assert not messages(run(pack, pod), "pod-disallow-mesh-bypass")


# --- Trust that is too wide ---------------------------------------------------------------------

@pytest.mark.parametrize("entry,host", [
    ("ghcr.io", "ghcr.io"), ("docker.io/", "docker.io"), ("index.docker.io", "index.docker.io"), ("quay.io", "quay.io"),
    ("us-central1-docker.pkg.dev", "us-central1-docker.pkg.dev"), ("public.ecr.aws", "public.ecr.aws"),
    ("ghcr.io/lego-mcp", None), ("docker.io/istio", None), ("registry.k8s.io", None), ("openpolicyagent", None),
    ("registry.example.net", None), ("registry.example.net:5000", None),
])
def test_shared_hosts(entry, host):
    assert shared_host(entry) == host


def test_a_shared_host_in_the_configuration_trusts_nothing(pack, configure):
    pod = _pod("lego-mcp-prod", {})
    configure({"pod-disallow-untrusted-registries": {"allowedRegistries": ["ghcr.io", "ghcr.io/acme"]}})
    [found] = messages(run(pack, pod, stack=False), "pod-disallow-untrusted-registries")
    assert "'ghcr.io' trusts nothing" in found and "ghcr.io/lego-mcp" in found
    acme = _pod("lego-mcp-prod", {})
    acme["spec"]["containers"][0]["image"] = f"ghcr.io/acme/tool@{DIGEST}"
    assert not messages(run(pack, acme, stack=False), "pod-disallow-untrusted-registries")
    acme["spec"]["containers"][0]["image"] = f"ghcr.io/acme-evil/tool@{DIGEST}"
    assert messages(run(pack, acme, stack=False), "pod-disallow-untrusted-registries")


@pytest.mark.parametrize("entry", ["ghcr.io", "docker.io", "quay.io/"])
def test_the_stack_refuses_a_shared_host(entry):
    with pytest.raises(ValueError, match="whole shared registry"):
        StackConfig.model_validate({"cluster": {"name": "c", "environment": "dev"}, "trustedRegistries": [entry]})


def test_the_default_and_stack_trusted_registries_are_prefixes():
    import yaml

    from .helpers import ROOT
    lists = {"default": StackConfig.model_fields["trusted_registries"].default_factory()}
    for stack in ("prod", "dev"):
        config = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
        lists[stack] = config["hardened-stack:trustedRegistries"]
    for where, registries in lists.items():
        assert registries and not [r for r in registries if shared_host(r)], where


@pytest.mark.parametrize("name,credential", [
    ("PASSWORD", True), ("DB_PASSWORD", True), ("dbPassword", True), ("db-password", True), ("GITHUB_TOKEN", True),
    ("API_KEY", True), ("STRIPE_SECRET_KEY", True), ("AWS_SECRET_ACCESS_KEY", True), ("SECRET_KEY_BASE", True),
    ("CLIENT_SECRET", True), ("HSM_PIN", True), ("KEY", True), ("REDIS_PASS", True), ("OAUTH_CREDENTIALS", True),
    ("KEY_PATH", False), ("TOKEN_FILE", False), ("SECRET_NAME", False), ("AWS_ACCESS_KEY_ID", False),
    ("PASSWORD_MIN_LENGTH", False), ("TOKEN_TTL", False), ("PUBLIC_KEY", False), ("CACHE_KEY", False),
    ("PWD", False), ("PASSWORD_SECRET_REF", False), ("TOKEN_ENDPOINT", False), ("KEYCLOAK_URL", False),
])
def test_credential_names(name, credential):
    assert names_credential(name) is credential


@pytest.mark.parametrize("value,could", [
    ("hunter2", True), ("", False), ("$(DB_PASSWORD)", False), ("$(A)$(B)", False), ("/run/secrets/db", False),
    ("true", False), ("0", False), ("prefix-$(A)", True),
])
def test_credential_values(value, could):
    assert could_be_credential(value) is could


def test_credential_messages_name_the_variable_never_the_value(pack):
    pod = _pod("lego-mcp-prod", {})
    pod["spec"]["containers"][0]["env"] = [{"name": "DB_PASSWORD", "value": "hunter2"},
                                           {"name": "DSN", "value": "mysql://u:hunter3@db/x"}]
    found = messages(run(pack, pod), "container-disallow-literal-credentials")
    assert len(found) == 2 and all("hunter" not in m for m in found), found


def test_subjects_are_judged_by_name_whatever_their_kind(pack):
    for kind in ("User", "Group"):
        subject = {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": "system:anonymous"}
        assert messages(run(pack, _binding("RoleBinding", "view", "team", subject)), "rolebinding-disallow-broad-subjects")


def test_bootstrap_roles_keep_only_what_kubernetes_grants_them(pack):
    edit_rules = [{"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["impersonate"]},
                  {"apiGroups": [""], "resources": ["secrets", "configmaps"], "verbs": ["get", "list", "create"]}]
    labels = {"rbac.authorization.k8s.io/aggregate-to-edit": "true"}
    builtin = _cluster_role("system:aggregate-to-edit", edit_rules, labels)
    assert not messages(run(pack, builtin), "role-disallow-privilege-escalation")
    assert not messages(run(pack, builtin), "clusterrole-disallow-secrets-read")
    copied = _cluster_role("my-edit", edit_rules, labels)           # the same rules under another name
    assert messages(run(pack, copied), "role-disallow-privilege-escalation")
    more = _cluster_role("system:aggregate-to-edit", edit_rules + [
        {"apiGroups": [""], "resources": ["endpoints"], "verbs": ["create"]}], labels)
    assert messages(run(pack, more), "role-disallow-privilege-escalation")


@pytest.mark.parametrize("annotations,ingress_class,refused", [
    ({"kubernetes.io/ingress.allow-http": "true"}, None, True),
    ({}, "gce", True),
    ({"kubernetes.io/ingress.allow-http": "false"}, "gce", False),
    ({}, "nginx", False),
    ({"nginx.ingress.kubernetes.io/ssl-redirect": "false"}, "nginx", True),
    ({"ingress.kubernetes.io/ssl-redirect": "false", "ingress.kubernetes.io/force-ssl-redirect": "true"}, None, False),
])
def test_plain_http_next_to_tls(pack, annotations, ingress_class, refused):
    spec = {"tls": [{"hosts": ["a.example.com"], "secretName": "a-tls"}],
            "rules": [{"host": "a.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {
                "service": {"name": "a", "port": {"number": 80}}}}]}}]}
    if ingress_class:
        spec["ingressClassName"] = ingress_class
    ingress = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
               "metadata": {"name": "a", "namespace": "team", "annotations": annotations}, "spec": spec}
    found = messages(run(pack, ingress), "ingress-missing-tls")
    assert bool(found) == refused, found
