"""``EgressGateway``: the one way from the platform to the internet (issue 23, item 8).

cert-manager's controller (the ACME CA, and its HTTP-01 self-check of the public hostnames),
Sigstore policy-controller (registries, Rekor, the Sigstore TUF root) and falcosidekick (the SIEM's
Splunk HEC host, on its own port) are the platform's only clients of internet hosts. Their destinations have no fixed addresses a NetworkPolicy could
name, so they leave through an Istio egress gateway, as Istio's own egress pattern does
(istio.io tasks/traffic-management/egress/egress-gateway, "Egress gateway for HTTPS traffic" and
"Apply Kubernetes network policies"; ops/best-practices/security "Egress"):

* the clients carry a sidecar (per-pod injection, ``sidecar.istio.io/inject: "true"``: istiod's
  ``object.sidecar-injector.istio.io`` webhook, manifests/charts/istio-control/istio-discovery/
  templates/mutatingwebhook.yaml, injects pods so labelled in namespaces without
  ``istio-injection``);
* per named host a ``ServiceEntry`` (exported to that client's namespace and the gateway's only)
  and a ``VirtualService`` that steers the sidecar's connection to the gateway and, at the
  gateway, on to the host; a ``DestinationRule`` wraps the sidecar-to-gateway leg in Istio mutual
  TLS with the host as SNI (one subset per host), so the gateway knows the client's principal;
* the classic ``Gateway`` (networking.istio.io) with one ``ISTIO_MUTUAL`` server per host and
  port: each server is its own filter chain (server name = the host), so a host's route applies
  to that host only. The Gateway API cannot express this: a TLS listener in Passthrough mode
  carries no mesh identity, so the gateway could not tell one client from another;
* an ``AuthorizationPolicy`` on the gateway pods: each client principal may reach its own hosts
  (``connection.sni``: pilot/pkg/security/authz/model/model.go, ``attrConnSNI``, generated as
  Envoy's ``requested_server_name`` by generator.go ``connSNIGenerator``) on its own ports, and an
  empty policy denies everything else (an unknown SNI, a tenant, the other client);
* NetworkPolicies: the clients reach only the gateway's pods (and istiod for their proxies); the
  gateway's pods are the one workload whose egress names internet addresses. Istio's docs say the
  gateway alone enforces nothing without them: a pod that bypasses its sidecar would go direct.

The gateway is a Deployment injected with istiod's ``gateway`` template (``inject.istio.io/
templates: gateway`` plus ``spire`` when SPIRE issues the mesh's identities), written in full here
so the stack's own admission and the policy pack judge the pod as it runs.
"""
from __future__ import annotations

import re
from typing import Annotated, Any, Optional
from urllib.parse import urlsplit

import pulumi
from pydantic import AfterValidator, Field, field_validator

from .base import Digest, HardenedComponent, StrictModel, child_opts, k8s_object, standard_labels

TOKEN = "hardened:index:EgressGateway"

NAMESPACE = "istio-egress"
NAME = "egress-gateway"
#: The gateway pods' labels: the classic Gateway's selector, the AuthorizationPolicy's, the
#: NetworkPolicies' (``istio: egressgateway`` as Istio's own egress gateway is labelled).
POD_LABELS = {"app": NAME, "istio": "egressgateway"}
SERVICE_HOST = f"{NAME}.{NAMESPACE}.svc.cluster.local"
TLS_PORT = 443
HTTP_PORT = 80
NETWORKING_API = "networking.istio.io/v1"
SECURITY_API = "security.istio.io/v1"
#: Istio's per-pod injection label and the injector's template annotation (istio/api annotation
#: ``inject.istio.io/templates``; the gateway template is files/gateway-injection-template.yaml).
INJECT_LABEL = "sidecar.istio.io/inject"
TEMPLATES_ANNOTATION = "inject.istio.io/templates"
#: Inbound ports the sidecar leaves alone (istio/api ``traffic.sidecar.istio.io/excludeInboundPorts``;
#: the CNI plugin reads it: cni/pkg/plugin/sidecar_redirect.go, ``excludeInboundPortsKey``).
PROXY_IMAGE_ANNOTATION = "sidecar.istio.io/proxyImage"
EXCLUDE_INBOUND_ANNOTATION = "traffic.sidecar.istio.io/excludeInboundPorts"
#: Destination ranges the sidecar leaves alone (istio/api ``traffic.sidecar.istio.io/excludeOutboundIPRanges``;
#: cni/pkg/plugin/sidecar_redirect.go, ``excludeIPCidrsKey``): AWS's VPC endpoints, reached directly.
EXCLUDE_OUTBOUND_RANGES_ANNOTATION = "traffic.sidecar.istio.io/excludeOutboundIPRanges"
#: Ranges the gateway's internet egress never reaches: private ranges, CGNAT, link-local (IMDS).
INTERNET_EXCEPT = ("10.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16")
RESOURCES = {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}}

