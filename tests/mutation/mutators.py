"""Mutation operators over a rendered stack: each flips ONE security-relevant field of ONE object
(or adds/removes one object) and yields a mutant the policy pack must reject.

A stack is a list of :class:`Res` (type token, name, inputs: the wire-format inputs the engine
would send the analyzer). Mutators are generic: each applies to every matching object the render
contains (every container of every pod-bearing kind, every Namespace, ...), so they keep proving
the stack as components land. A mutator whose target is absent is "not applicable", not passed.
"""
from __future__ import annotations

import copy
import gc
import pickle
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional

POD_TEMPLATE_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController")
POD_KINDS = ("Pod", "CronJob") + POD_TEMPLATE_KINDS
CONTAINER_LISTS = ("initContainers", "containers")
UNTRUSTED_REGISTRY = "registry.untrusted.example"
PSS_ENFORCE = "pod-security.kubernetes.io/enforce"


@dataclass
class Res:
    type: str
    name: str
    inputs: dict[str, Any]
    urn: str = ""
    custom: bool = True
    parent: str = ""   # the URN of the component it belongs to (a Chart's children name the Chart)

    @property
    def kind(self) -> Optional[str]:
        return self.inputs.get("kind") if self.type.startswith("kubernetes:") else None

    @property
    def namespace(self) -> Optional[str]:
        return (self.inputs.get("metadata") or {}).get("namespace")

    @property
    def label(self) -> str:
        if self.kind:
            meta = self.inputs.get("metadata") or {}
            ns = meta.get("namespace")
            return f"{self.kind}/{ns + '/' if ns else ''}{meta.get('name', self.name)}"
        return f"{self.type.rsplit(':', 1)[-1]}/{self.name}"


@dataclass
class Mutant:
    mutator: str
    target: str
    stack: list[Res]
    changed: list[int] = field(default_factory=list)  # indices into stack of changed or added resources
    policies: tuple[str, ...] = ()  # the policies whose job it is to catch this mutator

    def target_identity(self) -> Optional[tuple[str, Optional[str], str]]:
        """(kind, namespace, name) of the existing object this mutant changed, if any."""
        for i in self.changed:
            res = self.stack[i]
            if res.kind and not res.name.startswith("mutant-"):
                meta = res.inputs.get("metadata") or {}
                return res.kind, meta.get("namespace"), meta.get("name", res.name)
        return None

    @property
    def id(self) -> str:
        return f"{self.mutator}[{self.target}]"


def type_token(manifest: dict) -> str:
    api = manifest["apiVersion"]
    group_version = f"core/{api}" if "/" not in api else api
    return f"kubernetes:{group_version}:{manifest['kind']}"


def new_resource(manifest: dict, name: str) -> Res:
    return Res(type_token(manifest), name, manifest, urn=f"urn:pulumi:prod::hardened-stack::{type_token(manifest)}::{name}")


# ---------------------------------------------------------------------------------------------
# Helpers over pod-bearing objects
# ---------------------------------------------------------------------------------------------

