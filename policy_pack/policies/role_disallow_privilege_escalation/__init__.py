"""role-disallow-privilege-escalation: no Role or ClusterRole grants a way around RBAC itself.

Kubernetes stops a subject from granting permissions it does not hold, except through three verbs
made for that: ``escalate`` on roles/clusterroles (edit a role to hold anything), ``bind`` on
roles/clusterroles (bind any role, cluster-admin included) and ``impersonate`` on users, groups,
serviceaccounts, uids or userextras (act as anyone). A rule grants a verb when its ``verbs`` hold
it or ``*``, on a resource named or ``*``, in an API group named or ``*``. ``bind`` limited by
``resourceNames`` to named roles is the documented way to delegate those roles, and is allowed;
``escalate`` and ``impersonate`` are refused even for named objects.

A ClusterRole labelled ``rbac.authorization.k8s.io/aggregate-to-{admin,edit,view,cluster-admin}:
"true"`` has its rules copied into that built-in role, and so into every binding of it (``view`` is
often bound cluster-wide). Aggregating a CRD's own resources is the intended use; aggregating a
sensitive permission (:func:`sensitive`) is refused.

Kubernetes' own bootstrap aggregate roles (``system:aggregate-to-admin``, ``-edit``, ``-view``)
keep what Kubernetes itself grants them (:data:`BOOTSTRAP_GRANTS`: edit impersonates
ServiceAccounts and reads Secrets, admin writes Roles and RoleBindings); anything more in them is
judged like any other rule.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Iterator, Optional

from pulumi_policy import Severity

from .._lib.framework import finding, nist_800_171, resource_policy
from .._lib.k8s import get_map, maps, strings

RBAC = "rbac.authorization.k8s.io"
AUTHN = "authentication.k8s.io"
WRITE_VERBS = ("create", "update", "patch", "delete", "deletecollection")
READ_VERBS = ("get", "list", "watch")
AGGREGATE_PREFIX = "rbac.authorization.k8s.io/aggregate-to-"
BUILT_IN_TARGETS = ("admin", "edit", "view", "cluster-admin")

#: (verb, API group, resources) that bypass RBAC's escalation check.
ESCALATIONS = (
    ("escalate", RBAC, ("roles", "clusterroles")),
    ("bind", RBAC, ("roles", "clusterroles")),
    ("impersonate", "", ("users", "groups", "serviceaccounts")),
    ("impersonate", AUTHN, ("uids", "userextras")),
)


class Rule:
    """One PolicyRule, read once."""

    def __init__(self, rule: Mapping, path: str):
        self.path = path
        self.verbs = strings(rule, "verbs", path)
        self.groups = strings(rule, "apiGroups", path)
        self.resources = strings(rule, "resources", path)
        self.names = strings(rule, "resourceNames", path)

    def has_verb(self, *verbs: str) -> list[str]:
        return [v for v in self.verbs if v == "*" or v in verbs]

    def in_group(self, group: str) -> bool:
        return "*" in self.groups or group in self.groups

    def on(self, *resources: str) -> list[str]:
        """The rule's resources that name one of *resources* (subresources of them count:
        ``userextras/scopes``), or a wildcard."""
        out = []
        for r in self.resources:
            base = r.split("/", 1)[0]
            if r == "*" or base == "*" or base in resources:
                out.append(r)
        return out

    def grants(self, verbs, group: str, resources) -> tuple[list[str], list[str]]:
        """The verbs and resources of this rule that grant one of *verbs* on *resources*."""
        if not self.in_group(group):
            return [], []
        v, r = self.has_verb(*verbs), self.on(*resources)
        return (v, r) if v and r else ([], [])


def rules(obj) -> Iterator[Rule]:
    for _, rule, path in maps(obj.props, "rules", ""):
        yield Rule(rule, path)


def escalations(rule: Rule) -> Iterator[tuple[str, str]]:
    """``(verb, what the rule grants)`` for every escalating verb the rule grants."""
    for verb, group, resources in ESCALATIONS:
        verbs, res = rule.grants((verb,), group, resources)
        if not verbs:
            continue
        if verb == "bind" and rule.names and "*" not in verbs:
            continue  # bind on named roles only: the documented delegation
        yield verb, (f"{rule.path} grants {verb!r} on {', '.join(res)}"
                     + (f" (verbs {', '.join(verbs)})" if verbs != [verb] else ""))


#: Sensitive permissions a ClusterRole must not aggregate into a built-in role:
#: (verbs, API group, resources, what it gives).
SENSITIVE = (
    (READ_VERBS + WRITE_VERBS, "", ("secrets",), "every Secret of the namespaces (or the cluster) the role is bound in"),
    (WRITE_VERBS + ("escalate", "bind"), RBAC, ("roles", "clusterroles", "rolebindings", "clusterrolebindings"),
     "writing RBAC"),
    (("create",), "", ("serviceaccounts/token",), "minting any ServiceAccount's token"),
    (("get", "create", "update", "patch") + WRITE_VERBS, "", ("nodes/proxy",), "the kubelet API of every node"),
    (WRITE_VERBS, "", ("nodes",), "changing nodes"),
    (("create", "update", "patch"), "", ("endpoints",),
     "pointing any Service at any address (CVE-2021-25740; Kubernetes removed it from edit)"),
    (("create", "update", "patch"), "discovery.k8s.io", ("endpointslices",),
     "pointing any Service at any address (CVE-2021-25740)"),
    (WRITE_VERBS, "admissionregistration.k8s.io",
     ("mutatingwebhookconfigurations", "validatingwebhookconfigurations", "validatingadmissionpolicies",
      "validatingadmissionpolicybindings"), "changing admission control"),
    (("update", "patch", "approve"), "certificates.k8s.io",
     ("certificatesigningrequests/approval", "signers"), "approving client certificates"),
)


#: What Kubernetes' bootstrap policy itself grants its aggregate roles: (verb, resource) pairs.
_EDIT = {("impersonate", "serviceaccounts")} | {(v, "secrets") for v in READ_VERBS + WRITE_VERBS}
_ADMIN = {(v, r) for v in WRITE_VERBS for r in ("roles", "rolebindings")}
BOOTSTRAP_GRANTS = {"system:aggregate-to-edit": _EDIT, "system:aggregate-to-admin": _ADMIN,
                    "system:aggregate-to-view": set()}


def beyond_bootstrap(obj, rule: Rule) -> Optional[Rule]:
    """*rule* minus what Kubernetes grants the bootstrap role *obj* itself (None: nothing is left).
    A rule of any other role is returned unchanged."""
    allowed = BOOTSTRAP_GRANTS.get(obj.name) if obj.kind == "ClusterRole" else None
    if allowed is None or "*" in rule.verbs or "*" in rule.groups:
        return rule
    extra = [r for r in rule.resources if not all((v, r) in allowed for v in rule.verbs)]
    if not extra:
        return None
    rest = copy.copy(rule)
    rest.resources = extra
    return rest


def sensitive(rule: Rule) -> Iterator[str]:
    if "*" in rule.verbs or "*" in rule.resources or "*" in rule.groups:
        yield f"{rule.path} uses a wildcard"
    for verbs, group, resources, what in SENSITIVE:
        v, r = rule.grants(verbs, group, resources)
        if v and "*" not in rule.resources:
            yield f"{rule.path} grants {', '.join(v)} on {', '.join(r)} ({what})"


def aggregation_targets(obj) -> list[str]:
    labels = obj.labels()
    out = []
    for key in sorted(labels, key=str):
        if isinstance(key, str) and key.startswith(AGGREGATE_PREFIX) and str(labels.get(key)).lower() == "true":
            out.append(key[len(AGGREGATE_PREFIX):])
    return out


def judged_rules(obj) -> Iterator[Rule]:
    """The rules of *obj*, less what Kubernetes' bootstrap policy grants it."""
    for rule in rules(obj):
        rest = beyond_bootstrap(obj, rule)
        if rest is not None:
            yield rest


