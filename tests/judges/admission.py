"""Self-admission: what the stack's own Gatekeeper would do with every object the stack deploys.

The judge reads everything from one render (no component code): the ConstraintTemplates (their
Rego, compiled with regopy), the Constraints (match, parameters, enforcementAction), Gatekeeper's
``Config`` (process exclusions), the ``ValidatingWebhookConfiguration`` that routes requests to
Gatekeeper (rules, namespaceSelector, objectSelector, failurePolicy), the controller manager's
``--exempt-namespace`` flags, the Namespaces (their labels) and LimitRanges. It then plays the API
server and Gatekeeper for a CREATE of every object, and of every object a controller creates from
a deployed workload.

Semantics, each from Gatekeeper's source (open-policy-agent/gatekeeper, master of 2026-08):

- ``pkg/mutation/match/match.go`` ``Matches``: a constraint applies when *all* of kinds, scope,
  namespaces, excludedNamespaces, labelSelector, namespaceSelector, name and source match; an
  unset criterion matches everything. ``kindsMatch``: some ``kinds[]`` entry whose ``kinds`` is
  empty, holds ``*`` or the kind, *and* whose ``apiGroups`` is empty, holds ``*`` or the group.
  ``namespacesMatch`` / ``excludedNamespacesMatch``: a Namespace object is judged by its own
  name, other objects by their namespace; a cluster-scoped object is never disqualified by either
  list. ``namespaceSelectorMatch``: cluster-scoped objects (not Namespaces) always match, a
  Namespace is matched by its own labels, anything else by its Namespace's labels.
  ``scopeMatch``: ``Cluster`` = Namespaces and cluster-scoped objects, ``Namespaced`` = the rest,
  anything else (including typos) matches all. ``sourceMatch``: empty means ``All``.
- ``pkg/wildcard/wildcard.go`` ``Wildcard.Matches``: a pattern is a glob only at its ends:
  ``kube-*`` is a prefix, ``*-system`` a suffix, ``*sys*`` a substring, anything else exact.
- ``pkg/controller/config/process/excluder.go``: ``Config.spec.match[]`` excludes namespaces (the
  same wildcards) per process; ``*`` means audit, webhook, mutation-webhook and sync. A Namespace
  object is judged by its own name.
- ``pkg/webhook/policy.go`` ``Handle``: a request from Gatekeeper's own service account is
  allowed ("Gatekeeper does not self-manage"), then a namespace excluded for the ``webhook``
  process is allowed, then every matching constraint is evaluated; a result counts as a denial
  when its enforcementAction is ``deny`` (``dryrun`` only logs, ``warn`` only warns); ``scoped``
  denies when ``scopedEnforcementActions`` holds ``deny`` for the enforcement point
  ``validation.gatekeeper.sh`` or ``*`` (``pkg/util/enforcement_action.go``). An absent
  enforcementAction is ``deny`` (the Constraint CRD's default).
- ``pkg/webhook/namespacelabel.go``: the ``check-ignore-label.gatekeeper.sh`` webhook refuses a
  Namespace that carries ``admission.gatekeeper.sh/ignore`` unless the controller manager runs
  with ``--exempt-namespace`` (or ``-prefix``/``-suffix``) for it.
- ``pkg/target/target.go`` / ``review.go``: the Rego sees ``input.review`` (the AdmissionRequest:
  kind, name, namespace, operation, object) and ``input.parameters`` (the constraint's
  ``spec.parameters``), and the ``violation`` rule of the template's package.

The API server's side (Kubernetes admissionregistration/v1): a webhook sees a request only when
one of its ``rules`` covers the operation, group and resource, its ``namespaceSelector`` selects
the object's Namespace (a Namespace object by its own labels; cluster-scoped objects always) and
its ``objectSelector`` the object's labels. The API server labels every Namespace with
``kubernetes.io/metadata.name``, so the judge adds it. Before validating webhooks run, the
built-in ``LimitRanger`` admission plugin fills a Pod container's missing requests and limits
from its namespace's LimitRange ``defaultRequest``/``default`` (kubernetes
``plugin/pkg/admission/limitranger``), after the API server's own defaulting of a Pod (a limit
without a request requests the limit: ``SetDefaults_Pod``): the judge applies both to every Pod
it reviews, deployed or derived.

The judge's rule for controllers (Gatekeeper's own ``ExpansionTemplate`` expansion is optional
and not what decides whether a pod runs): a Deployment creates a ReplicaSet, a CronJob a Job,
and a ReplicaSet, StatefulSet, DaemonSet or Job creates Pods from its template (the template's
metadata and spec, in the workload's namespace, kind Pod, an ownerReference to the controller).
Each of those is a real CREATE the webhook reviews, so each is judged; a workload whose pods
would be refused never runs even when the workload itself is admitted. The requester
(``input.review.userInfo.username``) is the deployer for what the stack deploys and, for what a
controller creates, that controller's ServiceAccount in kube-system (kube-controller-manager runs
each controller with its own credentials: Kubernetes' RBAC bootstrap ``controller_policy.go``);
the constraints' named exemptions trust an owner reference only from those. Mutating webhooks other
than LimitRanger (Istio's sidecar injector, Gatekeeper mutation) are not played: the render
holds no Gatekeeper mutators, and the injected sidecar is judged by tests/admission/test_rego.py.

``failurePolicy``: it decides what happens when Gatekeeper cannot answer, not what it denies
when it can; so every denial counts whatever the policy. With ``Fail`` the webhook must not
select the namespace of its own service (else, once Gatekeeper is down, its own pods can never
be recreated: the cluster deadlocks); the judge reports that as a denial of the webhook's pods.
"""
from __future__ import annotations

