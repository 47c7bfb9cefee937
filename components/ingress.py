"""``TlsIngress``: the only way in from outside, TLS 1.3 only (issue 8).

Default (``controller: istio``): the Kubernetes Gateway API on Istio's gateway implementation.
One ``Gateway`` (gateway.networking.k8s.io/v1) in ``istio-ingress`` with an HTTPS listener per
external workload (certificate from cert-manager) and a plain-HTTP listener that only redirects;
one ``HTTPRoute`` per external workload that adds HSTS (max-age one year, includeSubDomains,
preload) with a ``ResponseHeaderModifier`` filter; TLS 1.3 as the minimum (and maximum) protocol
and a per-gateway-pod local rate limit, both as Istio ``EnvoyFilter`` patches of the gateway's
listeners (the Gateway API has no field for either; see docs/ingress.md).

Legacy (``controller: nginx``, for clusters that still run ingress-nginx, retired upstream in
March 2026): the seed's controller ConfigMap settings (TLSv1.3 only, AEAD suites, HSTS) and one
``networking.k8s.io/v1`` Ingress with TLS per external workload.

The AWS edge (WAFv2 WebACL, optional Shield Advanced) is :mod:`components.edge`, configured under
``ingress.waf``.
"""
from __future__ import annotations

from typing import Literal, Optional

import pulumi
import yaml
from pydantic import Field, field_validator

from .base import weakens
from .base import Cidr
from .base import HardenedComponent, DNS1123_LABEL, StrictModel, child_opts, k8s_object, standard_labels
from .edge import AlbConfig, WafConfig
from .egress import EgressHost, url_host
from .mesh_tls import EDGE_ECDH_CURVES

TOKEN = "hardened:index:TlsIngress"

TLS_PROTOCOLS = ("TLSv1.3",)
#: The three TLS 1.3 AEAD suites of the seed (IANA/OpenSSL names), strongest first.
AEAD_SUITES = ("TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256")
HSTS_ONE_YEAR = 31536000
HOSTNAME = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z]{2,63}$"


class RateLimitConfig(StrictModel):
    enabled: bool = Field(True, description="Local rate limit on every gateway pod (default true).", json_schema_extra=weakens('no rate limit at the gateway'))
    requests_per_second: int = Field(
        100, ge=1, description="Sustained requests per second per gateway pod (default 100).", json_schema_extra=weakens('the gateway admits more requests per pod', 'raised'))
    burst: int = Field(200, ge=1, description="Token-bucket size: the burst a pod absorbs (default 200).")


LETSENCRYPT_PROD = "https://acme-v02.api.letsencrypt.org/directory"
ACME_SOLVER_LABEL = "acme.cert-manager.io/http01-solver"
ACME_SOLVER_PORT = 8089


class AcmeConfig(StrictModel):
    """An ACME ClusterIssuer created by the ingress (public hostnames need a publicly trusted CA)."""

    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$",
                       description="Contact address registered with the ACME CA (expiry and revocation notices).")
    server: str = Field(LETSENCRYPT_PROD, description="ACME directory URL (default Let's Encrypt production).")
    egress_hosts: list[EgressHost] = Field(
        default_factory=list,
        description="Further hosts cert-manager's controller may reach on 443 through the egress gateway (default "
                    "none: the directory URL's host, which serves every ACME call of Let's Encrypt). Exact host "
                    "names; no wildcards.", json_schema_extra=weakens("cert-manager may reach more internet hosts"))

    @field_validator("server")
    @classmethod
    def _https(cls, v: str) -> str:
        if not v.startswith("https://"):
            raise ValueError(f"server {v!r} must be an https:// ACME directory URL")
        try:
            url_host(v)
        except ValueError as e:
            raise ValueError(f"server {v!r}: its host must be a DNS name the egress gateway can name ({e})") from None
        return v

    @property
    def egress_hosts_all(self) -> list[str]:
        """Every host the controller reaches on 443: the directory's host and ``egressHosts``."""
        return sorted({url_host(self.server), *self.egress_hosts})


