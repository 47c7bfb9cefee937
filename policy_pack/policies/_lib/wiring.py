"""What refers to what: the one model of cross-object references the wiring policies and the
tests share (STYLE.md: one shared library, never a test-only twin).

A stack works only if every name one object writes into another resolves: a pod's
ServiceAccount, a Service's selector, a NetworkPolicy's podSelector, an admission webhook's
Service, a binding's subject, a ``<service>.<namespace>[.svc[.cluster.local]]`` name in a
ConfigMap or a container's command line, SPIRE's ``service_account_allow_list``, a
``storageClassName``, an IRSA role, an HTTPRoute's Gateway and backends, an ExternalSecret's
store, a Certificate's issuer. :class:`Inventory` indexes what the input holds (plus what
controllers create at run time, :data:`RUNTIME`); each ``dangling_*`` function yields a
:class:`Dangling` per reference that resolves to nothing.

The anchor is kube-linter's ``dangling-service``, ``dangling-networkpolicy`` and
``non-existent-service-account`` checks (stackrox/kube-linter, pkg/templates/danglingservice,
danglingnetworkpolicy and nonexistentserviceaccount ``template.go``): a Service's selector and a
NetworkPolicy's podSelector must match the pod template of some object in the same namespace,
and a pod's non-default ServiceAccount must be an object of the input. kube-linter judges every
reference it sees, so linting one file of a repository reports every Service as dangling. Here a
reference is judged only when the input can answer it (:meth:`Inventory.judged`): its target
namespace holds objects of the target kind, or the input is a whole stack (the
``hardened:index:HardenedStack`` component, ``pulumi preview`` and a render's resources.json)
and holds the target namespace. ``check`` on one application's YAML then judges the references
inside that YAML and stays silent about namespaces and kinds it was not shown.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from collections.abc import Mapping, Sequence
from typing import Any, Callable, Iterable, Iterator, Optional

from pulumi_policy.proxy import UnknownValueError

from .framework import MAKE_IT_KNOWN, CannotVerify, cannot_verify
from .k8s import (POD_SPEC_PATHS, Obj, Unverifiable, get_list, get_map, get_str, is_list, maps, parse_image,
                  pod_spec, strings)

#: The composition root's type token (framework.WHOLE_STACK_TOKEN, repeated to avoid an import cycle).
WHOLE_STACK_TOKEN = "hardened:index:HardenedStack"
IAM_ROLE_TOKEN = "aws:iam/role:Role"
IRSA_ANNOTATION = "eks.amazonaws.com/role-arn"
IRSA_AUDIENCE_ANNOTATION = "eks.amazonaws.com/audience"
#: The audience the EKS Pod Identity Webhook projects into the token when the ServiceAccount sets
#: none (aws/amazon-eks-pod-identity-webhook README: the ``eks.amazonaws.com/audience`` annotation,
#: default ``sts.amazonaws.com``, the webhook's ``--token-audience``).
IRSA_DEFAULT_AUDIENCE = "sts.amazonaws.com"


# ---------------------------------------------------------------------------------------------
# Label selectors (metav1.LabelSelector semantics)
# ---------------------------------------------------------------------------------------------

#: A label a pod may carry at run time with any value (see :data:`RUNTIME`).
ANY = object()


def _expression(expr: Mapping, path: str) -> tuple[str, str, list[str]]:
    key = get_str(expr, "key", path) or ""
    op = get_str(expr, "operator", path) or ""
    values = strings(expr, "values", path)
    if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
        raise Unverifiable(f"{path}.operator", f"is {op!r}, not In, NotIn, Exists or DoesNotExist",
                           "use one of the four label selector operators")
    return key, op, values


def selector_matches(selector: Mapping, labels: Mapping[str, Any], path: str = "selector") -> bool:
    """Whether a ``LabelSelector`` (matchLabels and matchExpressions, ANDed) may select a pod with
    *labels*. A value :data:`ANY` is a label the pod sets on itself at run time: it may hold any
    value, and may be absent (Kubernetes, apimachinery/pkg/apis/meta/v1/helpers.go
    ``LabelSelectorAsSelector``; an empty selector selects everything)."""
    for key, value in get_map(selector, "matchLabels", path).items():
        have = labels.get(key)
        if have is not ANY and have != value:
            return False
    for _, expr, epath in maps(selector, "matchExpressions", path):
        key, op, values = _expression(expr, epath)
        have = labels.get(key)
        if op == "In" and not (have is ANY or have in values):
            return False
        if op == "NotIn" and have is not ANY and have in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels and have is not ANY:
            return False
    return True


def map_selector_matches(selector: Mapping[str, str], labels: Mapping[str, Any]) -> bool:
    """A Service's (or a ``matchLabels``-only) selector: every pair must be on the pod."""
    return all(labels.get(k) is ANY or labels.get(k) == v for k, v in selector.items())


# ---------------------------------------------------------------------------------------------
# What exists without being in the input: made at run time by a controller (ONE table)
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Made:
    """Objects a controller creates at run time: ``derive(obj)``, for each input object of one of
    *kinds*, yields ``("Pod", namespace, labels)`` for pods and ``(kind, namespace, name)`` for named
    objects; with no *kinds*, ``derive(namespace)`` yields what exists in every namespace."""

    what: str
    made_by: str
    source: str  # the upstream file that makes it (cite, never copy)
    derive: Callable[[Obj], Iterator[tuple]]
    kinds: tuple[str, ...] = ()  # the input kinds it derives from; () for every namespace


def _every_namespace(ns: str) -> Iterator[tuple]:
    yield ("ServiceAccount", ns, "default")


def _api_server(ns: str) -> Iterator[tuple]:
    if ns == "default":
        yield ("Service", "default", "kubernetes")


#: Istio names the Deployment, Service and ServiceAccount it deploys for a Gateway
#: ``<gateway>-<gatewayClassName>`` unless the Gateway's ``gateway.istio.io/name-override``
#: annotation names them (istio/istio pilot/pkg/config/kube/gateway, ``getDefaultName``:
#: ``fmt.Sprintf("%v-%v", name, GatewayClassName)``; the ServiceAccount may be named by
#: ``gateway.istio.io/service-account``); the pods carry ``gateway.networking.k8s.io/gateway-name``
#: and ``gateway-class-name`` (the ``kube-gateway`` template of istiod's istio-sidecar-injector
#: ConfigMap, in the rendered istiod chart).
ISTIO_CLASSES = ("istio",)


