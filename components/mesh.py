"""``ZeroTrustMesh``: Istio with strict mTLS and identity-based authorization (issue 4).

* Istio ``base``, ``cni`` and ``istiod`` (upstream charts, pinned) in ``istio-system``; the CNI
  node agent (exempted by name in policy_pack/exemptions.yaml) replaces the ``istio-init``
  container, so tenant pods need no NET_ADMIN and stay at restricted; the mesh's
  workload identities come from SPIRE (the sidecar injector mounts the SPIFFE CSI socket, the
  trust domain is SPIRE's), so there is one identity authority, not two.
* Mesh-wide ``PeerAuthentication`` STRICT in the root namespace: no plaintext between sidecars.
* Per tenant namespace, an ``AuthorizationPolicy`` with an empty spec (deny everything) and ALLOW
  policies derived from the SAME ``intents`` as the NetworkPolicies: one intent, enforced at L3/L4
  by the CNI and at L7 by the sidecar against the caller's SPIFFE identity
  (``<trustDomain>/ns/<ns>/sa/<sa>``), so a spoofed pod IP gains nothing.
* External entry points (``external: true``): ``RequestAuthentication`` for the configured OIDC
  issuer and a DENY policy for any request without a verified request principal.
"""
from __future__ import annotations

from typing import Any, Optional

import pulumi
from pydantic import Field, field_validator

from .base import weakens
from .egress import EgressGatewayConfig
from .base import Cidr
from .base import HardenedComponent, StrictModel, child_opts, deep_merge, helm_chart, k8s_object, manifest_file, standard_labels
from .mesh_tls import with_tls13_floor
from .spire import CSI_DRIVER, workload_spiffe_id

TOKEN = "hardened:index:ZeroTrustMesh"

REPO = "https://istio-release.storage.googleapis.com/charts"
ROOT_NAMESPACE = "istio-system"
SECURITY_API = "security.istio.io/v1"
#: Where Istio's proxy looks for a Workload API socket provided by SPIRE (Istio's SPIRE integration).
WORKLOAD_SOCKET_DIR = "/run/secrets/workload-spiffe-uds"
#: Istio's public image hub; set explicitly so the images' names are known here (not left to the
#: published chart's defaults): the injector builds the proxy image as <hub>/proxyv2:<tag>.
#: Istio's release registry for 1.30 (release-builder's DOCKER_HUB for the 1.30 line; docker.io/istio
#: up to 1.29).
ISTIO_HUB = "registry.istio.io/release"
#: Gateway API standard-channel CRDs the Gateway needs (Istio 1.30 is built against v1.5.1; the newest
#: v1.x release is installed), applied as upstream publishes them.
GATEWAY_API_VERSION = "v1.6.1"
GATEWAY_API_CRDS = ("https://github.com/kubernetes-sigs/gateway-api/releases/download/"
                    f"{GATEWAY_API_VERSION}/standard-install.yaml")
