"""Issue 23 item 8 (egress): every platform client reaches named destinations only.

Vault (KMS, STS, its audit shipper's S3) and falcosidekick (S3, STS) leave the cluster on 443 to the
VPC interface endpoints' subnets (awsEndpointCidrs), never to an internet address. cert-manager's
controller (the ACME CA, its HTTP-01 self-check), policy-controller (registries, Rekor, the
Sigstore TUF root) and falcosidekick (the SIEM's Splunk HEC host, on its port) leave through the one
egress gateway (components/egress.py), which lets each client's mesh principal reach its own hosts
only. What reaches an internet address at all is a
closed list: a new entry fails this test."""
from __future__ import annotations

import ipaddress

import pytest

from components import egress
from components.config import ConfigError, parse_stack_config
from policy_pack.policies._lib.authz import Connection, allowed, unknown_attributes
from policy_pack.policies._lib.reach import External, network_of
from tests.harness import k8s, prod_document

#: (namespace, policy): the one workload whose egress names internet addresses, and why.
INTERNET = {
    ("istio-egress", "allow-egress-internet"):
        "the egress gateway: the ACME CA, the public hostnames' HTTP-01 self-check, registries, Rekor, TUF, "
        "the SIEM's Splunk HEC host",
}
TRUST_DOMAIN = "lego-mcp.io"
CERT_MANAGER = f"{TRUST_DOMAIN}/ns/cert-manager/sa/cert-manager"
POLICY_CONTROLLER = f"{TRUST_DOMAIN}/ns/cosign-system/sa/policy-controller-webhook"
TENANT = f"{TRUST_DOMAIN}/ns/lego-mcp-prod/sa/dashboard"
SIDEKICK = f"{TRUST_DOMAIN}/ns/falco/sa/falcosidekick"
#: falcosidekick's Splunk HEC (Pulumi.prod.yaml runtimeDetection.siem.splunk.url)
SIEM, SIEM_PORT = "splunk.lego-mcp.io", 8088
ACME = "acme-v02.api.letsencrypt.org"
PUBLIC = "dashboard.lego-mcp.io"
SIGSTORE = ["rekor.sigstore.dev", "tuf-repo-cdn.sigstore.dev"]
#: the registries of the images policy-controller verifies (tenants', the platform's, the proxy) and
#: their blob hosts (components/egress.py REGISTRY_HOSTS), in the prod cluster's region
REGISTRIES = ["ghcr.io", "pkg-containers.githubusercontent.com", "registry-1.docker.io", "auth.docker.io",
              "production.cloudflare.docker.com", "registry.istio.io", "quay.io", "cdn01.quay.io", "registry.k8s.io",
              "prod-registry-k8s-io-us-east-1.s3.dualstack.us-east-1.amazonaws.com"]
#: Addresses a pod might dial directly: public resolvers, a CDN, Let's Encrypt's range.
INTERNET_IPS = ["1.1.1.1", "8.8.8.8", "151.101.1.1", "172.65.32.248"]


def _internet(peer: dict) -> bool:
    block = peer.get("ipBlock")
    return bool(block) and not ipaddress.ip_network(block["cidr"]).is_private


def test_only_the_egress_gateway_reaches_an_internet_address(prod):
    found = {}
    for np in k8s(prod, "NetworkPolicy"):
        for rule in np["spec"].get("egress", []):
            if any(_internet(p) for p in rule.get("to", [])):
                found[(np["metadata"]["namespace"], np["metadata"]["name"])] = [p.get("port") for p in rule["ports"]]
    assert set(found) == set(INTERNET)
    # 443 for TLS hosts, 80 only because the HTTP-01 self-check fetches the public hostname over HTTP,
    # 8088 for the SIEM's HEC
    assert found[("istio-egress", "allow-egress-internet")] == [80, 443, SIEM_PORT]


@pytest.mark.parametrize("namespace, policy", [("vault", "allow-egress-aws-kms-sts"),
                                               ("falco", "allow-egress-falcosidekick-s3")])
