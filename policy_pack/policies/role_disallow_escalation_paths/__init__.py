"""role-disallow-escalation-paths: no Role or ClusterRole grants one of the escalation paths the
Kubernetes RBAC good practices list beside escalate, bind and impersonate.

From kubernetes.io/docs/concepts/security/rbac-good-practices ("Kubernetes RBAC - privilege
escalation risks"), each refused when a rule grants it by name (a rule whose resources are ``*`` is
reported by role-disallow-wildcards):

- ``nodes/proxy`` (any verb): the kubelet API of every node, which runs commands in every pod on it
  and bypasses audit and admission ("Access to proxy subresource of Nodes"; CIS 5.1.10);
- ``update``/``patch`` on ``certificatesigningrequests/approval`` together with ``approve`` on
  ``signers`` not confined by ``resourceNames`` to signers outside ``kubernetes.io/`` (those sign
  the API server's client certificates): a subject that may create a CSR and approve it mints a
  client certificate for any identity ("CSRs and certificate issuing"; CIS 5.1.11). cert-manager's
  own approval of its ``issuers.cert-manager.io/*`` signers is the intended, confined use;
- ``create`` on ``serviceaccounts/token`` without ``resourceNames``: a token for every ServiceAccount
  of the namespace (or the cluster), and its power ("Token request"; CIS 5.1.13);
- writes (``create``, ``update``, ``patch``, ``delete``, ``deletecollection``) on
  ``mutatingwebhookconfigurations`` or ``validatingwebhookconfigurations`` without ``resourceNames``:
  read or rewrite every object admitted, or switch admission off ("Control admission webhooks";
  CIS 5.1.12). Controllers that manage their own webhook name it in ``resourceNames``;
- ``update``/``patch`` on ``namespaces``: relabel a namespace out of its Pod Security level, the
  mesh or a constraint's selector ("Namespace modification").

A resource matches as RBAC matches it (``ResourceMatches`` in k8s.io/kubernetes
pkg/apis/rbac/v1/evaluation_helpers.go): the exact ``resource/subresource``, or ``*/<subresource>``.
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import finding, nist_800_171, resource_policy
from ..role_disallow_privilege_escalation import WRITE_VERBS, rules

ADMISSION = "admissionregistration.k8s.io"
CERTIFICATES = "certificates.k8s.io"


def _grants(rule, verbs, group, resource):
    """The verbs of *rule* that grant one of *verbs* on *resource* in *group* (named, not ``*``)."""
    if not rule.in_group(group) or "*" in rule.resources:
        return []
    sub = resource.split("/", 1)[1] if "/" in resource else None
    if not any(r == resource or (sub and r == f"*/{sub}") for r in rule.resources):
        return []
    return rule.has_verb(*verbs)


def _confined_signers(rule) -> bool:
    return bool(rule.names) and not any(n == "*" or n.startswith("kubernetes.io/") for n in rule.names)


def check(obj, config):
    all_rules = list(rules(obj))
    for rule in all_rules:
        verbs = _grants(rule, ("get", "create", "update", "patch", "delete", "list", "watch"), "", "nodes/proxy")
        if verbs:
            yield finding("nodes-proxy", f"{rule.path} grants {', '.join(verbs)} on nodes/proxy: the kubelet "
                                         "API of every node, which runs commands in its pods around audit and "
                                         "admission; use the metrics or logs APIs, or a node-local agent")
        if _grants(rule, ("create",), "", "serviceaccounts/token") and not rule.names:
            yield finding("token-request", f"{rule.path} grants create on serviceaccounts/token for every "
                                           "ServiceAccount: the subject mints their tokens and gets their power; name "
                                           "the ServiceAccounts in resourceNames, or use a projected token")
        for resource in ("mutatingwebhookconfigurations", "validatingwebhookconfigurations"):
            verbs = _grants(rule, WRITE_VERBS, ADMISSION, resource)
            if verbs and not rule.names:
                yield finding("admission-webhooks", f"{rule.path} grants {', '.join(verbs)} on {resource} of every "
                                                    "webhook: the subject can read or rewrite every admitted object, "
                                                    "or switch admission off; name its own webhook configuration in "
                                                    "resourceNames")
        verbs = _grants(rule, ("update", "patch"), "", "namespaces")
        if verbs:
            yield finding("namespace-modification", f"{rule.path} grants {', '.join(verbs)} on namespaces: the "
                                                    "subject can relabel a namespace out of its Pod Security level, "
                                                    "the mesh or a constraint; leave namespace labels to the platform")
    approval = [r for r in all_rules if _grants(r, ("update", "patch"), CERTIFICATES,
                                                "certificatesigningrequests/approval")]
    signers = [r for r in all_rules if _grants(r, ("approve",), CERTIFICATES, "signers") and not _confined_signers(r)]
    if approval and signers:
        yield finding("csr-approval", f"{approval[0].path} grants approval of CertificateSigningRequests and "
                                      f"{signers[0].path} approve on signers not confined to non-kubernetes.io "
                                      "signers: the subject mints client certificates for any identity; confine "
                                      "signers with resourceNames to your own signer")


POLICY = resource_policy(
    name="role-disallow-escalation-paths",
    description="Roles grant no RBAC escalation path: nodes/proxy, token requests, CSR approval, webhook "
                "configurations, namespace relabelling.",
    kinds=[("rbac.authorization.k8s.io", "Role"), ("rbac.authorization.k8s.io", "ClusterRole")],
    severity=Severity.HIGH,
    control=nist_800_171("3.1.7"),
    tags=["cis-k8s:5.1.10", "cis-k8s:5.1.11", "cis-k8s:5.1.12", "cis-k8s:5.1.13", "cmmc:AC.L2-3.1.7",
          "iec62443:SR 2.1", "nist800-207:tenet-6"],
    remediation="""
Remove the grant, or confine it: name the ServiceAccounts (serviceaccounts/token) or the
controller's own webhook configuration in resourceNames, confine signers approve to your own
signer, and read node data through the metrics and logs APIs instead of nodes/proxy. A platform
controller that truly needs more gets a named, expiring exemption.""",
    check=check,
)