_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
_HOST = re.compile(rf"^(?=.{{1,253}}$)({_LABEL}\.)+[a-z]{{2,63}}$")


def check_host(v: str) -> str:
    """An internet host name the gateway forwards to by exact SNI: lowercase DNS labels, at least a
    name under a top-level domain, no scheme, port, path or IP address, and no wildcard."""
    if not isinstance(v, str):
        raise ValueError(f"egress host {v!r} must be a host name")
    if "*" in v:
        raise ValueError(f"egress host {v!r}: wildcards are refused; name each host (e.g. cdn01.quay.io): the "
                         "gateway forwards by exact SNI and each client may reach only the hosts it names")
    if not _HOST.match(v):
        raise ValueError(f"egress host {v!r} is not a lowercase DNS name such as registry-1.docker.io (no scheme, "
                         "port, path or IP address)")
    return v


EgressHost = Annotated[str, AfterValidator(check_host)]


def url_host(url: str) -> str:
    """The host of an https URL (an ACME directory, a Sigstore service)."""
    return check_host((urlsplit(url).hostname or "").lower())


#: Registries that send blob downloads to another host (HTTP 307 to a CDN or object store): a client
#: that fetches a signature's layers follows it. Where each redirect goes:
#: - docker.io: the registry API is registry-1.docker.io, tokens come from auth.docker.io, blobs from
#:   production.cloudflare.docker.com (Docker docs, "Allowlist for Docker Hub" / Docker Desktop
#:   allow list);
#: - ghcr.io: blobs from pkg-containers.githubusercontent.com (GitHub docs, "About GitHub's IP
#:   addresses" / the packages domains of the Container registry);
#: - quay.io: blobs from its CDN, cdn01/02/03.quay.io (Red Hat Quay.io docs and OpenShift's
#:   "Configuring your firewall": a redirect to a CDN host such as cdn01.quay.io);
#: - registry.k8s.io: clients in AWS are redirected to the regional S3 bucket of the registry's
#:   mirror, prod-registry-k8s-io-<region> (kubernetes/k8s.io infra/aws/terraform/registry.k8s.io:
#:   "publicly-readable regional S3 buckets", prefix prod-), addressed as an S3 dual-stack
#:   virtual host; ``{region}`` is the cluster's region.
#: Other registries, and Docker Hub's own regional S3 redirect for AWS clients where it applies:
#: add their blob hosts with ``admission.signatures.egressHosts`` (docs/mesh.md, "Egress gateway").
REGISTRY_HOSTS: dict[str, tuple[str, ...]] = {
    "docker.io": ("registry-1.docker.io", "auth.docker.io", "production.cloudflare.docker.com"),
    "index.docker.io": ("registry-1.docker.io", "auth.docker.io", "production.cloudflare.docker.com"),
    "ghcr.io": ("ghcr.io", "pkg-containers.githubusercontent.com"),
    "quay.io": ("quay.io", "cdn01.quay.io", "cdn02.quay.io", "cdn03.quay.io"),
    "registry.k8s.io": ("registry.k8s.io", "prod-registry-k8s-io-{region}.s3.dualstack.{region}.amazonaws.com"),
}


def registry_of(image_or_glob: str) -> Optional[str]:
    """The registry host of an image reference or policy-controller image glob (Docker's rule: the
    first path component is a registry when it has a dot or a port, else the image is docker.io's);
    None for a glob over registries (``**``, ``*.io/...``): it names no host."""
    first, sep, _ = image_or_glob.partition("/")
    if "*" in first:
        return None
    if sep and ("." in first or ":" in first):
        return first.split(":", 1)[0].lower()
    return "docker.io"