def test_aws_clients_reach_the_vpc_endpoints_only(prod, namespace, policy):
    (np,) = k8s(prod, "NetworkPolicy", policy, namespace)
    (rule,) = np["spec"]["egress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 443}]
    assert [p["ipBlock"] for p in rule["to"]] == [{"cidr": c} for c in prod_document()["awsEndpointCidrs"]]


def test_a_prod_stack_without_vpc_endpoints_is_refused():
    doc = prod_document()
    doc.pop("awsEndpointCidrs")
    with pytest.raises(ConfigError) as exc:
        parse_stack_config(doc)
    assert "hardened-stack:awsEndpointCidrs" in str(exc.value)


# --- reachability on the prod render (the NetworkPolicy evaluator the wiring policies use) ---------

@pytest.fixture(scope="module")
def net(prod):
    return network_of([r.inputs for r in prod if r.is_kubernetes_object])


def _pods(net, namespace, **labels):
    pods = [p for p in net.pods if p.namespace == namespace and all(p.labels.get(k) == v for k, v in labels.items())]
    assert pods, f"no pod in {namespace} with {labels}"
    return pods


@pytest.mark.parametrize("namespace", ["cert-manager", "cosign-system", "falco"])
def test_no_pod_of_the_clients_namespaces_reaches_an_internet_address(net, namespace):
    for pod in _pods(net, namespace):
        for ip in INTERNET_IPS:
            for port in (80, 443, 8080, 53, SIEM_PORT, 514):
                assert not net.can_connect(pod, External(ip), port), f"{pod} reaches {ip}:{port}"


def test_the_clients_reach_the_gateway_on_their_own_ports_only(net):
    (gateway,) = _pods(net, "istio-egress", app="egress-gateway")
    (controller,) = _pods(net, "cert-manager", **{"app.kubernetes.io/component": "controller"})
    (pc,) = _pods(net, "cosign-system", **{"control-plane": "policy-controller-webhook"})
    assert net.can_connect(controller, gateway, 443) and net.can_connect(controller, gateway, 80)
    assert net.can_connect(pc, gateway, 443) and not net.can_connect(pc, gateway, 80)
    (sidekick,) = _pods(net, "falco", **{"app.kubernetes.io/name": "falcosidekick"})
    assert net.can_connect(sidekick, gateway, SIEM_PORT)
    assert not net.can_connect(sidekick, gateway, 443) and not net.can_connect(sidekick, gateway, 80)
    assert not net.can_connect(pc, gateway, SIEM_PORT) and not net.can_connect(controller, gateway, SIEM_PORT)
    for other in _pods(net, "cert-manager") + _pods(net, "lego-mcp-prod") + _pods(net, "vault") + _pods(
            net, "falco", **{"app.kubernetes.io/name": "falco"}):
        if other is not controller:
            for port in (443, 80, SIEM_PORT):
                assert not net.can_connect(other, gateway, port), f"{other} reaches the egress gateway on {port}"


def test_the_gateway_reaches_internet_addresses_but_not_the_cluster_or_metadata(net):
    (gateway,) = _pods(net, "istio-egress", app="egress-gateway")
    assert all(net.can_connect(gateway, External(ip), 443) for ip in INTERNET_IPS)
    for ip in ("169.254.169.254", "10.0.0.10", "172.20.0.1", "192.168.1.1", "100.64.0.1"):
        assert not net.can_connect(gateway, External(ip), 443), ip
    vault = _pods(net, "vault")[0]
    assert not net.can_connect(gateway, vault, 8200)


# --- the gateway's authorization (Istio semantics: policy_pack/policies/_lib/authz.py) --------------

@pytest.fixture(scope="module")
def authz(prod):
    # every policy that can apply to the gateway: its namespace's and the root namespace's
    policies = [p for p in k8s(prod, "AuthorizationPolicy")
                if p["metadata"]["namespace"] in (egress.NAMESPACE, "istio-system")]
    assert policies and not unknown_attributes(policies)
    labels = _gateway_pod_labels(prod)

    def decide(principal, sni, port=443):
        return allowed(policies, egress.NAMESPACE, labels, Connection(principal, port, sni))
    return decide


def _gateway_pod_labels(prod):
    (dep,) = k8s(prod, "Deployment", egress.NAME, egress.NAMESPACE)
    return dep["spec"]["template"]["metadata"]["labels"]


def test_each_client_reaches_its_own_hosts(authz):
    assert authz(CERT_MANAGER, ACME) and authz(CERT_MANAGER, PUBLIC, 80)
    for host in SIGSTORE + REGISTRIES:
        assert authz(POLICY_CONTROLLER, host), host
    assert authz(SIDEKICK, SIEM, SIEM_PORT)


@pytest.mark.parametrize("host, port", [(SIEM, 443), (SIEM, 80), (ACME, 443), (PUBLIC, 80), ("ghcr.io", 443),
                                        ("rekor.sigstore.dev", 443), ("ghcr.io", SIEM_PORT), (ACME, SIEM_PORT),
                                        ("evil.lego-mcp.io", SIEM_PORT), ("splunk.lego-mcp.io.evil.net", SIEM_PORT),
                                        (None, SIEM_PORT)])
def test_falcosidekick_reaches_its_siem_host_and_port_only(authz, host, port):
    assert not authz(SIDEKICK, host, port)


@pytest.mark.parametrize("principal", [CERT_MANAGER, POLICY_CONTROLLER, TENANT, f"{TRUST_DOMAIN}/ns/falco/sa/falco",
                                       f"{TRUST_DOMAIN}/ns/falco/sa/default", "other.td/ns/falco/sa/falcosidekick", None])
@pytest.mark.parametrize("port", [SIEM_PORT, 443, 80])
def test_no_other_principal_reaches_the_siem(authz, principal, port):
    assert not authz(principal, SIEM, port)


@pytest.mark.parametrize("host", SIGSTORE + REGISTRIES)
def test_cert_manager_is_denied_the_sigstore_and_registry_hosts(authz, host):
    assert not authz(CERT_MANAGER, host)


@pytest.mark.parametrize("host, port", [(ACME, 443), (PUBLIC, 80), (PUBLIC, 443)])
def test_policy_controller_is_denied_the_acme_hosts(authz, host, port):
    assert not authz(POLICY_CONTROLLER, host, port)


@pytest.mark.parametrize("principal", [TENANT, f"{TRUST_DOMAIN}/ns/cert-manager/sa/cert-manager-cainjector",
                                       f"{TRUST_DOMAIN}/ns/istio-ingress/sa/public-istio", "other.td/ns/cert-manager/sa/cert-manager",
                                       None])
@pytest.mark.parametrize("host", [ACME, PUBLIC, *SIGSTORE, *REGISTRIES])
def test_any_other_principal_gets_nothing(authz, principal, host):
    assert not authz(principal, host) and not authz(principal, host, 80)


@pytest.mark.parametrize("sni", ["example.com", "evil.letsencrypt.org", "api.letsencrypt.org", "ghcr.io.evil.net",
                                 "sigstore.dev", None, ""])
@pytest.mark.parametrize("principal", [CERT_MANAGER, POLICY_CONTROLLER])
def test_an_unknown_sni_is_denied(authz, principal, sni):
    assert not authz(principal, sni) and not authz(principal, sni, 80)


def test_a_host_on_the_other_port_is_denied(authz):
    assert not authz(CERT_MANAGER, ACME, 80)     # the ACME CA only over TLS
    assert not authz(CERT_MANAGER, PUBLIC, 443)  # the self-check only over HTTP
    assert not authz(POLICY_CONTROLLER, "ghcr.io", 80)


def test_the_gateway_denies_by_default(prod):
    (deny,) = k8s(prod, "AuthorizationPolicy", "default-deny", egress.NAMESPACE)
    assert deny["spec"] == {}
    # without the ALLOW policy nothing passes, whoever asks
    labels = _gateway_pod_labels(prod)
    assert not allowed([deny], egress.NAMESPACE, labels, Connection(CERT_MANAGER, 443, ACME))


# --- routing: every authorized host has its route, and nothing else has one -------------------------

def _hosts_by_port(prod):
    (policy,) = k8s(prod, "AuthorizationPolicy", "allow-egress-clients", egress.NAMESPACE)
    out: dict[str, set[int]] = {}
    for rule in policy["spec"]["rules"]:
        (port,) = rule["to"][0]["operation"]["ports"]
        for host in rule["when"][0]["values"]:
            out.setdefault(host, set()).add(int(port))
    return out


def test_every_authorized_host_is_routed_through_the_gateway_with_mutual_tls(prod):
    hosts = _hosts_by_port(prod)
    (gw,) = k8s(prod, "Gateway", egress.NAME, egress.NAMESPACE)
    assert gw["apiVersion"] == "networking.istio.io/v1"
    servers = {(s["hosts"][0], s["port"]["number"]): s for s in gw["spec"]["servers"]}
    assert all(len(s["hosts"]) == 1 and s["tls"] == {"mode": "ISTIO_MUTUAL"} for s in servers.values())
    assert set(servers) == {(h, p) for h, ports in hosts.items() for p in ports}
    (dr,) = k8s(prod, "DestinationRule", egress.NAME, egress.NAMESPACE)
    assert dr["spec"]["host"] == egress.SERVICE_HOST
    sni = {s["name"]: {(p["port"]["number"], p["tls"]["mode"], p["tls"]["sni"])
                       for p in s["trafficPolicy"]["portLevelSettings"]} for s in dr["spec"]["subsets"]}
    for host, ports in hosts.items():
        assert sni[host.replace(".", "-")] == {(p, "ISTIO_MUTUAL", host) for p in ports}
        (se,) = [m for m in k8s(prod, "ServiceEntry") if m["spec"]["hosts"] == [host]]
        assert se["spec"]["location"] == "MESH_EXTERNAL" and se["spec"]["resolution"] == "DNS"
        assert {p["number"] for p in se["spec"]["ports"]} == ports
        (vs,) = [m for m in k8s(prod, "VirtualService") if m["spec"]["hosts"] == [host]]
        routes = vs["spec"].get("tls", []) + vs["spec"].get("tcp", []) + vs["spec"].get("http", [])
        hops = {(r["match"][0]["gateways"][0], r["route"][0]["destination"]["host"]) for r in routes}
        assert hops == {("mesh", egress.SERVICE_HOST), (f"{egress.NAMESPACE}/{egress.NAME}", host)}


def test_the_routes_are_exported_to_their_clients_only(prod):
    tenants = {n["name"] for n in prod_document()["namespaces"]}
    for kind in ("ServiceEntry", "VirtualService", "DestinationRule"):
        for m in k8s(prod, kind):
            if m["metadata"]["namespace"] == egress.NAMESPACE:
                export = set(m["spec"]["exportTo"])
                assert export <= {"cert-manager", "cosign-system", "falco", egress.NAMESPACE} and not export & tenants
    (se,) = [m for m in k8s(prod, "ServiceEntry") if m["spec"]["hosts"] == [ACME]]
    assert se["spec"]["exportTo"] == ["cert-manager", egress.NAMESPACE]
    (se,) = [m for m in k8s(prod, "ServiceEntry") if m["spec"]["hosts"] == [SIEM]]
    assert se["spec"]["exportTo"] == ["falco", egress.NAMESPACE]
    assert se["spec"]["ports"] == [{"name": f"tls-{SIEM_PORT}", "number": SIEM_PORT, "protocol": "TLS"}]


# --- the clients carry sidecars, as the injector of the rendered istiod chart selects them ----------

def _injector(prod):
    (hook,) = k8s(prod, "MutatingWebhookConfiguration", "istio-sidecar-injector")
    return {w["name"]: w for w in hook["webhooks"]}


def _selects(selector, labels):
    from policy_pack.policies._lib.wiring import selector_matches
    return selector_matches(selector, labels, "selector")


@pytest.mark.parametrize("namespace, name", [("cert-manager", "cert-manager"),
                                             ("cosign-system", "policy-controller-webhook"),
                                             ("falco", "falcosidekick"),
                                             (egress.NAMESPACE, egress.NAME)])
def test_the_injector_of_the_rendered_istiod_chart_injects_the_egress_pods(prod, namespace, name):
    """istiod's ``object.sidecar-injector.istio.io`` webhook (istio-discovery
    templates/mutatingwebhook.yaml, "Case 2: no namespace label, but object selector") injects a pod
    labelled ``sidecar.istio.io/inject: "true"`` in a namespace without ``istio-injection``."""
    (ns,) = k8s(prod, "Namespace", namespace)
    ns_labels = {**ns["metadata"].get("labels", {}), "kubernetes.io/metadata.name": namespace}
    (dep,) = k8s(prod, "Deployment", name, namespace)
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    assert pod_labels[egress.INJECT_LABEL] == "true"  # a string: the label value, not a YAML bool
    hook = _injector(prod)["object.sidecar-injector.istio.io"]
    assert _selects(hook["namespaceSelector"], ns_labels) and _selects(hook["objectSelector"], pod_labels)


@pytest.mark.parametrize("name", ["cert-manager-cainjector", "cert-manager-webhook"])
def test_the_other_cert_manager_pods_stay_without_a_proxy(prod, name):
    (dep,) = k8s(prod, "Deployment", name, "cert-manager")
    assert egress.INJECT_LABEL not in dep["spec"]["template"]["metadata"]["labels"]


def test_falco_is_not_injected(prod):
    """Falco (a host-level DaemonSet) stays out of the mesh: no injector webhook selects its pods."""
    (ns,) = k8s(prod, "Namespace", "falco")
    ns_labels = {**ns["metadata"].get("labels", {}), "kubernetes.io/metadata.name": "falco"}
    (ds,) = k8s(prod, "DaemonSet", "falco", "falco")
    labels = ds["spec"]["template"]["metadata"]["labels"]
    assert not any(_selects(h.get("namespaceSelector"), ns_labels) and _selects(h.get("objectSelector"), labels)
                   for h in _injector(prod).values())


def test_falcosidekick_leaves_falcos_port_and_the_vpc_endpoints_outside_its_proxy(prod):
    """Falco's posts (2801, mutual TLS at the application level, Falco is not in the mesh) and S3/STS
    through the VPC endpoints (awsEndpointCidrs) bypass the sidecar, nothing else: the CNI plugin
    reads both annotations (cni/pkg/plugin/sidecar_redirect.go excludeInboundPortsKey, excludeIPCidrsKey)."""
    from components.runtime_detection import SIDEKICK_PORT
    (dep,) = k8s(prod, "Deployment", "falcosidekick", "falco")
    annotations = dep["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {egress.EXCLUDE_INBOUND_ANNOTATION: str(SIDEKICK_PORT),
                           egress.EXCLUDE_OUTBOUND_RANGES_ANNOTATION: ",".join(sorted(prod_document()["awsEndpointCidrs"]))}
    (np,) = k8s(prod, "NetworkPolicy", "allow-egress-falco-to-sidekick", "falco")
    assert np["spec"]["egress"][0]["ports"] == [{"protocol": "TCP", "port": SIDEKICK_PORT}]
    # the excluded ranges are exactly what its S3 policy reaches, on 443
    (s3,) = k8s(prod, "NetworkPolicy", "allow-egress-falcosidekick-s3", "falco")
    assert {p["ipBlock"]["cidr"] for p in s3["spec"]["egress"][0]["to"]} == set(
        annotations[egress.EXCLUDE_OUTBOUND_RANGES_ANNOTATION].split(","))


def test_policy_controllers_webhook_port_stays_outside_its_proxy(prod):
    """The API server (not in the mesh) calls the webhook: its port, and only it, is left to the
    app (the CNI plugin reads the annotation: cni/pkg/plugin/sidecar_redirect.go, excludeInboundPortsKey)."""
    (dep,) = k8s(prod, "Deployment", "policy-controller-webhook", "cosign-system")
    annotations = dep["spec"]["template"]["metadata"]["annotations"]
    (container,) = dep["spec"]["template"]["spec"]["containers"]
    https = [p["containerPort"] for p in container["ports"] if p["name"] == "https"]
    assert annotations[egress.EXCLUDE_INBOUND_ANNOTATION] == "8443" and https == [8443]
    # the webhook's Service (the API server's way in) targets that named port
    (svc,) = k8s(prod, "Service", "webhook", "cosign-system")
    assert [p["targetPort"] for p in svc["spec"]["ports"]] == ["https"]


def test_the_gateway_pods_ask_for_templates_the_rendered_injector_has(prod):
    (cm,) = k8s(prod, "ConfigMap", "istio-sidecar-injector", "istio-system")
    import json
    templates = json.loads(cm["data"]["config"]) if cm["data"]["config"].lstrip().startswith("{") else None
    text = cm["data"]["config"]
    (dep,) = k8s(prod, "Deployment", egress.NAME, egress.NAMESPACE)
    wanted = dep["spec"]["template"]["metadata"]["annotations"][egress.TEMPLATES_ANNOTATION].split(",")
    assert wanted == ["gateway", "spire"]
    for name in wanted:
        assert (templates and name in templates["templates"]) or f"\n  {name}: |" in text, name


def test_the_clients_and_the_gateway_have_spiffe_ids_and_reach_istiod(prod, net):
    ids = k8s(prod, "ClusterSPIFFEID")
    for namespace, labels in [("cert-manager", {"app.kubernetes.io/component": "controller"}),
                              ("cosign-system", {"control-plane": "policy-controller-webhook"}),
                              ("falco", {"app.kubernetes.io/name": "falcosidekick"}),
                              (egress.NAMESPACE, {"app": egress.NAME})]:
        (pod,) = _pods(net, namespace, **labels)
        assert [i for i in ids if i["spec"]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] == namespace
                and _selects(i["spec"]["podSelector"], pod.labels)], pod
        (istiod,) = _pods(net, "istio-system", app="istiod")
        assert net.can_connect(pod, istiod, 15012), pod