def check(obj, config):
    for rule in judged_rules(obj):
        for verb, found in escalations(rule):
            yield finding(f"grants-{verb}", f"the {obj.kind} lets its subjects escalate: {found}; RBAC's own check "
                          "stops a subject from granting what it does not hold, except through escalate, bind and "
                          "impersonate. Remove the verb (bind only named roles with resourceNames)")
    if obj.kind != "ClusterRole":
        return
    targets = aggregation_targets(obj)
    if not targets:
        return
    found = [f for rule in judged_rules(obj) for f in sensitive(rule)]
    if found:
        into = ", ".join(targets)
        yield finding("aggregates-sensitive-into-built-in",
                      f"the ClusterRole aggregates into the built-in role(s) {into} (label {AGGREGATE_PREFIX}<role>) "
                      f"while granting {'; '.join(found)}; every subject bound to {into} would get it. Aggregate only "
                      "the resources of your own API group, or bind a dedicated role")


POLICY = resource_policy(
    name="role-disallow-privilege-escalation",
    description="Roles and ClusterRoles must not grant escalate, bind or impersonate, nor aggregate sensitive "
                "permissions into the built-in admin, edit, view or cluster-admin roles.",
    kinds=[(RBAC, "Role"), (RBAC, "ClusterRole")],
    severity=Severity.CRITICAL,
    control=nist_800_171("3.1.7"),
    tags=["nist800-171:3.1.5", "cmmc:AC.L2-3.1.7", "cmmc:AC.L2-3.1.5", "iec62443:SR 2.1", "nist800-207:tenet-6",
          "cis-k8s:5.1.8"],
    remediation="""
Remove `escalate`, `bind` and `impersonate` (and `*`) from rules on roles, clusterroles, users, groups,
serviceaccounts, uids and userextras; to let a subject bind one fixed role, grant `bind` with
`resourceNames: [<role>]`. A ClusterRole labelled rbac.authorization.k8s.io/aggregate-to-<role> must
grant only the resources of its own API group: move Secrets, RBAC writes, tokens, nodes/proxy and
admission objects to a dedicated role bound to the subjects that need them.""",
    check=check,
)