def _istio_gateway(o: Obj) -> Iterator[tuple]:
    spec = o.spec
    klass = get_str(spec, "gatewayClassName", "spec")
    if klass not in ISTIO_CLASSES:
        return
    ns = o.namespace or "default"
    annotations = o.annotations()
    name = annotations.get("gateway.istio.io/name-override") or f"{o.name}-{klass}"
    yield ("Pod", ns, {"gateway.networking.k8s.io/gateway-name": o.name,
                       "gateway.networking.k8s.io/gateway-class-name": klass})
    yield ("Service", ns, name)
    yield ("ServiceAccount", ns, annotations.get("gateway.istio.io/service-account") or name)
    yield ("Deployment", ns, name)


#: Vault's Kubernetes service registration labels its own pod (hashicorp/vault
#: serviceregistration/kubernetes/service_registration.go: ``vault-active``, ``vault-sealed``,
#: ``vault-initialized``, ``vault-perf-standby``, ``vault-version``); the chart's ``vault-active``
#: Service selects ``vault-active: "true"`` (hashicorp/vault-helm templates/server-ha-active-service.yaml).
VAULT_RUNTIME_LABELS = ("vault-active", "vault-initialized", "vault-perf-standby", "vault-sealed", "vault-version")
VAULT_IMAGES = ("hashicorp/vault", "hashicorp/vault-enterprise")


def _vault_pods(o: Obj) -> Iterator[tuple]:
    spec = pod_spec(o)
    if spec is None:
        return
    images = [get_str(c.obj, "image", c.path) or "" for c in spec.containers(("containers",))]
    if any(parse_image(i).repository in VAULT_IMAGES for i in images if i):
        labels = dict(template_labels(o))
        labels.update({k: ANY for k in VAULT_RUNTIME_LABELS})
        yield ("Pod", o.namespace or "default", labels)


#: cert-manager's HTTP-01 solver pods (cert-manager/cert-manager pkg/apis/acme/v1,
#: ``SolverIdentificationLabelKey``: ``acme.cert-manager.io/http01-solver: "true"``) run in the namespace of the
#: Certificate being issued by an ACME issuer with an http01 solver.
def _acme_solver(o: Obj) -> Iterator[tuple]:
    yield ("Pod", o.namespace or "default", {"acme.cert-manager.io/http01-solver": "true"})


RUNTIME: tuple[Made, ...] = (
    Made("ServiceAccount `default` in every namespace", "kube-controller-manager (serviceaccounts-controller)",
         "kubernetes/kubernetes pkg/controller/serviceaccount/serviceaccounts_controller.go", _every_namespace),
    Made("Service `default/kubernetes` (the API server)", "kube-apiserver",
         "kubernetes/kubernetes pkg/controlplane/controller/kubernetesservice/controller.go", _api_server),
    Made("the Deployment, pods, Service and ServiceAccount of an Istio Gateway (`<gateway>-istio`)",
         "istiod's gateway deployment controller",
         "istio/istio pilot/pkg/config/kube/gateway (getDefaultName: <gateway>-<class>)", _istio_gateway,
         ("Gateway",)),
    Made("Vault's own pod labels (`vault-active`, `vault-sealed`, ...; any value)",
         "Vault's Kubernetes service registration",
         "hashicorp/vault serviceregistration/kubernetes/service_registration.go", _vault_pods,
         tuple(sorted({k for _, k in POD_SPEC_PATHS}))),
    Made("cert-manager's ACME HTTP-01 solver pods (`acme.cert-manager.io/http01-solver: \"true\"`)",
         "cert-manager's ACME challenge controller",
         "cert-manager/cert-manager pkg/apis/acme/v1 (SolverIdentificationLabelKey), pkg/issuer/acme/http",
         _acme_solver, ("Certificate",)),
)


# ---------------------------------------------------------------------------------------------
# The inventory
# ---------------------------------------------------------------------------------------------

def template_labels(o: Obj) -> Mapping:
    """The labels of the pods *o* runs (its pod template's, or a Pod's own)."""
    kind = (o.info.group, o.info.kind) if o.info else None
    if kind is None or kind not in POD_SPEC_PATHS:
        return {}
    if kind == ("core", "Pod"):
        return o.labels()
    keys = POD_SPEC_PATHS[kind][:-1]  # the template holding spec
    node: Any = o.props
    path = ""
    for key in keys:
        node = node.get(key) if isinstance(node, Mapping) else None
        path = f"{path}.{key}" if path else key
        if node is None:
            return {}
    meta = get_map(node, "metadata", path)
    return get_map(meta, "labels", f"{path}.metadata")


#: Cluster-scoped kinds among the targets (never in a namespace, whatever the input says), and
#: the namespaced kinds the checks read: one of those without metadata.namespace is in
#: ``default``, as the API server places it. Any other kind keeps what its metadata says.
CLUSTER_SCOPED = frozenset({"Namespace", "StorageClass", "PersistentVolume", "ClusterIssuer", "ClusterSecretStore"})
NAMESPACED = frozenset({"ServiceAccount", "Service", "ConfigMap", "NetworkPolicy", "PersistentVolumeClaim",
                        "RoleBinding", "Gateway", "HTTPRoute", "GRPCRoute", "SecretStore", "ExternalSecret",
                        "Issuer", "Certificate", "Ingress", *(k for _, k in POD_SPEC_PATHS)})


@dataclass
class PodGroup:
    """The pods of one object (or made at run time): namespace and labels."""

    namespace: str
    labels: Mapping[str, Any]
    owner: str


