"""``Spire``: SPIFFE workload identity from SPIRE (issue 4).

The upstream hardened charts (``spire-crds`` then ``spire``, https://spiffe.github.io/helm-charts-hardened/)
at pinned versions: SPIRE server (HA with an external SQL datastore), the SPIRE agent DaemonSet,
the SPIFFE CSI driver (workloads get the Workload API socket through a ``csi.spiffe.io`` volume,
never a hostPath of their own) and the SPIRE controller manager.

Identities are declared, not registered by hand: one ``ClusterSPIFFEID``
(``spire.spiffe.io/v1alpha1``) per workload, selecting the workload's namespace and its ``app``
label, so a new workload gets its SVID without ``kubectl exec`` into the server. The chart's
catch-all ``default`` ClusterSPIFFEID (an identity for every pod of every namespace) is switched
off: a pod that no workload declares gets no identity, and so no mesh traffic.

Namespaces ``spire-server`` (restricted) and ``spire-system`` (privileged, from the agent and CSI
driver exemptions in ``policy_pack/exemptions.yaml``), each with default-deny and only the flows
SPIRE needs: agents -> server 8081, server -> datastore, API server -> controller-manager webhook,
server and agents -> API server, agents -> kubelet.
"""
from __future__ import annotations

import re
from typing import Any, Literal, Optional

import pulumi
from pydantic import Field, field_validator, model_validator

from .base import weakens
from .base import Cidr
from .base import HardenedComponent, StrictModel, child_opts, deep_merge, helm_chart, k8s_object, standard_labels

TOKEN = "hardened:index:Spire"

REPO = "https://spiffe.github.io/helm-charts-hardened/"
CHART = "spire"
CRDS_CHART = "spire-crds"
SERVER_NAMESPACE = "spire-server"
DATASTORE_CA_CONFIGMAP = "spire-datastore-ca"
DATASTORE_CA_KEY = "ca.crt"
DATASTORE_CA_DIR = "/run/spire/datastore-ca"
SYSTEM_NAMESPACE = "spire-system"
#: The names the chart gives the server's Service (``spire-server.fullname``: its
#: ``fullnameOverride``) and the agent's ServiceAccount (``spire-agent.serviceAccountName``). The
#: chart's own references to them ignore those overrides: the agent's ``server_address`` is
#: ``<release>-server.<server namespace>`` unless ``server.address`` is set, and the server's k8s_psat
#: ``service_account_allow_list`` is ``<agent namespace>:<release>-agent`` unless
#: ``nodeAttestor.k8sPSAT.serviceAccountAllowList`` is set (spire 0.30.0 charts/spire-agent/templates/
#: _helpers.tpl ``spire-agent.server-address``; charts/spire-server/templates/_helpers.tpl
#: ``spire-server.serviceAccountAllowedList``). So both are set here, from the same constants.
SERVER_FULLNAME = "spire-server"
AGENT_FULLNAME = "spire-agent"
AGENT_SERVICE_ACCOUNT = "spire-agent"
SERVER_PORT = 8081
WEBHOOK_PORT = 9443
KUBELET_PORT = 10250
#: The class our ClusterSPIFFEIDs and the controller manager share (a foreign controller manager
#: with another class ignores them, and ours ignores theirs).
CLASS_NAME = "hardened-stack"
#: The SPIFFE CSI driver's name: the volume type workloads (and the Istio proxy) mount.
CSI_DRIVER = "csi.spiffe.io"
#: What the chart (spire 0.30.x, hooks off) runs: servers, controller manager, agents with their
#: socket-alias init container, the CSI driver and its kubelet registrar.
IMAGE_REPOSITORIES = ("ghcr.io/spiffe/spire-server", "ghcr.io/spiffe/spire-controller-manager",
                      "ghcr.io/spiffe/spire-agent", "cgr.dev/chainguard/bash", "ghcr.io/spiffe/spiffe-csi-driver",
                      "registry.k8s.io/sig-storage/csi-node-driver-registrar")
