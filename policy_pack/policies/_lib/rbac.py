"""The RBAC graph: which resources are cluster-scoped, what an aggregated ClusterRole grants, and
what a subject can do through its bindings. One model, used by the stack policies and by the
tests alike (stdlib only, plain dicts: the policies pass ``obj.props``, the tests rendered YAML).

Facts from Kubernetes' source, cited where used:

- ``pkg/controller/clusterroleaggregation``: a ClusterRole with ``aggregationRule`` gets the rules of
  every ClusterRole whose labels match one of its selectors; the bootstrap ``admin``, ``edit`` and
  ``view`` select ``rbac.authorization.k8s.io/aggregate-to-{admin,edit,view}: "true"``
  (``plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go``), and ``admin`` also aggregates
  edit's label set through ``system:aggregate-to-admin`` / ``-edit``.
- ``plugin/pkg/auth/authorizer/rbac/rbac.go`` ``VisitRulesFor``: ClusterRoleBindings apply to every
  request; RoleBindings only when the request has a namespace equal to theirs. A request on a
  cluster-scoped resource has no namespace, so a RoleBinding never grants one: the route to a
  cluster-scoped write through an aggregated role is any ClusterRoleBinding of admin/edit/view (or
  of a role that aggregates them), which is common (a team's group bound to ``edit`` cluster-wide).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Iterable, Iterator, Optional

from .k8s import DICT_PROXY, LIST_PROXY, UNKNOWN_SENTINELS

WRITE_VERBS = ("create", "update", "patch", "delete", "deletecollection")
AGGREGATE_PREFIX = "rbac.authorization.k8s.io/aggregate-to-"
#: Built-in roles that aggregate labelled ClusterRoles, and the labels each collects
#: (bootstrappolicy/policy.go: admin collects aggregate-to-admin and, through edit, aggregate-to-edit
#: and aggregate-to-view; edit collects edit and view).
AGGREGATED_INTO = {"admin": ("admin", "edit", "view"), "edit": ("edit", "view"), "view": ("view",),
                   "cluster-admin": ("cluster-admin",)}

#: Cluster-scoped resources of Kubernetes' built-in API groups, as ``(group, resource)``
#: (``kubectl api-resources --namespaced=false`` on 1.33). Review APIs (tokenreviews,
#: subjectaccessreviews, selfsubject*) are cluster-scoped "create" that change nothing: not listed.
BUILTIN_CLUSTER_SCOPED = frozenset({
    ("", "componentstatuses"), ("", "namespaces"), ("", "nodes"), ("", "persistentvolumes"),
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations"),
    ("admissionregistration.k8s.io", "validatingadmissionpolicies"),
    ("admissionregistration.k8s.io", "validatingadmissionpolicybindings"),
    ("admissionregistration.k8s.io", "mutatingadmissionpolicies"),
    ("admissionregistration.k8s.io", "mutatingadmissionpolicybindings"),
    ("apiextensions.k8s.io", "customresourcedefinitions"), ("apiregistration.k8s.io", "apiservices"),
    ("certificates.k8s.io", "certificatesigningrequests"), ("certificates.k8s.io", "clustertrustbundles"),
    ("flowcontrol.apiserver.k8s.io", "flowschemas"), ("flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations"),
    ("networking.k8s.io", "ingressclasses"), ("networking.k8s.io", "ipaddresses"),
    ("networking.k8s.io", "servicecidrs"), ("node.k8s.io", "runtimeclasses"),
    ("rbac.authorization.k8s.io", "clusterroles"), ("rbac.authorization.k8s.io", "clusterrolebindings"),
    ("scheduling.k8s.io", "priorityclasses"), ("storage.k8s.io", "csidrivers"), ("storage.k8s.io", "csinodes"),
    ("storage.k8s.io", "storageclasses"), ("storage.k8s.io", "volumeattachments"),
    ("storage.k8s.io", "volumeattributesclasses"), ("resource.k8s.io", "deviceclasses"),
    ("resource.k8s.io", "resourceslices"), ("internal.apiserver.k8s.io", "storageversions"),
})

#: Cluster-scoped custom resources of the software this stack deploys, known without their CRD in
#: the input (a partial input, one chart's RBAC alone): from each project's CRDs (``scope: Cluster``).
KNOWN_CLUSTER_SCOPED_CRDS = frozenset({
    ("external-secrets.io", "clustersecretstores"), ("external-secrets.io", "clusterexternalsecrets"),
    ("external-secrets.io", "clusterpushsecrets"), ("generators.external-secrets.io", "clustergenerators"),
    ("cert-manager.io", "clusterissuers"), ("templates.gatekeeper.sh", "constrainttemplates"),
    ("policy.sigstore.dev", "clusterimagepolicies"), ("policy.sigstore.dev", "trustroots"),
    ("spire.spiffe.io", "clusterspiffeids"), ("spire.spiffe.io", "clusterfederatedtrustdomains"),
    ("spire.spiffe.io", "clusterstaticentries"),
})
#: Every Gatekeeper constraint kind is cluster-scoped (the group, whatever the resource).
CLUSTER_SCOPED_GROUPS = frozenset({"constraints.gatekeeper.sh"})


def plain(value: Any) -> Any:
    """A plain copy of a value (the policy SDK hands mappings and sequences of its own proxy
    types); reading an unknown raises the SDK's UnknownValueError."""
    try:
        return _copy(value)
    except _Unknown:
        return _plain(value)  # read again through the proxies: the SDK's own error, path and all


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [_plain(v) for v in value]
    return value