def registry_hosts(images: list[str], region: Optional[str] = None) -> list[str]:
    """Every host a client of these images' registries talks to (REGISTRY_HOSTS, else the registry);
    a regional host only with the cluster's *region*."""
    out: set[str] = set()
    for image in images:
        reg = registry_of(image)
        if reg:
            for host in REGISTRY_HOSTS.get(reg, (reg,)):
                if "{region}" not in host:
                    out.add(host)
                elif region:
                    out.add(check_host(host.format(region=region)))
    return sorted(out)


class EgressClient(StrictModel):
    """One workload that leaves the cluster through the gateway, and the hosts it may reach."""

    name: str = Field(description="Short name, used in object names (e.g. cert-manager).")
    namespace: str
    service_account: str = Field(description="The ServiceAccount its pods run as (its mesh principal).")
    pod_labels: dict[str, str] = Field(description="Labels selecting its pods (NetworkPolicy, SPIRE).")
    tls_hosts: list[EgressHost] = Field(default_factory=list, description="Hosts it reaches on 443 (TLS).")
    http_hosts: list[EgressHost] = Field(default_factory=list, description="Hosts it reaches on 80 (HTTP).")
    tls_ports: dict[int, list[EgressHost]] = Field(
        default_factory=dict, description="Hosts it reaches over TLS on other ports, by port (e.g. falcosidekick's "
                                          "Splunk HEC on 8088); default none.")

    @field_validator("tls_ports")
    @classmethod
    def _tls_ports(cls, v: dict[int, list[str]]) -> dict[int, list[str]]:
        for port in v:
            if not 0 < port < 65536 or port in (TLS_PORT, HTTP_PORT) or 15000 <= port < 15100:
                raise ValueError(f"tls_ports: port {port} must be 1-65535, not 443 or 80 (tls_hosts, http_hosts) "
                                 "and outside Istio's reserved 15000-15099")
        return v

    def targets(self) -> dict[int, list[str]]:
        """port -> hosts, for every port it uses: 443, 80, then the other TLS ports in order."""
        out = {TLS_PORT: list(self.tls_hosts), HTTP_PORT: list(self.http_hosts),
               **{p: list(h) for p, h in sorted(self.tls_ports.items())}}
        return {p: h for p, h in out.items() if h}

    def ports(self) -> list[int]:
        return list(self.targets())


def port_name(port: int, prefix: str = "") -> str:
    """Istio reads a port's protocol from its name: http on 80, tls otherwise (the classic names
    tls/http on 443/80, tls-<port> on the others)."""
    base = "http" if port == HTTP_PORT else "tls" if port == TLS_PORT else f"tls-{port}"
    return f"{base}-{prefix}" if prefix else base


class EgressGatewayConfig(StrictModel):
    replicas: int = Field(2, ge=1, description="Gateway replicas (default 2, so egress survives a node).")
    image_digest: Optional[Digest] = Field(
        None, description="sha256 digest of the proxy image (<hub>/proxyv2:<chart version>) for the gateway pods "
                          "(default the images.lock entry, else none: the tag, under the egress-gateway-image-tag "
                          "exemption). Set, the pods run <image>@<digest>: the injector takes it from the "
                          "sidecar.istio.io/proxyImage annotation (gateway-injection-template.yaml).")


class EgressGatewayArgs(StrictModel):
    config: EgressGatewayConfig = Field(default_factory=EgressGatewayConfig, description="mesh.egressGateway.")
    clients: list[EgressClient] = Field(description="The workloads that leave through the gateway.")
    trust_domain: str = Field(description="The mesh's trust domain (principals are <td>/ns/<ns>/sa/<sa>).")
    proxy_image: str = Field(description="The proxy image (the injector sets the same one).")
    spire: bool = Field(True, description="SPIRE issues the proxies' identities (default true): the gateway's "
                                          "proxy gets the Workload API socket through the injector's spire template.")
    namespace_labels: dict[str, str] = Field(
        default_factory=dict, description="Extra labels of the gateway's namespace (HardenedStack: "
                                          "policy.sigstore.dev/include when the platform's images are verified).")


def client_principal(trust_domain: str, client: EgressClient) -> str:
    """Istio's principal of a client's pods (the SPIFFE ID without its scheme)."""
    return f"{trust_domain}/ns/{client.namespace}/sa/{client.service_account}"


