"""rolebinding-disallow-broad-subjects: no RoleBinding or ClusterRoleBinding grants a role to
everyone, to anonymous callers or to the RBAC-exempt superuser group.

Subjects refused:

- ``system:unauthenticated`` (group) and ``system:anonymous`` (user): every request without
  credentials, from wherever the API server is reachable;
- ``system:masters`` (group): members bypass RBAC entirely; a binding to it is meaningless for
  authorization and marks a certificate-based superuser path that must stay out of the stack;
- ``system:authenticated`` and ``system:serviceaccounts`` (groups): every identity the cluster
  accepts (on managed clusters that can include any cloud account) and every ServiceAccount of
  every namespace. Bound in a RoleBinding or a ClusterRoleBinding alike. Kubernetes itself binds
  system:authenticated to the discovery roles (``system:basic-user``, ``system:discovery``,
  ``system:public-info-viewer``); binding those ClusterRoles to it is allowed.

Subjects are judged by name, whatever their ``kind`` (User or Group) says. A narrower group, such
as ``system:serviceaccounts:<namespace>``, is judged by the role it gets, not here.
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import finding, nist_800_171, resource_policy
from .._lib.k8s import get_map, get_str, maps

RBAC = "rbac.authorization.k8s.io"
#: Judged by name whatever the subject's kind says (a Group named system:anonymous is refused like
#: the User: RBAC matches the name).
ANONYMOUS = {"system:unauthenticated": "every unauthenticated request",
             "system:anonymous": "every anonymous request",
             "system:masters": "the group that bypasses RBAC (system:masters)"}
EVERYONE = {"system:authenticated": "every authenticated identity",
            "system:serviceaccounts": "every ServiceAccount of every namespace"}
DISCOVERY_ROLES = ("system:basic-user", "system:discovery", "system:public-info-viewer")


def check(obj, config):
    ref = get_map(obj.props, "roleRef", "")
    role = get_str(ref, "name", "roleRef") or "?"
    role_kind = get_str(ref, "kind", "roleRef") or "ClusterRole"
    for _, subject, path in maps(obj.props, "subjects", ""):
        key = (get_str(subject, "kind", path) or "", (get_str(subject, "name", path) or "").strip())
        if key[0] == "ServiceAccount":
            continue
        who = ANONYMOUS.get(key[1])
        if who is None and key[1] in EVERYONE:
            if role_kind == "ClusterRole" and role in DISCOVERY_ROLES:
                continue
            who = EVERYONE[key[1]]
        if who is None:
            continue
        scope = "across the cluster" if obj.kind == "ClusterRoleBinding" else f"in namespace {obj.namespace or 'default'}"
        yield finding("broad-subject", f"the {obj.kind} grants {role_kind} {role} to {key[0]} {key[1]} ({path}), that is to {who}, "
               f"{scope}; bind the ServiceAccounts, users or groups that need it by name")


POLICY = resource_policy(
    name="rolebinding-disallow-broad-subjects",
    description="RoleBindings and ClusterRoleBindings must not bind anonymous, unauthenticated, all-authenticated, "
                "all-ServiceAccounts or system:masters subjects.",
    kinds=[(RBAC, "RoleBinding"), (RBAC, "ClusterRoleBinding")],
    severity=Severity.CRITICAL,
    control=nist_800_171("3.1.1"),
    tags=["nist800-171:3.1.5", "cmmc:AC.L1-3.1.1", "cmmc:AC.L2-3.1.5", "iec62443:SR 1.1", "iec62443:SR 2.1",
          "nist800-207:tenet-6", "cis-k8s:5.1.1"],
    remediation="""
Replace the group or user subject with the ServiceAccounts (kind: ServiceAccount, name, namespace),
users or named groups that need the role. Anonymous access stays off (--anonymous-auth=false, or
an AuthenticationConfiguration that limits it to health endpoints).""",
    check=check,
)