import copy
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional

#: The AdmissionRequest operation the judge plays (Pulumi creates every object).
CREATE = "CREATE"
GATEKEEPER_VALIDATING_WEBHOOK = "validation.gatekeeper.sh"
GATEKEEPER_LABEL_WEBHOOK = "check-ignore-label.gatekeeper.sh"
IGNORE_LABEL = "admission.gatekeeper.sh/ignore"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
TEMPLATE_GROUP = "templates.gatekeeper.sh"
CONSTRAINT_GROUP = "constraints.gatekeeper.sh"
CONFIG_GROUP = "config.gatekeeper.sh"
ADMISSION_TARGET = "admission.k8s.gatekeeper.sh"
#: Gatekeeper's processes (excluder.go); ``*`` stands for all of them.
PROCESSES = ("audit", "webhook", "mutation-webhook", "sync")
#: Kinds whose controller creates pods (or another controller) from a template.
CONTROLLERS = {("apps", "Deployment"), ("apps", "ReplicaSet"), ("apps", "StatefulSet"), ("apps", "DaemonSet"),
               ("batch", "Job"), ("batch", "CronJob")}


# ---------------------------------------------------------------------------------------------
# Small helpers: group/kind, names, label selectors, Gatekeeper wildcards
# ---------------------------------------------------------------------------------------------

def group_kind(obj: Mapping[str, Any]) -> tuple[str, str]:
    api = str(obj.get("apiVersion") or "")
    group = api.split("/", 1)[0] if "/" in api else ""
    return group, str(obj.get("kind") or "")


def meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def describe(obj: Mapping[str, Any]) -> str:
    """``Kind namespace/name`` (``Kind name`` when cluster-scoped)."""
    m = meta(obj)
    name = m.get("name") or (str(m.get("generateName", "")) + "*")
    return f"{obj.get('kind')} {m['namespace']}/{name}" if m.get("namespace") else f"{obj.get('kind')} {name}"


def is_namespace(obj: Mapping[str, Any]) -> bool:
    """match.go ``IsNamespace``: kind Namespace of the core group."""
    return group_kind(obj) == ("", "Namespace")


def wildcard_matches(pattern: str, candidate: str) -> bool:
    """Gatekeeper's ``Wildcard.Matches`` (pkg/wildcard/wildcard.go): a ``*`` counts only at the
    start and/or the end of the pattern."""
    if pattern.startswith("*") and pattern.endswith("*") and len(pattern) >= 2:
        return pattern[1:-1] in candidate
    if pattern.startswith("*"):
        return candidate.endswith(pattern[1:])
    if pattern.endswith("*"):
        return candidate.startswith(pattern[:-1])
    return pattern == candidate


class SelectorError(ValueError):
    """A label selector Kubernetes would refuse (unknown operator, values where none belong)."""


