"""``HardenedStack``: the composition root. One validated ``StackConfig`` in, every concern of
the platform out, each as its own component parented to the stack.

The order below is the order of trust: identity and admission first, then the tenants.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import pulumi

from .admission import (POLICY_CONTROLLER_NAMESPACE, POLICY_CONTROLLER_POD_LABELS,
                        POLICY_CONTROLLER_SERVICE_ACCOUNT, AdmissionControl, AdmissionControlArgs,
                        platform_namespace_labels, signature_egress_hosts, tenant_namespace_labels)
from .egress import NAMESPACE as EGRESS_NAMESPACE
from .egress import POD_LABELS as EGRESS_POD_LABELS
from .egress import EgressClient, EgressGateway, EgressGatewayArgs
from .audit import AuditTrails, AuditTrailsArgs, falco_archive_env, vault_audit_sidecar
from .compliance import NAMESPACE as COMPLIANCE_NAMESPACE
from .compliance import Compliance, ComplianceArgs
from .config import (NetworkIntent, Secrets, StackConfig, alb_access_log_bucket, audit_shipper, falco_archive,
                     platform_images)
from .ingress import ExternalService, TlsIngress, TlsIngressArgs
from .mesh import ROOT_NAMESPACE as MESH_NAMESPACE
from .mesh import MeshIntent, MeshPeer, ZeroTrustMesh, ZeroTrustMeshArgs, mesh_workloads, proxy_image
from .spire import CSI_DRIVER, SERVER_NAMESPACE, SYSTEM_NAMESPACE, Identity, Spire, SpireArgs
from .base import HardenedComponent, readiness
from .namespace import FlowPeer, FlowRule, HardenedNamespace, HardenedNamespaceArgs
from .runtime_detection import NAMESPACE as FALCO_NAMESPACE
from .runtime_detection import SIDEKICK, RuntimeDetection, RuntimeDetectionArgs
from .secrets import (CERT_MANAGER_NAMESPACE, CONTROLLER_POD_LABELS, CONTROLLER_SERVICE_ACCOUNT, SecretDelivery,
                      SecretDeliveryArgs)
from .storage import EncryptedStorage, EncryptedStorageArgs
from .tenancy import TenantSecretIsolation, TenantSecretIsolationArgs
from .vault import NAMESPACE as VAULT_NAMESPACE
from .vault import VaultHA, VaultHAArgs
from .vault import role_name as vault_role_name
from .workload import HardenedWorkload, HardenedWorkloadArgs

if TYPE_CHECKING:  # pragma: no cover
    from .cluster import HardenedCluster, HardenedClusterArgs

TOKEN = "hardened:index:HardenedStack"


def progress(message: str) -> None:
    """One progress line per component (shown by `pulumi up` and by the offline render)."""
    pulumi.log.info(message)


def intent_flow(intent: NetworkIntent) -> FlowRule:
    """One intent as a FlowRule (its name is stable, derived from the endpoints and port)."""
    src_ns, src_app = intent.source.split("/")
    dst_ns, dst_app = intent.destination.split("/")
    src_label = src_app if src_app != "*" else f"ns-{src_ns}"
    return FlowRule(
        name=f"{src_label}-to-{dst_app}-{intent.port}",
        source=FlowPeer(namespace=src_ns, app=None if src_app == "*" else src_app),
        destination=FlowPeer(namespace=dst_ns, app=dst_app),
        port=intent.port,
        protocol=intent.protocol,
    )


def waits_for(*groups) -> list[pulumi.Resource]:
    """Dependencies on other components, narrowed to what makes each usable (its ``ready``
    resources, see components.base.readiness); accepts resources, lists and None."""
    out: list[pulumi.Resource] = []
    for group in groups:
        for dep in (group if isinstance(group, (list, tuple)) else [group]):
            if dep is not None:
                out.extend(readiness(dep))
    return out


def active_intents(cfg: StackConfig) -> list[NetworkIntent]:
    """Intents minus every flow into or out of an isolated workload (emergency isolation)."""
    isolated = set(cfg.isolate)
    return [i for i in cfg.intents if i.source not in isolated and i.destination not in isolated]


def platform_secret_namespaces(cfg: StackConfig) -> list[str]:
    """Platform namespaces that read Vault through vault-backend, each below its own path: Falco
    (its HEC token) and the SPIRE servers (their database password, with an external datastore)."""
    from .runtime_detection import NAMESPACE as FALCO_NAMESPACE
    from .spire import SERVER_NAMESPACE

    splunk = cfg.runtime_detection.siem.splunk
    out = []
    if cfg.runtime_detection.enabled and splunk is not None and splunk.token_vault_key:
        out.append(FALCO_NAMESPACE)
    if cfg.spire.enabled and cfg.spire.datastore.type != "sqlite3":
        out.append(SERVER_NAMESPACE)
    return sorted(out)


def _spire_gateway(cfg: StackConfig) -> bool:
    """The Istio gateway is part of the SPIRE-backed mesh: it needs its own SVID."""
    return cfg.spire.enabled and cfg.mesh.enabled and cfg.ingress.enabled and cfg.ingress.controller == "istio"


def gateway_identity(cfg: StackConfig) -> Identity:
    """The ClusterSPIFFEID of the pods Istio deploys for the Gateway (labelled with its name): the
    Istio form of ID, so tenant policies that admit `source.namespaces: [<ingress namespace>]` match."""
    return Identity(name=f"{cfg.ingress.namespace}-{cfg.ingress.gateway_name}-gateway",
                    namespace=cfg.ingress.namespace,
                    pod_labels={"gateway.networking.k8s.io/gateway-name": cfg.ingress.gateway_name})


def egress_clients(cfg: StackConfig) -> list[EgressClient]:
    """The platform's clients of internet hosts, each with the hosts it may reach through the egress
    gateway (issue 23, item 8): cert-manager, policy-controller, falcosidekick (Splunk HEC); none
    without the mesh (then their NetworkPolicies name the internet)."""
    if not cfg.mesh.enabled:
        return []
    out = []
    if cfg.secrets.enabled and cfg.ingress.enabled and cfg.ingress.acme is not None:
        # The ACME CA on 443, and on 80 the controller's HTTP-01 self-check: it fetches
        # http://<hostname>/.well-known/acme-challenge/<token> from the public hostname before it
        # asks the CA to validate (cert-manager pkg/issuer/acme/http/http.go, testReachability).
        out.append(EgressClient(name="cert-manager", namespace=CERT_MANAGER_NAMESPACE,
                                service_account=CONTROLLER_SERVICE_ACCOUNT, pod_labels=CONTROLLER_POD_LABELS,
                                tls_hosts=cfg.ingress.acme.egress_hosts_all,
                                http_hosts=sorted({w.hostname for w in cfg.workloads if w.external and w.hostname})))
    if cfg.admission.enabled and cfg.admission.signatures.enabled:
        out.append(EgressClient(name="policy-controller", namespace=POLICY_CONTROLLER_NAMESPACE,
                                service_account=POLICY_CONTROLLER_SERVICE_ACCOUNT,
                                pod_labels=POLICY_CONTROLLER_POD_LABELS,
                                tls_hosts=signature_egress_hosts(
                                    cfg.admission.signatures,
                                    [w.image for w in cfg.workloads] + [proxy_image(cfg.mesh)]
                                    + ([repo for _, repo in platform_images(cfg)]
                                       if cfg.admission.signatures.platform_images else []),
                                    cfg.cluster.region)))
    splunk = cfg.runtime_detection.siem.splunk
    if cfg.runtime_detection.enabled and splunk is not None and _is_host_name(splunk.host):
        # falcosidekick's Splunk HEC (https): its host on its port, for falcosidekick's principal only
        port = splunk.port
        out.append(EgressClient(name=SIDEKICK, namespace=FALCO_NAMESPACE, service_account=SIDEKICK,
                                pod_labels={"app.kubernetes.io/name": SIDEKICK},
                                tls_hosts=[splunk.host] if port == 443 else [],
                                tls_ports={} if port == 443 else {port: [splunk.host]}))
    return out


def _is_host_name(host: str) -> bool:
    """A DNS name the gateway can forward to by SNI (an IP address is reached by siem.cidrs instead)."""
    from .egress import check_host

    try:
        check_host(host)
    except ValueError:
        return False
    return True


def start_path_namespaces(cfg: StackConfig) -> dict[str, str]:
    """The platform namespaces whose running pods a new policy-controller pod needs, each with the
    reason: kept out of signature verification, so that after a full outage (every replica of
    policy-controller and of one of these gone) neither waits for the other (issue 23, items 5 and 8).

    Only with the mesh: policy-controller's pods then carry a sidecar (``egress_clients``), so they
    are admitted by istiod's injector and need the proxy's dependencies and the egress gateway.
    Without it they need no platform pod, and every platform namespace stays verified.
    tests/privilege/test_cold_start.py derives the same set from the render (webhooks, injection
    templates, Services, routes) and proves the stack can start from nothing in some order."""
    s = cfg.admission.signatures
    if not (cfg.admission.enabled and s.enabled and s.platform_images):
        return {}
    if not any(c.name == "policy-controller" for c in egress_clients(cfg)):
        return {}
    out = {MESH_NAMESPACE: "istiod's sidecar injector (istio-sidecar-injector, failurePolicy Fail) must admit "
                           "policy-controller's pods (sidecar.istio.io/inject), istiod configures their proxy, and "
                           "the Istio CNI node agent (istio-cni-node) sets up the pod's traffic redirection (the "
                           "sidecar template's istio-validation init container fails without it)"}
    if cfg.spire.enabled:
        out[SYSTEM_NAMESPACE] = ("the injector's spire template gives policy-controller's proxy the SPIRE agent's "
                                 f"Workload API socket through the {CSI_DRIVER} CSI driver: both DaemonSets run here")
        out[SERVER_NAMESPACE] = ("the SPIRE agents (spire-system) attest to and get SVIDs from the SPIRE server, "
                                 "which runs here")
    out[EGRESS_NAMESPACE] = ("policy-controller fetches signatures, Rekor entries and the TUF root only through the "
                             "egress gateway (its sidecar routes every named host there; its NetworkPolicy allows "
                             "nothing else), so it cannot verify any image while no gateway pod runs")
    return out


def egress_identities(cfg: StackConfig) -> list[Identity]:
    """ClusterSPIFFEIDs of the egress gateway and of its clients' injected pods (the Istio form of ID,
    the principal the gateway's AuthorizationPolicy names)."""
    clients = egress_clients(cfg)
    if not clients:
        return []
    return [Identity(name=f"{EGRESS_NAMESPACE}-egress-gateway", namespace=EGRESS_NAMESPACE,
                     pod_labels=dict(EGRESS_POD_LABELS))] + [
        Identity(name=f"{c.namespace}-{c.name}-egress-client", namespace=c.namespace, pod_labels=c.pod_labels)
        for c in clients]