def pod_spec(manifest: dict) -> Optional[dict]:
    kind = manifest.get("kind")
    spec = manifest.get("spec") or {}
    if kind == "Pod":
        return spec
    if kind in POD_TEMPLATE_KINDS:
        return ((spec.get("template") or {}).get("spec"))
    if kind == "CronJob":
        return (((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get("spec")
    return None


def pod_template(manifest: dict) -> Optional[dict]:
    """The pod template (metadata and spec) of a controller, or a Pod itself."""
    kind = manifest.get("kind")
    spec = manifest.get("spec") or {}
    if kind == "Pod":
        return manifest
    if kind in POD_TEMPLATE_KINDS:
        return spec.get("template")
    if kind == "CronJob":
        return ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template")
    return None


def containers(spec: dict) -> Iterator[tuple[str, int, dict]]:
    for lst in CONTAINER_LISTS:
        for i, c in enumerate(spec.get(lst) or []):
            yield lst, i, c


def _sc(container: dict) -> dict:
    return container.setdefault("securityContext", {})


def strip_tag_and_digest(image: str) -> str:
    image = image.split("@", 1)[0]
    last = image.rsplit("/", 1)
    if ":" in last[-1]:
        image = image[: image.rfind(":")]
    return image


def registry_path(image: str) -> str:
    """The repository path without its registry host."""
    parts = image.split("/")
    if len(parts) > 1 and (re.search(r"[.:]", parts[0]) or parts[0] == "localhost"):
        parts = parts[1:]
    return "/".join(parts)


# ---------------------------------------------------------------------------------------------
# Mutator registry
# ---------------------------------------------------------------------------------------------

Generator = Callable[[list[Res]], Iterator[tuple[str, Callable[[list[Res]], list[int]]]]]


@dataclass(frozen=True)
class Mutator:
    name: str
    description: str
    targets: Generator  # yields (target label, apply(stack_copy) -> changed indices)
    core: bool = False  # must be applicable to the prod render
    policies: tuple[str, ...] = ()  # the pack's policies meant to catch it (exemptions are read against these)

    def mutants(self, stack: list[Res]) -> list[Mutant]:
        out = []
        frozen = pickle.dumps(stack, protocol=pickle.HIGHEST_PROTOCOL)  # a deep copy per mutant, 5x faster
        for target, apply in self.targets(stack):
            collecting = gc.isenabled()
            gc.disable()  # the copy allocates ~100k objects at once: the cyclic collector would rescan the heap
            try:
                mutated = pickle.loads(frozen)
            finally:
                if collecting:
                    gc.enable()
            changed = apply(mutated)
            if mutated != stack:  # a target already in the weakened state (an exempted component) is no mutant
                out.append(Mutant(self.name, target, mutated, changed, self.policies))
        return out


MUTATORS: list[Mutator] = []


def mutator(name: str, description: str, core: bool = False, policies: tuple[str, ...] = ()):
    def register(fn: Generator) -> Generator:
        MUTATORS.append(Mutator(name, description, fn, core, tuple(policies)))
        return fn
    return register


def per_container(change: Callable[[dict], None], scope: Optional[Callable[["Res"], bool]] = None) -> Generator:
    def targets(stack):
        for idx, res in enumerate(stack):
            if res.kind not in POD_KINDS or (scope is not None and not scope(res)):
                continue
            spec = pod_spec(res.inputs)
            if not spec:
                continue
            for lst, i, c in containers(spec):
                def apply(s, idx=idx, lst=lst, i=i):
                    change(pod_spec(s[idx].inputs)[lst][i])
                    return [idx]
                yield f"{res.label}:{c.get('name', i)}", apply
    return targets


def per_pod(change: Callable[[dict], None]) -> Generator:
    def targets(stack):
        for idx, res in enumerate(stack):
            if res.kind in POD_KINDS and pod_spec(res.inputs):
                def apply(s, idx=idx):
                    change(pod_spec(s[idx].inputs))
                    return [idx]
                yield res.label, apply
    return targets


def per_resource(match: Callable[[Res], bool], change: Callable[[Res], None]) -> Generator:
    def targets(stack):
        for idx, res in enumerate(stack):
            if match(res):
                def apply(s, idx=idx):
                    change(s[idx])
                    return [idx]
                yield res.label, apply
    return targets


def namespaces(stack: list[Res]) -> list[str]:
    return sorted((r.inputs.get("metadata") or {}).get("name") for r in stack if r.kind == "Namespace")


def per_namespace_add(make: Callable[[str], dict], suffix: str) -> Generator:
    def targets(stack):
        for ns in namespaces(stack):
            def apply(s, ns=ns):
                s.append(new_resource(make(ns), f"mutant-{suffix}-{ns}"))
                return [len(s) - 1]
            yield ns, apply
    return targets


# --- containers -------------------------------------------------------------------------------

mutator("privileged", "securityContext.privileged: true", core=True, policies=("pod-disallow-privileged-containers",))(
    per_container(lambda c: _sc(c).update(privileged=True)))
mutator("run-as-root", "securityContext.runAsNonRoot: false, runAsUser: 0", core=True, policies=("pod-disallow-root-user",))(
    per_container(lambda c: _sc(c).update(runAsNonRoot=False, runAsUser=0)))
mutator("writable-root-filesystem", "securityContext.readOnlyRootFilesystem: false", core=True, policies=("container-missing-readonly-root-filesystem",))(
    per_container(lambda c: _sc(c).update(readOnlyRootFilesystem=False)))
mutator("privilege-escalation", "securityContext.allowPrivilegeEscalation: true", core=True, policies=("container-disallow-privilege-escalation",))(
    per_container(lambda c: _sc(c).update(allowPrivilegeEscalation=True)))
mutator("capability-sys-admin", "capabilities.add: [SYS_ADMIN]", core=True, policies=("container-enforce-drop-all-capabilities",))(
    per_container(lambda c: _sc(c).setdefault("capabilities", {}).update(add=["SYS_ADMIN"])))
mutator("capability-drop-removed", "capabilities.drop removed", core=True, policies=("container-enforce-drop-all-capabilities",))(
    per_container(lambda c: _sc(c).setdefault("capabilities", {}).pop("drop", None)))
mutator("limits-removed", "resources.limits removed", core=True, policies=("container-missing-resource-limits",))(
    per_container(lambda c: c.setdefault("resources", {}).pop("limits", None)))
mutator("image-latest", "image digest replaced by :latest", core=True, policies=("container-disallow-mutable-image-tags",))(
    per_container(lambda c: c.update(image=strip_tag_and_digest(c["image"]) + ":latest")))
mutator("registry-untrusted", f"image pulled from {UNTRUSTED_REGISTRY} (digest kept)", core=True, policies=("pod-disallow-untrusted-registries",))(
    per_container(lambda c: c.update(image=f"{UNTRUSTED_REGISTRY}/{registry_path(c['image'])}")))
mutator("seccomp-unconfined", "securityContext.seccompProfile.type: Unconfined", core=True, policies=("pod-enforce-seccomp-profile",))(
    per_container(lambda c: _sc(c).update(seccompProfile={"type": "Unconfined"})))
mutator("host-port", "ports[].hostPort set", core=True, policies=("pod-disallow-host-ports",))(
    per_container(lambda c: c.update(ports=(c.get("ports") or []) + [{"containerPort": 2222, "hostPort": 2222}])))
def golden_path(res: "Res") -> bool:
    """A workload of the golden path (HardenedWorkload's pod labels): what container-missing-probes
    judges without a `namespaces` setting. Upstream charts' pods are out of its scope by design (the
    probes constraint governs the tenant namespaces only), so removing their probes is no mutant."""
    from policy_pack.policies.container_missing_probes import GOLDEN_PATH_LABELS

    template = (pod_template(res.inputs) or {}).get("metadata") or {}
    labels = template.get("labels") or {}
    return all(labels.get(k) == v for k, v in GOLDEN_PATH_LABELS.items())


mutator("liveness-probe-removed", "livenessProbe removed (golden-path workloads)", core=True,
        policies=("container-missing-probes",))(per_container(lambda c: c.pop("livenessProbe", None), golden_path))
mutator("readiness-probe-removed", "readinessProbe removed (golden-path workloads)", core=True,
        policies=("container-missing-probes",))(per_container(lambda c: c.pop("readinessProbe", None), golden_path))

# --- pods -------------------------------------------------------------------------------------

mutator("automount-service-account-token", "automountServiceAccountToken: true", core=True, policies=("pod-disable-token-automount",))(
    per_pod(lambda p: p.update(automountServiceAccountToken=True)))
mutator("host-network", "hostNetwork: true", core=True, policies=("pod-disallow-host-namespaces",))(per_pod(lambda p: p.update(hostNetwork=True)))
mutator("host-pid", "hostPID: true", core=True, policies=("pod-disallow-host-namespaces",))(per_pod(lambda p: p.update(hostPID=True)))


def _add_host_path(p: dict) -> None:
    p["volumes"] = (p.get("volumes") or []) + [{"name": "mutant-host", "hostPath": {"path": "/var/run/docker.sock"}}]
    first = p["containers"][0]
    first["volumeMounts"] = (first.get("volumeMounts") or []) + [{"name": "mutant-host", "mountPath": "/host"}]


mutator("host-path-volume", "hostPath volume (/var/run/docker.sock) mounted", core=True, policies=("pod-disallow-host-path-volumes",))(per_pod(_add_host_path))

# --- namespaces and network policy ----------------------------------------------------------

mutator("pss-enforce-privileged", f"label {PSS_ENFORCE}: privileged", core=True,
        policies=("namespace-enforce-pod-security",))(
    per_resource(lambda r: r.kind == "Namespace",
                 lambda r: r.inputs.setdefault("metadata", {}).setdefault("labels", {}).update({PSS_ENFORCE: "privileged"})))

mutator("pss-enforce-removed", f"label {PSS_ENFORCE} removed", core=True,
        policies=("namespace-enforce-pod-security",))(
    per_resource(lambda r: r.kind == "Namespace",
                 lambda r: (r.inputs.get("metadata") or {}).get("labels", {}).pop(PSS_ENFORCE, None)))
mutator("serviceaccount-automount-token", "ServiceAccount automountServiceAccountToken: true",
        policies=("serviceaccount-disable-token-automount",))(
    per_resource(lambda r: r.kind == "ServiceAccount", lambda r: r.inputs.update(automountServiceAccountToken=True)))


def is_default_deny(res: Res) -> bool:
    if res.kind != "NetworkPolicy":
        return False
    spec = res.inputs.get("spec") or {}
    return (not (spec.get("podSelector") or {}).get("matchLabels") and not (spec.get("podSelector") or {}).get("matchExpressions")
            and set(spec.get("policyTypes") or []) == {"Ingress", "Egress"}
            and not spec.get("ingress") and not spec.get("egress"))


def _remove_default_deny(stack):
    for idx, res in enumerate(stack):
        if is_default_deny(res):
            def apply(s, idx=idx):
                del s[idx]
                return []
            yield res.label, apply


mutator("default-deny-removed", "the namespace's default-deny NetworkPolicy deleted", core=True,
        policies=("namespace-missing-default-deny",))(_remove_default_deny)


def _allow_all(ns: str) -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "mutant-allow-all", "namespace": ns},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"], "ingress": [{}], "egress": [{}]}}


mutator("allow-all-networkpolicy", "NetworkPolicy allowing all ingress and egress added", core=True,
        policies=("networkpolicy-disallow-allow-all",))(
    per_namespace_add(_allow_all, "allow-all"))


def _literal_secret(ns: str) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": "mutant-literal", "namespace": ns},
            "stringData": {"password": "hunter2-literal-in-source"}}


mutator("secret-literal-data", "Secret with literal stringData added", core=True,
        policies=("secret-disallow-literal-data",))(
    per_namespace_add(_literal_secret, "secret"))

# --- RBAC -------------------------------------------------------------------------------------

WILDCARD_RULE = {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}


def _wildcard_role(stack):
    for idx, res in enumerate(stack):
        if res.kind in ("Role", "ClusterRole") and (res.inputs.get("rules") is not None):
            def apply(s, idx=idx):
                s[idx].inputs["rules"] = [WILDCARD_RULE]
                return [idx]
            yield res.label, apply
    for ns in namespaces(stack)[:1] or ["default"]:
        def add(s, ns=ns):
            s.append(new_resource({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                                   "metadata": {"name": "mutant-wildcard"}, "rules": [WILDCARD_RULE]},
                                  "mutant-wildcard-clusterrole"))
            s.append(new_resource({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                                   "metadata": {"name": "mutant-wildcard"},
                                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                               "name": "mutant-wildcard"},
                                   "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": ns}]},
                                  "mutant-wildcard-binding"))
            return [len(s) - 2, len(s) - 1]
        yield "ClusterRole/mutant-wildcard (added)", add