class IngressConfig(StrictModel):
    enabled: bool = Field(True, description="Deploy this part of the stack (default true).", json_schema_extra=weakens('the TLS ingress is off'))
    controller: Literal["istio", "nginx"] = Field(
        "istio", description="istio (default: Gateway API on Istio's gateway) or nginx (legacy ingress-nginx, "
                             "retired upstream in March 2026: for clusters that still run it).")
    namespace: str = Field("istio-ingress", description="Namespace of the Gateway and its pods (default "
                                                       "istio-ingress; with nginx, the controller's namespace).")
    manage_namespace: bool = Field(
        True, description="Create the namespace as a HardenedNamespace (default true; false when the mesh or "
                          "the ingress-nginx installation already owns it).")
    gateway_name: str = Field("public", description="Name of the Gateway (default public).")
    gateway_class: str = Field("istio", description="GatewayClass (default istio).")
    cluster_issuer: str = Field("letsencrypt-prod",
                                description="cert-manager ClusterIssuer that signs the certificates (default "
                                            "letsencrypt-prod; the internal CA's issuer for private hosts).")
    acme: Optional[AcmeConfig] = Field(
        None, description="Create `clusterIssuer` as an ACME issuer solving HTTP-01 through the Gateway (or the nginx "
                          "class). Default none: the ClusterIssuer must already exist (e.g. the internal CA "
                          "hardened-internal-ca for private hostnames).")
    min_tls_version: str = Field("TLSv1.3", description="Minimum TLS version (default and only allowed: TLSv1.3).")
    cipher_suites: list[str] = Field(
        default_factory=lambda: list(AEAD_SUITES),
        description="TLS 1.3 cipher suites (default the three AEAD suites; only those are allowed).")
    hsts_max_age_seconds: int = Field(
        HSTS_ONE_YEAR, ge=HSTS_ONE_YEAR,
        description="HSTS max-age (default 31536000, one year: the minimum for the browsers' preload lists).")
    hsts_include_subdomains: bool = Field(True, description="HSTS includeSubDomains (default true).", json_schema_extra=weakens('HSTS without includeSubDomains'))
    hsts_preload: bool = Field(True, description="HSTS preload (default true).", json_schema_extra=weakens('HSTS without preload'))
    http_redirect: bool = Field(True, description="Port 80 answers only with a 301 to https (default true).", json_schema_extra=weakens('plain HTTP is not redirected to HTTPS'))
    rate_limit: RateLimitConfig = Field(default_factory=RateLimitConfig, description="Gateway rate limit.")
    nginx_configmap: str = Field("ingress-nginx-controller",
                                 description="With controller nginx: the controller's ConfigMap name (default "
                                             "ingress-nginx-controller, the chart's).")
    waf: WafConfig = Field(default_factory=WafConfig, description="AWS WAFv2 WebACL and Shield Advanced.")
    alb: Optional[AlbConfig] = Field(
        None, description="Build an internet-facing ALB in front of the gateway and associate the WebACL with it "
                          "(default none: then waf.loadBalancerArn must name an ALB; a prod stack needs one of the "
                          "two, docs/ingress.md). With it, the gateway's Service is ClusterIP: the ALB is the only "
                          "way in.")

    @field_validator("min_tls_version")
    @classmethod
    def _tls(cls, v: str) -> str:
        if v not in TLS_PROTOCOLS:
            raise ValueError(f"{v!r} is not allowed: the ingress accepts TLSv1.3 only (TLS 1.2 and older allow "
                             "non-AEAD suites and downgrade attacks); set minTlsVersion: TLSv1.3")
        return v

    @field_validator("cipher_suites")
    @classmethod
    def _ciphers(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError(f"cipherSuites must list at least one of {list(AEAD_SUITES)}")
        for s in v:
            if s not in AEAD_SUITES:
                raise ValueError(f"cipher suite {s!r} is not allowed; use only the TLS 1.3 AEAD suites "
                                 f"{list(AEAD_SUITES)}")
        return v

    @field_validator("namespace", "gateway_name", "gateway_class")
    @classmethod
    def _label(cls, v: str) -> str:
        if not DNS1123_LABEL.match(v):
            raise ValueError(f"{v!r} is not a DNS-1123 label")
        return v

    @property
    def hsts_header(self) -> str:
        value = f"max-age={self.hsts_max_age_seconds}"
        if self.hsts_include_subdomains:
            value += "; includeSubDomains"
        if self.hsts_preload:
            value += "; preload"
        return value


class ExternalService(StrictModel):
    """One workload exposed through the ingress."""

    name: str
    namespace: str
    port: int = Field(ge=1, le=65535)
    hostname: str = Field(pattern=HOSTNAME, max_length=253)


class TlsIngressArgs(StrictModel):
    config: IngressConfig = Field(default_factory=IngressConfig, description="The ingress section.")
    services: list[ExternalService] = Field(default_factory=list, description="External workloads.")
    control_plane_cidrs: list[Cidr] = Field(
        default_factory=lambda: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"],
        description="Where load-balancer health checks come from (default the private ranges).")
    cluster_name: str = Field("cluster", description="Cluster name, used in AWS names, metrics and tags.")
    access_logs_bucket: Optional[str] = Field(
        None, description="Bucket the ALB writes its access logs to (created by the edge; default none).")
    access_logs_retention_days: int = Field(2555, ge=1, description="Their Object Lock retention.")
    account_id: Optional[str] = Field(None, description="cluster.accountId.")
    region: str = Field("us-east-1", description="AWS region.")
    spire_csi_driver: Optional[str] = Field(
        None, description="With SPIRE as the mesh's identity source: its CSI driver, mounted into the gateway's "
                          "proxy like every sidecar's (default none: istiod's CA).")
    namespace_labels: dict[str, str] = Field(
        default_factory=dict, description="Extra labels of this component's namespace(s) (HardenedStack: "
                                          "policy.sigstore.dev/include when the platform's images are verified).")


#: Where istio-agent looks for a Workload API socket (the gateway template mounts an emptyDir there).
WORKLOAD_SOCKET_DIR = "/var/run/secrets/workload-spiffe-uds"


def _meta(name: str, namespace: str, component: str, **extra) -> dict:
    return {"name": name, "namespace": namespace, "labels": standard_labels(name, component), **extra}


def certificate(c: IngressConfig, svc: ExternalService, namespace: str) -> dict:
    """cert-manager Certificate: ECDSA P-256, re-keyed on every renewal, renewed 30 days early."""
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": _meta(f"{svc.name}-tls", namespace, "certificate"),
        "spec": {
            "secretName": f"{svc.name}-tls",
            "dnsNames": [svc.hostname],
            "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": c.cluster_issuer},
            "duration": "2160h",
            "renewBefore": "720h",
            "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
            "usages": ["server auth", "digital signature", "key encipherment"],
        },
    }