def cluster_args(cfg: StackConfig) -> "HardenedClusterArgs":
    """The cluster component's args from the stack config."""
    from .cluster import ClusterFields, HardenedClusterArgs

    c = cfg.cluster
    settings = ClusterFields.model_validate({k: getattr(c, k) for k in ClusterFields.model_fields})
    return HardenedClusterArgs(name=c.name, region=c.region, account_id=c.account_id,
                               kubernetes_version=c.kubernetes_version, environment=c.environment,
                               settings=settings, storage=cfg.storage,
                               alb_ports=[443, 15021] if cfg.ingress.enabled and cfg.ingress.alb is not None else [])


def build_cluster(cfg: StackConfig) -> tuple["HardenedCluster", pulumi.ProviderResource]:
    """The cluster (created or adopted) and the Kubernetes provider built from its outputs:
    endpoint, CA and `aws eks get-token` (never a kubeconfig file). The provider waits for what
    makes the cluster usable (its access entries, nodes and add-ons), so every Kubernetes object of
    the stack does too: one `pulumi up` builds everything in order."""
    from pulumi_kubernetes import Provider

    from .cluster import HardenedCluster

    progress(f"cluster: {cfg.cluster.name} ({'created: EKS to the CIS EKS Benchmark' if cfg.cluster.create else 'adopted after the preflight'})")
    cluster = HardenedCluster(f"{cfg.cluster.name}-cluster", cluster_args(cfg))
    provider = Provider(f"{cfg.cluster.name}-k8s", kubeconfig=cluster.kubeconfig, enable_server_side_apply=True,
                        opts=pulumi.ResourceOptions(depends_on=list(cluster.ready)))
    return cluster, provider