class _Unknown(Exception):
    pass


def _copy(value: Any) -> Any:
    """:func:`_plain` read past the SDK's proxies: each proxy's own container (``proxy["__target"]``,
    as pulumi_policy's proxy.py hands it) is copied directly, in the same order, and an unknown
    leaf raises _Unknown; any other mapping or sequence is read as :func:`_plain` reads it (an
    unknown read through it raises the SDK's error, the first in :func:`_plain`'s order too)."""
    kind = type(value)
    if kind is str:
        if value in UNKNOWN_SENTINELS:
            raise _Unknown
        return value
    if kind is DICT_PROXY:
        return {k: _copy(v) for k, v in value["__target"].items()}
    if kind is LIST_PROXY:
        return [_copy(v) for v in value["__target"]]
    if kind in (float, int, bool) or value is None:
        return value
    if isinstance(value, Mapping):  # a dict, or a mapping that reads through the proxies
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [_copy(v) for v in value]
    return value


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, (list, tuple)) else []


def crd_cluster_scoped(objects: Iterable[Mapping[str, Any]]) -> set[tuple[str, str]]:
    """``(group, plural)`` of every CustomResourceDefinition in *objects* whose scope is Cluster."""
    out = set()
    for o in objects:
        if o.get("kind") != "CustomResourceDefinition":
            continue
        spec = o.get("spec") or {}
        if spec.get("scope") == "Cluster" and isinstance(spec.get("group"), str):
            plural = (spec.get("names") or {}).get("plural")
            if isinstance(plural, str):
                out.add((spec["group"], plural))
    return out


def aggregation_targets(labels: Mapping[str, Any]) -> list[str]:
    """The built-in roles a ClusterRole's labels aggregate it into."""
    return sorted(k[len(AGGREGATE_PREFIX):] for k, v in (labels or {}).items()
                  if isinstance(k, str) and k.startswith(AGGREGATE_PREFIX) and str(v).lower() == "true")


def cluster_writes(rules: Any, cluster_scoped: Iterable[tuple[str, str]]) -> Iterator[tuple[int, str]]:
    """``(rule index, description)`` of every rule that grants a write verb on a cluster-scoped
    resource: a named one, ``*`` in an API group that has one, or any resource of a
    constraints-style group that is cluster-scoped as a whole."""
    scoped = set(cluster_scoped)
    for i, rule in enumerate(rules if isinstance(rules, list) else []):
        if not isinstance(rule, Mapping):
            continue
        verbs = [v for v in _strings(rule.get("verbs")) if v == "*" or v in WRITE_VERBS]
        if not verbs:
            continue
        groups, resources = _strings(rule.get("apiGroups")), _strings(rule.get("resources"))
        hits = []
        for group, resource in sorted(scoped):
            if ("*" in groups or group in groups) and any(
                    r == "*" or r.split("/", 1)[0] in ("*", resource) for r in resources):
                hits.append(f"{group or 'core'}/{resource}")
        for group in sorted(CLUSTER_SCOPED_GROUPS):
            if ("*" in groups or group in groups) and resources:
                hits.append(f"{group}/{', '.join(resources)}")
        if hits:
            yield i, f"rules[{i}] grants {', '.join(verbs)} on {', '.join(dict.fromkeys(hits))}"