mutator("rbac-wildcard", "RBAC rule granting * on * (existing roles rewritten, and one added)", core=True,
        policies=("role-disallow-wildcards",))(_wildcard_role)

# --- components, as they land -----------------------------------------------------------------


def _walk_keys(value: Any, keys: tuple[str, ...]) -> Iterator[tuple[dict, str]]:
    if isinstance(value, dict):
        for k, v in value.items():
            if k in keys and isinstance(v, str):
                yield value, k
            else:
                yield from _walk_keys(v, keys)
    elif isinstance(value, list):
        for v in value:
            yield from _walk_keys(v, keys)


TLS_MIN_KEYS = {"tls_minimum_protocol_version": "TLSv1_0", "minProtocolVersion": "TLSV1_0"}


def _weak_tls(stack):
    for idx, res in enumerate(stack):
        if res.kind and list(_walk_keys(res.inputs, tuple(TLS_MIN_KEYS))):
            def apply(s, idx=idx):
                for holder, key in _walk_keys(s[idx].inputs, tuple(TLS_MIN_KEYS)):
                    holder[key] = TLS_MIN_KEYS[key]
                return [idx]
            yield res.label, apply


mutator("tls-minimum-1.0", "minimum TLS protocol lowered to TLS 1.0",
        policies=("gateway-missing-tls13-minimum", "mesh-enforce-tls13-hybrid-kex"))(_weak_tls)
