"""stack-missing-gatekeeper-fail-closed: the stack deploys OPA Gatekeeper, its validating
webhook fails closed, and its audit runs.

The seed's checklist asks for admission control (OPA Gatekeeper). The upstream chart's
``validatingWebhookFailurePolicy: Ignore`` admits every object while Gatekeeper is down or slow,
so a crash-looping webhook silently switches every constraint off.

Judged on what the engine really sends. A ``helm.v4.Chart`` reaches the pack with no properties
and its objects as ordinary resources (hardened/engine.py), so the verdict comes from the objects:
the ``ValidatingWebhookConfiguration`` holding Gatekeeper's admission webhook (named
``validation.gatekeeper.sh`` in Gatekeeper's source; an absent ``failurePolicy`` is the
admissionregistration/v1 default, Fail) and the audit ``Deployment`` (a Gatekeeper container run
with ``--operation=audit``). A ``helm.sh/v3:Release`` is installed by the provider itself and
carries its values, so it is judged on them. The same object checks catch a hand-written or
GitOps-applied webhook configuration that fails open.
"""
from __future__ import annotations

from typing import Iterator

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, stack_policy
from .._lib.k8s import Obj, chart_name, get_bool, get_map, get_str, maps, pod_spec, strings

#: Gatekeeper's admission webhook (its source: pkg/webhook, the `validation.gatekeeper.sh` name).
WEBHOOK = "validation.gatekeeper.sh"
KINDS = (("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"), ("apps", "Deployment"),
         ("helm.sh", "Release"))


def _webhooks(o: Obj) -> Iterator[tuple[dict, str]]:
    for _, hook, path in maps(o.props, "webhooks", ""):
        if get_str(hook, "name", path) == WEBHOOK:
            yield hook, path


def _is_audit(o: Obj) -> bool:
    pod = pod_spec(o)
    if pod is None:
        return False
    for c in pod.containers(("containers",)):
        args = strings(c.obj, "args", c.path)
        if "--operation=audit" in args and "gatekeeper" in (get_str(c.obj, "image", c.path) or ""):
            return True
    return False


def _release(o: Obj) -> Iterator[str]:
    values = get_map(o.props, "values", "")
    policy = get_str(values, "validatingWebhookFailurePolicy", "values")
    if policy != "Fail":
        yield (f"Gatekeeper release {o.name!r} has values.validatingWebhookFailurePolicy "
               f"{policy or 'unset (the chart default, Ignore)'}: the webhook fails open and admits everything "
               "while Gatekeeper is down; set it to Fail and exempt kube-system with "
               "validatingWebhookExemptNamespacesLabels")
    if get_bool(values, "disableValidatingWebhook", "values"):
        yield f"Gatekeeper release {o.name!r} sets values.disableValidatingWebhook: true; remove it"
    if get_bool(values, "disableAudit", "values"):
        yield (f"Gatekeeper release {o.name!r} sets values.disableAudit: true: objects admitted before a "
               "constraint existed are never re-checked; remove it")


def check(objects, config):
    webhooks, audits, releases = [], [], []
    for o in objects:
        if o.kind == "ValidatingWebhookConfiguration":
            hooks = list(_webhooks(o))
            if hooks:
                webhooks.append(o)
            for hook, path in hooks:
                policy = get_str(hook, "failurePolicy", path)
                if policy not in (None, "Fail"):
                    yield o, (f"{path}.failurePolicy of Gatekeeper's webhook {WEBHOOK} is {policy}: it fails open and "
                              "admits everything while Gatekeeper is down or slow; set Fail (the chart value "
                              "validatingWebhookFailurePolicy: Fail) and exempt only gatekeeper-system and "
                              "kube-system through the namespaceSelector")
        elif o.kind == "Deployment" and _is_audit(o):
            audits.append(o)
        elif o.kind == "Release" and chart_name(o) == "gatekeeper":
            releases.append(o)
            for message in _release(o):
                yield o, message
    if releases:
        return  # the provider installs a Release itself: its values are what there is to judge
    if not webhooks:
        missing = Obj("kubernetes:admissionregistration.k8s.io/v1:ValidatingWebhookConfiguration",
                      {"metadata": {"name": "gatekeeper-validating-webhook-configuration"}}, "gatekeeper")
        yield missing, (f"the stack deploys no OPA Gatekeeper admission webhook ({WEBHOOK}): nothing enforces the "
                        "constraints at admission; enable the admission section (AdmissionControl), which deploys "
                        "the gatekeeper chart, and keep disableValidatingWebhook off")
    elif not audits:
        missing = Obj("kubernetes:apps/v1:Deployment", {"metadata": {"name": "gatekeeper-audit"}}, "gatekeeper")
        yield missing, ("Gatekeeper runs without its audit (no Deployment runs it with --operation=audit): objects "
                        "admitted before a constraint existed are never re-checked; remove disableAudit")


POLICY = stack_policy(
    name="stack-missing-gatekeeper-fail-closed",
    description="The stack deploys OPA Gatekeeper with a fail-closed validating webhook and audit on.",
    kinds=KINDS,
    severity=Severity.HIGH,
    control=nist_800_171("3.4.2"),
    tags=["cmmc:CM.L2-3.4.2", "cmmc:CM.L2-3.4.8", "iec62443:SR 7.6", "nist800-207:tenet-6", "cis-k8s:5.7"],
    remediation="""
Deploy Gatekeeper with the stack's AdmissionControl component (admission.enabled: true). In the
gatekeeper chart values set validatingWebhookFailurePolicy: Fail, keep disableValidatingWebhook and
disableAudit false, and exempt only gatekeeper-system and kube-system from the webhook
(validatingWebhookExemptNamespacesLabels) so a fail-closed webhook cannot deadlock the cluster. A
ValidatingWebhookConfiguration written by hand for validation.gatekeeper.sh needs failurePolicy: Fail.""",
    check=check,
    presence=True,
)