@dataclass
class Inventory:
    """What the input holds: named objects by (kind, namespace, name), the pods by namespace,
    the namespaces present, and whether the input is a whole stack."""

    names: dict[tuple[str, Optional[str]], set[str]] = field(default_factory=dict)
    pods: dict[str, list[PodGroup]] = field(default_factory=dict)
    namespaces: set[str] = field(default_factory=set)
    whole_stack: bool = False
    #: kinds (and namespaces) whose names were unknown at preview: anything may exist there
    unknown: set[tuple[str, Optional[str]]] = field(default_factory=set)
    roles: list[Obj] = field(default_factory=list)
    objects: list[Obj] = field(default_factory=list)
    #: objects that exist in every namespace (the ``default`` ServiceAccount): they resolve a
    #: reference, but do not make the input "hold" that kind there
    everywhere: dict[tuple[str, Optional[str]], set[str]] = field(default_factory=dict)
    #: namespaces whose pods the input holds (a pod template of an object of the input)
    pod_namespaces: set[str] = field(default_factory=set)

    def add(self, kind: str, namespace: Optional[str], name: str) -> None:
        self.names.setdefault((kind, namespace), set()).add(name)

    def has(self, kind: str, namespace: Optional[str], name: str) -> bool:
        return name in self.names.get((kind, namespace), ()) or name in self.everywhere.get((kind, namespace), ())

    def maybe(self, kind: str, namespace: Optional[str]) -> bool:
        """Whether an object of *kind* in *namespace* has a name (or namespace, or pod labels)
        unknown at preview: a reference not found among the known ones may still resolve to it."""
        return (kind, namespace) in self.unknown or (kind, "*") in self.unknown

    def holds(self, kind: str, namespace: Optional[str] = None) -> bool:
        """Whether the input holds objects of *kind* (in *namespace*; pods for ``Pod``)."""
        if kind == "Pod":  # pod templates of the input; pods made at run time match, but do not count here
            return namespace in self.pod_namespaces or ("Pod", namespace) in self.unknown
        return bool(self.names.get((kind, namespace))) or (kind, namespace) in self.unknown

    def judged(self, kind: str, namespace: Optional[str]) -> bool:
        """Whether a reference to a *kind* in *namespace* (None: cluster-scoped) is judged: the
        input holds that kind there, or it is a whole stack that holds the namespace."""
        if self.holds(kind, namespace):
            return True
        if not self.whole_stack:
            return False
        return namespace is None or namespace in self.namespaces

    def pods_in(self, namespace: str) -> list[PodGroup]:
        return self.pods.get(namespace, [])


def _safe(fn: Callable[[], Any], default: Any = None) -> Any:
    try:
        return fn()
    except (UnknownValueError, Unverifiable, AttributeError, TypeError):
        return default


def inventory(objects: Iterable[Obj]) -> Inventory:
    """Index *objects* (and what :data:`RUNTIME` says controllers make from them)."""
    inv = Inventory()
    objects = list(objects)
    inv.objects = objects
    for o in objects:
        if o.type == WHOLE_STACK_TOKEN:
            inv.whole_stack = True
            continue
        if o.type == IAM_ROLE_TOKEN:
            inv.roles.append(o)
            continue
        if o.info is None:
            continue
        kind = o.kind
        try:
            namespace = o.namespace
        except (UnknownValueError, Unverifiable):
            inv.unknown.add((kind, "*"))
            continue
        if kind in CLUSTER_SCOPED:
            namespace = None
        elif namespace is None and kind in NAMESPACED:
            namespace = "default"  # as the API server places a namespaced object that names none
        name = _safe(lambda: o.name)
        if name is None:
            inv.unknown.add((kind, namespace))
            continue
        if kind == "Namespace":
            inv.namespaces.add(name)
            continue
        if namespace is not None:
            inv.namespaces.add(namespace)
        inv.add(kind, namespace, name)
        if (o.info.group, kind) in POD_SPEC_PATHS:
            try:
                labels = {str(k): v for k, v in template_labels(o).items()}
            except (UnknownValueError, Unverifiable, AttributeError, TypeError):
                inv.unknown.add(("Pod", namespace or "default"))
                labels = {}
            inv.pods.setdefault(namespace or "default", []).append(
                PodGroup(namespace or "default", labels, f"{kind} {name}"))
            inv.pod_namespaces.add(namespace or "default")
    for made in RUNTIME:
        if not made.kinds:
            continue
        for o in objects:
            if o.info is None or o.kind not in made.kinds:
                continue
            for item in _safe(lambda: list(made.derive(o)), []) or []:
                _add_made(inv, item, f"{made.what} of {o.kind} {_safe(lambda: o.name, o.resource_name)}")
    for ns in sorted(inv.namespaces | {n for (_, n) in inv.names if n} | {"default"}):
        for made in RUNTIME:
            if not made.kinds:
                for kind, namespace, name in made.derive(ns):
                    inv.everywhere.setdefault((kind, namespace), set()).add(name)
    return inv


def _add_made(inv: Inventory, item: tuple, owner: str) -> None:
    kind, namespace, rest = item
    if kind == "Pod":
        labels = dict(rest)
        # a workload's own labels at run time replace its template's entry (Vault's pods)
        inv.pods.setdefault(namespace, []).append(PodGroup(namespace, labels, owner))
    else:
        inv.add(kind, namespace, rest)


# ---------------------------------------------------------------------------------------------
# Findings
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Dangling:
    """A reference that resolves to nothing: the object that holds it, where, and the message."""

    obj: Obj
    path: str
    target: str  # "ServiceAccount lego-mcp-prod/dashboard"
    message: str


def _where(o: Obj) -> str:
    ns = _safe(lambda: o.namespace)
    return f"{o.kind} {ns + '/' if ns else ''}{_safe(lambda: o.name, o.resource_name)}"


def _each(objects: Iterable[Obj], kinds: Sequence[str], fn: Callable[[Obj], Iterator[Dangling]],
          on_error: Callable[[Obj, Exception], Iterator[Dangling]]) -> Iterator[Dangling]:
    for o in objects:
        if o.info is None or (kinds and o.kind not in kinds):
            continue
        try:
            yield from list(fn(o))
        except (Unverifiable, UnknownValueError) as e:
            yield from on_error(o, e)


def _unverifiable(o: Obj, e: Exception) -> Iterator[Dangling]:
    if isinstance(e, UnknownValueError):
        message = cannot_verify(e, o.props)
        yield Dangling(o, message.path, "", message)
        return
    yield Dangling(o, getattr(e, "path", ""), "", getattr(e, "message", str(e)))


def _maybe(inv: Inventory, kind: str, namespace: Optional[str], o: Obj, path: str, target: str,
           message: str) -> Dangling:
    """The finding for a reference found nowhere: dangling, or, when an object of that kind there
    is unknown at preview (its name, namespace or pod labels), "cannot verify" (the framework's
    fail-closed finding, mandatory unless the policy's ``unknowns`` is advisory)."""
    if not inv.maybe(kind, namespace):
        return Dangling(o, path, target, message)
    where = f" in {namespace}" if namespace else ""
    unknown = CannotVerify(f"cannot verify {path} at preview: it names {target}, which the known objects do not "
                           f"hold, and a {kind}{where} is unknown at preview (its name, namespace or labels): "
                           f"{MAKE_IT_KNOWN}")
    unknown.path = path
    return Dangling(o, path, target, unknown)


# --- 1. a pod's ServiceAccount exists ----------------------------------------------------------