mutator("peer-authentication-permissive", "PeerAuthentication mtls.mode: PERMISSIVE",
        policies=("peerauthentication-disallow-permissive-mtls",))(
    per_resource(lambda r: r.kind == "PeerAuthentication",
                 lambda r: r.inputs.setdefault("spec", {}).setdefault("mtls", {}).update(mode="PERMISSIVE")))


def is_chart(res: Res, chart: str) -> bool:
    name = str(res.inputs.get("chart") or "")
    return res.type.startswith("kubernetes:helm.sh/") and (name == chart or name.endswith("/" + chart))


def is_vault_server(res: Res) -> bool:
    """The Vault StatefulSet the chart renders (the engine sends the Chart itself with no values)."""
    return res.kind == "StatefulSet" and any(
        "hashicorp/vault" in str(c.get("image", "")) for _, _, c in containers(pod_spec(res.inputs) or {}))


def _tls_off_in_hcl(res: Res) -> None:
    for key, text in list((res.inputs.get("data") or {}).items()):
        if key.endswith(".hcl") and isinstance(text, str):
            res.inputs["data"][key] = text.replace("tls_disable = false", "tls_disable = true")


mutator("vault-single-replica", "the Vault StatefulSet the chart renders at spec.replicas: 1",
        policies=("vault-enforce-ha-tls",))(
    per_resource(is_vault_server, lambda r: r.inputs.setdefault("spec", {}).update(replicas=1)))