def _meta(name: str, namespace: str = NAMESPACE, component: str = "egress", **extra: Any) -> dict:
    return {"name": name, "namespace": namespace, "labels": standard_labels(name, component), **extra}


def _slug(host: str) -> str:
    return host.replace(".", "-")


def _hosts(args: EgressGatewayArgs) -> dict[str, dict[int, list[str]]]:
    """host -> {port: [client namespaces]}."""
    out: dict[str, dict[int, list[str]]] = {}
    for c in args.clients:
        for port, hosts in c.targets().items():
            for h in hosts:
                out.setdefault(h, {}).setdefault(port, [])
                if c.namespace not in out[h][port]:
                    out[h][port].append(c.namespace)
    return {h: {p: sorted(ns) for p, ns in sorted(ports.items())} for h, ports in sorted(out.items())}


def _ports(args: EgressGatewayArgs) -> list[int]:
    return sorted({p for c in args.clients for p in c.ports()})


def gateway_workload(args: EgressGatewayArgs) -> list[tuple[str, dict]]:
    """ServiceAccount, Deployment, Service and PodDisruptionBudget of the gateway pods."""
    from .imagelock import locked_digest

    labels = {**standard_labels(NAME, "egress-gateway"), **POD_LABELS}
    templates = "gateway,spire" if args.spire else "gateway"
    digest = args.config.image_digest or locked_digest(args.proxy_image)
    image = f"{args.proxy_image}@{digest}" if digest else args.proxy_image
    annotations = {TEMPLATES_ANNOTATION: templates}
    if digest:
        # the gateway template uses this annotation's image when it names a repository ("/")
        annotations[PROXY_IMAGE_ANNOTATION] = image
    container = {
        "name": "istio-proxy",
        # The gateway template sets this same image (<hub>/proxyv2:<tag>); written here so admission
        # judges the image the pod runs.
        "image": image,
        "ports": [{"containerPort": p, "name": f"{'http' if p == HTTP_PORT else 'tls'}-{p}", "protocol": "TCP"}
                  for p in _ports(args)] + [{"containerPort": 15021, "name": "status-port", "protocol": "TCP"}],
        # Binding 80/443 as a non-root user: the template's pod sysctl net.ipv4.ip_unprivileged_port_start=0
        # (a safe sysctl, allowed by Pod Security restricted), no NET_BIND_SERVICE.
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                            "privileged": False, "readOnlyRootFilesystem": True, "runAsGroup": 1337,
                            "runAsNonRoot": True, "runAsUser": 1337, "seccompProfile": {"type": "RuntimeDefault"}},
        "resources": RESOURCES,
        "readinessProbe": {"httpGet": {"path": "/healthz/ready", "port": 15021}, "periodSeconds": 15,
                           "timeoutSeconds": 3, "failureThreshold": 4},
        "livenessProbe": {"tcpSocket": {"port": 15021}, "periodSeconds": 15, "timeoutSeconds": 3,
                          "failureThreshold": 4, "initialDelaySeconds": 10},
    }
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": _meta(NAME, component="egress-gateway"),
        "spec": {
            "replicas": args.config.replicas,
            "selector": {"matchLabels": dict(POD_LABELS)},
            "template": {
                "metadata": {"labels": {**labels, INJECT_LABEL: "true"},
                             "annotations": annotations},
                "spec": {
                    "serviceAccountName": NAME,
                    # the proxy authenticates to istiod with the projected istio-token the template
                    # mounts (audience istio-ca), never the ServiceAccount's API token
                    "automountServiceAccountToken": False,
                    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"},
                                        "sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}]},
                    "containers": [container],
                    "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                                                   "whenUnsatisfiable": "ScheduleAnyway",
                                                   "labelSelector": {"matchLabels": dict(POD_LABELS)}}],
                },
            },
        },
    }
    service = {
        "apiVersion": "v1", "kind": "Service", "metadata": _meta(NAME, component="egress-gateway"),
        "spec": {"type": "ClusterIP", "selector": dict(POD_LABELS),
                 # port names tell Istio the protocol of the sidecar-to-gateway leg (mTLS inside)
                 "ports": [{"name": "http2" if p == HTTP_PORT else port_name(p), "port": p, "targetPort": p,
                            "protocol": "TCP"} for p in _ports(args)]},
    }
    return [
        ("sa", {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(NAME, component="egress-gateway"),
                "automountServiceAccountToken": False}),
        ("deployment", deployment),
        ("service", service),
        ("pdb", {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                 "metadata": _meta(NAME, component="egress-gateway"),
                 "spec": {"minAvailable": 1, "selector": {"matchLabels": dict(POD_LABELS)}}}),
    ]


