"""constraint-enforce-deny-action: every Gatekeeper constraint denies at admission.

A constraint's ``spec.enforcementAction`` (Gatekeeper, "Handling Constraint Violations":
open-policy-agent.github.io/gatekeeper/website/docs/violations) is ``deny`` by default;
``dryrun`` only records violations in the audit and ``warn`` only warns the client, so either
switches the constraint off at admission while it still looks deployed. ``scoped`` defers to
``spec.scopedEnforcementActions``, which must then hold ``action: deny`` for the validation webhook
(enforcement point ``validation.gatekeeper.sh`` or ``*``). Judged: every kind of the
``constraints.gatekeeper.sh`` group (constraints are instances of ConstraintTemplates, so their
kinds are not known in advance).
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import finding, nist_800_171, resource_policy
from .._lib.k8s import get_str, maps

WEBHOOK_POINT = "validation.gatekeeper.sh"


def _scoped_denies(spec) -> bool:
    for _, scoped, path in maps(spec, "scopedEnforcementActions", "spec"):
        if get_str(scoped, "action", path) != "deny":
            continue
        points = [get_str(p, "name", pp) for _, p, pp in maps(scoped, "enforcementPoints", path)]
        if any(p in (WEBHOOK_POINT, "*") for p in points):
            return True
    return False


def check(obj, config):
    spec = obj.spec
    action = get_str(spec, "enforcementAction", "spec") or "deny"
    if action in ("dryrun", "warn"):
        yield finding("not-deny", f"spec.enforcementAction is {action}: the constraint admits what it should refuse "
                                  "(only the audit or a warning sees it); remove it (deny is the default)")
    elif action == "scoped" and not _scoped_denies(spec):
        yield finding("scoped-without-deny", "spec.enforcementAction is scoped, but no scopedEnforcementActions entry "
                                             f"denies at the {WEBHOOK_POINT} enforcement point: the constraint "
                                             "admits what it should refuse; add action: deny for it")
    elif action not in ("deny", "scoped"):
        yield finding("not-deny", f"spec.enforcementAction is {action!r}, which Gatekeeper does not enforce at "
                                  "admission; use deny")


POLICY = resource_policy(
    name="constraint-enforce-deny-action",
    description="Gatekeeper constraints deny at admission (no dryrun or warn, no scoped action without deny).",
    kinds=[("constraints.gatekeeper.sh", "*")],
    severity=Severity.HIGH,
    control=nist_800_171("3.4.6"),
    tags=["cis-k8s:5.2.1", "cmmc:CM.L2-3.4.6", "iec62443:SR 7.6", "nist800-207:tenet-5"],
    remediation="""
Remove spec.enforcementAction (deny is the default) or set it to deny; with scoped, give a
scopedEnforcementActions entry with action: deny for the validation.gatekeeper.sh enforcement
point. A constraint being rolled out gets a dated exemption, not a silent dryrun.""",
    check=check,
)