def acme_issuer(c: IngressConfig) -> dict:
    """ACME ClusterIssuer; HTTP-01 challenges are answered by a route cert-manager attaches to the
    Gateway's port-80 listener (more specific than the redirect, so it wins) or an nginx Ingress."""
    if c.controller == "istio":
        solver = {"gatewayHTTPRoute": {"parentRefs": [{
            "group": "gateway.networking.k8s.io", "kind": "Gateway", "name": c.gateway_name,
            "namespace": c.namespace, "sectionName": "http-redirect"}]}}
    else:
        solver = {"ingress": {"ingressClassName": "nginx"}}
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "ClusterIssuer",
        "metadata": {"name": c.cluster_issuer, "labels": standard_labels(c.cluster_issuer, "issuer")},
        "spec": {"acme": {
            "email": c.acme.email,
            "server": c.acme.server,
            "privateKeySecretRef": {"name": f"{c.cluster_issuer}-account-key"},
            "solvers": [{"http01": solver}],
        }},
    }


def infrastructure_name(c: IngressConfig) -> str:
    return f"{c.gateway_name}-infrastructure"


def gateway_infrastructure(c: IngressConfig, csi_driver: str) -> dict:
    """The ConfigMap the Gateway names in ``spec.infrastructure.parametersRef``: istiod applies its
    ``deployment`` entry as a strategic merge patch to the Deployment it generates for the Gateway.

    With SPIRE, the sidecars' certificates chain to SPIRE's bundle, so a gateway proxy with an
    istiod-signed certificate would fail every mTLS handshake with them. The patch gives the
    gateway's proxy the Workload API socket, as the injector's ``spire`` template does for
    sidecars: the generated volume is an emptyDir, replaced (``emptyDir: null``) by the CSI volume.
    """
    overlay = {"spec": {"template": {"spec": {
        "containers": [{"name": "istio-proxy", "volumeMounts": [
            {"name": "workload-socket", "mountPath": WORKLOAD_SOCKET_DIR, "readOnly": True}]}],
        "volumes": [{"name": "workload-socket", "emptyDir": None, "csi": {"driver": csi_driver, "readOnly": True}}],
    }}}}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(infrastructure_name(c), c.namespace, "gateway"),
        "data": {"deployment": yaml.safe_dump(overlay, sort_keys=True)},
    }