def routing(args: EgressGatewayArgs) -> list[tuple[str, dict]]:
    """Gateway, ServiceEntries, DestinationRule and VirtualServices: each named host, through the
    gateway, for the clients that name it."""
    hosts = _hosts(args)
    client_namespaces = sorted({c.namespace for c in args.clients})
    servers = []
    for h, ports in hosts.items():
        for port in ports:
            servers.append({
                "port": {"number": port, "name": port_name(port, _slug(h))[:63],
                         "protocol": "HTTPS" if port == HTTP_PORT else "TLS"},
                "hosts": [h],
                # The sidecar's mutual TLS ends here; the client's own TLS (443) travels inside it.
                "tls": {"mode": "ISTIO_MUTUAL"},
            })
    out: list[tuple[str, dict]] = [("gateway", {
        "apiVersion": NETWORKING_API, "kind": "Gateway", "metadata": _meta(NAME),
        "spec": {"selector": dict(POD_LABELS), "servers": servers},
    })]
    subsets = []
    for h, ports in hosts.items():
        subsets.append({"name": _slug(h), "trafficPolicy": {"portLevelSettings": [
            {"port": {"number": p}, "tls": {"mode": "ISTIO_MUTUAL", "sni": h}} for p in ports]}})
    out.append(("destination-rule", {
        "apiVersion": NETWORKING_API, "kind": "DestinationRule", "metadata": _meta(NAME),
        "spec": {"host": SERVICE_HOST, "exportTo": client_namespaces, "subsets": subsets},
    }))
    gateway_ref = f"{NAMESPACE}/{NAME}"
    for h, ports in hosts.items():
        namespaces = sorted({ns for nss in ports.values() for ns in nss})
        export = sorted({*namespaces, NAMESPACE})
        out.append((f"se-{_slug(h)}", {
            "apiVersion": NETWORKING_API, "kind": "ServiceEntry", "metadata": _meta(_slug(h)),
            "spec": {"hosts": [h], "location": "MESH_EXTERNAL", "resolution": "DNS", "exportTo": export,
                     "ports": [{"number": p, "name": port_name(p),
                                "protocol": "HTTP" if p == HTTP_PORT else "TLS"} for p in ports]},
        }))
        spec: dict[str, Any] = {"hosts": [h], "gateways": ["mesh", gateway_ref], "exportTo": export}
        to_gateway = {"host": SERVICE_HOST, "subset": _slug(h)}
        tls_ports = [p for p in ports if p != HTTP_PORT]
        if tls_ports:
            spec["tls"] = [{"match": [{"gateways": ["mesh"], "port": p, "sniHosts": [h]}],
                            "route": [{"destination": {**to_gateway, "port": {"number": p}}}]} for p in tls_ports]
            spec["tcp"] = [{"match": [{"gateways": [gateway_ref], "port": p}],
                            "route": [{"destination": {"host": h, "port": {"number": p}}}]} for p in tls_ports]
        if HTTP_PORT in ports:
            spec["http"] = [{"match": [{"gateways": ["mesh"], "port": HTTP_PORT}],
                             "route": [{"destination": {**to_gateway, "port": {"number": HTTP_PORT}}}]},
                            {"match": [{"gateways": [gateway_ref], "port": HTTP_PORT}],
                             "route": [{"destination": {"host": h, "port": {"number": HTTP_PORT}}}]}]
        out.append((f"vs-{_slug(h)}", {
            "apiVersion": NETWORKING_API, "kind": "VirtualService", "metadata": _meta(_slug(h)), "spec": spec,
        }))
    return out