mutator("vault-tls-disabled", "the Vault server HCL the chart renders with tls_disable = true",
        policies=("vault-enforce-ha-tls",))(
    per_resource(lambda r: r.kind == "ConfigMap" and r.namespace == "vault"
                 and any(k.endswith(".hcl") and "tls_disable = false" in str(v)
                         for k, v in (r.inputs.get("data") or {}).items()),
                 _tls_off_in_hcl))
mutator("kms-rotation-off", "aws:kms Key enableKeyRotation: false", policies=("kms-enable-key-rotation",))(
    per_resource(lambda r: r.type == "aws:kms/key:Key", lambda r: r.inputs.update(enableKeyRotation=False)))
mutator("waf-rules-removed", "WAFv2 WebAcl rules: []", policies=("webacl-missing-managed-rules",))(
    per_resource(lambda r: r.type == "aws:wafv2/webAcl:WebAcl", lambda r: r.inputs.update(rules=[])))


def _remove_falco(stack):
    """The Falco chart deleted: the Chart and every object it registered (named ``<chart>:...``)."""
    for idx, res in enumerate(stack):
        if is_chart(res, "falco"):
            def apply(s, name=res.name):
                s[:] = [r for r in s if r.name != name and not r.name.startswith(f"{name}:")]
                return []
            yield res.label, apply


mutator("falco-removed", "the Falco chart deleted from the stack",
        policies=("stack-missing-runtime-detection",))(_remove_falco)


def _shorten_retention(res: Res) -> None:
    for holder, key in _walk_retention(res.inputs):
        holder[key] = 1


def _walk_retention(value: Any) -> Iterator[tuple[dict, str]]:
    if isinstance(value, dict):
        for k, v in value.items():
            if k in ("days", "years") and isinstance(v, (int, float)) and not isinstance(v, bool):
                yield value, k
            else:
                yield from _walk_retention(v)
    elif isinstance(value, list):
        for v in value:
            yield from _walk_retention(v)


mutator("object-lock-retention-shortened", "S3 object lock default retention: 1 day",
        policies=("bucket-enforce-object-lock-retention",))(
    per_resource(lambda r: r.type.startswith("aws:s3/bucketObjectLockConfiguration"), _shorten_retention))


# --- wiring (issue 21): a name one object writes into another stops resolving -------------------

def _golden_service(res: Res) -> bool:
    """A golden-path workload's Service (HardenedWorkload labels it like its pods)."""
    from policy_pack.policies.container_missing_probes import GOLDEN_PATH_LABELS

    labels = (res.inputs.get("metadata") or {}).get("labels") or {}
    return res.kind == "Service" and all(labels.get(k) == v for k, v in GOLDEN_PATH_LABELS.items())


def _is_configmap(name: str, namespace: str) -> Callable[[Res], bool]:
    return lambda r: r.kind == "ConfigMap" and r.namespace == namespace and \
        (r.inputs.get("metadata") or {}).get("name") == name


def _replace_in_data(key: str, old: str, new: str) -> Callable[[Res], None]:
    def change(res: Res) -> None:
        data = res.inputs["data"]
        data[key] = data[key].replace(old, new)
    return change


mutator("service-account-name-broken", "serviceAccountName names a ServiceAccount that does not exist (golden path)",
        core=True, policies=("pod-missing-service-account",))(
    per_resource(lambda r: r.kind in POD_KINDS and golden_path(r),
                 lambda r: pod_spec(r.inputs).update(serviceAccountName=f"{pod_spec(r.inputs)['serviceAccountName']}-x")))
mutator("service-selector-broken", "a golden-path Service's selector matches no pod", core=True,
        policies=("service-missing-selected-pods",))(
    per_resource(_golden_service, lambda r: r.inputs["spec"]["selector"].update(app="nothing-runs-this")))
# The two SPIRE names of issue 21, as the chart computes them when its own references are not set:
# the agent dials <release>-server, the server trusts <agent namespace>:<release>-agent.
mutator("spire-agent-server-address-from-release", "the SPIRE agent's server_address is <release>-server", core=True,
        policies=("hostname-missing-service",))(
    per_resource(_is_configmap("spire-agent", "spire-system"),
                 _replace_in_data("agent.conf", '"spire-server.spire-server"', '"prod-spire-chart-server.spire-server"')))
mutator("spire-psat-allow-list-from-release", "the SPIRE server's k8s_psat allow list names <release>-agent",
        core=True, policies=("spire-missing-attested-service-account",))(
    per_resource(_is_configmap("spire-server", "spire-server"),
                 _replace_in_data("server.conf", '"spire-system:spire-agent"', '"spire-system:prod-spire-chart-agent"')))


# --- the cluster (issue 22): each mutant breaks one property of the created EKS cluster ----------

def _eks(r: Res) -> bool:
    return r.type == "aws:eks/cluster:Cluster"


def _public_endpoint(r: Res) -> None:
    r.inputs["vpcConfig"]["endpointPublicAccess"] = True
    r.inputs["vpcConfig"].pop("publicAccessCidrs", None)