# --- configuration ---------------------------------------------------------------------------------

@pytest.mark.parametrize("host, why", [
    ("*.quay.io", "wildcards are refused"), ("*", "wildcards are refused"), ("cdn*.quay.io", "wildcards are refused"),
    ("https://quay.io", "not a lowercase DNS name"), ("quay.io:443", "not a lowercase DNS name"),
    ("quay.io/v2", "not a lowercase DNS name"), ("10.0.0.1", "not a lowercase DNS name"),
    ("Quay.io", "not a lowercase DNS name"), ("localhost", "not a lowercase DNS name"), ("", "not a lowercase"),
    ("-bad.example.com", "not a lowercase DNS name")])
def test_malformed_egress_hosts_are_refused_naming_the_field(host, why):
    doc = prod_document()
    doc["admission"]["signatures"]["egressHosts"] = [host]
    with pytest.raises(ConfigError) as exc:
        parse_stack_config(doc)
    assert "admission.signatures.egressHosts" in str(exc.value) and why in str(exc.value)


def test_extra_hosts_reach_their_client_only_and_are_opt_outs():
    from components.stack import egress_clients
    from tests.harness import reviewed
    doc = prod_document()
    doc["admission"]["signatures"]["egressHosts"] = ["cdn01.quay.io"]
    doc["ingress"]["acme"]["egressHosts"] = ["acme.example.net"]
    with pytest.raises(ConfigError) as exc:  # unreviewed in prod: a weakening on the ledger
        parse_stack_config(doc)
    assert "admission.signatures.egressHosts: weakens" in str(exc.value)
    assert "ingress.acme.egressHosts: weakens" in str(exc.value)
    doc = {**doc, **reviewed({"admission": doc["admission"], "ingress": doc["ingress"]})}
    clients = {c.name: c for c in egress_clients(parse_stack_config(doc))}
    assert "cdn01.quay.io" in clients["policy-controller"].tls_hosts
    assert "cdn01.quay.io" not in clients["cert-manager"].tls_hosts
    assert clients["cert-manager"].tls_hosts == ["acme-v02.api.letsencrypt.org", "acme.example.net"]


