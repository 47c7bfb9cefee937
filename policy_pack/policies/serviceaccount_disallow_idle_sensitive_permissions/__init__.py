"""serviceaccount-disallow-idle-sensitive-permissions: no ServiceAccount holds a sensitive
permission that no workload uses.

A ServiceAccount's token is a credential: whoever obtains it (a pod that mounts it, a TokenRequest,
a leaked Secret) acts with its permissions. Istio's base chart created
``istio-reader-service-account`` (reading every Secret of the cluster, auto-mounted token) for the
remote clusters of a multicluster mesh, while no pod here runs as it (issue 23.7). Power that no
workload uses is pure risk (Kubernetes RBAC good practices: least privilege).

A stack policy over the analysed set (``_lib.rbac.idle_powers``): a ServiceAccount defined there,
bound by a RoleBinding or ClusterRoleBinding to a Role or ClusterRole defined there that reads
Secrets, escalates or binds roles, impersonates, mints tokens or uses a wildcard, is refused when
nothing uses it:

- no pod spec in the set runs as it (pods, workload controllers, and any custom resource that
  embeds a pod spec, found by its shape);
- no object in the set references it as ``serviceAccountRef``/``serviceAccount`` (a controller that
  requests its token at run time: External Secrets' Kubernetes or Vault auth, ...);
- the ``runtimeUsers`` setting does not list it (``namespace/name``: ServiceAccounts whose tokens
  controllers request at run time without an object that says so; see the table in
  docs/policies.md).

To avoid false positives on partial inputs, it judges only namespaces whose workloads are in the
set (at least one pod spec there) and only roles defined in the set.
"""
from __future__ import annotations

from pulumi_policy import Severity
from pulumi_policy.proxy import UnknownValueError

from .._lib import rbac
from .._lib.framework import nist_800_171, stack_policy

#: ServiceAccounts used at run time through token requests that no object in a render shows:
#: namespace/name -> who requests the token. Empty: the stack's own controllers run as pods whose
#: pod specs name their ServiceAccounts.
DEFAULT_RUNTIME_USERS: list[str] = []


#: The kinds whose unknown fields can change the verdict: the accounts, the grants and the bindings
#: (a pod spec's unknown serviceAccountName is searched like a known one: see _plain_or_none).
RBAC_KINDS = frozenset({"ServiceAccount", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"})


def _plain_or_none(value):
    """A plain copy with each unknown leaf as None: an unknown elsewhere (an ALB's target group ARN)
    says nothing about who uses an account, and an unknown account name matches no account, so the
    verdict errs toward a finding, never toward a silent pass."""
    from collections.abc import Mapping, Sequence

    try:
        if isinstance(value, Mapping):
            return {k: _plain_or_none(value[k]) for k in list(value.keys())}
        if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
            return [_plain_or_none(value[i]) for i in range(len(value))]
        return value
    except UnknownValueError:
        return None


def check(objects, config):
    pending = None
    # each object is read once into the walk, which keeps only what the verdict needs: a stack of
    # 100,000 objects is never held twice (rbac.IdlePowers)
    index = rbac.IdlePowers()
    by_identity = {}
    for obj in objects:
        if not obj.type.startswith("kubernetes:"):
            continue  # AWS and other clouds' resources hold no account, grant or pod spec
        try:
            doc = rbac.plain(obj.props)
        except UnknownValueError as e:
            if obj.kind in RBAC_KINDS:
                pending = pending or e
                continue
            doc = _plain_or_none(obj.props)
        if isinstance(doc, dict):
            doc["kind"] = obj.kind
            identity = (doc.get("kind"), (doc.get("metadata") or {}).get("namespace") or "",
                        (doc.get("metadata") or {}).get("name"))
            if identity[0] == "ServiceAccount":
                by_identity[identity] = obj
            index.add(doc)
    runtime = (config or {}).get("runtimeUsers", DEFAULT_RUNTIME_USERS)
    for account, why in index.findings(runtime):
        m = account.get("metadata") or {}
        obj = by_identity.get(("ServiceAccount", m.get("namespace") or "", m.get("name")))
        yield obj, (f"ServiceAccount {m.get('namespace')}/{m.get('name')} holds power no workload uses: {why}; no "
                    "pod spec runs as it and nothing requests its token. Remove the binding (or the account: for "
                    "Istio, global.enableReaderRBAC false), or list it in runtimeUsers if a controller requests its "
                    "token at run time")
    if pending is not None:
        raise pending


POLICY = stack_policy(
    name="serviceaccount-disallow-idle-sensitive-permissions",
    description="No ServiceAccount is bound to sensitive permissions (Secrets read, escalate, bind, impersonate, "
                "token minting, wildcards) that no workload in the set uses.",
    kinds=["*"],
    severity=Severity.HIGH,
    control=nist_800_171("3.1.5"),
    tags=["nist800-171:3.1.7", "cmmc:AC.L2-3.1.5", "iec62443:SR 2.1", "nist800-207:tenet-6", "cis-k8s:5.1.6"],
    remediation="""
Remove the RoleBinding or ClusterRoleBinding (or the ServiceAccount) that nothing uses; for Istio's
istio-reader-service-account set global.enableReaderRBAC false in the base and istiod charts
(multicluster remote secrets only). If a controller requests the account's token at run time,
list it as namespace/name in this policy's runtimeUsers setting, with the reason in your review.""",
    check=check,
    config={"runtimeUsers": {
        "type": "array", "items": {"type": "string", "pattern": "^[a-z0-9-]+/[a-z0-9-.]+$"}, "uniqueItems": True,
        "default": DEFAULT_RUNTIME_USERS,
        "description": "ServiceAccounts (namespace/name) whose tokens controllers request at run time."}},
)