mutator("eks-endpoint-public", "EKS vpcConfig.endpointPublicAccess: true with no CIDR list (0.0.0.0/0)", core=True,
        policies=("eks-disallow-public-endpoint",))(per_resource(_eks, _public_endpoint))
mutator("eks-secrets-unencrypted", "EKS encryptionConfig removed", core=True,
        policies=("eks-enable-secrets-encryption",))(per_resource(_eks, lambda r: r.inputs.pop("encryptionConfig")))
mutator("eks-audit-log-off", "EKS enabledClusterLogTypes without audit", core=True,
        policies=("eks-enable-control-plane-logging",))(per_resource(_eks, lambda r: r.inputs.update(
            enabledClusterLogTypes=[t for t in r.inputs["enabledClusterLogTypes"] if t != "audit"])))
mutator("launchtemplate-imds-hop-limit-2", "node launch template httpPutResponseHopLimit: 2", core=True,
        policies=("launchtemplate-enforce-imdsv2-encrypted-volumes",))(per_resource(
            lambda r: r.type == "aws:ec2/launchTemplate:LaunchTemplate",
            lambda r: r.inputs["metadataOptions"].update(httpPutResponseHopLimit=2)))
mutator("nodegroup-ssh", "EKS node group remoteAccess with an SSH key", core=True,
        policies=("nodegroup-disallow-remote-access",))(per_resource(
            lambda r: r.type == "aws:eks/nodeGroup:NodeGroup", lambda r: r.inputs.update(remoteAccess={"ec2SshKey": "k"})))
mutator("vpc-cni-network-policy-off", "vpc-cni add-on configurationValues without enableNetworkPolicy", core=True,
        policies=("addon-enforce-network-policy",))(per_resource(
            lambda r: r.type == "aws:eks/addon:Addon" and r.inputs.get("addonName") == "vpc-cni",
            lambda r: r.inputs.update(configurationValues="{}")))
mutator("kms-default-key-policy", "a KMS key's explicit policy removed (AWS's default: the account root kms:*)", core=True,
        policies=("kms-enforce-separation-of-duties",))(per_resource(
            lambda r: r.type == "aws:kms/key:Key", lambda r: r.inputs.pop("policy", None)))
mutator("iam-policy-star-action", "an IAM role policy allowing kms:*", core=True,
        policies=("iampolicy-disallow-wildcard-actions",))(per_resource(
            lambda r: r.type == "aws:iam/rolePolicy:RolePolicy",
            lambda r: r.inputs.update(policy='{"Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}')))


# --- one mutator per check the earlier ones leave without a mutant (issue 27, item 4) -------------

mutator("proc-mount-unmasked", "securityContext.procMount: Unmasked", core=True,
        policies=("container-disallow-unmasked-proc-mount",))(
    per_container(lambda c: _sc(c).update(procMount="Unmasked")))
mutator("selinux-spc-type", "securityContext.seLinuxOptions.type: spc_t (the super-privileged container type)", core=True,
        policies=("pod-disallow-custom-selinux-options",))(
    per_container(lambda c: _sc(c).update(seLinuxOptions={"type": "spc_t"})))
mutator("apparmor-unconfined", "securityContext.appArmorProfile.type: Unconfined", core=True,
        policies=("pod-disallow-unconfined-apparmor",))(
    per_container(lambda c: _sc(c).update(appArmorProfile={"type": "Unconfined"})))
mutator("windows-host-process", "securityContext.windowsOptions.hostProcess: true", core=True,
        policies=("pod-disallow-windows-host-process",))(
    per_container(lambda c: _sc(c).update(windowsOptions={"hostProcess": True})))
mutator("probe-host-metadata", "a livenessProbe against the cloud metadata endpoint (httpGet.host 169.254.169.254)",
        core=True, policies=("container-disallow-probe-hosts",))(
    per_container(lambda c: c.update(livenessProbe={"httpGet": {"host": "169.254.169.254", "path": "/", "port": 80}})))