#: Resources of istiod and the CNI node agent: the charts set requests only; limits are set so the
#: stack's own limits constraint admits them.
ISTIOD_RESOURCES = {"requests": {"cpu": "500m", "memory": "2Gi"}, "limits": {"cpu": "2", "memory": "4Gi"}}
CNI_RESOURCES = {"requests": {"cpu": "100m", "memory": "100Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}}
RUNTIME_DEFAULT = {"type": "RuntimeDefault"}


class JwtConfig(StrictModel):
    issuer: str = Field(description="OIDC issuer URL (the `iss` claim), e.g. https://login.lego-mcp.io/realms/prod.")
    jwks_uri: str = Field(description="JWKS URL of the issuer (https).")
    audiences: list[str] = Field(default_factory=list,
                                 description="Accepted `aud` values (default none: any audience of the issuer).")

    @field_validator("issuer", "jwks_uri")
    @classmethod
    def _https(cls, v: str) -> str:
        if not v.startswith("https://"):
            raise ValueError(f"{v!r} must be an https:// URL (tokens and keys are never fetched in plaintext)")
        return v


class MeshConfig(StrictModel):
    enabled: bool = Field(True, description="Deploy this part of the stack (default true).", json_schema_extra=weakens('the whole mesh (mTLS, authorization, egress control) is off'))
    chart_version: str = Field("1.30.3", description="Pinned Istio chart version (base, cni and istiod; default 1.30.3).")
    istiod_replicas: int = Field(2, ge=1, description="istiod replicas (default 2, so config survives a node).")
    outbound_registry_only: bool = Field(
        True, description="Sidecars reach only services in the mesh registry (default true: no egress to "
                          "arbitrary hosts; add a ServiceEntry for each external dependency).", json_schema_extra=weakens('mesh egress ALLOW_ANY: pods reach any host, not only registered services'))
    jwt: Optional[JwtConfig] = Field(
        None, description="OIDC issuer for end-user JWTs on external entry points (default none; required when "
                          "a workload is external, unless requireJwtOnExternal is false).")
    require_jwt_on_external: bool = Field(
        True, description="External workloads reject requests without a valid JWT (default true; false is a "
                          "visible opt-out for services that do their own authentication).", json_schema_extra=weakens('external workloads are served without end-user JWTs'))
    egress_gateway: EgressGatewayConfig = Field(
        default_factory=EgressGatewayConfig,
        description="The egress gateway, the one way to internet hosts for cert-manager (ACME) and policy-controller "
                    "(registries, Sigstore): deployed whenever the mesh is on and one of them needs the internet.")
    extra_values: dict[str, Any] = Field(default_factory=dict,
                                         description="Escape hatch merged last into istiod values (default none).", json_schema_extra=weakens('escape hatch: raw istiod chart values past the typed, hardened ones'))


def _extra_global(c: "MeshConfig") -> dict:
    g = c.extra_values.get("global")
    return g if isinstance(g, dict) else {}


def proxy_image(c: "MeshConfig") -> str:
    """The sidecar image the injector adds, by tag, to every pod of an injected namespace:
    ``<global.hub>/<global.proxy.image>:<global.tag>[-<global.variant>]`` as istiod builds it,
    with ``mesh.extraValues`` taken into account."""
    g = _extra_global(c)
    proxy = g.get("proxy") if isinstance(g.get("proxy"), dict) else {}
    variant = g.get("variant") or ""
    tag = str(g.get("tag") or c.chart_version) + (f"-{variant}" if variant else "")
    return f"{g.get('hub') or ISTIO_HUB}/{proxy.get('image') or 'proxyv2'}:{tag}"


def image_repositories(c: "MeshConfig") -> tuple[str, ...]:
    """The repositories the charts and the injector deploy: istiod, the CNI node agent, the proxy."""
    hub = _extra_global(c).get("hub") or ISTIO_HUB
    return (f"{hub}/pilot", f"{hub}/install-cni", proxy_image(c).rsplit(":", 1)[0])


class MeshWorkload(StrictModel):
    """What the mesh needs to know about one workload."""

    namespace: str
    name: str
    port: int
    external: bool = False
    spiffe_id: str = Field(description="The workload's SPIFFE ID (from SPIRE).")


class MeshIntent(StrictModel):
    source: str = Field(description="'namespace/workload' or 'namespace/*'.")
    destination: str = Field(description="'namespace/workload'.")
    port: int


class MeshPeer(StrictModel):
    """Pods with a proxy outside the injected namespaces (per-pod injection)."""

    namespace: str
    pod_labels: dict[str, str]


class ZeroTrustMeshArgs(StrictModel):
    config: MeshConfig = Field(description="The mesh section.")
    trust_domain: str = Field(description="SPIFFE trust domain (spire.trustDomain).")
    spire: bool = Field(True, description="SPIRE is the identity source (default true).")
    tenant_namespaces: list[str] = Field(default_factory=list, description="Namespaces that get default-deny.")
    workloads: list[MeshWorkload] = Field(default_factory=list, description="Tenant workloads.")
    intents: list[MeshIntent] = Field(default_factory=list, description="Active intents (isolation applied).")
    control_plane_cidrs: list[Cidr] = Field(default_factory=list,
                                           description="API server CIDRs (istiod's webhooks and its API access).")
    gateway_namespaces: list[str] = Field(default_factory=list,
                                          description="Namespaces of mesh gateways (they reach istiod too).")
    injected_pods: list[MeshPeer] = Field(
        default_factory=list, description="Pods injected one by one (the egress gateway's clients): they reach istiod.")
    namespace_labels: dict[str, str] = Field(
        default_factory=dict, description="Extra labels of this component's namespace(s) (HardenedStack: "
                                          "policy.sigstore.dev/include when the platform's images are verified).")


def mesh_workloads(workloads, trust_domain: str) -> list[MeshWorkload]:
    return [MeshWorkload(namespace=w.namespace, name=w.name, port=w.port, external=w.external,
                         spiffe_id=workload_spiffe_id(w, trust_domain)) for w in workloads]


# ---------------------------------------------------------------------------------------------
# Pure builders (unit-tested)
# ---------------------------------------------------------------------------------------------

#: The istio-reader ServiceAccount (base chart) and its ClusterRole and binding (istiod chart) serve
#: multicluster remote secrets only: another cluster's istiod reads this one with its token. No pod
#: here runs as it, yet it read Secrets cluster-wide with an auto-mounted token (issue 23.7). Both
#: charts skip them with ``global.enableReaderRBAC: false`` (base 1.30 reader-serviceaccount.yaml,
#: istiod 1.30 reader-clusterrole.yaml / reader-clusterrolebinding.yaml).
READER_RBAC = {"enableReaderRBAC": False}


def _base_values(args: ZeroTrustMeshArgs) -> dict:
    return {"global": {"istioNamespace": ROOT_NAMESPACE, **READER_RBAC}}


def _values(args: ZeroTrustMeshArgs) -> dict:
    c = args.config
    # Since Istio 1.24 the istiod chart reads its own settings at the top level of its values
    # (`replicaCount`, `cni`, `env`, ...); a `pilot:` block is ignored without a word, so nothing
    # here may go under `pilot`.
    values: dict[str, Any] = {
        "global": {"istioNamespace": ROOT_NAMESPACE, "hub": ISTIO_HUB, "tag": c.chart_version, "logAsJson": True,
                   "proxy": {"privileged": False}, **READER_RBAC},
        "replicaCount": c.istiod_replicas,
        "resources": ISTIOD_RESOURCES,
        "seccompProfile": RUNTIME_DEFAULT,
        # The chart's HorizontalPodAutoscaler owns the replica count (autoscaleEnabled is the chart
        # default, with a floor of 1); the floor is the configured count, so istiod survives a node.
        "autoscaleEnabled": True,
        "autoscaleMin": c.istiod_replicas,
        "autoscaleMax": max(5, c.istiod_replicas),
        "env": {"PILOT_ENABLE_ALPHA_GATEWAY_API": "false"},
        # The CNI node agent redirects pod traffic: no istio-init container with NET_ADMIN and
        # NET_RAW in every tenant pod, so tenant namespaces stay at restricted. The injector
        # template reads this key (as `pilot.cni.enabled` inside its own ConfigMap).
        "cni": {"enabled": True},
        "meshConfig": {
            "trustDomain": args.trust_domain,
            "enableAutoMtls": True,
            "outboundTrafficPolicy": {"mode": "REGISTRY_ONLY" if c.outbound_registry_only else "ALLOW_ANY"},
            "accessLogFile": "/dev/stdout",
            "accessLogEncoding": "JSON",
            # The app container starts once its proxy is ready (the chart's
            # `global.proxy.holdApplicationUntilProxyStarts` is deprecated for this key).
            "defaultConfig": {"holdApplicationUntilProxyStarts": True},
        },
    }
    if args.spire:
        # Istio's SPIRE integration: every injected proxy gets the Workload API socket from the
        # SPIFFE CSI driver (read-only), and istio-agent fetches its SVID from SPIRE instead of
        # istiod's CA.
        values["sidecarInjectorWebhook"] = {
            "templates": {"spire": "\n".join([
                "spec:",
                "  containers:",
                "  - name: istio-proxy",
                "    volumeMounts:",
                "    - name: workload-socket",
                f"      mountPath: {WORKLOAD_SOCKET_DIR}",
                "      readOnly: true",
                "  volumes:",
                "    - name: workload-socket",
                "      csi:",
                f"        driver: \"{CSI_DRIVER}\"",
                "        readOnly: true",
                ""])},
            "defaultTemplates": ["sidecar", "spire"],
        }
    return deep_merge(values, c.extra_values)


def _cni_values(args: ZeroTrustMeshArgs) -> dict:
    """The ``cni`` chart: the node agent (the one privileged DaemonSet, exempted by name)."""
    # Top-level keys, as the chart reads them since Istio 1.24 (a `cni:` block is ignored).
    return {"global": {"hub": ISTIO_HUB, "tag": args.config.chart_version, "logAsJson": True},
            "excludeNamespaces": ["kube-system", ROOT_NAMESPACE],
            "resources": CNI_RESOURCES, "seccompProfile": RUNTIME_DEFAULT,
            # Kubernetes >= 1.30 reads securityContext.appArmorProfile; the annotation is deprecated
            "useAppArmorAnnotation": False}


def network_policies(args: ZeroTrustMeshArgs) -> list[tuple[str, dict]]:
    """istio-system keeps its default-deny; these are the flows istiod needs."""
    istiod = {"matchLabels": {"app": "istiod"}}
    api = [{"ipBlock": {"cidr": cidr}} for cidr in sorted(args.control_plane_cidrs)]
    proxies = [{"namespaceSelector": {"matchLabels": {"istio-injection": "enabled"}}, "podSelector": {}}] + [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}}
        for ns in sorted(args.gateway_namespaces)] + [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": p.namespace}},
         "podSelector": {"matchLabels": dict(sorted(p.pod_labels.items()))}}
        for p in sorted(args.injected_pods, key=lambda p: p.namespace)]

    def netpol(name: str, spec: dict) -> dict:
        return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": {"name": name, "namespace": ROOT_NAMESPACE,
                             "labels": standard_labels(name, "network-policy")}, "spec": spec}

    out = [("netpol-xds", netpol("allow-ingress-istiod-xds", {
        "podSelector": istiod, "policyTypes": ["Ingress"],
        # 15012: xDS and certificate signing over mTLS, from injected proxies and gateways only.
        "ingress": [{"from": proxies, "ports": [{"protocol": "TCP", "port": 15012}]}]}))]
    if api:
        out += [
            ("netpol-webhook", netpol("allow-ingress-apiserver-webhooks", {
                "podSelector": istiod, "policyTypes": ["Ingress"],
                "ingress": [{"from": api, "ports": [{"protocol": "TCP", "port": 15017}]}]})),
            ("netpol-apiserver", netpol("allow-egress-kube-apiserver", {
                "podSelector": {}, "policyTypes": ["Egress"],
                "egress": [{"to": api, "ports": [{"protocol": "TCP", "port": 443},
                                                 {"protocol": "TCP", "port": 6443}]}]})),
        ]
    return out


