"""rolebinding-disallow-cluster-admin: no RoleBinding or ClusterRoleBinding grants cluster-admin.

cluster-admin is every permission on every resource; it belongs to break-glass access, not to a
stack's subjects.
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.k8s import get_map, get_str, maps

RBAC = "rbac.authorization.k8s.io"


def check(obj, config):
    ref = get_map(obj.props, "roleRef", "")
    if get_str(ref, "name", "roleRef") != "cluster-admin":
        return
    subjects = []
    for _, subject, path in maps(obj.props, "subjects", ""):
        subjects.append(f"{get_str(subject, 'kind', path) or '?'} {get_str(subject, 'name', path) or '?'}")
    to = f" to {', '.join(subjects)}" if subjects else ""
    yield (f"the {obj.kind} grants cluster-admin{to} (roleRef.name: cluster-admin); bind a Role or "
           "ClusterRole with only the permissions the subject needs")


POLICY = resource_policy(
    name="rolebinding-disallow-cluster-admin",
    description="RoleBindings and ClusterRoleBindings must not grant cluster-admin.",
    kinds=[(RBAC, "RoleBinding"), (RBAC, "ClusterRoleBinding")],
    severity=Severity.CRITICAL,
    control=nist_800_171("3.1.5"),
    tags=["cmmc:AC.L2-3.1.5", "cmmc:AC.L2-3.1.7", "iec62443:SR 2.1", "nist800-207:tenet-6", "cis-k8s:5.1.1"],
    remediation="""
Bind a purpose-built Role (namespaced) or ClusterRole listing only the verbs and resources the
subject needs. Keep cluster-admin for audited break-glass access outside the stack.""",
    check=check,
)
