"""clusterrole-disallow-aggregated-cluster-writes: no ClusterRole aggregated into the built-in
admin, edit or view roles grants a write on a cluster-scoped kind.

A ClusterRole labelled ``rbac.authorization.k8s.io/aggregate-to-{admin,edit,view}: "true"`` has
its rules copied into that built-in role. Those roles are meant for one namespace, but whoever
holds them through a ClusterRoleBinding (a team's group bound to ``edit`` cluster-wide is common)
gets every rule for cluster-scoped objects too. A write there reaches past every namespace:
External Secrets' chart aggregates create/patch on ClusterSecretStores and ClusterGenerators into
``edit`` (issue 23.3), so such an editor could rewrite a store's ``conditions`` or create a
Kubernetes-provider store that uses the controller's ServiceAccount, and read every Secret.

A stack policy: a kind is cluster-scoped when Kubernetes' built-in API says so
(``_lib.rbac.BUILTIN_CLUSTER_SCOPED``), when a CustomResourceDefinition in the analysed set has
``scope: Cluster``, or when it is one of the known cluster-scoped custom resources of the software
the stack deploys (a partial input without its CRDs). ``*`` on verbs, groups or resources counts.
Reading (get, list, watch) stays allowed: ``view`` listing ClusterSecretStores changes nothing.
"""
from __future__ import annotations

from pulumi_policy import Severity
from pulumi_policy.proxy import UnknownValueError

from .._lib import rbac
from .._lib.framework import nist_800_171, stack_policy
from .._lib.k8s import Unverifiable

RBAC = "rbac.authorization.k8s.io"
CRD = ("apiextensions.k8s.io", "CustomResourceDefinition")


def check(objects, config):
    pending = None
    scoped = set(rbac.BUILTIN_CLUSTER_SCOPED) | set(rbac.KNOWN_CLUSTER_SCOPED_CRDS)
    roles = []
    for obj in objects:
        try:
            if obj.kind == "CustomResourceDefinition":
                scoped |= rbac.crd_cluster_scoped([{"kind": obj.kind, "spec": rbac.plain(obj.props.get("spec") or {})}])
            elif obj.kind == "ClusterRole":
                targets = rbac.aggregation_targets(rbac.plain(obj.labels()))
                if targets:
                    roles.append((obj, targets, rbac.plain(obj.props.get("rules") or [])))
        except UnknownValueError as e:
            pending = pending or e
        except Unverifiable as e:
            yield obj, e.message
    for obj, targets, rules in roles:
        found = [text for _, text in rbac.cluster_writes(rules, scoped)]
        if found:
            into = ", ".join(targets)
            yield obj, (f"the ClusterRole aggregates into the built-in role(s) {into} while it {'; '.join(found)}: "
                        f"those objects are cluster-scoped, so whoever holds {into} through a ClusterRoleBinding "
                        "writes them for every namespace. Aggregate only namespaced kinds (or reads); give cluster-"
                        "scoped writes to a dedicated role bound to the platform team")
    if pending is not None:
        raise pending


POLICY = stack_policy(
    name="clusterrole-disallow-aggregated-cluster-writes",
    description="No ClusterRole aggregated into admin, edit or view grants create, update, patch or delete on a "
                "cluster-scoped kind (built-in, or a CRD with scope Cluster).",
    kinds=[(RBAC, "ClusterRole"), CRD],
    severity=Severity.HIGH,
    control=nist_800_171("3.1.5"),
    tags=["nist800-171:3.1.7", "cmmc:AC.L2-3.1.5", "iec62443:SR 2.1", "nist800-207:tenet-6", "cis-k8s:5.1.8"],
    remediation="""
Remove the write verbs on cluster-scoped resources from the aggregated ClusterRole (for External
Secrets: chart values rbac.aggregateToEdit and rbac.aggregateToAdmin false, and aggregate your own
role for the namespaced kinds), or drop its aggregate-to-* label and bind it to the subjects that
administer those cluster-wide objects.""",
    check=check,
)