def selector_matches(selector: Optional[Mapping[str, Any]], labels: Mapping[str, str]) -> bool:
    """``metav1.LabelSelectorAsSelector(selector).Matches(labels)``: ``matchLabels`` and every
    ``matchExpressions`` entry must hold (AND); ``In``/``NotIn`` with values, ``Exists`` /
    ``DoesNotExist`` without; ``NotIn`` holds when the key is absent. An empty selector matches
    everything (a nil one is handled by the callers: it means "not set")."""
    labels = labels or {}
    for key, value in ((selector or {}).get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in (selector or {}).get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In":
            if not values:
                raise SelectorError(f"operator In on {key!r} needs values")
            if key not in labels or labels[key] not in values:
                return False
        elif op == "NotIn":
            if not values:
                raise SelectorError(f"operator NotIn on {key!r} needs values")
            if key in labels and labels[key] in values:
                return False
        elif op == "Exists":
            if values:
                raise SelectorError(f"operator Exists on {key!r} takes no values")
            if key not in labels:
                return False
        elif op == "DoesNotExist":
            if values:
                raise SelectorError(f"operator DoesNotExist on {key!r} takes no values")
            if key in labels:
                return False
        else:
            raise SelectorError(f"unknown label selector operator {op!r}")
    return True


# ---------------------------------------------------------------------------------------------
# Constraint match (pkg/mutation/match/match.go)
# ---------------------------------------------------------------------------------------------

def _object_namespace(obj: Mapping[str, Any], namespace: Optional[Mapping[str, Any]]) -> Optional[str]:
    if is_namespace(obj):
        return meta(obj).get("name")
    if namespace is not None:
        return meta(namespace).get("name")
    return meta(obj).get("namespace") or None


def constraint_matches(match: Optional[Mapping[str, Any]], obj: Mapping[str, Any],
                       namespace: Optional[Mapping[str, Any]] = None, source: str = "Original") -> bool:
    """Whether a constraint's ``spec.match`` selects *obj* (its Namespace object in *namespace*,
    None for cluster-scoped objects): Gatekeeper's ``Matches``, every criterion ANDed."""
    if not match:
        return True
    group, kind = group_kind(obj)
    kinds = match.get("kinds") or []
    if kinds and not any(
            (not k.get("kinds") or "*" in k["kinds"] or kind in k["kinds"])
            and (not k.get("apiGroups") or "*" in k["apiGroups"] or group in k["apiGroups"]) for k in kinds):
        return False
    has_namespace = bool(meta(obj).get("namespace")) or namespace is not None
    scope = match.get("scope")
    if scope == "Cluster" and not (is_namespace(obj) or not has_namespace):
        return False
    if scope == "Namespaced" and not (not is_namespace(obj) and has_namespace):
        return False
    ns_name = _object_namespace(obj, namespace)
    if match.get("namespaces") and ns_name is not None:
        if not any(wildcard_matches(p, ns_name) for p in match["namespaces"]):
            return False
    if match.get("excludedNamespaces") and ns_name is not None:
        if any(wildcard_matches(p, ns_name) for p in match["excludedNamespaces"]):
            return False
    if match.get("labelSelector") is not None:
        if not selector_matches(match["labelSelector"], meta(obj).get("labels") or {}):
            return False
    if match.get("namespaceSelector") is not None:
        if is_namespace(obj):
            if not selector_matches(match["namespaceSelector"], meta(obj).get("labels") or {}):
                return False
        elif has_namespace:
            if namespace is None:  # Gatekeeper errors ("missing Namespace"); Cluster always knows
                return True           # the namespace, so judge it rather than skip it
            if not selector_matches(match["namespaceSelector"], meta(namespace).get("labels") or {}):
                return False
    name = match.get("name")
    if name:
        m = meta(obj)
        generate = str(m.get("generateName") or "")
        by_generate = ((name.startswith("*") and name.endswith("*") and name[1:-1] in generate)
                       or (name.endswith("*") and not name.startswith("*") and generate.startswith(name[:-1])))
        if not (wildcard_matches(name, str(m.get("name") or "")) or by_generate):
            return False
    wanted = match.get("source") or "All"
    return wanted == "All" or wanted == source


def enforcement_denies(spec: Mapping[str, Any], point: str = GATEKEEPER_VALIDATING_WEBHOOK) -> bool:
    """Whether a violation of a constraint with this spec refuses the request at *point*."""
    action = spec.get("enforcementAction") or "deny"
    if action == "deny":
        return True
    if action == "scoped":
        for scoped in spec.get("scopedEnforcementActions") or []:
            points = {p.get("name") for p in scoped.get("enforcementPoints") or []}
            if scoped.get("action") == "deny" and (point in points or "*" in points):
                return True
    return False  # dryrun, warn, or an unrecognised action Gatekeeper refuses to act on


# ---------------------------------------------------------------------------------------------
# Webhook selection by the API server (admissionregistration/v1)
# ---------------------------------------------------------------------------------------------

_IRREGULAR_PLURALS = {"Endpoints": "endpoints", "NetworkPolicy": "networkpolicies", "Ingress": "ingresses",
                      "PodSecurityPolicy": "podsecuritypolicies"}


def resource_of(kind: str) -> str:
    """The REST resource of a kind, as discovery names it (lowercase plural)."""
    if kind in _IRREGULAR_PLURALS:
        return _IRREGULAR_PLURALS[kind]
    low = kind.lower()
    if low.endswith("y") and low[-2:-1] not in "aeiou":
        return low[:-1] + "ies"
    if low.endswith(("s", "x", "ch", "sh")):
        return low + "es"
    return low + "s"


def rule_covers(rule: Mapping[str, Any], obj: Mapping[str, Any], operation: str, cluster_scoped: bool) -> bool:
    group, kind = group_kind(obj)
    version = str(obj.get("apiVersion") or "").rsplit("/", 1)[-1]
    ops = rule.get("operations") or []
    if "*" not in ops and operation not in ops:
        return False
    if "*" not in (rule.get("apiGroups") or []) and group not in (rule.get("apiGroups") or []):
        return False
    if "*" not in (rule.get("apiVersions") or []) and version not in (rule.get("apiVersions") or []):
        return False
    resources = rule.get("resources") or []
    resource = resource_of(kind)
    if "*" not in resources and "*/*" not in resources and resource not in resources:
        return False
    scope = rule.get("scope") or "*"
    return scope == "*" or (scope == "Cluster") == cluster_scoped


def webhook_selects(webhook: Mapping[str, Any], obj: Mapping[str, Any], namespace: Optional[Mapping[str, Any]],
                    operation: str = CREATE) -> bool:
    """Whether the API server sends this request to *webhook*."""
    cluster_scoped = not meta(obj).get("namespace")
    if not any(rule_covers(r, obj, operation, cluster_scoped) for r in webhook.get("rules") or []):
        return False
    if webhook.get("namespaceSelector") is not None:
        if is_namespace(obj):
            labels = meta(obj).get("labels") or {}
        elif not cluster_scoped:
            labels = meta(namespace).get("labels") or {} if namespace is not None else {}
        else:
            labels = None  # cluster-scoped objects are never filtered by namespaceSelector
        if labels is not None and not selector_matches(webhook["namespaceSelector"], labels):
            return False
    if webhook.get("objectSelector") is not None:
        if not selector_matches(webhook["objectSelector"], meta(obj).get("labels") or {}):
            return False
    return True


# ---------------------------------------------------------------------------------------------
# Templates: the Rego of every ConstraintTemplate, compiled once with regopy
# ---------------------------------------------------------------------------------------------

class TemplateError(Exception):
    """A ConstraintTemplate whose code the judge cannot evaluate (and Gatekeeper would not run)."""


_PACKAGE = re.compile(r"^\s*package\s+([\w.]+)", re.M)


@dataclass
class Template:
    """One ConstraintTemplate's admission target, compiled."""

    name: str
    kind: str            # the constraint kind it defines
    package: str
    _interpreter: Any = field(repr=False, default=None)
    _bundle: Any = field(repr=False, default=None)

    @classmethod
    def from_object(cls, obj: Mapping[str, Any]) -> "Template":
        from regopy import Interpreter

        name = meta(obj).get("name", "")
        spec = obj.get("spec") or {}
        kind = (((spec.get("crd") or {}).get("spec") or {}).get("names") or {}).get("kind")
        if not kind:
            raise TemplateError(f"ConstraintTemplate {name}: spec.crd.spec.names.kind is missing")
        targets = [t for t in spec.get("targets") or [] if t.get("target") == ADMISSION_TARGET]
        if len(targets) != 1:
            raise TemplateError(f"ConstraintTemplate {name}: needs exactly one target {ADMISSION_TARGET}")
        target = targets[0]
        rego_code = [c for c in target.get("code") or [] if c.get("engine") == "Rego"]
        if rego_code:
            source = rego_code[0].get("source") or {}
            if source.get("version") != "v1":
                raise TemplateError(f"ConstraintTemplate {name}: code[engine=Rego] source version "
                                    f"{source.get('version')!r}; the judge evaluates Rego v1 only")
            text, libs = source.get("rego") or "", source.get("libs") or []
        elif target.get("rego"):
            raise TemplateError(f"ConstraintTemplate {name}: only the Rego v0 field targets[].rego is set; "
                                "the judge evaluates Rego v1 (code[].source.version: v1)")
        else:
            raise TemplateError(f"ConstraintTemplate {name}: no Rego code (CEL-only templates are not judged)")
        found = _PACKAGE.search(text)
        if not found:
            raise TemplateError(f"ConstraintTemplate {name}: the Rego has no package")
        interpreter = Interpreter()
        try:
            interpreter.add_module(f"{name}.rego", text)
            for i, lib in enumerate(libs):
                interpreter.add_module(f"{name}-lib{i}.rego", lib)
            bundle = interpreter.build(f"x := data.{found.group(1)}.violation")
        except Exception as e:  # regopy.RegoError: Gatekeeper would refuse the template too
            raise TemplateError(f"ConstraintTemplate {name}: the Rego does not compile: {e}") from None
        return cls(name, kind, found.group(1), interpreter, bundle)

    def violations(self, review: Mapping[str, Any], parameters: Optional[Mapping[str, Any]]) -> list[dict]:
        self._interpreter.set_input({"review": dict(review), "parameters": dict(parameters or {})})
        out = self._interpreter.query_bundle(self._bundle)
        bindings = out.results[0].bindings if out.results else {}
        if "x" not in bindings:
            raise TemplateError(f"ConstraintTemplate {self.name}: data.{self.package}.violation is undefined "
                                f"(a runtime error in the Rego?): {out}")
        return [v if isinstance(v, dict) else {"msg": str(v)} for v in bindings["x"]]


#: Who creates an object a controller derives from its owner: kube-controller-manager's service
#: account for that controller (kubernetes plugin/pkg/auth/authorizer/rbac/bootstrappolicy/
#: controller_policy.go, ``saRolePrefix + "daemon-set-controller"`` ...), keyed by the owner's kind.
CONTROLLER_USERS = {kind: f"system:serviceaccount:kube-system:{sa}" for kind, sa in (
    ("Deployment", "deployment-controller"), ("ReplicaSet", "replicaset-controller"),
    ("StatefulSet", "statefulset-controller"), ("DaemonSet", "daemon-set-controller"),
    ("Job", "job-controller"), ("CronJob", "cronjob-controller"))}
#: Who creates what the stack deploys (the Pulumi engine's credentials).
DEPLOYER = "system:serviceaccount:kube-system:pulumi"


def request_user(obj: Mapping[str, Any], created_by: Optional[str] = None) -> str:
    """The requester of a CREATE of *obj*: the controller of its owner when a controller derives
    it (*created_by* set), else the deployer."""
    if created_by is not None:
        for owner in meta(obj).get("ownerReferences") or []:
            if owner.get("controller") and owner.get("kind") in CONTROLLER_USERS:
                return CONTROLLER_USERS[owner["kind"]]
    return DEPLOYER


def admission_review(obj: Mapping[str, Any], operation: str = CREATE, username: str = DEPLOYER) -> dict:
    """``input.review``: the AdmissionRequest Gatekeeper hands a template."""
    api = str(obj.get("apiVersion") or "v1")
    group, _, version = api.rpartition("/")
    m = meta(obj)
    return {"kind": {"group": group, "version": version, "kind": obj.get("kind")},
            "name": m.get("name", ""), "namespace": m.get("namespace", ""), "operation": operation,
            "object": obj, "oldObject": None,
            "userInfo": {"username": username, "groups": ["system:authenticated"]}}


# ---------------------------------------------------------------------------------------------
# What controllers create (the judge's stated expansion rule; see the module docstring)
# ---------------------------------------------------------------------------------------------

def _hash(obj: Any) -> str:
    return hashlib.sha256(repr(obj).encode()).hexdigest()[:10]


def _owner(obj: Mapping[str, Any]) -> dict:
    return {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "name": meta(obj).get("name"),
            "controller": True, "blockOwnerDeletion": True}


def _from_template(owner: Mapping[str, Any], template: Mapping[str, Any], api_version: str, kind: str,
                   name: str, extra_labels: Mapping[str, str], spec: Any) -> dict:
    tmeta = template.get("metadata") or {}
    labels = {**(tmeta.get("labels") or {}), **extra_labels}
    out_meta: dict[str, Any] = {"name": name, "namespace": meta(owner).get("namespace"), "labels": labels,
                                "ownerReferences": [_owner(owner)]}
    if tmeta.get("annotations"):
        out_meta["annotations"] = dict(tmeta["annotations"])
    return {"apiVersion": api_version, "kind": kind, "metadata": out_meta, "spec": copy.deepcopy(spec)}


def controller_children(obj: Mapping[str, Any]) -> list[dict]:
    """The objects the controller of *obj* creates directly (one of each; a replica count of 0
    still creates the ReplicaSet, and would create pods on scale-up)."""
    gk = group_kind(obj)
    spec = obj.get("spec") or {}
    name = meta(obj).get("name", "")
    if gk == ("apps", "Deployment"):
        tpl = copy.deepcopy(spec.get("template") or {})
        h = _hash(tpl)
        tpl.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = h
        rs_spec = {"replicas": spec.get("replicas", 1), "selector": copy.deepcopy(spec.get("selector")),
                   "template": tpl}
        if isinstance(rs_spec["selector"], dict):
            rs_spec["selector"].setdefault("matchLabels", {})["pod-template-hash"] = h
        return [_from_template(obj, tpl, "apps/v1", "ReplicaSet", f"{name}-{h}", {}, rs_spec)]
    if gk == ("batch", "CronJob"):
        jt = spec.get("jobTemplate") or {}
        return [_from_template(obj, jt, "batch/v1", "Job", f"{name}-29000000", {}, jt.get("spec") or {})]
    if gk in CONTROLLERS:
        tpl = spec.get("template") or {}
        extra = {}
        if gk == ("batch", "Job"):
            extra = {"batch.kubernetes.io/job-name": name, "job-name": name}
        elif gk == ("apps", "StatefulSet"):
            extra = {"statefulset.kubernetes.io/pod-name": f"{name}-0", "apps.kubernetes.io/pod-index": "0"}
        pod_name = f"{name}-0" if gk == ("apps", "StatefulSet") else f"{name}-x7k2p"
        return [_from_template(obj, tpl, "v1", "Pod", pod_name, extra, tpl.get("spec") or {})]
    return []


def apply_pod_defaults(pod: dict) -> dict:
    """The API server's defaulting of a Pod, before any admission plugin (kubernetes
    ``pkg/apis/core/v1/defaults.go``, ``SetDefaults_Pod``): a container (or init container) that
    sets limits but no request for a resource requests its limit. Pods only, not templates."""
    spec = pod.get("spec") or {}
    for c in list(spec.get("containers") or []) + list(spec.get("initContainers") or []):
        res = c.get("resources") or {}
        if res.get("limits"):
            requests = res.setdefault("requests", {})
            for resource, value in res["limits"].items():
                requests.setdefault(resource, value)
    return pod


def _admitted_form(obj: Mapping[str, Any], limit_ranges: Mapping[str, list]) -> Mapping[str, Any]:
    """*obj* as validating webhooks see it: a Pod defaulted by the API server, then by LimitRanger."""
    if obj.get("kind") != "Pod" or obj.get("apiVersion") != "v1":
        return obj
    pod = apply_pod_defaults(copy.deepcopy(dict(obj)))
    return apply_limit_ranges(pod, limit_ranges.get(meta(pod).get("namespace", ""), []))


def apply_limit_ranges(pod: dict, limit_ranges: Iterable[Mapping[str, Any]]) -> dict:
    """The LimitRanger admission plugin's defaults on a Pod (before any validating webhook):
    a container's missing limits from ``default``, missing requests from ``defaultRequest``
    (then, as the API server defaults them, a missing request equals its limit)."""
    for lr in limit_ranges:
        for item in (lr.get("spec") or {}).get("limits") or []:
            if item.get("type") != "Container":
                continue
            for c in list((pod.get("spec") or {}).get("containers") or []) + list(
                    (pod.get("spec") or {}).get("initContainers") or []):
                res = c.setdefault("resources", {})
                for resource, value in (item.get("default") or {}).items():
                    res.setdefault("limits", {}).setdefault(resource, value)
                for resource, value in (item.get("defaultRequest") or {}).items():
                    res.setdefault("requests", {}).setdefault(resource, value)
                for resource, value in (res.get("limits") or {}).items():
                    res.setdefault("requests", {}).setdefault(resource, value)
    return pod


# ---------------------------------------------------------------------------------------------
# The cluster as the render describes it
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Denial:
    """A request the stack's own admission refuses."""

    by: str                     # "<ConstraintKind>/<name>" or the webhook's name
    object: str                 # describe(obj) of the refused request
    message: str
    created_by: Optional[str] = None   # the deployed object whose controller makes this request

    def line(self) -> str:
        via = f" (created by {self.created_by})" if self.created_by else ""
        return f"{self.by} denies {self.object}{via}: {self.message}"


@dataclass
class Verdicts:
    reviewed: int = 0                                 # requests the judge played
    derived: int = 0                                  # of which made by controllers
    denials: list[Denial] = field(default_factory=list)
    warnings: list[Denial] = field(default_factory=list)   # warn/dryrun results: reported, not refused
    audit: list[Denial] = field(default_factory=list)      # what audit would list (any action)
    errors: list[str] = field(default_factory=list)        # templates or constraints Gatekeeper could not use
    judged: int = 0                                   # (request, constraint) pairs evaluated

    def summary(self, limit: int = 300) -> str:
        """One line per denial, sorted; a denial of a controller-made object that repeats its
        deployed object's (same rule, same message after the object's name) is counted, not shown."""
        seen: set[tuple[str, str, str]] = set()
        lines, repeats = [], 0
        for d in sorted(self.denials, key=lambda d: (d.created_by is not None, d.line())):
            key = (d.by, d.created_by or d.object, d.message.split(": ", 1)[-1])
            if key in seen:
                repeats += 1
                continue
            seen.add(key)
            lines.append(d.line())
        lines.sort()
        text = "\n".join(lines[:limit])
        if len(lines) > limit:
            text += f"\n... and {len(lines) - limit} more"
        if repeats:
            text += (f"\n({repeats} more denials repeat these on the ReplicaSets, Jobs and Pods their "
                     "controllers create)")
        return text


class Cluster:
    """Gatekeeper and the API server as the rendered objects configure them."""

    def __init__(self, objects: Iterable[Mapping[str, Any]]):
        self.objects = [o for o in objects if isinstance(o, Mapping) and o.get("kind")]
        self.errors: list[str] = []
        self.namespaces: dict[str, dict] = {}
        self.limit_ranges: dict[str, list[dict]] = {}
        self.templates: dict[str, Template] = {}
        self.constraints: list[dict] = []
        self.excluded: dict[str, list[str]] = {p: [] for p in PROCESSES}
        self.validating: list[dict] = []       # Gatekeeper's validation webhooks
        self.label_webhooks: list[dict] = []   # Gatekeeper's namespace-label webhooks
        self.exempt_namespaces: list[str] = []  # wildcard patterns from --exempt-namespace*
        self.service_accounts: set[str] = set()
        for o in self.objects:
            gk = group_kind(o)
            if gk == ("", "Namespace"):
                ns = copy.deepcopy(dict(o))
                labels = ns.setdefault("metadata", {}).setdefault("labels", {})
                labels.setdefault(NAMESPACE_NAME_LABEL, meta(o).get("name"))
                self.namespaces[meta(o)["name"]] = ns
            elif gk == ("", "LimitRange"):
                self.limit_ranges.setdefault(meta(o).get("namespace", ""), []).append(dict(o))
            elif gk == (TEMPLATE_GROUP, "ConstraintTemplate"):
                try:
                    t = Template.from_object(o)
                    self.templates[t.kind] = t
                except TemplateError as e:
                    self.errors.append(str(e))
            elif gk[0] == CONSTRAINT_GROUP:
                self.constraints.append(dict(o))
            elif gk == (CONFIG_GROUP, "Config"):
                for entry in (o.get("spec") or {}).get("match") or []:
                    processes = entry.get("processes") or []
                    for p in PROCESSES if "*" in processes else processes:
                        self.excluded.setdefault(p, []).extend(entry.get("excludedNamespaces") or [])
            elif gk == ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"):
                for wh in o.get("webhooks") or []:
                    if wh.get("name") == GATEKEEPER_VALIDATING_WEBHOOK:
                        self.validating.append(wh)
                    elif wh.get("name") == GATEKEEPER_LABEL_WEBHOOK:
                        self.label_webhooks.append(wh)
        for o in self.objects:
            if group_kind(o) == ("apps", "Deployment") and self._serves_gatekeeper(o):
                for c in (((o.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []:
                    self.exempt_namespaces.extend(_exempt_flags(c.get("args") or []))
        for c in self.constraints:
            if c["kind"] not in self.templates:
                self.errors.append(f"{c['kind']}/{meta(c).get('name')}: no ConstraintTemplate defines kind "
                                   f"{c['kind']} in the render, so the API server refuses the constraint")

    def _serves_gatekeeper(self, deployment: Mapping[str, Any]) -> bool:
        services = {(wh.get("clientConfig") or {}).get("service", {}).get("namespace")
                    for wh in self.validating + self.label_webhooks}
        args = [a for c in (((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}).get(
            "containers") or [] for a in c.get("args") or []]
        return meta(deployment).get("namespace") in services and any(a.startswith("--operation=webhook") for a in args)

    def namespace_of(self, obj: Mapping[str, Any]) -> Optional[dict]:
        name = meta(obj).get("namespace")
        if not name:
            return None
        return self.namespaces.get(name) or {"apiVersion": "v1", "kind": "Namespace",
                                              "metadata": {"name": name, "labels": {NAMESPACE_NAME_LABEL: name}}}

    def excluded_for(self, process: str, obj: Mapping[str, Any]) -> bool:
        """excluder.go ``IsNamespaceExcluded``."""
        name = meta(obj).get("name") if is_namespace(obj) else meta(obj).get("namespace")
        return bool(name) and any(wildcard_matches(p, name) for p in self.excluded.get(process, []))

    # -- one request ---------------------------------------------------------------------------

    def review(self, obj: Mapping[str, Any], created_by: Optional[str] = None, verdicts: Optional[Verdicts] = None,
               source: str = "Original") -> Verdicts:
        """Play a CREATE of *obj*: the webhooks the API server calls, Gatekeeper's handler."""
        v = verdicts if verdicts is not None else Verdicts()
        if is_namespace(obj):  # the API server labels a Namespace with its name before admission
            obj = copy.deepcopy(dict(obj))
            obj.setdefault("metadata", {}).setdefault("labels", {}).setdefault(NAMESPACE_NAME_LABEL,
                                                                               meta(obj).get("name"))
        v.reviewed += 1
        v.derived += created_by is not None
        namespace = self.namespace_of(obj)
        what = describe(obj)
        # check-ignore-label.gatekeeper.sh (namespacelabel.go)
        if is_namespace(obj) and IGNORE_LABEL in (meta(obj).get("labels") or {}):
            name = meta(obj).get("name", "")
            for wh in self.label_webhooks:
                exempt = any(wildcard_matches(p, name) for p in self.exempt_namespaces)
                if webhook_selects(wh, obj, None) and not exempt:
                    v.denials.append(Denial(GATEKEEPER_LABEL_WEBHOOK, what,
                                            f"Only exempt namespace can have the {IGNORE_LABEL} label "
                                            "(add --exempt-namespace for it to Gatekeeper's controller manager)",
                                            created_by))
        results, matched = self._constraint_results(obj, namespace, source, request_user(obj, created_by))
        v.judged += matched
        webhook_reviews = any(webhook_selects(wh, obj, namespace) for wh in self.validating)
        webhook_excluded = self.excluded_for("webhook", obj)
        audit_excluded = self.excluded_for("audit", obj)
        for constraint, violation in results:
            denial = Denial(f"{constraint['kind']}/{meta(constraint).get('name')}", what,
                            str(violation.get("msg", violation)), created_by)
            if not audit_excluded:
                v.audit.append(denial)
            if not webhook_reviews or webhook_excluded:
                continue
            if enforcement_denies(constraint.get("spec") or {}):
                v.denials.append(denial)
            else:
                v.warnings.append(denial)
        return v

    def _constraint_results(self, obj, namespace, source, username: str = DEPLOYER) -> tuple[list[tuple[dict, dict]], int]:
        out = []
        matched = 0
        review = admission_review(obj, username=username)
        for c in self.constraints:
            template = self.templates.get(c["kind"])
            spec = c.get("spec") or {}
            if template is None:
                continue
            try:
                if not constraint_matches(spec.get("match"), obj, namespace, source):
                    continue
            except SelectorError as e:
                self.errors.append(f"{c['kind']}/{meta(c).get('name')}: spec.match: {e}")
                continue
            matched += 1
            for violation in template.violations(review, spec.get("parameters")):
                out.append((c, violation))
        return out, matched

    # -- the whole render --------------------------------------------------------------------

    def admit_all(self) -> Verdicts:
        """Every deployed object, then (recursively) what controllers create from them."""
        v = Verdicts()
        for obj in self.objects:
            self.review(_admitted_form(obj, self.limit_ranges), None, v)
            self._review_children(obj, describe(obj), v)
        self._failure_policy(v)
        v.errors = list(dict.fromkeys(self.errors))
        return v

    def admit(self, obj: Mapping[str, Any]) -> Verdicts:
        """One deployed object and what its controllers create."""
        v = Verdicts()
        self.review(_admitted_form(obj, self.limit_ranges), None, v)
        self._review_children(obj, describe(obj), v)
        return v

    def _review_children(self, obj, root: str, v: Verdicts) -> None:
        for child in controller_children(obj):
            if child["kind"] == "Pod":
                apply_pod_defaults(child)
                apply_limit_ranges(child, self.limit_ranges.get(meta(child).get("namespace", ""), []))
            self.review(child, root, v)
            self._review_children(child, root, v)

    def _failure_policy(self, v: Verdicts) -> None:
        for wh in self.validating + self.label_webhooks:
            if (wh.get("failurePolicy") or "Fail") != "Fail":
                continue
            service = (wh.get("clientConfig") or {}).get("service") or {}
            ns_name = service.get("namespace")
            if not ns_name:
                continue
            pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"{service.get('name')}-pod",
                                                                   "namespace": ns_name}}
            if webhook_selects(wh, pod, self.namespace_of(pod)):
                v.denials.append(Denial(
                    wh.get("name", "webhook"), f"Pod {ns_name}/*",
                    f"failurePolicy Fail and the webhook selects its own namespace {ns_name}: once its pods are "
                    "gone, nothing can recreate them (exclude the namespace in the webhook's namespaceSelector)"))


def _exempt_flags(args: Iterable[str]) -> list[str]:
    """Gatekeeper's --exempt-namespace[-prefix|-suffix] flags as wildcard patterns."""
    out = []
    for a in args:
        for flag, fmt in (("--exempt-namespace=", "{}"), ("--exempt-namespace-prefix=", "{}*"),
                          ("--exempt-namespace-suffix=", "*{}")):
            if isinstance(a, str) and a.startswith(flag):
                out.append(fmt.format(a[len(flag):]))
    return out


def self_admission(objects: Iterable[Mapping[str, Any]]) -> Verdicts:
    """Play the stack's own admission over every object of a render."""
    return Cluster(objects).admit_all()