def aggregated_rules(objects: Iterable[Mapping[str, Any]], role: str) -> list[tuple[str, dict]]:
    """``(source ClusterRole, rule)`` of every rule the built-in *role* holds through aggregation
    in *objects* (the labelled ClusterRoles it collects)."""
    labels = AGGREGATED_INTO.get(role, (role,))
    out = []
    for o in objects:
        if o.get("kind") != "ClusterRole":
            continue
        targets = aggregation_targets((o.get("metadata") or {}).get("labels") or {})
        if any(t in labels for t in targets):
            for rule in o.get("rules") or []:
                if isinstance(rule, Mapping):
                    out.append(((o.get("metadata") or {}).get("name", ""), dict(rule)))
    return out


def allows(rules: Iterable[Mapping[str, Any]], verb: str, group: str, resource: str,
           name: Optional[str] = None) -> bool:
    """Whether any rule allows *verb* on *group*/*resource* (RBAC's ``RuleAllows``)."""
    for rule in rules:
        if not (set(_strings(rule.get("verbs"))) & {verb, "*"}):
            continue
        if not (set(_strings(rule.get("apiGroups"))) & {group, "*"}):
            continue
        if not (set(_strings(rule.get("resources"))) & {resource, "*"}):
            continue
        names = _strings(rule.get("resourceNames"))
        if names and (name is None or name not in names):
            continue
        return True
    return False


# ---------------------------------------------------------------------------------------------
# Idle power (issue 23.7): ServiceAccounts bound to sensitive permissions that nothing uses
# ---------------------------------------------------------------------------------------------

READ_VERBS = ("get", "list", "watch")
#: (verbs, group, resources, what it gives): the permissions a ServiceAccount token must not hold
#: unless a workload needs them (RBAC good practices, "privilege escalation risks").
SENSITIVE = (
    (READ_VERBS, "", ("secrets",), "reads Secrets"),
    (("escalate", "bind"), "rbac.authorization.k8s.io", ("roles", "clusterroles"), "escalates through RBAC"),
    (("impersonate",), "", ("users", "groups", "serviceaccounts"), "impersonates"),
    (("impersonate",), "authentication.k8s.io", ("uids", "userextras"), "impersonates"),
    (("create",), "", ("serviceaccounts/token",), "mints ServiceAccount tokens"),
)


def sensitive_grants(rules: Any) -> list[str]:
    """What of *rules* is sensitive: a wildcard verb or resource, or one of :data:`SENSITIVE`
    (a Secret read limited by resourceNames is not)."""
    out = []
    for i, rule in enumerate(rules if isinstance(rules, list) else []):
        if not isinstance(rule, Mapping):
            continue
        verbs, groups = _strings(rule.get("verbs")), _strings(rule.get("apiGroups"))
        resources, names = _strings(rule.get("resources")), _strings(rule.get("resourceNames"))
        if "*" in verbs or "*" in resources:
            out.append(f"rules[{i}] uses a wildcard")
            continue
        for want, group, targets, what in SENSITIVE:
            if not (set(verbs) & set(want)) or not ("*" in groups or group in groups):
                continue
            if any(r in targets for r in resources) and not (what == "reads Secrets" and names):
                out.append(f"rules[{i}] {what}")
    return out