def gateway_service_name(c: IngressConfig) -> str:
    """The Service the ALB forwards to: the one Istio creates for the Gateway
    (``<gateway>-<gatewayClass>``), or ingress-nginx's controller (named as its ConfigMap, the chart's
    ``ingress-nginx-controller`` by default)."""
    return f"{c.gateway_name}-{c.gateway_class}" if c.controller == "istio" else c.nginx_configmap


def gateway(c: IngressConfig, services: list[ExternalService], spire: bool = False) -> dict:
    tenant_namespaces = sorted({s.namespace for s in services})
    listeners = []
    if c.http_redirect:
        listeners.append({"name": "http-redirect", "port": 80, "protocol": "HTTP",
                          "allowedRoutes": {"namespaces": {"from": "Same"}}})
    for s in sorted(services, key=lambda s: s.name):
        listeners.append({
            "name": f"https-{s.name}",
            "hostname": s.hostname,
            "port": 443,
            "protocol": "HTTPS",
            "tls": {"mode": "Terminate",
                    "certificateRefs": [{"group": "", "kind": "Secret", "name": f"{s.name}-tls"}]},
            "allowedRoutes": {"namespaces": {"from": "Selector", "selector": {"matchExpressions": [{
                "key": "kubernetes.io/metadata.name", "operator": "In", "values": [s.namespace]}]}},
                "kinds": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"}]},
        })
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": _meta(c.gateway_name, c.namespace, "gateway", annotations={
            "hardened-stack.io/tls-min-version": c.min_tls_version,
            "hardened-stack.io/tls-enforced-by": f"EnvoyFilter/{c.gateway_name}-tls13",
            "hardened-stack.io/tenant-namespaces": ",".join(tenant_namespaces),
            # Behind the stack's ALB the gateway gets no load balancer of its own (issue 17).
            **({"networking.istio.io/service-type": "ClusterIP"} if c.alb is not None else {}),
        }),
        "spec": {"gatewayClassName": c.gateway_class, "listeners": listeners,
                 **({"infrastructure": {"parametersRef": {"group": "", "kind": "ConfigMap",
                                                          "name": infrastructure_name(c)}}} if spire else {})},
    }


def http_route(c: IngressConfig, s: ExternalService) -> dict:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": _meta(s.name, s.namespace, "route"),
        "spec": {
            "parentRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": c.gateway_name,
                            "namespace": c.namespace, "sectionName": f"https-{s.name}"}],
            "hostnames": [s.hostname],
            "rules": [{
                "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                "filters": [{"type": "ResponseHeaderModifier", "responseHeaderModifier": {"set": [
                    {"name": "Strict-Transport-Security", "value": c.hsts_header}]}}],
                "backendRefs": [{"group": "", "kind": "Service", "name": s.name, "port": s.port}],
            }],
        },
    }