def dangling_service_accounts(inv: Inventory) -> Iterator[Dangling]:
    """kube-linter ``non-existent-service-account``: a pod's ``serviceAccountName`` (or the
    deprecated ``serviceAccount``) names a ServiceAccount of its namespace; ``default`` always exists."""
    def one(o: Obj) -> Iterator[Dangling]:
        spec = pod_spec(o)
        if spec is None:
            return
        sa = get_str(spec.spec, "serviceAccountName", spec.path) or get_str(spec.spec, "serviceAccount", spec.path)
        ns = o.namespace or "default"
        if not sa or not inv.judged("ServiceAccount", ns) or inv.has("ServiceAccount", ns, sa):
            return
        yield _maybe(inv, "ServiceAccount", ns, o, spec.field("serviceAccountName"), f"ServiceAccount {ns}/{sa}",
                       f"{spec.field('serviceAccountName')} names ServiceAccount {sa!r}, which namespace {ns} does "
                       f"not have: the pods are never created (\"serviceaccount {sa!r} not found\"); create the "
                       "ServiceAccount in the same namespace or fix the name")
    yield from _each(inv.objects, (), one, _unverifiable)


# --- 2. a Service's selector matches some pod ---------------------------------------------------

def dangling_services(inv: Inventory) -> Iterator[Dangling]:
    """kube-linter ``dangling-service``: a Service with a selector selects the pod template of
    some object of its namespace (or pods a controller makes, :data:`RUNTIME`). ExternalName
    Services and Services without a selector (endpoints managed by hand) are not judged."""
    def one(o: Obj) -> Iterator[Dangling]:
        spec = o.spec
        if get_str(spec, "type", "spec") == "ExternalName":
            return
        selector = get_map(spec, "selector", "spec")
        ns = o.namespace or "default"
        if not selector or not inv.judged("Pod", ns):
            return
        if any(map_selector_matches(selector, p.labels) for p in inv.pods_in(ns)):
            return
        shown = ", ".join(f"{k}={v}" for k, v in sorted(selector.items()))
        yield _maybe(inv, "Pod", ns, o, "spec.selector", f"pods {ns} ({shown})",
                       f"spec.selector ({shown}) matches no pod template in namespace {ns}: the Service has no "
                       "endpoints and every connection to it fails; make the selector the labels of the pods it "
                       "fronts")
    yield from _each(inv.objects, ("Service",), one, _unverifiable)


# --- 3. a NetworkPolicy's non-empty podSelector matches some pod --------------------------------

def dangling_network_policies(inv: Inventory) -> Iterator[Dangling]:
    """kube-linter ``dangling-networkpolicy``, for podSelectors that name pods (an empty one, or
    one made only of exclusions, is a namespace-wide rule, such as default-deny or allow-dns under
    emergency isolation, that rightly holds while no pod it would select exists: :func:`namespace_wide`)."""
    def one(o: Obj) -> Iterator[Dangling]:
        spec = o.spec
        selector = get_map(spec, "podSelector", "spec")
        ns = o.namespace or "default"
        if namespace_wide(selector, "spec.podSelector"):
            return
        if not inv.judged("Pod", ns):
            return
        if any(selector_matches(selector, p.labels, "spec.podSelector") for p in inv.pods_in(ns)):
            return
        yield _maybe(inv, "Pod", ns, o, "spec.podSelector", f"pods {ns}",
                       f"spec.podSelector {_show_selector(selector)} matches no pod in namespace {ns}: the "
                       "policy applies to nothing (a typo here leaves the intended pods under default-deny, or "
                       "unprotected); make the selector the labels of the pods it is written for")
    yield from _each(inv.objects, ("NetworkPolicy",), one, _unverifiable)


def namespace_wide(selector: Mapping, path: str) -> bool:
    """A selector that names no pod, only (possibly) pods it leaves out: ``{}``, or ``NotIn`` and
    ``DoesNotExist`` expressions alone (every pod of the namespace but the excluded ones, such as
    the allow policies of a namespace under emergency isolation). Like default-deny, it rightly
    holds while no pod it would select exists."""
    if get_map(selector, "matchLabels", path):
        return False
    for _, expr, epath in maps(selector, "matchExpressions", path):
        if _expression(expr, epath)[1] not in ("NotIn", "DoesNotExist"):
            return False
    return True


def _show_selector(selector: Mapping) -> str:
    parts = [f"{k}={v}" for k, v in sorted(get_map(selector, "matchLabels", "").items())]
    for _, e, p in maps(selector, "matchExpressions", ""):
        key, op, values = _expression(e, p)
        parts.append(f"{key} {op} {values}" if values else f"{key} {op}")
    return "(" + ", ".join(parts) + ")"


# --- 4. an admission webhook's Service exists -----------------------------------------------------

def dangling_webhooks(inv: Inventory) -> Iterator[Dangling]:
    """``webhooks[].clientConfig.service`` of a Validating/MutatingWebhookConfiguration names a
    Service that exists: otherwise every admission it covers fails (Fail) or skips it (Ignore)."""
    def one(o: Obj) -> Iterator[Dangling]:
        for _, hook, path in maps(o.props, "webhooks", ""):
            service = get_map(get_map(hook, "clientConfig", path), "service", f"{path}.clientConfig")
            name = get_str(service, "name", f"{path}.clientConfig.service")
            if not name:
                continue
            ns = get_str(service, "namespace", f"{path}.clientConfig.service") or "default"
            if not inv.judged("Service", ns) or inv.has("Service", ns, name):
                continue
            hook_name = get_str(hook, "name", path) or path
            yield _maybe(inv, "Service", ns, o, f"{path}.clientConfig.service", f"Service {ns}/{name}",
                           f"{path}.clientConfig.service names Service {ns}/{name}, which does not exist: admission "
                           f"webhook {hook_name} cannot be called, so the API server fails (or, failing open, "
                           "skips) every request it covers; point it at the webhook's real Service")
    yield from _each(inv.objects, ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"), one,
                     _unverifiable)


# --- 5. a binding's ServiceAccount subject exists ---------------------------------------------------

def dangling_binding_subjects(inv: Inventory) -> Iterator[Dangling]:
    """A RoleBinding's or ClusterRoleBinding's ServiceAccount subject exists (a RoleBinding's
    subject without a namespace is in the binding's own namespace)."""
    def one(o: Obj) -> Iterator[Dangling]:
        own = o.namespace if o.kind == "RoleBinding" else None
        for _, subject, path in maps(o.props, "subjects", ""):
            if get_str(subject, "kind", path) != "ServiceAccount":
                continue
            name = get_str(subject, "name", path)
            ns = get_str(subject, "namespace", path) or own or "default"
            if not name or not inv.judged("ServiceAccount", ns) or inv.has("ServiceAccount", ns, name):
                continue
            yield _maybe(inv, "ServiceAccount", ns, o, f"{path}.name", f"ServiceAccount {ns}/{name}",
                           f"{path} names ServiceAccount {ns}/{name}, which does not exist: the permissions go to "
                           "nobody (the workload that needs them is refused), and whoever later creates that name "
                           "inherits them; name the workload's real ServiceAccount")
    yield from _each(inv.objects, ("RoleBinding", "ClusterRoleBinding"), one, _unverifiable)