#: The ID template Istio requires (it parses namespace and service account out of the peer's ID).
ISTIO_ID_TEMPLATE = "spiffe://{{ .TrustDomain }}/ns/{{ .PodMeta.Namespace }}/sa/{{ .PodSpec.ServiceAccountName }}"

#: A trust domain: a lowercase DNS name (SPIFFE: letters, digits, '.', '-', '_'; no scheme, port, path).
TRUST_DOMAIN = re.compile(r"^(?=.{1,255}$)[a-z0-9]([a-z0-9_-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9_-]*[a-z0-9])?)*$")
SPIFFE_PATH_SEGMENT = re.compile(r"^[A-Za-z0-9._-]+$")


def check_trust_domain(v: str) -> str:
    if "://" in v or "/" in v or ":" in v or v != v.lower() or not TRUST_DOMAIN.match(v):
        raise ValueError(
            f"{v!r} is not a SPIFFE trust domain: use a lowercase DNS name you own, e.g. 'lego-mcp.io' "
            "(no scheme, port or path)")
    return v


def check_spiffe_id(v: str) -> str:
    """A SPIFFE ID: ``spiffe://<trust domain>/<path>`` with a non-empty path of plain segments."""
    if not v.startswith("spiffe://"):
        raise ValueError(f"SPIFFE ID {v!r} must start with 'spiffe://'")
    rest = v[len("spiffe://"):]
    td, _, path = rest.partition("/")
    check_trust_domain(td)
    segments = path.split("/") if path else []
    if not segments or any(not SPIFFE_PATH_SEGMENT.match(s) or s in (".", "..") for s in segments):
        raise ValueError(f"SPIFFE ID {v!r} needs a path of segments [A-Za-z0-9._-], e.g. "
                         f"'spiffe://{td}/ns/<namespace>/sa/<service account>'")
    return v


def default_spiffe_id(trust_domain: str, namespace: str, service_account: str) -> str:
    """The ID Istio understands: ``spiffe://<td>/ns/<namespace>/sa/<service account>``."""
    return f"spiffe://{trust_domain}/ns/{namespace}/sa/{service_account}"


def workload_spiffe_id(workload: Any, trust_domain: str) -> str:
    """The SPIFFE ID a workload's pods carry: its ``spiffeId`` override, or the Istio form for its
    ServiceAccount (the golden path names the ServiceAccount after the workload)."""
    return workload.spiffe_id or default_spiffe_id(trust_domain, workload.namespace, workload.name)