mutator("literal-credential-env", "env AWS_SECRET_ACCESS_KEY with a literal value", core=True,
        policies=("container-disallow-literal-credentials",))(
    per_container(lambda c: c.update(env=(c.get("env") or []) + [{"name": "AWS_SECRET_ACCESS_KEY",
                                                                  "value": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"}])))
mutator("unsafe-sysctl", "securityContext.sysctls: kernel.core_pattern (not namespaced)", core=True,
        policies=("pod-disallow-unsafe-sysctls",))(
    per_pod(lambda p: p.setdefault("securityContext", {}).update(sysctls=[{"name": "kernel.core_pattern",
                                                                          "value": "|/tmp/x"}])))
mutator("host-ipc", "hostIPC: true", core=True, policies=("pod-disallow-host-namespaces",))(
    per_pod(lambda p: p.update(hostIPC=True)))
mutator("default-service-account", "serviceAccountName: default", core=True,
        policies=("pod-disallow-default-service-account",))(per_pod(lambda p: p.update(serviceAccountName="default")))


def _add_nfs(p: dict) -> None:
    p["volumes"] = (p.get("volumes") or []) + [{"name": "mutant-nfs", "nfs": {"server": "10.0.0.9", "path": "/"}}]


mutator("nfs-volume", "an nfs volume (outside the restricted profile's volume types)", core=True,
        policies=("pod-disallow-unsafe-volume-types",))(per_pod(_add_nfs))


def _pod_annotation(key: str, value: str) -> Callable[["Res"], None]:
    def change(res: Res) -> None:
        template = pod_template(res.inputs)
        template.setdefault("metadata", {}).setdefault("annotations", {})[key] = value
    return change


def _pods(res: Res) -> bool:
    return res.kind in POD_KINDS and pod_template(res.inputs) is not None


mutator("mesh-exclude-outbound", "pod annotation traffic.sidecar.istio.io/excludeOutboundIPRanges: 0.0.0.0/0",
        policies=("pod-disallow-mesh-bypass",))(
    per_resource(lambda r: _pods(r) and "istio-system" != r.namespace,
                 _pod_annotation("traffic.sidecar.istio.io/excludeOutboundIPRanges", "0.0.0.0/0")))
mutator("service-load-balancer", "Service type: LoadBalancer", policies=("service-disallow-external-exposure",))(
    per_resource(lambda r: r.kind == "Service" and (r.inputs.get("spec") or {}).get("type", "ClusterIP") == "ClusterIP"
                 and (r.inputs.get("spec") or {}).get("clusterIP") != "None",
                 lambda r: r.inputs["spec"].update(type="LoadBalancer")))
mutator("kms-rotation-period-long", "aws:kms Key rotationPeriodInDays: 3650", policies=("kms-enable-key-rotation",))(
    per_resource(lambda r: r.type == "aws:kms/key:Key", lambda r: r.inputs.update(rotationPeriodInDays=3650)))


def _falco_config(res: Res) -> Optional[dict]:
    import yaml

    text = (res.inputs.get("data") or {}).get("falco.yaml") if res.kind == "ConfigMap" else None
    doc = yaml.safe_load(text) if isinstance(text, str) else None
    return doc if isinstance(doc, dict) and isinstance(doc.get("http_output"), dict) else None


def _falco_http_output(change: Callable[[dict], None]) -> Callable[[Res], None]:
    def apply(res: Res) -> None:
        import yaml

        doc = _falco_config(res)
        change(doc["http_output"])
        res.inputs["data"]["falco.yaml"] = yaml.safe_dump(doc, sort_keys=True)
    return apply


mutator("falco-http-output-off", "the falco.yaml ConfigMap with http_output.enabled: false",
        policies=("stack-missing-runtime-detection",))(
    per_resource(lambda r: (_falco_config(r) or {}).get("http_output", {}).get("enabled") is True,
                 _falco_http_output(lambda h: h.update(enabled=False))))
mutator("falco-http-output-no-url", "the falco.yaml ConfigMap with http_output.url removed",
        policies=("stack-missing-runtime-detection",))(
    per_resource(lambda r: bool((_falco_config(r) or {}).get("http_output", {}).get("url")),
                 _falco_http_output(lambda h: h.pop("url", None))))


mutator("credential-pattern-args", "an AWS access key id on the container's command line (args)", core=True,
        policies=("manifest-disallow-credential-patterns",))(
    per_container(lambda c: c.update(args=(c.get("args") or []) + ["--aws-access-key-id=AKIAZ7VRSQ5WOQJDKXMV"])))
mutator("rbac-nodes-proxy", "get on nodes/proxy added to every ClusterRole", policies=("role-disallow-escalation-paths",))(
    per_resource(lambda r: r.kind == "ClusterRole" and isinstance(r.inputs.get("rules"), list),
                 lambda r: r.inputs["rules"].append({"apiGroups": [""], "resources": ["nodes/proxy"], "verbs": ["get"]})))


def _sidecar_allow_any(ns: str) -> dict:
    return {"apiVersion": "networking.istio.io/v1", "kind": "Sidecar", "metadata": {"name": "mutant-egress", "namespace": ns},
            "spec": {"outboundTrafficPolicy": {"mode": "ALLOW_ANY"}}}


def _imds_service_entry(ns: str) -> dict:
    return {"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
            "metadata": {"name": "mutant-imds", "namespace": ns},
            "spec": {"hosts": ["imds.internal"], "location": "MESH_EXTERNAL", "resolution": "STATIC",
                     "ports": [{"number": 80, "name": "http", "protocol": "HTTP"}],
                     "endpoints": [{"address": "169.254.169.254"}]}}


def _plaintext_destination_rule(ns: str) -> dict:
    return {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
            "metadata": {"name": "mutant-plaintext", "namespace": ns},
            "spec": {"host": f"*.{ns}.svc.cluster.local", "trafficPolicy": {"tls": {"mode": "DISABLE"}}}}


mutator("sidecar-allow-any", "a Sidecar with outboundTrafficPolicy ALLOW_ANY added", core=True,
        policies=("sidecar-disallow-allow-any-egress",))(per_namespace_add(_sidecar_allow_any, "sidecar"))
mutator("service-entry-imds", "a ServiceEntry to the instance metadata service added", core=True,
        policies=("serviceentry-disallow-broad-egress",))(per_namespace_add(_imds_service_entry, "imds"))
mutator("destination-rule-plaintext", "a DestinationRule with tls mode DISABLE toward the namespace's services added",
        core=True, policies=("destinationrule-disallow-tls-downgrade",))(
    per_namespace_add(_plaintext_destination_rule, "plaintext"))


def _link_local_egress(ns: str) -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "mutant-link-local", "namespace": ns},
            "spec": {"podSelector": {}, "policyTypes": ["Egress"],
                     "egress": [{"to": [{"ipBlock": {"cidr": "169.254.0.0/16"}}],
                                 "ports": [{"protocol": "TCP", "port": 80}]}]}}


mutator("metadata-egress", "a NetworkPolicy allowing egress to 169.254.0.0/16 on TCP 80 added", core=True,
        policies=("networkpolicy-disallow-metadata-egress",))(per_namespace_add(_link_local_egress, "link-local"))


def _tcp_listener(res: Res) -> None:
    res.inputs["spec"]["listeners"].append({"name": "mutant-tcp", "port": 5432, "protocol": "TCP"})


mutator("gateway-tcp-listener", "a plaintext TCP listener added to every Gateway API Gateway",
        policies=("gateway-disallow-plaintext-streams",))(
    per_resource(lambda r: r.kind == "Gateway" and r.type.startswith("kubernetes:gateway.networking.k8s.io")
                 and isinstance((r.inputs.get("spec") or {}).get("listeners"), list), _tcp_listener))


def _constraint(res: Res) -> bool:
    return res.type.startswith("kubernetes:constraints.gatekeeper.sh/")


mutator("constraint-dryrun", "every Gatekeeper constraint at enforcementAction: dryrun",
        policies=("constraint-enforce-deny-action",))(
    per_resource(_constraint, lambda r: r.inputs.setdefault("spec", {}).update(enforcementAction="dryrun")))


def _security_webhooks(res: Res) -> bool:
    from policy_pack.policies.webhook_disallow_admission_bypass import GATEKEEPER_VALIDATION, owner

    return res.kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration") and any(
        owner(str(w.get("name"))) and w.get("name") != GATEKEEPER_VALIDATION for w in res.inputs.get("webhooks") or [])


def _fail_open(res: Res) -> None:
    from policy_pack.policies.webhook_disallow_admission_bypass import owner

    for w in res.inputs["webhooks"]:
        if owner(str(w.get("name"))):
            w["failurePolicy"] = "Ignore"


mutator("security-webhook-fails-open", "failurePolicy: Ignore on the injector's, policy-controller's and Gatekeeper's "
        "other webhooks", policies=("webhook-disallow-admission-bypass",))(per_resource(_security_webhooks, _fail_open))


mutator("cluster-secret-store-open", "a ClusterSecretStore's spec.conditions removed",
        policies=("clustersecretstore-missing-namespace-conditions",))(
    per_resource(lambda r: r.kind == "ClusterSecretStore" and (r.inputs.get("spec") or {}).get("conditions"),
                 lambda r: r.inputs["spec"].pop("conditions")))


def _tenant_envoy_filter(ns: str) -> dict:
    return {"apiVersion": "networking.istio.io/v1alpha3", "kind": "EnvoyFilter",
            "metadata": {"name": "mutant-no-authz", "namespace": ns},
            "spec": {"configPatches": [{"applyTo": "HTTP_FILTER", "match": {"context": "SIDECAR_INBOUND"},
                                        "patch": {"operation": "REMOVE"}}]}}


mutator("envoy-filter-remove", "an EnvoyFilter removing an HTTP filter added", core=True,
        policies=("envoyfilter-disallow-security-bypass",))(per_namespace_add(_tenant_envoy_filter, "envoyfilter"))


def all_mutants(stack: list[Res]) -> dict[str, list[Mutant]]:
    """Mutator name -> its mutants (empty list: not applicable to this stack)."""
    return {m.name: m.mutants(stack) for m in MUTATORS}
