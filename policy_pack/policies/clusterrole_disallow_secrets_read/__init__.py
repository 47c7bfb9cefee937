"""clusterrole-disallow-secrets-read: no subject reads the Secrets of every namespace.

Reading a Secret (``get``, ``list``, ``watch``, or ``*``, on ``secrets`` or ``*`` in the core
group, without ``resourceNames``) reads every credential it holds; ``list``/``watch`` read them
all at once. A Role grants that in one namespace; a ClusterRole grants it in every namespace when
a ClusterRoleBinding binds it, and in one namespace when a RoleBinding does.

A stack policy, because the scope is decided by the bindings. Over the analysed set:

- a ClusterRole that reads Secrets is refused when a ClusterRoleBinding binds it, and also when no
  binding in the set references it at all (nothing limits it to a namespace; under ``pulumi
  preview`` the set is the whole stack). It is allowed when it is referenced only by RoleBindings;
- a ClusterRoleBinding to the built-in ``admin`` or ``edit`` ClusterRole (both read Secrets) is
  refused; ``cluster-admin`` has its own policy (rolebinding-disallow-cluster-admin).

Kubernetes' bootstrap role ``system:aggregate-to-edit`` reads Secrets by Kubernetes' own design
(the built-in edit role); its rules that grant only that are not judged.
"""
from __future__ import annotations

from pulumi_policy import Severity
from pulumi_policy.proxy import UnknownValueError

from .._lib.framework import finding, nist_800_171, stack_policy
from .._lib.k8s import Unverifiable, get_map, get_str
from ..role_disallow_privilege_escalation import READ_VERBS, judged_rules

RBAC = "rbac.authorization.k8s.io"
BUILT_IN_SECRET_READERS = ("admin", "edit")


def secret_reads(role) -> list[str]:
    out = []
    for rule in judged_rules(role):
        verbs, resources = rule.grants(READ_VERBS, "", ("secrets",))
        if verbs and not rule.names:
            out.append(f"{rule.path} ({', '.join(verbs)} on {', '.join(resources)})")
    return out


def check(objects, config):
    pending = None
    bound: dict[str, list] = {}
    for binding in objects:
        if binding.kind not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        try:
            ref = get_map(binding.props, "roleRef", "")
            if (get_str(ref, "kind", "roleRef") or "ClusterRole") == "ClusterRole":
                bound.setdefault(get_str(ref, "name", "roleRef") or "", []).append(binding)
        except UnknownValueError as e:
            pending = pending or e
        except Unverifiable:
            continue  # rolebinding-disallow-cluster-admin reports the malformed binding
    roles = {}
    for role in objects:
        if role.kind != "ClusterRole":
            continue
        try:
            name = role.name
            roles[name] = role
            found = secret_reads(role)
        except UnknownValueError as e:
            pending = pending or e
            continue
        except Unverifiable as e:
            yield role, e.message
            continue
        if not found:
            continue
        bindings = bound.get(name, [])
        cluster_wide = sorted(b.name for b in bindings if b.kind == "ClusterRoleBinding")
        if cluster_wide:
            yield role, finding("reader-bound-cluster-wide", f"ClusterRole {name} reads Secrets ({'; '.join(found)}) and ClusterRoleBinding "
                         f"{', '.join(cluster_wide)} binds it cluster-wide, so its subjects read every Secret of "
                         "every namespace; bind it per namespace with RoleBindings, or use a Role with resourceNames")
        elif not bindings:
            yield role, finding("reader-not-namespaced", f"ClusterRole {name} reads Secrets ({'; '.join(found)}) and no RoleBinding limits it to a "
                         "namespace; a ClusterRoleBinding would give it every Secret of every namespace. Use a Role "
                         "in the namespace (with resourceNames), or bind it only with RoleBindings")
    for name in BUILT_IN_SECRET_READERS:
        if name in roles:
            continue
        for b in bound.get(name, []):
            if b.kind == "ClusterRoleBinding":
                yield b, finding("built-in-bound-cluster-wide", f"ClusterRoleBinding {b.name} binds the built-in ClusterRole {name} cluster-wide (roleRef.name), "
                          "which reads and writes every Secret of every namespace; bind it per namespace with "
                          "RoleBindings, or bind a role with only the permissions needed")
    if pending is not None:
        raise pending


POLICY = stack_policy(
    name="clusterrole-disallow-secrets-read",
    description="No ClusterRole that reads Secrets is bound cluster-wide (or left without a namespaced binding), "
                "and the built-in admin and edit roles are not bound cluster-wide.",
    kinds=[(RBAC, "ClusterRole"), (RBAC, "ClusterRoleBinding"), (RBAC, "RoleBinding")],
    severity=Severity.HIGH,
    control=nist_800_171("3.1.5"),
    tags=["cmmc:AC.L2-3.1.5", "nist800-171:3.13.16", "iec62443:SR 2.1", "nist800-207:tenet-6", "cis-k8s:5.1.2"],
    remediation="""
Give the subject a Role in each namespace whose Secrets it needs, with `resourceNames` listing the
Secrets, or bind the ClusterRole with RoleBindings in those namespaces only. Never bind a role that
reads Secrets (including the built-in admin and edit) with a ClusterRoleBinding.""",
    check=check,
)