class DatastoreConfig(StrictModel):
    type: Literal["sqlite3", "postgres", "mysql"] = Field(
        "sqlite3", description="SPIRE server datastore (default sqlite3, on the server's volume: one replica only). "
                               "HA (replicas > 1) needs postgres or mysql, shared by every replica.")
    host: Optional[str] = Field(None, description="Database host (required for postgres/mysql).")
    port: Optional[int] = Field(None, ge=1, le=65535,
                                description="Database port (default 5432 for postgres, 3306 for mysql).")
    database: str = Field("spire", description="Database name (default spire).")
    username: str = Field("spire", description="Database user (default spire).")
    password_key: str = Field(
        "spire-server/datastore", description="Vault KV path of the database password (default "
                                              "spire-server/datastore, property `password`; below the server "
                                              "namespace's own path, as every namespace reads only its own): "
                                              "External Secrets delivers it to the server's namespace, so no literal "
                                              "Secret is rendered and no password sits in the stack config or state.")
    cidrs: list[Cidr] = Field(default_factory=list,
                             description="CIDRs of the database endpoints: the only egress the server gets besides the "
                                         "API server (required for postgres/mysql; NetworkPolicy cannot name a host).")
    tls_options: Optional[list[str]] = Field(
        None, description="Connection options, each 'key=value' (default ['sslmode=verify-full'] for postgres, "
                          "['tls=true'] for mysql: TLS with the server's certificate verified).", json_schema_extra=weakens('TLS verification toward the SPIRE datastore', 'tls_unverified'))

    ca_bundle: Optional[str] = Field(
        None, description="PEM of the CA(s) that signed the database's certificate (e.g. the AWS RDS bundle for the "
                          "region). verify-full checks the database against it; without it the server trusts only "
                          "its image's system roots, which do not include RDS's CA (default none, with a warning).")

    @field_validator("ca_bundle")
    @classmethod
    def _pem(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and not re.search(r"-----BEGIN CERTIFICATE-----\s+[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----",
                                           v):
            raise ValueError("caBundle must be PEM: one or more -----BEGIN CERTIFICATE----- blocks")
        return v

    @field_validator("tls_options")
    @classmethod
    def _options(cls, v: Optional[list[str]]) -> Optional[list[str]]:
        for i, option in enumerate(v or []):
            key, sep, _ = option.partition("=")
            if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", key):
                raise ValueError(f"tlsOptions[{i}] {option!r} must be key=value (e.g. sslmode=verify-full)")
        return v

    @model_validator(mode="after")
    def _external(self) -> "DatastoreConfig":
        if self.type != "sqlite3":
            if not self.host:
                raise ValueError(f"datastore type {self.type} needs host (the database endpoint)")
            if not self.cidrs:
                raise ValueError(f"datastore type {self.type} needs cidrs (the database's addresses, for the "
                                 "server's egress NetworkPolicy)")
        return self

    @property
    def resolved_port(self) -> int:
        return self.port or {"postgres": 5432, "mysql": 3306}.get(self.type, 0)

    @property
    def resolved_options(self) -> list[str]:
        if self.tls_options is not None:
            return list(self.tls_options)
        return {"postgres": ["sslmode=verify-full"], "mysql": ["tls=true"]}.get(self.type, [])

    @property
    def chart_options(self) -> list[dict[str, str]]:
        """The options as the spire-server chart takes them: one ``{key: value}`` map per option
        (its template ranges over each item's keys; a plain string fails the render)."""
        return [dict([option.split("=", 1)]) for option in self.resolved_options]


class SpireConfig(StrictModel):
    enabled: bool = Field(True, description="Deploy this part of the stack (default true).", json_schema_extra=weakens('workload identity (SPIRE) is off'))
    trust_domain: str = Field(
        "cluster.local", description="SPIFFE trust domain (default cluster.local, Istio's own default; set a DNS "
                                     "name you own, unique per organisation, e.g. lego-mcp.io, before federating).")
    chart_version: str = Field("0.30.0", description="Pinned version of the hardened `spire` chart (default 0.30.0, the released 0.30.x).")
    crds_chart_version: str = Field("0.6.0",
                                    description="Pinned version of the `spire-crds` chart (default 0.6.0: the spire "
                                                "0.30.x charts need it, and it is applied first).")
    server_replicas: int = Field(1, ge=1, description="SPIRE server replicas (default 1 with sqlite3; prod runs 3 "
                                                      "with an external datastore).")
    datastore: DatastoreConfig = Field(default_factory=DatastoreConfig, description="SPIRE server datastore.")
    kubelet_cidrs: list[Cidr] = Field(
        default_factory=lambda: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"],
        description="Node addresses: the agents' egress to the kubelet (10250) for workload attestation "
                    "(default the private ranges).")
    ca_organization: str = Field("hardened-stack", description="Organisation in the SPIRE CA subject.")
    ca_country: str = Field("US", min_length=2, max_length=2, description="Country in the SPIRE CA subject.")
    extra_values: dict[str, Any] = Field(default_factory=dict,
                                         description="Extra chart values merged last (the policy pack is the backstop).")

    @field_validator("trust_domain")
    @classmethod
    def _td(cls, v: str) -> str:
        return check_trust_domain(v)

    @model_validator(mode="after")
    def _ha(self) -> "SpireConfig":
        if self.server_replicas > 1 and self.datastore.type == "sqlite3":
            from .base import _located
            raise _located("datastore.type", f"serverReplicas {self.server_replicas} needs a shared datastore: "
                                             "sqlite3 lives on one replica's volume; use postgres or mysql")
        return self


class Identity(StrictModel):
    """One declared workload identity: the pods selected get ``spiffe_id`` (or the Istio template)."""

    name: str = Field(description="ClusterSPIFFEID name (cluster-scoped, unique).")
    namespace: str
    pod_labels: dict[str, str] = Field(description="Pod labels selecting the workload's pods.")
    spiffe_id: Optional[str] = Field(None, description="Literal ID (an override); default the Istio template.")


class SpireArgs(StrictModel):
    config: SpireConfig
    cluster_name: str
    identities: list[Identity] = Field(default_factory=list)
    control_plane_cidrs: list[Cidr] = Field(default_factory=list)
    secret_store: str = Field("vault-backend", description="The ClusterSecretStore External Secrets reads Vault "
                                                           "through (SecretDelivery).")
    namespace_labels: dict[str, str] = Field(
        default_factory=dict, description="Extra labels of this component's namespace(s) (HardenedStack: "
                                          "policy.sigstore.dev/include when the platform's images are verified).")


#: The Secret External Secrets writes for the SPIRE server's database password, and its key.
DATASTORE_SECRET = "spire-datastore"
DATASTORE_SECRET_KEY = "DBPW"
#: The agent's Workload API socket, named as Istio's agent looks it up (``.../socket``).
AGENT_SOCKET = "/run/spire/agent-sockets/socket"
RUNTIME_DEFAULT = {"type": "RuntimeDefault"}
RESTRICTED_CONTAINER = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                        "capabilities": {"drop": ["ALL"]}, "seccompProfile": RUNTIME_DEFAULT}
#: Requests and limits (the charts set none; the stack's limits constraint refuses pods without).
SERVER_RESOURCES = {"requests": {"cpu": "200m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}
CONTROLLER_RESOURCES = {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}}
AGENT_RESOURCES = {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}}
CSI_RESOURCES = {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}}


