"""role-disallow-wildcards: no Role or ClusterRole grants ``*`` verbs, resources or API groups.

A wildcard grants everything that exists today and everything a CRD adds tomorrow; least
privilege names each verb, resource and group.
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.k8s import maps, strings

RBAC = "rbac.authorization.k8s.io"


def _wild(field: str, item: str) -> bool:
    if field == "resources":
        return item == "*" or item.startswith("*/")
    return item == "*"


def check(obj, config):
    for _, rule, path in maps(obj.props, "rules", ""):
        for field in ("verbs", "resources", "apiGroups", "nonResourceURLs"):
            wild = [item for item in strings(rule, field, path) if _wild(field, item)]
            if wild:
                yield (f"the {obj.kind} grants {', '.join(repr(w) for w in wild)} in {path}.{field}; "
                       f"list the exact {field} the subject needs")


POLICY = resource_policy(
    name="role-disallow-wildcards",
    description="Roles and ClusterRoles must not use '*' in verbs, resources or apiGroups.",
    kinds=[(RBAC, "Role"), (RBAC, "ClusterRole")],
    severity=Severity.HIGH,
    control=nist_800_171("3.1.5"),
    tags=["cmmc:AC.L2-3.1.5", "iec62443:SR 2.1", "nist800-207:tenet-6", "cis-k8s:5.1.3"],
    remediation="""
Replace each '*' with the exact verbs (get, list, watch, ...), resources and apiGroups the
subject needs; audit logs (or `kubectl auth can-i --list`) show what it actually uses.""",
    check=check,
)