def test_the_acme_host_comes_from_the_configured_directory():
    from components.stack import egress_clients
    doc = prod_document()
    doc["ingress"]["acme"]["server"] = "https://acme-staging-v02.api.letsencrypt.org/directory"
    (cm,) = [c for c in egress_clients(parse_stack_config(doc)) if c.name == "cert-manager"]
    assert cm.tls_hosts == ["acme-staging-v02.api.letsencrypt.org"] and cm.http_hosts == [PUBLIC]


@pytest.mark.parametrize("image, hosts", [
    ("ghcr.io/lego-mcp/**", ["ghcr.io", "pkg-containers.githubusercontent.com"]),
    ("docker.io/falcosecurity/falco:**", ["auth.docker.io", "production.cloudflare.docker.com", "registry-1.docker.io"]),
    ("falcosecurity/falco:0.40", ["auth.docker.io", "production.cloudflare.docker.com", "registry-1.docker.io"]),
    ("registry.example.com:5000/x/y@sha256:" + "a" * 64, ["registry.example.com"]),
    ("**", []), ("*.io/team/**", [])])
def test_registry_hosts_follow_dockers_reference_rule_and_blob_redirects(image, hosts):
    assert egress.registry_hosts([image]) == hosts


def test_regional_blob_hosts_follow_the_clusters_region():
    assert egress.registry_hosts(["registry.k8s.io/sig-storage/x:v1"], "eu-west-1") == [
        "prod-registry-k8s-io-eu-west-1.s3.dualstack.eu-west-1.amazonaws.com", "registry.k8s.io"]
    assert egress.registry_hosts(["registry.k8s.io/sig-storage/x:v1"]) == ["registry.k8s.io"]