def redirect_route(c: IngressConfig) -> dict:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": _meta("https-redirect", c.namespace, "route"),
        "spec": {
            "parentRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": c.gateway_name,
                            "sectionName": "http-redirect"}],
            "rules": [{"filters": [{"type": "RequestRedirect",
                                    "requestRedirect": {"scheme": "https", "statusCode": 301}}]}],
        },
    }


def _gateway_selector(c: IngressConfig) -> dict:
    # Istio labels the pods it deploys for a Gateway with the Gateway's name.
    return {"labels": {"gateway.networking.k8s.io/gateway-name": c.gateway_name}}


def tls_envoy_filter(c: IngressConfig) -> dict:
    """TLS 1.3 minimum and maximum on every HTTPS filter chain of the gateway. With TLS 1.3 only,
    BoringSSL negotiates exactly the three AEAD suites (TLS 1.3 suites are not configurable). The
    key exchange offers the hybrid X25519MLKEM768 first and X25519 as the fallback."""
    return {
        "apiVersion": "networking.istio.io/v1alpha3",
        "kind": "EnvoyFilter",
        "metadata": _meta(f"{c.gateway_name}-tls13", c.namespace, "tls-policy"),
        "spec": {
            "workloadSelector": _gateway_selector(c),
            "configPatches": [{
                "applyTo": "FILTER_CHAIN",
                "match": {"context": "GATEWAY", "listener": {"portNumber": 443}},
                "patch": {"operation": "MERGE", "value": {"transport_socket": {
                    "name": "envoy.transport_sockets.tls",
                    "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
                        "common_tls_context": {"tls_params": {
                            "tls_minimum_protocol_version": "TLSv1_3",
                            "tls_maximum_protocol_version": "TLSv1_3",
                            # hybrid post-quantum key exchange first, X25519 fallback (issue 17)
                            "ecdh_curves": list(EDGE_ECDH_CURVES),
                        }},
                    },
                }}},
            }],
        },
    }


def rate_limit_envoy_filter(c: IngressConfig) -> dict:
    """Envoy's local rate limit (token bucket per gateway pod); 429 with x-local-rate-limit."""
    r = c.rate_limit
    percent = {"numerator": 100, "denominator": "HUNDRED"}
    return {
        "apiVersion": "networking.istio.io/v1alpha3",
        "kind": "EnvoyFilter",
        "metadata": _meta(f"{c.gateway_name}-local-rate-limit", c.namespace, "rate-limit"),
        "spec": {
            "workloadSelector": _gateway_selector(c),
            "configPatches": [{
                "applyTo": "HTTP_FILTER",
                "match": {"context": "GATEWAY", "listener": {"filterChain": {"filter": {
                    "name": "envoy.filters.network.http_connection_manager"}}}},
                "patch": {"operation": "INSERT_BEFORE", "value": {
                    "name": "envoy.filters.http.local_ratelimit",
                    "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
                        "stat_prefix": "http_local_rate_limiter",
                        "token_bucket": {"max_tokens": r.burst, "tokens_per_fill": r.requests_per_second,
                                         "fill_interval": "1s"},
                        "filter_enabled": {"runtime_key": "local_rate_limit_enabled", "default_value": percent},
                        "filter_enforced": {"runtime_key": "local_rate_limit_enforced", "default_value": percent},
                        "response_headers_to_add": [{"append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
                                                     "header": {"key": "x-local-rate-limit", "value": "true"}}],
                    },
                }},
            }],
        },
    }