def datastore_external_secret(args: SpireArgs) -> dict:
    """The SPIRE server's database password, from Vault through External Secrets (the chart's
    ``dataStore.sql.externalSecret`` reads it from this Secret)."""
    return {
        "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
        "metadata": {"name": DATASTORE_SECRET, "namespace": SERVER_NAMESPACE,
                     "labels": standard_labels(DATASTORE_SECRET, "spire-server")},
        "spec": {"refreshInterval": "1h",
                 "secretStoreRef": {"kind": "ClusterSecretStore", "name": args.secret_store},
                 "target": {"name": DATASTORE_SECRET, "creationPolicy": "Owner", "deletionPolicy": "Retain"},
                 "data": [{"secretKey": DATASTORE_SECRET_KEY,
                           "remoteRef": {"key": args.config.datastore.password_key, "property": "password"}}]},
    }


def _values(args: SpireArgs) -> dict:
    """The ``spire`` chart values: a pure function of the args. The database password comes from
    the Secret External Secrets writes (:func:`datastore_external_secret`), never from the values."""
    c = args.config
    ds = c.datastore
    sql: dict[str, Any] = {"databaseType": ds.type, "databaseName": ds.database}
    if ds.type != "sqlite3":
        sql.update({"host": ds.host, "port": ds.resolved_port, "username": ds.username,
                    "externalSecret": {"enabled": True, "name": DATASTORE_SECRET, "key": DATASTORE_SECRET_KEY},
                    "options": ds.chart_options})
    server_extra: dict[str, Any] = {}
    if ds.type != "sqlite3" and ds.ca_bundle:
        # Chart 0.30 takes rootCAPath for mysql only (its template fails for any other type, which a
        # rendered chart shows); postgres names the CA file in its connection options (sslrootcert).
        ca_file = f"{DATASTORE_CA_DIR}/{DATASTORE_CA_KEY}"
        if ds.type == "mysql":
            sql["rootCAPath"] = ca_file
        else:
            sql["options"] = [*sql["options"], {"sslrootcert": ca_file}]
        server_extra = {
            "extraVolumes": [{"name": DATASTORE_CA_CONFIGMAP, "configMap": {"name": DATASTORE_CA_CONFIGMAP}}],
            "extraVolumeMounts": [{"name": DATASTORE_CA_CONFIGMAP, "mountPath": DATASTORE_CA_DIR, "readOnly": True}],
        }
    values = {
        "global": {
            "spire": {
                "trustDomain": c.trust_domain,
                "clusterName": args.cluster_name,
                "recommendations": {"enabled": True},
                "namespaces": {"create": False,
                               "server": {"name": SERVER_NAMESPACE},
                               "system": {"name": SYSTEM_NAMESPACE}},
                "caSubject": {"country": c.ca_country, "organization": c.ca_organization,
                              "commonName": c.trust_domain},
            },
        },
        "spire-server": {
            # Stable names: exemptions and policies name exact objects, whatever the release is called.
            "fullnameOverride": SERVER_FULLNAME,
            # UID above 10000 (the chart's recommendation is 1000); its volumes follow with fsGroup
            "podSecurityContext": {"runAsUser": 65532, "runAsGroup": 65532, "fsGroup": 65532},
            "replicaCount": c.server_replicas,
            "resources": SERVER_RESOURCES,
            "dataStore": {"sql": sql},
            # the agents' namespace:ServiceAccount, as the agent DaemonSet really runs (see SERVER_FULLNAME)
            "nodeAttestor": {"k8sPSAT": {"serviceAccountAllowList": [f"{SYSTEM_NAMESPACE}:{AGENT_SERVICE_ACCOUNT}"]}},
            **server_extra,
            "controllerManager": {
                "enabled": True,
                "className": CLASS_NAME,
                # With the hook on, the chart creates the controller manager's webhook with
                # failurePolicy Ignore and leaves a (dropped) post-install Job to patch it to Fail;
                # off, the federated-trust-domain webhook is created with Fail at once.
                "installAndUpgradeHook": {"enabled": False},
                "resources": CONTROLLER_RESOURCES,
                # Only declared identities: no identity for every pod, no test keys, no OIDC provider.
                "identities": {"clusterSPIFFEIDs": {
                    "default": {"enabled": False},
                    "oidc-discovery-provider": {"enabled": False},
                    "test-keys": {"enabled": False},
                }},
            },
        },
        "spire-agent": {
            "enabled": True,
            "fullnameOverride": AGENT_FULLNAME,
            "serviceAccount": {"name": AGENT_SERVICE_ACCOUNT},
            # the server's real Service (see SERVER_FULLNAME); the port stays the chart's 443, the Service's
            "server": {"address": f"{SERVER_FULLNAME}.{SERVER_NAMESPACE}"},
            "resources": AGENT_RESOURCES,
            # The kubelet is reached at the node's IP (downward API), so the agent does not need the
            # node's network namespace (the chart's `auto` shares it for localhost:10250).
            # (`hostNetwork: auto` then leaves it off.)
            "kubeletAddress": {"mode": "hostip"},
            # The agent runs as root (it owns the node's socket directory; the chart's non-root mode adds
            # two root init containers with default capabilities to chown and symlink it instead), but
            # with no capability, no escalation, a read-only root and the runtime's seccomp profile.
            "podSecurityContext": {"runAsUser": 0, "runAsGroup": 0, "fsGroup": 0, "runAsNonRoot": False,
                                   "seccompProfile": RUNTIME_DEFAULT},
            "securityContext": RESTRICTED_CONTAINER,
            # The socket is named as Istio's agent looks it up in the CSI mount, so no init container
            # has to link alternate names.
            "socketPath": AGENT_SOCKET,
            "socketAlternate": {"names": []},
            # The mesh holds each app container until its proxy is ready; the proxy's SVID request
            # then comes from a pod whose app container has not started, and the k8s attestor,
            # waiting for container selectors, never answers (spiffe/spire#3092). The identities
            # here select pods (namespace and labels), so no container selector is lost.
            "workloadAttestors": {"k8s": {"disableContainerSelectors": True}},
        },
        "spiffe-csi-driver": {
            "enabled": True,
            "fullnameOverride": "spiffe-csi-driver",
            # both containers take these resources; the registrar has no securityContext value
            # (exempted by name in policy_pack/exemptions.yaml)
            "resources": CSI_RESOURCES,
            # privileged for Bidirectional mount propagation into pods (exempted by name)
            # (the API refuses allowPrivilegeEscalation: false beside privileged: true)
            "securityContext": {"privileged": True, "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]}, "seccompProfile": RUNTIME_DEFAULT},
        },
        "spiffe-oidc-discovery-provider": {"enabled": False},
        "tornjak-frontend": {"enabled": False},
    }
    return deep_merge(values, c.extra_values)


def datastore_ca_configmap(pem: str) -> dict:
    """The database's CA bundle, mounted into the SPIRE servers for verify-full (public certificates)."""
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": DATASTORE_CA_CONFIGMAP, "namespace": SERVER_NAMESPACE,
                         "labels": standard_labels(DATASTORE_CA_CONFIGMAP, "spire-server")},
            "data": {DATASTORE_CA_KEY: pem.strip() + "\n"}}