def test_policy_controller_reaches_exactly_the_registries_of_what_it_verifies(prod):
    """Every image a verified namespace runs has its registry among policy-controller's hosts, and
    every host is a registry of such an image, a blob host of one, Rekor or the TUF root."""
    from components.config import platform_images
    from components.stack import egress_clients
    cfg = parse_stack_config(prod_document())
    (pc,) = [c for c in egress_clients(cfg) if c.name == "policy-controller"]
    images = [w["image"] for w in prod_document()["workloads"]] + [r for _, r in platform_images(cfg)]
    expected = set(egress.registry_hosts(images, cfg.cluster.region)) | set(SIGSTORE)
    assert set(pc.tls_hosts) == expected


def test_without_the_mesh_the_clients_keep_their_direct_rules_and_no_gateway_is_built():
    from components.stack import egress_clients
    from components.admission import network_policies as admission_policies
    from components.secrets import SecretDeliveryArgs
    from components.secrets import network_policies as secrets_policies
    cfg = parse_stack_config(prod_document())
    assert egress_clients(cfg.model_copy(update={"mesh": cfg.mesh.model_copy(update={"enabled": False})})) == []
    direct = {m["metadata"]["name"] for _, m in admission_policies(cfg.admission, egress_gateway=False)}
    assert "allow-egress-https" in direct
    assert "allow-egress-https" not in {m["metadata"]["name"] for _, m in admission_policies(cfg.admission, True)}
    acme = {m["metadata"]["name"] for _, m in secrets_policies(SecretDeliveryArgs(acme_egress=True))}
    assert "allow-egress-acme" in acme
    assert "allow-egress-acme" not in {m["metadata"]["name"] for _, m in secrets_policies(
        SecretDeliveryArgs(acme_egress=True, egress_gateway=True))}
    from components.runtime_detection import network_policies as detection_policies
    rd = cfg.runtime_detection
    assert "allow-egress-sidekick-siem" in {m["metadata"]["name"] for _, m in detection_policies(rd, False)}
    assert "allow-egress-sidekick-siem" not in {m["metadata"]["name"] for _, m in detection_policies(rd, True)}


