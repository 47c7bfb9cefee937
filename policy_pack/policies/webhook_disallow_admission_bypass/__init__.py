"""webhook-disallow-admission-bypass: the admission webhooks the stack's security rests on fail
closed and see every namespace and object they were built to see.

Judged: the webhooks of a ValidatingWebhookConfiguration or MutatingWebhookConfiguration that
belong to Gatekeeper (names ending ``.gatekeeper.sh``), to Istio's sidecar injector (ending
``sidecar-injector.istio.io``) or to Sigstore's policy-controller (``policy.sigstore.dev``, or ending
``.clusterimagepolicy.sigstore.dev``). Refused (admissionregistration/v1 ``ValidatingWebhook``):

- ``failurePolicy: Ignore``: while the webhook is down or slow (``timeoutSeconds``), everything is
  admitted unchecked. Gatekeeper's own ``validation.gatekeeper.sh`` is left to
  stack-missing-gatekeeper-fail-closed, which judges it with its audit;
- a ``namespaceSelector`` that leaves out namespaces by name beyond the platform's own
  (kube-system, kube-public, kube-node-lease, gatekeeper-system, istio-system, cosign-system): a
  ``kubernetes.io/metadata.name`` expression ``NotIn`` other namespaces, or ``In`` (only the listed
  namespaces are seen). Label-based opt-outs are each project's documented design (Gatekeeper's
  ``admission.gatekeeper.sh/ignore``, Istio's ``istio-injection``, policy-controller's opt-in
  ``policy.sigstore.dev/include``) and pass: who may set those labels is an RBAC question
  (role-disallow-escalation-paths refuses namespace relabelling);
- an ``objectSelector`` on a Gatekeeper or policy-controller webhook (upstream sets none: any
  selector lets the objects it does not match through); Istio's injector selects objects by design;
- Gatekeeper's ``validation.gatekeeper.sh`` narrowed: its ``rules`` must still cover every API
  group and resource for CREATE and UPDATE.
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import finding, nist_800_171, resource_policy
from .._lib.k8s import get_map, get_str, maps, strings

SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease", "gatekeeper-system",
                               "istio-system", "cosign-system"})
NAME_LABEL = "kubernetes.io/metadata.name"
GATEKEEPER_VALIDATION = "validation.gatekeeper.sh"


def owner(name: str) -> str:
    if name.endswith(".gatekeeper.sh"):
        return "gatekeeper"
    if name.endswith("sidecar-injector.istio.io"):
        return "istio"
    if name == "policy.sigstore.dev" or name.endswith(".clusterimagepolicy.sigstore.dev"):
        return "policy-controller"
    return ""


def _covers_everything(hook, path) -> bool:
    for _, rule, rpath in maps(hook, "rules", path):
        ops = set(strings(rule, "operations", rpath))
        if ("*" in ops or {"CREATE", "UPDATE"} <= ops) and "*" in strings(rule, "apiGroups", rpath) \
                and "*" in strings(rule, "resources", rpath):
            return True
    return False


def check(obj, config):
    for _, hook, path in maps(obj.props, "webhooks", ""):
        name = get_str(hook, "name", path) or ""
        who = owner(name)
        if not who:
            continue
        if get_str(hook, "failurePolicy", path) == "Ignore" and name != GATEKEEPER_VALIDATION:
            yield finding("fails-open", f"{path} ({name}) has failurePolicy Ignore: while the webhook is down or slow, "
                                        "everything is admitted unchecked; set failurePolicy: Fail")
        selector = get_map(hook, "namespaceSelector", path)
        for _, expr, epath in maps(selector, "matchExpressions", f"{path}.namespaceSelector"):
            if get_str(expr, "key", epath) != NAME_LABEL:
                continue
            operator = get_str(expr, "operator", epath)
            values = set(strings(expr, "values", epath))
            extra = sorted(values - SYSTEM_NAMESPACES)
            if operator == "NotIn" and extra:
                yield finding("namespace-excluded", f"{epath} takes namespace(s) {', '.join(extra)} out of {name}: "
                                                    "their objects are admitted unchecked; exclude only the "
                                                    "platform's own namespaces, and exempt single objects instead")
            elif operator == "In":
                yield finding("namespace-excluded", f"{epath} limits {name} to namespace(s) {', '.join(sorted(values))}: "
                                                    "every other namespace is admitted unchecked; remove it")
        if who != "istio" and (get_map(hook, "objectSelector", path) or {}):
            yield finding("object-excluded", f"{path}.objectSelector on {name}: the objects it does not select are "
                                             "admitted unchecked; remove it (upstream sets none)")
        if name == GATEKEEPER_VALIDATION and not _covers_everything(hook, path):
            yield finding("rules-narrowed", f"{path}.rules of {name} no longer cover every API group and resource for "
                                            "CREATE and UPDATE: what they leave out is admitted unchecked; restore "
                                            "apiGroups: ['*'], resources: ['*'], operations: [CREATE, UPDATE]")


POLICY = resource_policy(
    name="webhook-disallow-admission-bypass",
    description="The security admission webhooks (Gatekeeper, Istio's injector, policy-controller) fail closed and "
                "exclude no namespace or object beyond upstream's design.",
    kinds=[("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
           ("admissionregistration.k8s.io", "MutatingWebhookConfiguration")],
    severity=Severity.HIGH,
    control=nist_800_171("3.4.6"),
    tags=["cis-k8s:5.2.1", "cmmc:CM.L2-3.4.6", "iec62443:SR 7.6", "nist800-207:tenet-5"],
    remediation="""
Keep failurePolicy: Fail, the upstream namespaceSelector (platform namespaces only) and no
objectSelector on Gatekeeper's and policy-controller's webhooks, and Gatekeeper's validation
rules over every group and resource for CREATE and UPDATE. Exempt single objects with a named
exemption instead of widening the webhook's blind spots.""",
    check=check,
)