def cluster_spiffe_id(identity: Identity, trust_domain: str) -> dict:
    """The ``ClusterSPIFFEID`` of one identity: its namespace and pods, nothing else."""
    spec: dict[str, Any] = {
        "className": CLASS_NAME,
        "spiffeIDTemplate": identity.spiffe_id or ISTIO_ID_TEMPLATE,
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": identity.namespace}},
        "podSelector": {"matchLabels": dict(sorted(identity.pod_labels.items()))},
    }
    return {
        "apiVersion": "spire.spiffe.io/v1alpha1",
        "kind": "ClusterSPIFFEID",
        "metadata": {"name": identity.name, "labels": standard_labels(identity.name, "workload-identity")},
        "spec": spec,
    }


def _netpol(name: str, namespace: str, spec: dict) -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": namespace, "labels": standard_labels(name, "network-policy")},
            "spec": spec}


SERVER_PODS = {"matchLabels": {"app.kubernetes.io/name": "server"}}
AGENT_PODS = {"matchLabels": {"app.kubernetes.io/name": "agent"}}


def network_policies(args: SpireArgs) -> list[tuple[str, dict]]:
    c = args.config
    api = [{"ipBlock": {"cidr": cidr}} for cidr in sorted(args.control_plane_cidrs)]
    api_ports = [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 6443}]
    agents = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": SYSTEM_NAMESPACE}},
              "podSelector": AGENT_PODS}
    server = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": SERVER_NAMESPACE}},
              "podSelector": SERVER_PODS}
    out = [
        ("server-from-agents", _netpol("allow-ingress-spire-agents", SERVER_NAMESPACE, {
            "podSelector": SERVER_PODS, "policyTypes": ["Ingress"],
            "ingress": [{"from": [agents], "ports": [{"protocol": "TCP", "port": SERVER_PORT}]}]})),
        ("agents-to-server", _netpol("allow-egress-spire-server", SYSTEM_NAMESPACE, {
            "podSelector": AGENT_PODS, "policyTypes": ["Egress"],
            "egress": [{"to": [server], "ports": [{"protocol": "TCP", "port": SERVER_PORT}]}]})),
        ("agents-to-kubelet", _netpol("allow-egress-kubelet", SYSTEM_NAMESPACE, {
            "podSelector": AGENT_PODS, "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": cidr}} for cidr in sorted(c.kubelet_cidrs)],
                        "ports": [{"protocol": "TCP", "port": KUBELET_PORT}]}]})),
    ]
    if api:
        out += [
            ("server-webhook", _netpol("allow-ingress-controller-manager-webhook", SERVER_NAMESPACE, {
                "podSelector": SERVER_PODS, "policyTypes": ["Ingress"],
                "ingress": [{"from": api, "ports": [{"protocol": "TCP", "port": WEBHOOK_PORT}]}]})),
            ("server-to-apiserver", _netpol("allow-egress-kube-apiserver", SERVER_NAMESPACE, {
                "podSelector": SERVER_PODS, "policyTypes": ["Egress"],
                "egress": [{"to": api, "ports": api_ports}]})),
            ("agents-to-apiserver", _netpol("allow-egress-kube-apiserver", SYSTEM_NAMESPACE, {
                "podSelector": AGENT_PODS, "policyTypes": ["Egress"],
                "egress": [{"to": api, "ports": api_ports}]})),
        ]
    if c.datastore.type != "sqlite3":
        out.append(("server-to-datastore", _netpol("allow-egress-datastore", SERVER_NAMESPACE, {
            "podSelector": SERVER_PODS, "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": cidr}} for cidr in sorted(c.datastore.cidrs)],
                        "ports": [{"protocol": "TCP", "port": c.datastore.resolved_port}]}]})))
    return out