def pod_specs(obj: Any) -> Iterator[Mapping[str, Any]]:
    """Every pod spec embedded in *obj*, found by its shape (a mapping with a ``containers``
    list), whatever the kind: Pods, workload controllers, and workload custom resources."""
    if isinstance(obj, Mapping):
        if isinstance(obj.get("containers"), list):
            yield obj
            return
        for value in obj.values():
            yield from pod_specs(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from pod_specs(value)


def service_account_refs(obj: Any, namespace: Optional[str]) -> Iterator[tuple[str, str]]:
    """``(namespace, name)`` of every ``serviceAccountRef``/``serviceAccount`` reference an object
    makes for a controller to request a token at run time (External Secrets' Kubernetes and Vault
    auth, ...): ``{name, namespace?}`` under such a key."""
    if isinstance(obj, Mapping):
        for key, value in obj.items():
            if key in ("serviceAccountRef", "serviceAccount") and isinstance(value, Mapping) and isinstance(
                    value.get("name"), str):
                yield (value.get("namespace") or namespace or "", value["name"])
            else:
                yield from service_account_refs(value, namespace)
    elif isinstance(obj, list):
        for value in obj:
            yield from service_account_refs(value, namespace)


def idle_powers(objects: Iterable[Mapping[str, Any]], runtime_users: Iterable[str] = ()) -> list[tuple[dict, str]]:
    """``(ServiceAccount, why)`` for each ServiceAccount of *objects* that is bound to a sensitive
    permission while nothing in *objects* uses it: no pod spec runs as it, no object references it
    for a token request, and *runtime_users* (``namespace/name``) does not list it.

    Partial inputs: only ServiceAccounts defined in *objects*, only in namespaces whose workloads
    are in *objects* (at least one pod spec there), and only through roles defined in *objects*."""
    index = IdlePowers()
    for o in objects:
        index.add(o)
    return index.findings(runtime_users)


BINDING_KINDS = ("RoleBinding", "ClusterRoleBinding")


class IdlePowers:
    """:func:`idle_powers` one object at a time: of each object it keeps only what the verdict
    reads (the ServiceAccounts, each role's sensitive grants, the bindings that name a
    ServiceAccount, and which accounts are used in which namespaces), so that a stack policy can
    read a stack of 100,000 objects once without holding a copy of it."""

    def __init__(self) -> None:
        self.accounts: dict[tuple[str, str], Mapping[str, Any]] = {}
        self.used: set[tuple[str, str]] = set()
        self.workload_namespaces: set[str] = set()
        self.grants: dict[tuple, list[str]] = {}
        self.bindings: list[Mapping[str, Any]] = []

    def add(self, o: Any) -> None:
        if not isinstance(o, Mapping):
            return
        kind = o.get("kind")
        if kind == "ServiceAccount":
            self.accounts[((o.get("metadata") or {}).get("namespace") or "",
                           (o.get("metadata") or {}).get("name") or "")] = o
        ns = (o.get("metadata") or {}).get("namespace") or ""
        for spec in pod_specs(o.get("spec")):
            self.workload_namespaces.add(ns)
            self.used.add((ns, spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"))
        if kind not in ("ServiceAccount", "RoleBinding", "ClusterRoleBinding"):
            self.used.update(service_account_refs(o.get("spec"), ns))
        if kind in ("Role", "ClusterRole"):
            m = o.get("metadata") or {}
            self.grants[(o["kind"], m.get("namespace") or "" if o["kind"] == "Role" else "", m.get("name"))] = \
                sensitive_grants(o.get("rules"))
        if kind in BINDING_KINDS and _may_bind_an_account(o):
            self.bindings.append(o)

    def findings(self, runtime_users: Iterable[str] = ()) -> list[tuple[dict, str]]:
        used = self.used | {tuple(u.split("/", 1)) for u in runtime_users if "/" in u}
        out = []
        seen = set()
        for b in self.bindings:
            bns = (b.get("metadata") or {}).get("namespace") or ""
            ref = b.get("roleRef") or {}
            kind = ref.get("kind") or "ClusterRole"
            grants = self.grants.get((kind, bns if kind == "Role" else "", ref.get("name")))
            if not grants:  # no role defined in the objects, or nothing sensitive in it
                continue
            for s in b.get("subjects") or []:
                if not isinstance(s, Mapping) or s.get("kind") != "ServiceAccount":
                    continue
                key = (s.get("namespace") or bns, s.get("name") or "")
                if key not in self.accounts or key in used or key[0] not in self.workload_namespaces or key in seen:
                    continue
                seen.add(key)
                out.append((self.accounts[key],
                            f"{b['kind']} {((bns + '/') if bns else '')}{(b.get('metadata') or {}).get('name')} "
                            f"binds it to {kind} {ref.get('name')}, which {'; '.join(grants)}"))
        return out


def _may_bind_an_account(binding: Mapping[str, Any]) -> bool:
    """Whether a binding names a ServiceAccount (one whose subjects cannot be read is kept, so that
    :meth:`IdlePowers.findings` meets what it would have met)."""
    try:
        ref = binding.get("roleRef") or {}
        ref.get("kind"), ref.get("name")
        return any(isinstance(s, Mapping) and s.get("kind") == "ServiceAccount" for s in binding.get("subjects") or [])
    except Exception:  # noqa: BLE001
        return True