def _meta(name: str, namespace: str) -> dict:
    return {"name": name, "namespace": namespace, "labels": standard_labels(name, "mesh-policy")}


def principal(spiffe_id: str) -> str:
    """Istio's principal for a SPIFFE ID: the ID without its ``spiffe://`` scheme."""
    return spiffe_id.removeprefix("spiffe://")


def mesh_policies(args: ZeroTrustMeshArgs) -> list[tuple[str, dict]]:
    """Every PeerAuthentication, RequestAuthentication and AuthorizationPolicy of the mesh."""
    c = args.config
    out: list[tuple[str, dict]] = [("peer-auth-strict", {
        "apiVersion": SECURITY_API, "kind": "PeerAuthentication",
        "metadata": _meta("default", ROOT_NAMESPACE),
        "spec": {"mtls": {"mode": "STRICT"}},
    })]
    by_key = {f"{w.namespace}/{w.name}": w for w in args.workloads}
    for ns in sorted(args.tenant_namespaces):
        # An ALLOW policy with no rules matches nothing: with it, every request not allowed below
        # is denied.
        out.append((f"authz-{ns}-deny-all", {
            "apiVersion": SECURITY_API, "kind": "AuthorizationPolicy",
            "metadata": _meta("default-deny", ns), "spec": {},
        }))
    grouped: dict[tuple[str, int], list[MeshIntent]] = {}
    for i in args.intents:
        grouped.setdefault((i.destination, i.port), []).append(i)
    for (dest, port), intents in sorted(grouped.items()):
        dst_ns, dst_app = dest.split("/")
        principals, namespaces = set(), set()
        for i in intents:
            src_ns, src_app = i.source.split("/")
            if src_app == "*":
                namespaces.add(src_ns)
            else:
                principals.add(principal(by_key[i.source].spiffe_id))
        sources = ([{"source": {"principals": sorted(principals)}}] if principals else []) + \
                  ([{"source": {"namespaces": sorted(namespaces)}}] if namespaces else [])
        name = f"allow-{dst_app}-{port}"
        out.append((f"authz-{dst_ns}-{name}", {
            "apiVersion": SECURITY_API, "kind": "AuthorizationPolicy",
            "metadata": _meta(name, dst_ns),
            "spec": {"selector": {"matchLabels": {"app": dst_app}}, "action": "ALLOW",
                     "rules": [{"from": sources, "to": [{"operation": {"ports": [str(port)]}}]}]},
        }))
    if c.jwt is not None and c.require_jwt_on_external:
        for w in sorted((w for w in args.workloads if w.external), key=lambda w: (w.namespace, w.name)):
            rule: dict[str, Any] = {"issuer": c.jwt.issuer, "jwksUri": c.jwt.jwks_uri, "forwardOriginalToken": False}
            if c.jwt.audiences:
                rule["audiences"] = sorted(c.jwt.audiences)
            selector = {"matchLabels": {"app": w.name}}
            out.append((f"jwt-{w.namespace}-{w.name}", {
                "apiVersion": SECURITY_API, "kind": "RequestAuthentication",
                "metadata": _meta(f"jwt-{w.name}", w.namespace),
                "spec": {"selector": selector, "jwtRules": [rule]},
            }))
            # RequestAuthentication alone lets tokenless requests through; this DENY (evaluated
            # before every ALLOW) rejects any request without a verified request principal.
            out.append((f"authz-{w.namespace}-{w.name}-require-jwt", {
                "apiVersion": SECURITY_API, "kind": "AuthorizationPolicy",
                "metadata": _meta(f"require-jwt-{w.name}", w.namespace),
                "spec": {"selector": selector, "action": "DENY",
                         "rules": [{"from": [{"source": {"notRequestPrincipals": ["*"]}}]}]},
            }))
    return out