def test_falcosidekicks_siem_client_follows_the_splunk_url():
    """The gateway's hosts for falcosidekick come from siem.splunk.url (host and port); an address
    (no name to route by SNI) keeps the direct rule, narrowed by siem.cidrs."""
    from components.stack import egress_clients
    doc = prod_document()
    doc["runtimeDetection"]["siem"]["splunk"]["url"] = "https://hec.example.com/services/collector/event"
    (sk,) = [c for c in egress_clients(parse_stack_config(doc)) if c.name == "falcosidekick"]
    assert sk.tls_hosts == ["hec.example.com"] and sk.tls_ports == {} and sk.ports() == [443]
    assert sk.namespace == "falco" and sk.service_account == "falcosidekick"
    doc["runtimeDetection"]["siem"]["splunk"]["url"] = "https://203.0.113.10:8088"
    assert "falcosidekick" not in [c.name for c in egress_clients(parse_stack_config(doc))]


def test_syslog_keeps_its_direct_rule_outside_the_proxy():
    """Syslog is plain TCP or UDP (no SNI to route by): its port stays outside the sidecar and on
    the direct rule; Splunk HEC still goes through the gateway."""
    from components.runtime_detection import network_policies as detection_policies
    from components.runtime_detection import sidekick_mesh_metadata
    from tests.harness import reviewed
    doc = prod_document()
    doc["runtimeDetection"]["siem"]["syslog"] = {"address": "siem.example.com:6514", "allowCleartext": True}
    doc["runtimeDetection"]["siem"]["cidrs"] = ["192.0.2.0/24"]
    cfg = parse_stack_config({**doc, **reviewed({"runtimeDetection": doc["runtimeDetection"]})})
    (np,) = [m for _, m in detection_policies(cfg.runtime_detection, True) if m["metadata"]["name"] == "allow-egress-sidekick-siem"]
    assert np["spec"]["egress"][0]["ports"] == [{"protocol": "TCP", "port": 6514}]
    assert sidekick_mesh_metadata(cfg.runtime_detection, [])[1]["traffic.sidecar.istio.io/excludeOutboundPorts"] == "6514"