# --- 6. a cluster DNS name resolves to a Service -----------------------------------------------------

#: A host name as a whole token: not inside a longer dotted name, nor a path or a URL's user part.
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
HOST = re.compile(rf"(?<![A-Za-z0-9_.@-])({_LABEL}(?:\.{_LABEL})+)"
                  r"(?![A-Za-z0-9_-]|\.[A-Za-z0-9])")


#: What precedes a host name where a configuration names one: a key such as ``server_address``,
#: ``host`` or ``url`` (YAML ``key: value``, JSON ``"key": "value"``, HCL or a flag ``key=value``).
HOST_KEY = re.compile(r"(?:address|addr|host|hostname|server|url|uri|endpoint|upstream)[\"']?\s*[:=]\s*[\"']?$",
                      re.IGNORECASE)


def _host_context(text: str, start: int, end: int) -> bool:
    """Whether the short form ``<service>.<namespace>`` at *start*..*end* stands where a host name
    does: the whole value, after ``//`` (a URL), before ``:<port>``, or after a host-like key."""
    if text[:start].strip() == "" and text[end:].strip() == "":
        return True
    if text[max(0, start - 2):start] == "//" or re.match(r":\d{1,5}\b", text[end:end + 6]):
        return True
    line = text[text.rfind("\n", 0, start) + 1:start]
    return bool(HOST_KEY.search(line[-40:]))


def service_names(text: str) -> Iterator[tuple[Optional[str], str, str, str]]:
    """``(hostname or None, service, namespace, the whole name)`` for every cluster DNS name in
    *text*: ``<service>.<namespace>.svc[.cluster.local]``, for a headless Service's pods
    ``<pod>.<service>.<namespace>.svc[.cluster.local]`` (Kubernetes DNS specification, "Schema":
    ``<service>.<ns>.svc.<zone>`` and ``<hostname>.<service>.<ns>.svc.<zone>``), and the short
    form ``<service>.<namespace>`` where it stands as a host (:func:`_host_context`: a bare
    ``istio.default`` in a template is a secret's name, not a host). Which ones are cluster names
    is settled by the caller: the namespace must be one of the input."""
    for m in HOST.finditer(text):
        whole = m.group(1)
        labels = whole.split(".")
        svc = False
        if labels[-2:] == ["cluster", "local"]:
            labels = labels[:-2]
            if labels[-1:] != ["svc"]:
                continue
        if labels[-1:] == ["svc"]:
            labels, svc = labels[:-1], True
        if len(labels) == 2 and (svc or _host_context(text, m.start(1), m.end(1))):
            yield None, labels[0], labels[1], whole
        elif len(labels) == 3 and svc:
            yield labels[0], labels[1], labels[2], whole


