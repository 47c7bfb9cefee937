"""role-disallow-wildcards: no Role or ClusterRole grants ``*`` verbs, resources, API groups or
non-resource URLs.

A wildcard grants everything that exists today and everything a CRD adds tomorrow; least
privilege names each verb, resource and group. In ``nonResourceURLs`` a ``*`` is a prefix glob:
``/*`` is every URL the API server serves (``/debug/pprof``, ``/logs``, ...), and any entry with
a ``*`` grants whatever is added under its prefix later, so every glob there is refused: name the
URLs (``/metrics``, ``/healthz``).
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.k8s import maps, strings

RBAC = "rbac.authorization.k8s.io"


def _wild(field: str, item: str) -> bool:
    if field == "resources":
        return item == "*" or item.startswith("*/")
    if field == "nonResourceURLs":
        return "*" in item
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
    description="Roles and ClusterRoles must not use '*' in verbs, resources, apiGroups or nonResourceURLs.",
    kinds=[(RBAC, "Role"), (RBAC, "ClusterRole")],
    severity=Severity.HIGH,
    control=nist_800_171("3.1.5"),
    tags=["cmmc:AC.L2-3.1.5", "iec62443:SR 2.1", "nist800-207:tenet-6", "cis-k8s:5.1.3"],
    remediation="""
Replace each '*' with the exact verbs (get, list, watch, ...), resources and apiGroups the
subject needs; audit logs (or `kubectl auth can-i --list`) show what it actually uses.""",
    check=check,
)