# --- the upstream facts the design rests on, checked against the sources at the pinned tags ---------
#: (repository, tag, file, what must be in it, the fact). Istio's tag is the mesh's chart version;
#: policy-controller's the app version of chart 0.10.6 (v0.13.1).
UPSTREAM_FACTS = [
    ("istio/istio", "1.30.3", "manifests/charts/istio-control/istio-discovery/templates/mutatingwebhook.yaml",
     ['(dict "Prefix" "object.")', "key: istio-injection\n      operator: DoesNotExist",
      "key: sidecar.istio.io/inject\n      operator: In\n      values:\n      - \"true\""],
     "per-pod injection: a pod labelled sidecar.istio.io/inject=true in a namespace without istio-injection"),
    ("istio/istio", "1.30.3", "manifests/charts/istio-control/istio-discovery/files/gateway-injection-template.yaml",
     ["annotation .ObjectMeta `sidecar.istio.io/proxyImage`", "net.ipv4.ip_unprivileged_port_start",
      "  - emptyDir:\n    name: workload-socket", "- router"],
     "the gateway template: router mode, the proxyImage annotation, the unprivileged-port sysctl, and a "
     "workload-socket volume with no source, which the spire template's CSI volume fills"),
    ("istio/istio", "1.30.3", "cni/pkg/plugin/sidecar_redirect.go",
     ["excludeInboundPortsKey  = annotation.SidecarTrafficExcludeInboundPorts.Name"],
     "the CNI plugin reads traffic.sidecar.istio.io/excludeInboundPorts"),
    ("istio/istio", "1.30.3", "cni/pkg/plugin/sidecar_redirect.go",
     ["excludeIPCidrsKey       = annotation.SidecarTrafficExcludeOutboundIPRanges.Name"],
     "the CNI plugin reads traffic.sidecar.istio.io/excludeOutboundIPRanges (falcosidekick's VPC endpoints)"),
    ("istio/istio", "1.30.3", "cni/pkg/plugin/plugin.go",
     ['if pi.ProxyType != "" && pi.ProxyType != "sidecar" {'],
     "CmdAdd leaves a router (gateway) pod's traffic alone: only sidecars are redirected"),
    ("istio/istio", "1.30.3", "pilot/pkg/security/authz/model/model.go",
     ['attrConnSNI           = "connection.sni"', "basePermission.appendLast(connSNIGenerator{}, k, when.Values"],
     "connection.sni is a when-condition of the permission"),
    ("istio/istio", "1.30.3", "pilot/pkg/security/authz/model/generator.go",
     ["func (connSNIGenerator) permission", "permissionRequestedServerName(m)"],
     "connection.sni becomes Envoy's requested_server_name (the TLS SNI at the gateway)"),
    ("istio/istio", "1.30.3", "pkg/config/validation/validation.go",
     ["if serviceEntry.Resolution != networking.ServiceEntry_DYNAMIC_DNS {",
      'fmt.Errorf("host must be wildcarded for resolution mode %s"'],
     "a wildcard ServiceEntry host needs DYNAMIC_DNS, not the DNS resolution the gateway's entries use"),
    ("sigstore/policy-controller", "v0.13.1", "cmd/webhook/main.go",
     ['flag.String("tuf-mirror", tuf.DefaultRemoteRoot'], "the TUF root is sigstore's default mirror"),
    ("sigstore/policy-controller", "v0.13.1", "pkg/webhook/validator.go",
     ["rekorClient, err := rekor.GetRekorClient(tlog.URL.String())",
      "if authority.Keyless.URL != nil {\n\t\t\tsps, err := validSignatures(ctx, ref, checkOpts)"],
     "Rekor is dialed at the authority's ctlog.url; the keyless (Fulcio) url is only required to be set"),
]


