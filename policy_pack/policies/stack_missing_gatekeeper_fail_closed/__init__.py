"""stack-missing-gatekeeper-fail-closed: the stack deploys OPA Gatekeeper, and its validating
webhook fails closed.

The seed's checklist asks for admission control (OPA Gatekeeper). The upstream chart's default
``validatingWebhookFailurePolicy: Ignore`` admits every object while Gatekeeper is down or slow,
so a crash-looping webhook silently switches every constraint off. A stack policy over the Helm
charts (``kubernetes:helm.sh/v4:Chart`` and ``v3:Release``): at least one ``gatekeeper`` chart,
each with ``validatingWebhookFailurePolicy: Fail``, its webhook and audit enabled.
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, stack_policy
from .._lib.k8s import HELM_CHART_KINDS, Obj, chart_name, get_bool, get_map, get_str

def check(objects, config):
    gatekeepers = [o for o in objects if chart_name(o) == "gatekeeper"]
    if not gatekeepers:
        missing = Obj("kubernetes:helm.sh/v4:Chart", {"metadata": {"name": "gatekeeper"}}, "gatekeeper")
        yield missing, ("the stack deploys no OPA Gatekeeper chart: nothing enforces the constraints at admission; "
                        "enable the admission section (AdmissionControl) or add the gatekeeper chart")
        return
    for o in gatekeepers:
        values = get_map(o.props, "values", "")
        policy = get_str(values, "validatingWebhookFailurePolicy", "values")
        if policy != "Fail":
            yield o, (f"Gatekeeper chart {o.name!r} has values.validatingWebhookFailurePolicy "
                      f"{policy or 'unset (the chart default, Ignore)'}: the webhook fails open and admits everything "
                      "while Gatekeeper is down; set it to Fail and exempt kube-system with "
                      "validatingWebhookExemptNamespacesLabels")
        if get_bool(values, "disableValidatingWebhook", "values"):
            yield o, f"Gatekeeper chart {o.name!r} sets values.disableValidatingWebhook: true; remove it"
        if get_bool(values, "disableAudit", "values"):
            yield o, (f"Gatekeeper chart {o.name!r} sets values.disableAudit: true: objects admitted before a "
                      "constraint existed are never re-checked; remove it")


POLICY = stack_policy(
    name="stack-missing-gatekeeper-fail-closed",
    description="The stack deploys OPA Gatekeeper with a fail-closed validating webhook and audit on.",
    kinds=HELM_CHART_KINDS,
    severity=Severity.HIGH,
    control=nist_800_171("3.4.2"),
    tags=["cmmc:CM.L2-3.4.2", "cmmc:CM.L2-3.4.8", "iec62443:SR 7.6", "nist800-207:tenet-6", "cis-k8s:5.7"],
    remediation="""
Deploy Gatekeeper with the stack's AdmissionControl component (admission.enabled: true). In the
gatekeeper chart values set validatingWebhookFailurePolicy: Fail, keep disableValidatingWebhook and
disableAudit false, and exempt only gatekeeper-system and kube-system from the webhook
(validatingWebhookExemptNamespacesLabels) so a fail-closed webhook cannot deadlock the cluster.""",
    check=check,
    presence=True,
)