def _strings_in(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield value, path
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _strings_in(v, f"{path}.{k}" if path else str(k))
    elif is_list(value):
        for i, v in enumerate(value):
            yield from _strings_in(v, f"{path}[{i}]")


def _texts(o: Obj) -> Iterator[tuple[str, str]]:
    """The texts that name hosts: a ConfigMap's data, and every container's command, args and
    env values."""
    if o.kind == "ConfigMap":
        for key, value in get_map(o.props, "data", "").items():
            if isinstance(value, str):
                yield value, f"data.{key}"
        return
    spec = pod_spec(o)
    if spec is None:
        return
    for c in spec.containers():
        for key in ("command", "args"):
            for i, s in enumerate(get_list(c.obj, key, c.path)):
                if isinstance(s, str):
                    yield s, f"{c.path}.{key}[{i}]"
        for i, env, epath in maps(c.obj, "env", c.path):
            value = get_str(env, "value", epath)
            if value:
                yield value, f"{epath}.value"


def dangling_service_names(inv: Inventory) -> Iterator[Dangling]:
    """A ``<service>.<namespace>[.svc[.cluster.local]]`` name in a ConfigMap, a container's
    command, args or env resolves to a Service, for every namespace the input holds."""
    def one(o: Obj) -> Iterator[Dangling]:
        seen: set[tuple[str, str]] = set()
        for text, path in _texts(o):
            for host, svc, ns, whole in service_names(text):
                if ns not in inv.namespaces or not inv.judged("Service", ns) or (whole, path) in seen:
                    continue
                seen.add((whole, path))
                if inv.has("Service", ns, svc):
                    continue
                yield _maybe(inv, "Service", ns, o, path, f"Service {ns}/{svc}",
                               f"{path} names {whole!r}, but namespace {ns} has no Service {svc!r}: the name does "
                               "not resolve and the connection fails; use the Service's real name (a chart's "
                               "fullnameOverride renames its objects, not every reference to them)")
    yield from _each(inv.objects, (), one, _unverifiable)


# --- 7. SPIRE's k8s_psat service_account_allow_list ----------------------------------------------------

def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


CONFIG_SUFFIXES = (".conf", ".hcl", ".json")
HCL_ALLOW_LIST = re.compile(r"service_account_allow_list\s*=\s*\[([^\]]*)\]")


def psat_allow_lists(o: Obj) -> Iterator[tuple[str, list[str]]]:
    """``(path, entries)`` of every k8s_psat ``service_account_allow_list`` in a SPIRE server
    ConfigMap (``server.conf``, JSON as the chart renders it, or HCL). spiffe/spire
    pkg/server/plugin/nodeattestor/k8spsat/psat.go: ``ClusterConfig.ServiceAccountAllowList``
    (hcl ``service_account_allow_list``), each entry ``namespace:name``; an agent whose token's
    ServiceAccount is not listed fails attestation."""
    data = get_map(o.props, "data", "")
    for key in list(data):
        # a SPIRE configuration file (server.conf, or .hcl/.json); other keys are never read, so an
        # unrelated value unknown at preview does not hold this policy up
        if not str(key).endswith(CONFIG_SUFFIXES):
            continue
        text = data[key]
        if not isinstance(text, str) or "service_account_allow_list" not in text:
            continue
        doc = _json_or_none(text)
        if isinstance(doc, Mapping):
            plugins = doc.get("plugins") or {}
            for i, attestor in enumerate(plugins.get("NodeAttestor") or []):
                psat = attestor.get("k8s_psat") if isinstance(attestor, Mapping) else None
                data = (psat or {}).get("plugin_data") or {}
                clusters = data.get("clusters") or {}
                items = clusters if is_list(clusters) else [clusters]
                for j, item in enumerate(items):
                    for cluster, cfg in (item.items() if isinstance(item, Mapping) else ()):
                        entries = (cfg or {}).get("service_account_allow_list") or []
                        yield (f"data.{key}: plugins.NodeAttestor[{i}].k8s_psat.plugin_data.clusters"
                               f"[{j}].{cluster}.service_account_allow_list", [str(e) for e in entries])
        else:
            for m in HCL_ALLOW_LIST.finditer(text):
                yield f"data.{key}: service_account_allow_list", re.findall(r'"([^"]*)"', m.group(1))


def dangling_psat_allow_list(inv: Inventory) -> Iterator[Dangling]:
    """Every ``namespace:name`` of SPIRE's k8s_psat allow list names a ServiceAccount of the input."""
    def one(o: Obj) -> Iterator[Dangling]:
        for path, entries in psat_allow_lists(o):
            for entry in entries:
                ns, sep, name = entry.partition(":")
                if not sep or not ns or not name:
                    yield Dangling(o, path, entry, f"{path} entry {entry!r} is not namespace:serviceaccount; SPIRE "
                                                   "matches the agent's token against that form only")
                    continue
                if not inv.judged("ServiceAccount", ns) or inv.has("ServiceAccount", ns, name):
                    continue
                yield _maybe(inv, "ServiceAccount", ns, o, path, f"ServiceAccount {ns}/{name}",
                               f"{path} trusts {entry!r}, but there is no ServiceAccount {ns}/{name}: no agent "
                               "runs as it, so node attestation fails and no workload ever gets an SVID; list the "
                               "agent DaemonSet's real namespace:serviceAccountName")
    yield from _each(inv.objects, ("ConfigMap",), one, _unverifiable)


# --- 8. a storageClassName exists ----------------------------------------------------------------------

def _claim_specs(o: Obj) -> Iterator[tuple[Mapping, str]]:
    if o.kind in ("PersistentVolumeClaim", "PersistentVolume"):
        yield o.spec, "spec"
    elif o.kind == "StatefulSet":
        for _, t, path in maps(o.spec, "volumeClaimTemplates", "spec"):
            yield get_map(t, "spec", path), f"{path}.spec"
    spec = pod_spec(o)
    if spec is not None:
        for _, v, path in maps(spec.spec, "volumes", spec.path):
            eph = get_map(get_map(v, "ephemeral", path), "volumeClaimTemplate", f"{path}.ephemeral")
            if eph:
                yield get_map(eph, "spec", f"{path}.ephemeral.volumeClaimTemplate"), \
                    f"{path}.ephemeral.volumeClaimTemplate.spec"


def dangling_storage_classes(inv: Inventory) -> Iterator[Dangling]:
    """A claim's (a PVC's, a StatefulSet's volumeClaimTemplates', a generic ephemeral volume's,
    a PV's) ``storageClassName`` names a StorageClass; ``""`` (no class) is not judged."""
    def one(o: Obj) -> Iterator[Dangling]:
        for spec, path in _claim_specs(o):
            name = get_str(spec, "storageClassName", path)
            if not name or not inv.judged("StorageClass", None) or inv.has("StorageClass", None, name):
                continue
            yield _maybe(inv, "StorageClass", None, o, f"{path}.storageClassName", f"StorageClass {name}",
                           f"{path}.storageClassName is {name!r}, which no StorageClass of the stack is called: the "
                           "claim stays Pending and its pod never starts; name the stack's StorageClass")
    kinds = ("PersistentVolumeClaim", "PersistentVolume", *sorted({k for _, k in POD_SPEC_PATHS}))
    yield from _each(inv.objects, kinds, one, _unverifiable)


# --- 9. an IRSA role annotation names a role that trusts this ServiceAccount ------------------------------

ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/(?:[\w+=,.@-]+/)*([\w+=,.@-]+)$")


def _statements(document: Any) -> list[Mapping]:
    statements = document.get("Statement") if isinstance(document, Mapping) else None
    if isinstance(statements, Mapping):
        return [statements]
    return [s for s in statements or [] if isinstance(s, Mapping)]


def _as_list(value: Any) -> list:
    return list(value) if is_list(value) else [value]


def trusts(document: Any, namespace: str, name: str, audience: str) -> bool:
    """Whether an IAM trust policy lets ServiceAccount *namespace*/*name* assume the role with its
    projected token: an Allow of ``sts:AssumeRoleWithWebIdentity`` for a ``Federated`` principal
    whose ``<issuer>:sub`` is exactly ``system:serviceaccount:<namespace>:<name>`` and whose
    ``<issuer>:aud`` is *audience* (AWS IAM User Guide, "Create a role for OpenID Connect
    federation"; EKS User Guide, "Assign IAM roles to Kubernetes service accounts")."""
    subject = f"system:serviceaccount:{namespace}:{name}"
    for s in _statements(document):
        if s.get("Effect") != "Allow" or "sts:AssumeRoleWithWebIdentity" not in _as_list(s.get("Action")):
            continue
        if "Federated" not in (s.get("Principal") or {}):
            continue
        equals = (s.get("Condition") or {}).get("StringEquals") or {}
        subs = [v for k, v in equals.items() if k.endswith(":sub")]
        auds = [v for k, v in equals.items() if k.endswith(":aud")]
        if any(subject in _as_list(v) for v in subs) and any(audience in _as_list(v) for v in auds):
            return True
    return False


def dangling_irsa(inv: Inventory) -> Iterator[Dangling]:
    """A ServiceAccount's ``eks.amazonaws.com/role-arn`` names an IAM role of the stack (by its
    fixed ``name``) whose trust policy names this exact ServiceAccount and the token's audience.
    Judged when the input holds IAM roles (``pulumi preview``, a render's resources.json)."""
    if not inv.roles:
        return
    named: dict[str, list[Obj]] = {}
    unnamed = unknown_name = False
    for r in inv.roles:
        try:
            name = get_str(r.props, "name", "")
        except UnknownValueError:
            unknown_name = True
            continue
        except Unverifiable:
            continue
        if name:
            named.setdefault(name, []).append(r)
        else:
            unnamed = True

    def one(o: Obj) -> Iterator[Dangling]:
        annotations = o.annotations()
        arn = get_str(annotations, IRSA_ANNOTATION, "metadata.annotations")
        if not arn:
            return
        path = f"metadata.annotations[{IRSA_ANNOTATION}]"
        ns, sa = o.namespace or "default", o.name
        audience = get_str(annotations, IRSA_AUDIENCE_ANNOTATION, "metadata.annotations") or IRSA_DEFAULT_AUDIENCE
        m = ROLE_ARN.match(arn)
        if not m:
            yield Dangling(o, path, arn, f"{path} is {arn!r}, not an IAM role ARN "
                                         "(arn:aws:iam::<account>:role/<name>): the pod gets no AWS credentials; "
                                         "write the role's ARN")
            return
        roles = named.get(m.group(2), [])
        if not roles and unknown_name:
            unknown = CannotVerify(f"cannot verify {path} at preview: it names IAM role {m.group(2)!r}, and an IAM "
                                   f"role of the stack has a name unknown at preview: {MAKE_IT_KNOWN}")
            unknown.path = path
            yield Dangling(o, path, f"IAM role {m.group(2)}", unknown)
            return
        if not roles:
            hint = (" (a role of the stack without a fixed name gets a generated one, known only after creation: "
                    "give it name=...)" if unnamed else "")
            yield Dangling(o, path, f"IAM role {m.group(2)}",
                           f"{path} names IAM role {m.group(2)!r}, which the stack does not create{hint}: "
                           "AssumeRoleWithWebIdentity fails and the pod has no AWS access; name the stack's role")
            return
        pending = []
        for role in roles:
            try:
                policy = get_str(role.props, "assumeRolePolicy", "assumeRolePolicy")
            except UnknownValueError as e:
                pending.append(cannot_verify(e, role.props, subject=f"IAM role {m.group(2)!r}'s "))
                continue
            document = _json_or_none(policy or "")
            if document is not None and trusts(document, ns, sa, audience):
                return
        if pending:
            unknown = CannotVerify(f"{pending[0]} (the role {path} names: whether it trusts "
                                   f"system:serviceaccount:{ns}:{sa} is known only then)")
            unknown.path = path
            yield Dangling(o, path, f"IAM role {m.group(2)}", unknown)
            return
        yield Dangling(o, path, f"IAM role {m.group(2)}",
                       f"IAM role {m.group(2)!r} (named by {path}) does not trust this ServiceAccount: its trust "
                       f"policy needs an Allow of sts:AssumeRoleWithWebIdentity with <issuer>:sub = "
                       f"system:serviceaccount:{ns}:{sa} and <issuer>:aud = {audience} (StringEquals), or STS "
                       "refuses the token")
    yield from _each(inv.objects, ("ServiceAccount",), one, _unverifiable)


# --- 10. an HTTPRoute's parent Gateway and backend Services exist ----------------------------------------

GATEWAY_GROUP = "gateway.networking.k8s.io"


def dangling_routes(inv: Inventory) -> Iterator[Dangling]:
    """An HTTPRoute's (or GRPCRoute's) ``parentRefs`` name Gateways and its ``backendRefs`` name
    Services that exist (Gateway API defaults: parent group gateway.networking.k8s.io, kind
    Gateway; backend group core, kind Service; namespace the route's own)."""
    def one(o: Obj) -> Iterator[Dangling]:
        own = o.namespace or "default"
        for _, ref, path in maps(o.spec, "parentRefs", "spec"):
            if (get_str(ref, "group", path) or GATEWAY_GROUP) != GATEWAY_GROUP or \
                    (get_str(ref, "kind", path) or "Gateway") != "Gateway":
                continue
            name = get_str(ref, "name", path)
            ns = get_str(ref, "namespace", path) or own
            if name and inv.judged("Gateway", ns) and not inv.has("Gateway", ns, name):
                yield _maybe(inv, "Gateway", ns, o, path, f"Gateway {ns}/{name}",
                               f"{path} names Gateway {ns}/{name}, which does not exist: the route is attached to "
                               "nothing and serves no request; name the stack's Gateway")
        for _, rule, rpath in maps(o.spec, "rules", "spec"):
            for _, ref, path in maps(rule, "backendRefs", rpath):
                if (get_str(ref, "group", path) or "") not in ("", "core") or \
                        (get_str(ref, "kind", path) or "Service") != "Service":
                    continue
                name = get_str(ref, "name", path)
                ns = get_str(ref, "namespace", path) or own
                if name and inv.judged("Service", ns) and not inv.has("Service", ns, name):
                    yield _maybe(inv, "Service", ns, o, path, f"Service {ns}/{name}",
                                   f"{path} names Service {ns}/{name}, which does not exist: the Gateway answers "
                                   "500 for this route; name the backend's Service")
    yield from _each(inv.objects, ("HTTPRoute", "GRPCRoute"), one, _unverifiable)


# --- 11. an ExternalSecret's store exists ------------------------------------------------------------------

def dangling_secret_stores(inv: Inventory) -> Iterator[Dangling]:
    """An ExternalSecret's ``secretStoreRef`` (kind SecretStore by default, or ClusterSecretStore)
    names a store that exists (external-secrets apis/externalsecrets/v1 ``SecretStoreRef``)."""
    def one(o: Obj) -> Iterator[Dangling]:
        own = o.namespace or "default"
        refs = [(get_map(o.spec, "secretStoreRef", "spec"), "spec.secretStoreRef")]
        for key in ("data", "dataFrom"):
            for _, item, path in maps(o.spec, key, "spec"):
                store = get_map(get_map(item, "sourceRef", path), "storeRef", f"{path}.sourceRef")
                if store:
                    refs.append((store, f"{path}.sourceRef.storeRef"))
        for ref, path in refs:
            name = get_str(ref, "name", path)
            if not name:
                continue
            kind = get_str(ref, "kind", path) or "SecretStore"
            ns = None if kind == "ClusterSecretStore" else own
            if kind not in ("SecretStore", "ClusterSecretStore") or not inv.judged(kind, ns) or inv.has(kind, ns, name):
                continue
            yield _maybe(inv, kind, ns, o, path, f"{kind} {name}",
                           f"{path} names {kind} {name!r}, which does not exist{'' if ns is None else ' in ' + ns}: the "
                           "Secret is never written and the workload that mounts it does not start; name the stack's "
                           "store")
    yield from _each(inv.objects, ("ExternalSecret",), one, _unverifiable)


# --- 12. a Certificate's issuer exists -----------------------------------------------------------------------

CERT_MANAGER_GROUP = "cert-manager.io"
ISSUER_ANNOTATIONS = {"cert-manager.io/issuer": "Issuer", "cert-manager.io/cluster-issuer": "ClusterIssuer"}


def dangling_issuers(inv: Inventory) -> Iterator[Dangling]:
    """A Certificate's ``issuerRef`` (kind Issuer by default, group cert-manager.io) and the
    ``cert-manager.io/issuer`` / ``cluster-issuer`` annotation of an Ingress or Gateway (cert-manager's
    ingress-shim and gateway-shim) name an issuer that exists. External issuer groups are not judged."""
    def one(o: Obj) -> Iterator[Dangling]:
        own = o.namespace or "default"
        refs: list[tuple[str, str, str]] = []
        if o.kind == "Certificate":
            ref = get_map(o.spec, "issuerRef", "spec")
            if (get_str(ref, "group", "spec.issuerRef") or CERT_MANAGER_GROUP) == CERT_MANAGER_GROUP:
                name = get_str(ref, "name", "spec.issuerRef")
                if name:
                    refs.append((get_str(ref, "kind", "spec.issuerRef") or "Issuer", name, "spec.issuerRef"))
        else:
            for key, kind in ISSUER_ANNOTATIONS.items():
                name = get_str(o.annotations(), key, "metadata.annotations")
                if name:
                    refs.append((kind, name, f"metadata.annotations[{key}]"))
        for kind, name, path in refs:
            ns = None if kind == "ClusterIssuer" else own
            if kind not in ("Issuer", "ClusterIssuer") or not inv.judged(kind, ns) or inv.has(kind, ns, name):
                continue
            yield _maybe(inv, kind, ns, o, path, f"{kind} {name}",
                           f"{path} names {kind} {name!r}, which does not exist{'' if ns is None else ' in ' + ns}: "
                           "cert-manager never issues the certificate and TLS fails; name the stack's issuer")
    yield from _each(inv.objects, ("Certificate", "Ingress", "Gateway"), one, _unverifiable)


#: Every check, by the name of the policy that reports it (the tests run them all on the prod render).
CHECKS: dict[str, Callable[[Inventory], Iterator[Dangling]]] = {
    "pod-missing-service-account": dangling_service_accounts,
    "service-missing-selected-pods": dangling_services,
    "networkpolicy-missing-selected-pods": dangling_network_policies,
    "webhook-missing-service": dangling_webhooks,
    "rolebinding-missing-service-account": dangling_binding_subjects,
    "hostname-missing-service": dangling_service_names,
    "spire-missing-attested-service-account": dangling_psat_allow_list,
    "volume-missing-storage-class": dangling_storage_classes,
    "serviceaccount-missing-irsa-trust": dangling_irsa,
    "httproute-missing-references": dangling_routes,
    "externalsecret-missing-store": dangling_secret_stores,
    "certificate-missing-issuer": dangling_issuers,
}


#: What each check reads: the objects holding the references, their targets, what the runtime
#: table derives from, namespaces, and the whole-stack marker (a policy's ``kinds``).
_POD_KINDS = tuple(sorted(POD_SPEC_PATHS))
_CONTEXT = (("core", "Namespace"), WHOLE_STACK_TOKEN, (GATEWAY_GROUP, "Gateway"))
_RUNTIME_PODS = (*_POD_KINDS, (CERT_MANAGER_GROUP, "Certificate"))
KINDS: dict[str, tuple] = {
    "pod-missing-service-account": (*_CONTEXT, *_POD_KINDS, ("core", "ServiceAccount")),
    "service-missing-selected-pods": (*_CONTEXT, *_RUNTIME_PODS, ("core", "Service")),
    "networkpolicy-missing-selected-pods": (*_CONTEXT, *_RUNTIME_PODS, ("networking.k8s.io", "NetworkPolicy")),
    "webhook-missing-service": (*_CONTEXT, ("core", "Service"),
                                ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
                                ("admissionregistration.k8s.io", "MutatingWebhookConfiguration")),
    "rolebinding-missing-service-account": (*_CONTEXT, ("core", "ServiceAccount"),
                                            ("rbac.authorization.k8s.io", "RoleBinding"),
                                            ("rbac.authorization.k8s.io", "ClusterRoleBinding")),
    "hostname-missing-service": (*_CONTEXT, *_POD_KINDS, ("core", "ConfigMap"), ("core", "Service")),
    "spire-missing-attested-service-account": (*_CONTEXT, ("core", "ConfigMap"), ("core", "ServiceAccount")),
    "volume-missing-storage-class": (*_CONTEXT, *_POD_KINDS, ("core", "PersistentVolumeClaim"),
                                     ("core", "PersistentVolume"), ("storage.k8s.io", "StorageClass")),
    "serviceaccount-missing-irsa-trust": (*_CONTEXT, ("core", "ServiceAccount"), IAM_ROLE_TOKEN),
    "httproute-missing-references": (*_CONTEXT, ("core", "Service"), (GATEWAY_GROUP, "HTTPRoute"),
                                     (GATEWAY_GROUP, "GRPCRoute")),
    "externalsecret-missing-store": (*_CONTEXT, ("external-secrets.io", "ExternalSecret"),
                                     ("external-secrets.io", "SecretStore"),
                                     ("external-secrets.io", "ClusterSecretStore")),
    "certificate-missing-issuer": (*_CONTEXT, (CERT_MANAGER_GROUP, "Certificate"), (CERT_MANAGER_GROUP, "Issuer"),
                                   (CERT_MANAGER_GROUP, "ClusterIssuer"), ("networking.k8s.io", "Ingress")),
}


def all_dangling(objects: Iterable[Obj]) -> list[Dangling]:
    """Every dangling reference of *objects*, by every check."""
    inv = inventory(objects)
    return [d for fn in CHECKS.values() for d in fn(inv)]


def objects_of(records: Iterable[Any]) -> list[Obj]:
    """Objs from render records (``.type``, ``.inputs``, ``.name``) or ``(type, props)`` pairs."""
    out = []
    for r in records:
        typ, props, name = (r.type, r.inputs, r.name) if hasattr(r, "inputs") else (r[0], r[1], "")
        if typ.startswith("pulumi:") and typ != WHOLE_STACK_TOKEN:
            continue
        try:
            out.append(Obj(typ, props or {}, name))
        except Unverifiable:
            continue
    return out


def check_for(name: str):
    """The stack policy ``check`` of the wiring policy *name*: every dangling reference its
    check finds, on the object that holds it."""
    fn = CHECKS[name]

    def check(objects, config):
        inv = inventory(objects)
        for d in fn(inv):
            yield d.obj, d.message
    return check