def authorization(args: EgressGatewayArgs) -> list[tuple[str, dict]]:
    """Default-deny on the gateway, and each client's principal on its own hosts and ports."""
    selector = {"matchLabels": dict(POD_LABELS)}
    rules = []
    for c in sorted(args.clients, key=lambda c: c.name):
        for port, hosts in c.targets().items():
            if hosts:
                rules.append({"from": [{"source": {"principals": [client_principal(args.trust_domain, c)]}}],
                              "to": [{"operation": {"ports": [str(port)]}}],
                              "when": [{"key": "connection.sni", "values": sorted(set(hosts))}]})
    return [
        # an ALLOW policy with no rules matches nothing: whatever the policy below does not allow is denied
        ("authz-default-deny", {"apiVersion": SECURITY_API, "kind": "AuthorizationPolicy",
                                "metadata": _meta("default-deny", component="mesh-policy"), "spec": {}}),
        ("authz-clients", {"apiVersion": SECURITY_API, "kind": "AuthorizationPolicy",
                           "metadata": _meta("allow-egress-clients", component="mesh-policy"),
                           "spec": {"selector": selector, "action": "ALLOW", "rules": rules}}),
    ]


def _netpol(name: str, namespace: str, spec: dict) -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": _meta(name, namespace, "network-policy"), "spec": spec}


ISTIOD = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "istio-system"}},
          "podSelector": {"matchLabels": {"app": "istiod"}}}


def network_policies(args: EgressGatewayArgs) -> list[tuple[str, dict]]:
    """The gateway's pods: in from the clients, out to istiod and to internet addresses (the one
    workload of the stack that may). Each client's pods: out to the gateway and to istiod only."""
    gateway_pods = {"matchLabels": dict(POD_LABELS)}
    ports = _ports(args)
    out = [
        ("np-clients-in", _netpol("allow-ingress-egress-clients", NAMESPACE, {
            "podSelector": gateway_pods, "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": c.namespace}},
                                   "podSelector": {"matchLabels": dict(sorted(c.pod_labels.items()))}}],
                         "ports": [{"protocol": "TCP", "port": p} for p in c.ports()]}
                        for c in sorted(args.clients, key=lambda c: c.name)]})),
        ("np-internet", _netpol("allow-egress-internet", NAMESPACE, {
            "podSelector": gateway_pods, "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": list(INTERNET_EXCEPT)}}],
                        "ports": [{"protocol": "TCP", "port": p} for p in ports]}]})),
        ("np-istiod", _netpol("allow-egress-istiod", NAMESPACE, {
            "podSelector": {}, "policyTypes": ["Egress"],
            "egress": [{"to": [ISTIOD], "ports": [{"protocol": "TCP", "port": 15012}]}]})),
    ]
    for c in sorted(args.clients, key=lambda c: c.name):
        selector = {"matchLabels": dict(sorted(c.pod_labels.items()))}
        out.append((f"np-{c.name}-out", _netpol("allow-egress-egress-gateway", c.namespace, {
            "podSelector": selector, "policyTypes": ["Egress"],
            "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": NAMESPACE}},
                                "podSelector": gateway_pods}],
                        "ports": [{"protocol": "TCP", "port": p} for p in c.ports()]},
                       {"to": [ISTIOD], "ports": [{"protocol": "TCP", "port": 15012}]}]})))
    return out


def egress_manifests(args: EgressGatewayArgs) -> list[tuple[str, dict]]:
    """Every object of the egress gateway, as ``(suffix, manifest)``: a pure function."""
    return network_policies(args) + gateway_workload(args) + routing(args) + authorization(args)


class EgressGateway(HardenedComponent):
    """The dedicated egress gateway and the per-host routes and authorization through it."""

    def __init__(self, name: str, args: EgressGatewayArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TOKEN, name, None, opts)
        from .namespace import HardenedNamespace, HardenedNamespaceArgs

        # No istio-injection label: the gateway pods ask for the gateway template themselves.
        self.namespace = HardenedNamespace(f"{name}-ns", HardenedNamespaceArgs(
            name=NAMESPACE, labels=dict(args.namespace_labels)), child_opts(self))
        self.objects = {suffix: k8s_object(f"{name}-{suffix}", m, child_opts(self, depends_on=[self.namespace]))
                        for suffix, m in egress_manifests(args)}
        self.register_outputs({
            "namespace": NAMESPACE,
            "hosts": {c.name: sorted({*c.tls_hosts, *c.http_hosts}) for c in args.clients},
        })