def nginx_configmap(c: IngressConfig) -> dict:
    """The seed's ingress-nginx controller settings. ``ssl-ciphers`` only governs TLS <= 1.2 in
    nginx, so the TLS 1.3 suites are also set with ``ssl_conf_command Ciphersuites``."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(c.nginx_configmap, c.namespace, "ingress-controller-config"),
        "data": {
            "ssl-protocols": " ".join(TLS_PROTOCOLS),
            "ssl-ciphers": ":".join(c.cipher_suites),
            "ssl-prefer-server-ciphers": "true",
            "http-snippet": f"ssl_conf_command Ciphersuites {':'.join(c.cipher_suites)};",
            "hsts": "true",
            "hsts-max-age": str(c.hsts_max_age_seconds),
            "hsts-include-subdomains": str(c.hsts_include_subdomains).lower(),
            "hsts-preload": str(c.hsts_preload).lower(),
            "ssl-redirect": "true",
            "force-ssl-redirect": "true",
            "server-tokens": "false",
            "limit-req-status-code": "429",
        },
    }


def nginx_ingress(c: IngressConfig, s: ExternalService) -> dict:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": _meta(s.name, s.namespace, "ingress", annotations={
            "nginx.ingress.kubernetes.io/force-ssl-redirect": "true",
            "nginx.ingress.kubernetes.io/limit-rps": str(c.rate_limit.requests_per_second),
            "nginx.ingress.kubernetes.io/limit-burst-multiplier": str(max(1, c.rate_limit.burst
                                                                            // c.rate_limit.requests_per_second)),
        }),
        "spec": {
            "ingressClassName": "nginx",
            "tls": [{"hosts": [s.hostname], "secretName": f"{s.name}-tls"}],
            "rules": [{"host": s.hostname, "http": {"paths": [{
                "path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": s.name, "port": {"number": s.port}}}}]}}],
        },
    }


def _netpol(name: str, namespace: str, spec: dict) -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": _meta(name, namespace, "network-policy"), "spec": spec}


def network_policies(args: TlsIngressArgs) -> list[tuple[str, dict]]:
    """What the gateway pods truly need on top of default-deny: clients on 80/443, the load
    balancer's health checks, istiod for configuration, and each external backend's port."""
    c = args.config
    if c.alb is not None:
        # Behind the stack's ALB only its nodes may connect (WAF bypass otherwise): they connect and
        # health-check from the ALB subnets' addresses, never from the rest of the VPC. Port 80
        # only when ACME HTTP-01 challenges come through it (the ALB answers every other port-80
        # request itself with the 301).
        alb = [{"ipBlock": {"cidr": cidr}} for cidr in sorted(c.alb.subnet_cidrs)]
        ports = ([{"protocol": "TCP", "port": 80}] if c.acme is not None else []) + [{"protocol": "TCP", "port": 443}]
        rules = [{"from": alb, "ports": ports}, {"from": alb, "ports": [{"protocol": "TCP", "port": 15021}]}]
    else:
        # The gateway's own load balancer: any client on the two listener ports; health checks from
        # the private ranges.
        rules = [{"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}],
                  "ports": [{"protocol": "TCP", "port": 80}, {"protocol": "TCP", "port": 443}]},
                 {"from": [{"ipBlock": {"cidr": cidr}} for cidr in sorted(set(args.control_plane_cidrs))],
                  "ports": [{"protocol": "TCP", "port": 15021}]}]
    out = [
        ("allow-clients", _netpol("allow-ingress-clients", c.namespace, {
            "podSelector": {},
            "policyTypes": ["Ingress"],
            "ingress": rules,
        })),
    ]
    if c.acme is not None and c.controller == "istio":
        # cert-manager's HTTP-01 solver pods (labelled acme.cert-manager.io/http01-solver=true,
        # listening on 8089: cert-manager pkg/issuer/acme/http/pod.go, podLabels, and http.go,
        # acmeSolverListenPort) run in this namespace, behind the route cert-manager attaches to
        # the port-80 listener: the gateway reaches them, nothing else does.
        solver = {"matchLabels": {ACME_SOLVER_LABEL: "true"}}
        gateway_pods = {"matchLabels": {"gateway.networking.k8s.io/gateway-name": c.gateway_name}}
        out.append(("acme-solver-in", _netpol("allow-ingress-acme-solver", c.namespace, {
            "podSelector": solver, "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": gateway_pods}],
                         "ports": [{"protocol": "TCP", "port": ACME_SOLVER_PORT}]}]})))
        out.append(("acme-solver-out", _netpol("allow-egress-acme-solver", c.namespace, {
            "podSelector": gateway_pods, "policyTypes": ["Egress"],
            "egress": [{"to": [{"podSelector": solver}], "ports": [{"protocol": "TCP", "port": ACME_SOLVER_PORT}]}]})))
    if c.controller == "istio":
        out.append(("allow-istiod", _netpol("allow-egress-istiod", c.namespace, {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "istio-system"}},
                                "podSelector": {"matchLabels": {"app": "istiod"}}}],
                        "ports": [{"protocol": "TCP", "port": 15012}]}],
        })))
    for s in sorted(args.services, key=lambda s: (s.namespace, s.name)):
        out.append((f"egress-{s.namespace}-{s.name}", _netpol(f"allow-egress-{s.namespace}-{s.name}", c.namespace, {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": s.namespace}},
                                "podSelector": {"matchLabels": {"app": s.name}}}],
                        "ports": [{"protocol": "TCP", "port": s.port}]}],
        })))
    return out


def ingress_manifests(args: TlsIngressArgs) -> list[tuple[str, dict]]:
    """Every Kubernetes object of the ingress as ``(suffix, manifest)``: a pure function."""
    c = args.config
    services = sorted(args.services, key=lambda s: (s.namespace, s.name))
    out = network_policies(args)
    if c.acme is not None:
        out.append(("acme-issuer", acme_issuer(c)))
    if c.controller == "istio":
        out += [(f"cert-{s.name}", certificate(c, s, c.namespace)) for s in services]
        if args.spire_csi_driver:
            out.append(("gateway-infrastructure", gateway_infrastructure(c, args.spire_csi_driver)))
        out.append(("gateway", gateway(c, services, spire=bool(args.spire_csi_driver))))
        out += [(f"route-{s.namespace}-{s.name}", http_route(c, s)) for s in services]
        if c.http_redirect:
            out.append(("route-https-redirect", redirect_route(c)))
        out.append(("tls13", tls_envoy_filter(c)))
        if c.rate_limit.enabled:
            out.append(("rate-limit", rate_limit_envoy_filter(c)))
    else:
        out.append(("nginx-config", nginx_configmap(c)))
        out += [(f"cert-{s.name}", certificate(c, s, s.namespace)) for s in services]
        out += [(f"ingress-{s.namespace}-{s.name}", nginx_ingress(c, s)) for s in services]
    return out


class TlsIngress(HardenedComponent):
    """TLS 1.3-only ingress (Gateway API on Istio, or legacy ingress-nginx) and the AWS edge."""

    def __init__(self, name: str, args: TlsIngressArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TOKEN, name, None, opts)
        from .edge import EdgeProtection, EdgeProtectionArgs
        from .namespace import HardenedNamespace, HardenedNamespaceArgs

        c = args.config
        deps: list = []
        if c.manage_namespace:
            # No injection label: Istio injects its gateway template into the pods it deploys for the
            # Gateway, and `istio-injection: disabled` here would stop that.
            self.namespace = HardenedNamespace(f"{name}-ns", HardenedNamespaceArgs(name=c.namespace, labels=args.namespace_labels),
                                               child_opts(self))
            deps.append(self.namespace)
        self.objects = {suffix: k8s_object(f"{name}-{suffix}", m, child_opts(self, depends_on=deps))
                        for suffix, m in ingress_manifests(args)}
        self.edge = None
        if c.waf.enabled:
            self.edge = EdgeProtection(f"{name}-edge", EdgeProtectionArgs(
                waf=c.waf, cluster_name=args.cluster_name, alb=c.alb, target_namespace=c.namespace,
                acme_http01=c.acme is not None and c.controller == "istio" and c.http_redirect,
                access_logs_bucket=args.access_logs_bucket, access_logs_retention_days=args.access_logs_retention_days,
                account_id=args.account_id, region=args.region,
                target_service=(c.alb.target_service if c.alb and c.alb.target_service else gateway_service_name(c))),
                child_opts(self, depends_on=list(self.objects.values())))
        self.register_outputs({
            "controller": c.controller,
            "hostnames": sorted(s.hostname for s in args.services),
            "minTlsVersion": c.min_tls_version,
            "webAclArn": self.edge.web_acl_arn if self.edge else None,
        })