@pytest.mark.parametrize("repo, tag, path, needles, fact", UPSTREAM_FACTS, ids=[f[2].rsplit("/", 1)[1] for f in UPSTREAM_FACTS])
def test_the_upstream_facts_hold_at_the_pinned_tags(repo, tag, path, needles, fact):
    from tests.paths.upstream import assert_upstream_fact
    assert_upstream_fact(repo, tag, path, needles, fact)


def test_the_pinned_tags_are_the_ones_the_stack_deploys():
    from components.admission import POLICY_CONTROLLER_VERSION
    cfg = parse_stack_config(prod_document())
    assert cfg.mesh.chart_version == "1.30.3" and POLICY_CONTROLLER_VERSION == "0.10.6"


# --- the injected clients still pass the stack's own admission ------------------------------------

def _injected(deployment: dict, proxy: dict) -> dict:
    """*deployment* as its pods reach Gatekeeper after istiod's injector (a mutating webhook, which
    the API server runs before the validating ones): the istio-proxy container of the sidecar
    template (files/injection-template.yaml: with the CNI and proxy.privileged false, no capability,
    read-only root, UID 1337; the image and resources from the rendered injector's values)."""
    import copy
    d = copy.deepcopy(deployment)
    d["spec"]["template"]["spec"]["containers"].append(proxy)
    return d


@pytest.mark.parametrize("namespace, name", [("cert-manager", "cert-manager"),
                                             ("cosign-system", "policy-controller-webhook"),
                                             ("falco", "falcosidekick")])
def test_the_injected_clients_pass_the_stacks_own_admission(prod, namespace, name):
    import json

    from components.mesh import proxy_image
    from tests.judges.admission import Cluster
    objects = [r.inputs for r in prod if r.is_kubernetes_object]
    (cm,) = k8s(prod, "ConfigMap", "istio-sidecar-injector", "istio-system")
    values = json.loads(cm["data"]["values"])
    assert values["global"]["proxy"]["privileged"] is False
    proxy = {"name": "istio-proxy", "image": proxy_image(parse_stack_config(prod_document()).mesh),
             "args": ["proxy", "sidecar"], "resources": values["global"]["proxy"]["resources"],
             "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                                 "privileged": False, "readOnlyRootFilesystem": True, "runAsGroup": 1337,
                                 "runAsNonRoot": True, "runAsUser": 1337}}
    (dep,) = k8s(prod, "Deployment", name, namespace)
    verdicts = Cluster(objects).admit(_injected(dep, proxy))
    assert not verdicts.errors and verdicts.judged
    assert not verdicts.denials, verdicts.summary()
    # the judge does refuse an injected pod whose proxy breaks a rule (not a vacuous pass)
    bad = {**proxy, "securityContext": {**proxy["securityContext"], "privileged": True}}
    assert Cluster(objects).admit(_injected(dep, bad)).denials