class HardenedStack(HardenedComponent):
    """Every component of the hardened platform, built from one StackConfig."""

    def __init__(self, name: str, config: StackConfig, secrets: Optional[Secrets] = None,
                 opts: Optional[pulumi.ResourceOptions] = None, cluster: Optional["HardenedCluster"] = None):
        if cluster is None and config.cluster.create:
            # a program that builds the stack alone (tests, embedding programs) still gets the cluster
            # its config asks for, and the provider built from it (what __main__ does explicitly)
            cluster, provider = build_cluster(config)
            opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(providers=[provider]))
        super().__init__(TOKEN, name, None, opts)
        self.config = config
        self.secrets = secrets or Secrets({})
        self.cluster = cluster
        cfg = config
        child = pulumi.ResourceOptions(parent=self)
        created = cluster is not None and cfg.cluster.create
        # IRSA: the created cluster's OIDC provider, else what the config names
        oidc_provider_arn = cluster.oidc_provider_arn if created else cfg.cluster.oidc_provider_arn
        oidc_issuer_url = None if created else cfg.cluster.oidc_issuer_url
        key_admins = list(cfg.cluster.key_admins)

        # --- platform components (each area adds its block here, in dependency order) ---------

        def verified(namespace: str) -> dict[str, str]:
            """The signature-verification label of a platform namespace (admission.platform_namespace_labels)."""
            return platform_namespace_labels(cfg.admission, namespace, start_path)

        start_path = start_path_namespaces(cfg)

        # Admission control first: every later object, tenants included, is admitted by it.
        self.admission: Optional[AdmissionControl] = None
        if cfg.admission.enabled:
            progress("admission: Gatekeeper (fail closed, Rego v1 constraints) and keyless image signatures")
            self.admission = AdmissionControl(f"{name}-admission", AdmissionControlArgs(
                config=cfg.admission, trusted_registries=cfg.trusted_registries,
                tenant_namespaces=[n.name for n in cfg.namespaces],
                # the sidecar the injector adds to every tenant pod, by tag (Istio has no digest option)
                platform_tag_images=[proxy_image(cfg.mesh)] if cfg.mesh.enabled else [],
                # every platform image: its upstream's signature policy, or a named static pass
                platform_repositories=platform_images(cfg),
                egress_gateway=any(c.name == "policy-controller" for c in egress_clients(cfg))), child)

        # Encrypted storage (issue 17): the gp3-encrypted StorageClass (KMS) Vault's raft volumes
        # and the workloads' persistentVolumes name.
        self.storage: Optional[EncryptedStorage] = None
        if cfg.storage.enabled:
            progress(f"storage: StorageClass {cfg.storage.class_name} (EBS gp3, KMS-encrypted)")
            self.storage = EncryptedStorage(f"{name}-storage", EncryptedStorageArgs(
                # a created cluster made the volume key (node volumes use it) and the EBS CSI driver's role
                config=cfg.storage.model_copy(update={"ebs_csi_role_name": cluster.ebs_csi_role_name})
                if created else cfg.storage, cluster_name=cfg.cluster.name, region=cfg.cluster.region,
                account_id=cfg.cluster.account_id, key_admins=key_admins,
                key_arn=cluster.volume_key.arn if created else None),
                pulumi.ResourceOptions(parent=self, depends_on=[cluster.ebs_csi_role] if created else None))

        # Secrets: cert-manager's internal CA and External Secrets first (Vault's TLS certificate
        # comes from the CA), then Vault; workloads wait for both (their ExternalSecrets read
        # vault-backend).
        self.secret_delivery: Optional[SecretDelivery] = None
        self.vault: Optional[VaultHA] = None
        admitted = [self.admission] if self.admission else []
        if cfg.secrets.enabled:
            progress("secrets: cert-manager internal CA, External Secrets (pull only), ClusterSecretStore vault-backend")
            self.secret_delivery = SecretDelivery(f"{name}-secrets", SecretDeliveryArgs(
                config=cfg.secrets, control_plane_cidrs=cfg.admission.control_plane_cidrs,
                acme_egress=cfg.ingress.enabled and cfg.ingress.acme is not None,
                egress_gateway=any(c.name == "cert-manager" for c in egress_clients(cfg)),
                gateway_api=cfg.ingress.enabled and cfg.ingress.controller == "istio",
                platform_namespaces=platform_secret_namespaces(cfg),
                namespace_labels=verified(CERT_MANAGER_NAMESPACE),
            ), pulumi.ResourceOptions(parent=self, depends_on=waits_for(admitted)))
        if cfg.vault.enabled:
            progress(f"vault: {cfg.vault.replicas} raft replicas, TLS 1.3, AWS KMS auto-unseal "
                     f"({cfg.vault.resolved_kms_mode}) through IRSA")
            self.vault = VaultHA(f"{name}-vault", VaultHAArgs(
                config=cfg.vault if cfg.vault.aws_endpoint_cidrs or not cfg.aws_endpoint_cidrs
                else cfg.vault.model_copy(update={"aws_endpoint_cidrs": list(cfg.aws_endpoint_cidrs)}),
                secrets=cfg.secrets, cluster_name=cfg.cluster.name, region=cfg.cluster.region,
                oidc_issuer_url=oidc_issuer_url, oidc_provider_arn=oidc_provider_arn,
                account_id=cfg.cluster.account_id, default_key_admins=key_admins,
                control_plane_cidrs=cfg.admission.control_plane_cidrs,
                license=self.secrets.require("vaultLicense", "vault.edition enterprise")
                if cfg.vault.edition == "enterprise" else None,
                platform_secret_namespaces=platform_secret_namespaces(cfg), namespace_labels=verified(VAULT_NAMESPACE),
                audit_shipper=vault_audit_sidecar(cfg.compliance.audit_trails.shipper_image, cfg.cluster.region)
                if audit_shipper(cfg) else None,
            ), pulumi.ResourceOptions(parent=self, depends_on=waits_for([*admitted, *filter(None, [self.secret_delivery,
                                                                                                   self.storage])])))
        secret_deps: list[pulumi.Resource] = [r for r in (self.secret_delivery, self.vault) if r is not None]

        # Detection and evidence (issue 6): Falco watches every node (the shell rule names the
        # tenants' images), falcosidekick forwards to the SIEM; the compliance scan runs on a
        # schedule and audit logs are archived under Object Lock.
        self.runtime_detection: Optional[RuntimeDetection] = None
        if cfg.runtime_detection.enabled:
            rd = cfg.runtime_detection
            progress(f"runtimeDetection: Falco ({rd.driver}), falcosidekick to "
                     f"{', '.join(k for k in ('splunk', 'syslog') if getattr(rd.siem, k)) or 'no SIEM'}")
            archive_role, archive_env = None, []
            if falco_archive(cfg):
                # falcosidekick's S3 output into the audit bucket (issue 17): the environment of the
                # falcosidekick Deployment RuntimeDetection writes, every value known at preview.
                archive_role, archive_env = falco_archive_env(
                    cfg.cluster.name, cfg.cluster.region, cfg.cluster.account_id,
                    cfg.compliance.audit_retention.bucket_name)
            self.runtime_detection = RuntimeDetection(f"{name}-runtime-detection", RuntimeDetectionArgs(
                config=rd, tenant_images=[w.image for w in cfg.workloads],
                archive_role_arn=archive_role, archive_env=archive_env,
                tls_rotation=cfg.secrets.rotation.tls if cfg.secrets.enabled else None,
                splunk_token=self.secrets.require("splunkHecToken", "runtimeDetection.siem.splunk")
                if rd.siem.splunk and not rd.siem.splunk.token_vault_key else None,
                namespace_labels=verified(FALCO_NAMESPACE),
                egress_gateway=any(c.name == SIDEKICK for c in egress_clients(cfg)),
                aws_endpoint_cidrs=list(cfg.aws_endpoint_cidrs),
            ), pulumi.ResourceOptions(parent=self, depends_on=waits_for([*admitted, *(
                secret_deps if rd.siem.splunk and rd.siem.splunk.token_vault_key else []),
                *([self.secret_delivery] if self.secret_delivery is not None else [])])))
        self.compliance: Optional[Compliance] = None
        if cfg.compliance.enabled:
            progress(f"compliance: scan '{cfg.compliance.schedule}', audit logs under Object Lock "
                     f"{cfg.compliance.audit_retention.retention_days} days")
            self.compliance = Compliance(f"{name}-compliance", ComplianceArgs(
                config=cfg.compliance, cluster_name=cfg.cluster.name,
                control_plane_cidrs=cfg.admission.control_plane_cidrs,
                trusted_registries=cfg.trusted_registries, region=cfg.cluster.region,
                account_id=cfg.cluster.account_id, key_admins=key_admins, flow_logs=created,
                namespace_labels=verified(COMPLIANCE_NAMESPACE),
            ), pulumi.ResourceOptions(parent=self, depends_on=waits_for(admitted)))
            if created and getattr(self.compliance, "bucket", None) is not None:
                # VPC flow logs into the audit trail (issue 22), once the bucket admits the delivery
                cluster.deliver_flow_logs(self.compliance.bucket.arn, depends_on=[self.compliance])
        # Workload identity: SPIRE issues every workload's SVID (one ClusterSPIFFEID per workload);
        # the mesh (after the tenant namespaces, before any workload) uses it for mTLS.
        self.spire: Optional[Spire] = None
        if cfg.spire.enabled:
            progress(f"spire: trust domain {cfg.spire.trust_domain}, {cfg.spire.server_replicas} server replicas "
                     f"({cfg.spire.datastore.type}), CSI driver, {len(cfg.workloads)} ClusterSPIFFEIDs")
            self.spire = Spire(f"{name}-spire", SpireArgs(
                config=cfg.spire, cluster_name=cfg.cluster.name,
                identities=[Identity(name=f"{w.namespace}-{w.name}", namespace=w.namespace,
                                     pod_labels={"app": w.name}, spiffe_id=w.spiffe_id) for w in cfg.workloads]
                + ([gateway_identity(cfg)] if _spire_gateway(cfg) else []) + egress_identities(cfg),
                control_plane_cidrs=cfg.admission.control_plane_cidrs, namespace_labels=verified(SYSTEM_NAMESPACE),
            ), pulumi.ResourceOptions(parent=self, depends_on=waits_for([*admitted, *secret_deps])))

        # --- tenants: namespaces with default-deny, then the golden-path workloads ------------
        flows = [intent_flow(i) for i in active_intents(cfg)]
        isolated_by_ns: dict[str, list[str]] = {}
        for key in cfg.isolate:
            ns, app = key.split("/")
            isolated_by_ns.setdefault(ns, []).append(app)
        mesh_labels = self._mesh_namespace_labels()
        self.namespaces: dict[str, HardenedNamespace] = {}
        for ns in cfg.namespaces:
            progress(f"namespace {ns.name}: restricted pod security, default-deny, DNS, quota")
            self.namespaces[ns.name] = HardenedNamespace(f"{name}-ns-{ns.name}", HardenedNamespaceArgs(
                name=ns.name,
                quota=ns.quota,
                default_resources=ns.default_resources,
                labels={**mesh_labels, **tenant_namespace_labels(cfg.admission, ns.name), **ns.labels},
                flows=[f for f in flows if ns.name in (f.source.namespace, f.destination.namespace)]
                + ([FlowRule(name="proxy-to-istiod-15012", source=FlowPeer(namespace=ns.name),
                             destination=FlowPeer(namespace="istio-system", app="istiod"), port=15012)]
                   if cfg.mesh.enabled else []),
                isolate_apps=isolated_by_ns.get(ns.name, []),
            ), pulumi.ResourceOptions(parent=self, depends_on=waits_for([self.admission] if self.admission else [])))
        self.mesh: Optional[ZeroTrustMesh] = None
        if cfg.mesh.enabled:
            progress("mesh: Istio, STRICT mTLS, default-deny AuthorizationPolicy per tenant from the intents")
            self.mesh = ZeroTrustMesh(f"{name}-mesh", ZeroTrustMeshArgs(
                config=cfg.mesh, trust_domain=cfg.spire.trust_domain, spire=cfg.spire.enabled,
                tenant_namespaces=[n.name for n in cfg.namespaces],
                workloads=mesh_workloads(cfg.workloads, cfg.spire.trust_domain),
                intents=[MeshIntent(source=i.source, destination=i.destination, port=i.port)
                         for i in active_intents(cfg) if i.protocol == "TCP"],
                control_plane_cidrs=cfg.admission.control_plane_cidrs,
                gateway_namespaces=([cfg.ingress.namespace] if cfg.ingress.enabled and cfg.ingress.controller == "istio"
                                    else []) + ([EGRESS_NAMESPACE] if egress_clients(cfg) else []),
                injected_pods=[MeshPeer(namespace=c.namespace, pod_labels=c.pod_labels) for c in egress_clients(cfg)],
                namespace_labels=verified(MESH_NAMESPACE),
            ), pulumi.ResourceOptions(parent=self, depends_on=waits_for([*admitted, *filter(None, [self.spire]),
                                                               *self.namespaces.values()])))
        # The one way to internet hosts (issue 23, item 8): cert-manager and policy-controller leave
        # through the egress gateway, each to its own named hosts.
        self.egress: Optional[EgressGateway] = None
        if self.mesh is not None and egress_clients(cfg):
            progress("egress: Istio egress gateway, each client to its own named hosts (mTLS, SNI authorization)")
            self.egress = EgressGateway(f"{name}-egress", EgressGatewayArgs(
                config=cfg.mesh.egress_gateway, clients=egress_clients(cfg), trust_domain=cfg.spire.trust_domain,
                proxy_image=proxy_image(cfg.mesh), spire=cfg.spire.enabled,
                namespace_labels=verified(EGRESS_NAMESPACE),
            ), pulumi.ResourceOptions(parent=self, depends_on=waits_for([self.mesh, *filter(None, [
                self.admission, self.secret_delivery, self.spire])])))
        identity_deps: list[pulumi.Resource] = [r for r in (self.spire, self.mesh) if r is not None]
        # Tenant secret isolation (issue 17): each namespace with secrets gets its own Vault role,
        # policy and ClusterSecretStore; its workloads' ExternalSecrets use that store.
        self.tenancy: Optional[TenantSecretIsolation] = None
        secret_namespaces = sorted({w.namespace for w in cfg.workloads if w.secrets})
        if cfg.secrets.enabled and secret_namespaces:
            progress(f"tenancy: per-namespace Vault roles and stores for {', '.join(secret_namespaces)}")
            self.tenancy = TenantSecretIsolation(f"{name}-tenancy", TenantSecretIsolationArgs(
                namespaces=secret_namespaces, config=cfg.secrets, manage_vault_configmap=cfg.vault.enabled,
            ), pulumi.ResourceOptions(parent=self, depends_on=waits_for(
                [*secret_deps, *(self.namespaces[n] for n in secret_namespaces)])))
        self.workloads: dict[str, HardenedWorkload] = {}
        for w in cfg.workloads:
            progress(f"workload {w.key}: golden path")
            self.workloads[w.key] = HardenedWorkload(
                f"{name}-wl-{w.namespace}-{w.name}",
                HardenedWorkloadArgs(workload=w, mesh_sidecar=cfg.mesh.enabled, storage_class=cfg.storage.class_name),
                pulumi.ResourceOptions(parent=self, depends_on=waits_for([self.namespaces[w.namespace],
                                                               *identity_deps,
                                                               *(secret_deps if w.secrets else []),
                                                               *(self.tenancy.ready_for(w.namespace)
                                                                 if self.tenancy and w.secrets else []),
                                                               *([self.storage] if self.storage
                                                                 and w.persistent_volumes else [])])),
            )

        # --- the way in: TLS 1.3 ingress and the AWS edge, after the workloads it routes to ----
        self.ingress: Optional[TlsIngress] = None
        if cfg.ingress.enabled:
            external = [w for w in cfg.workloads if w.external]
            progress(f"ingress: {cfg.ingress.controller}, TLS 1.3 only, HSTS, rate limit, WAF for "
                     f"{', '.join(w.hostname for w in external) or 'no external workload yet'}")
            self.ingress = TlsIngress(f"{name}-ingress", TlsIngressArgs(
                config=cfg.ingress, namespace_labels=verified(cfg.ingress.namespace),
                services=[ExternalService(name=w.name, namespace=w.namespace, port=w.port, hostname=w.hostname)
                          for w in external],
                control_plane_cidrs=cfg.admission.control_plane_cidrs,
                cluster_name=cfg.cluster.name,
                spire_csi_driver=CSI_DRIVER if _spire_gateway(cfg) else None,
                access_logs_bucket=alb_access_log_bucket(cfg), account_id=cfg.cluster.account_id,
                region=cfg.cluster.region,
                access_logs_retention_days=cfg.compliance.audit_retention.retention_days,
            ), pulumi.ResourceOptions(parent=self, depends_on=waits_for([self.workloads[w.key] for w in external])))

        # Audit trails (issue 17): the API server's audit log, Vault's audit device and Falco's
        # events land in the Object Lock bucket, each source PutObject-only on its own prefix.
        self.audit_trails: Optional[AuditTrails] = None
        if self.compliance is not None and getattr(self.compliance, "bucket", None) is not None:
            progress("audit: API server audit log, Vault audit device, Falco events into the Object Lock bucket")
            self.audit_trails = AuditTrails(f"{name}-audit", AuditTrailsArgs(
                # a created cluster made its control-plane log group (before the cluster, so EKS writes into it)
                config=cfg.compliance.audit_trails.model_copy(update={"manage_eks_log_group": False})
                if created else cfg.compliance.audit_trails, cluster_name=cfg.cluster.name, region=cfg.cluster.region,
                account_id=cfg.cluster.account_id, bucket_name=self.compliance.bucket.bucket,
                bucket_arn=self.compliance.bucket.arn, key_arn=self.compliance.key.arn,
                oidc_provider_arn=oidc_provider_arn, oidc_issuer_url=oidc_issuer_url,
                eks_log_group_name=cluster.log_group.name if created else None,
                vault=self.vault is not None, falco=falco_archive(cfg),
                vault_role_name=vault_role_name(cfg.cluster.name) if self.vault is not None else None,
                known_bucket_name=cfg.compliance.audit_retention.bucket_name,
                aws_endpoint_cidrs=list(cfg.aws_endpoint_cidrs),
                web_acl_arn=self.ingress.edge.web_acl_arn if self.ingress is not None and self.ingress.edge else None,
            ), pulumi.ResourceOptions(parent=self, depends_on=[self.compliance, *waits_for(
                [r for r in (self.vault, self.runtime_detection) if r is not None])]))

        self.register_outputs({
            "namespaces": sorted(self.namespaces),
            "workloads": sorted(self.workloads),
            "isolated": sorted(cfg.isolate),
        })

    def _mesh_namespace_labels(self) -> dict[str, str]:
        return {"istio-injection": "enabled"} if self.config.mesh.enabled else {}