# ---------------------------------------------------------------------------------------------
# The component
# ---------------------------------------------------------------------------------------------

class ZeroTrustMesh(HardenedComponent):
    """Istio with STRICT mTLS, default-deny authorization from intents, JWT at the edge."""

    def __init__(self, name: str, args: ZeroTrustMeshArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TOKEN, name, None, opts)
        from .namespace import HardenedNamespace, HardenedNamespaceArgs
        from .spire import _pod_security

        c = args.config
        self.namespace = HardenedNamespace(f"{name}-ns", HardenedNamespaceArgs(
            name=ROOT_NAMESPACE, pod_security=_pod_security(ROOT_NAMESPACE), labels=args.namespace_labels),
            child_opts(self))
        ns = [self.namespace]
        self.base = helm_chart(f"{name}-base", chart="base", version=c.chart_version, repo=REPO,
                               namespace=ROOT_NAMESPACE, values=_base_values(args),
                               opts=child_opts(self, depends_on=ns))
        # The Gateway API CRDs the edge's Gateway and HTTPRoutes need (EKS does not ship them).
        self.gateway_api = manifest_file(f"{name}-gateway-api-crds", file=GATEWAY_API_CRDS, opts=child_opts(self))
        netpols = [k8s_object(f"{name}-{suffix}", m, child_opts(self, depends_on=ns))
                   for suffix, m in network_policies(args)]
        self.cni = helm_chart(f"{name}-cni", chart="cni", version=c.chart_version, repo=REPO,
                              namespace=ROOT_NAMESPACE, values=_cni_values(args),
                              opts=child_opts(self, depends_on=[*ns, self.base]))
        self.istiod = helm_chart(f"{name}-istiod", chart="istiod", version=c.chart_version, repo=REPO,
                                 namespace=ROOT_NAMESPACE, values=with_tls13_floor(_values(args)),  # issue 17
                                 opts=child_opts(self, depends_on=[*ns, *netpols, self.base, self.cni]))
        self.policies = [k8s_object(f"{name}-{suffix}", m, child_opts(self, depends_on=[self.base]))
                         for suffix, m in mesh_policies(args)]
        #: what dependents (the workloads) wait for: the CRDs and the injector
        self.ready = [self.base, self.gateway_api, self.istiod]
        self.register_outputs({"trustDomain": args.trust_domain, "mtls": "STRICT",
                               "tenantNamespaces": sorted(args.tenant_namespaces)})