def _pod_security(namespace: str) -> str:
    from .admission import _exemptions_module

    return _exemptions_module().namespace_pod_security(namespace)


class Spire(HardenedComponent):
    """SPIRE server, agents, CSI driver and controller manager, with one ClusterSPIFFEID per workload."""

    def __init__(self, name: str, args: SpireArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TOKEN, name, None, opts)
        from .base import QuotaConfig
        from .namespace import HardenedNamespace, HardenedNamespaceArgs

        c = args.config
        self.server_namespace = HardenedNamespace(f"{name}-ns-server", HardenedNamespaceArgs(
            name=SERVER_NAMESPACE, pod_security=_pod_security(SERVER_NAMESPACE),
            quota=QuotaConfig(cpu="8", memory="16Gi", pods=c.server_replicas * 2 + 4), labels=args.namespace_labels),
            child_opts(self))
        # Agents and the CSI driver run on every node: room for two pods per node on 250 nodes.
        self.system_namespace = HardenedNamespace(f"{name}-ns-system", HardenedNamespaceArgs(
            name=SYSTEM_NAMESPACE, pod_security=_pod_security(SYSTEM_NAMESPACE),
            quota=QuotaConfig(cpu="250", memory="500Gi", pods=500), labels=args.namespace_labels), child_opts(self))
        namespaces = [self.server_namespace, self.system_namespace]
        policies = [k8s_object(f"{name}-{suffix}", m, child_opts(self, depends_on=namespaces))
                    for suffix, m in network_policies(args)]
        self.crds = helm_chart(f"{name}-crds", chart=CRDS_CHART, version=c.crds_chart_version, repo=REPO,
                               namespace=SERVER_NAMESPACE, values={}, opts=child_opts(self, depends_on=namespaces))
        ds = c.datastore
        ca: list[pulumi.Resource] = []
        if ds.type != "sqlite3" and ds.ca_bundle:
            ca.append(k8s_object(f"{name}-datastore-ca", datastore_ca_configmap(ds.ca_bundle),
                                 child_opts(self, depends_on=namespaces)))
        elif ds.type != "sqlite3" and any("verify" in o or o == "tls=true" for o in ds.resolved_options):
            pulumi.log.warn(f"spire.datastore.caBundle is not set: the SPIRE servers verify {ds.host} against their "
                            "image's system roots only; a private CA such as AWS RDS's is not among them, and the "
                            "servers will not connect until caBundle holds it", self)
        if ds.type != "sqlite3":
            # the password Secret exists before the servers start (the chart only names it)
            ca.append(k8s_object(f"{name}-datastore-password", datastore_external_secret(args),
                                 child_opts(self, depends_on=namespaces)))
        values = _values(args)
        self.chart = helm_chart(f"{name}-chart", chart=CHART, version=c.chart_version, repo=REPO,
                                namespace=SERVER_NAMESPACE, values=values,
                                opts=child_opts(self, depends_on=[*namespaces, self.crds, *policies, *ca]))
        self.identities = {
            i.name: k8s_object(f"{name}-id-{i.name}", cluster_spiffe_id(i, c.trust_domain),
                               child_opts(self, depends_on=[self.crds]))
            for i in args.identities}
        self.trust_domain = c.trust_domain
        self.ready = [self.crds, self.chart]  #: what dependents (the workloads) wait for
        self.register_outputs({
            "trustDomain": c.trust_domain,
            "identities": sorted(self.identities),
            "serverReplicas": c.server_replicas,
        })
