"""webacl-missing-managed-rules: the edge WAFv2 WebACL blocks with the AWS managed rule groups
and a per-IP rate-based rule, with CloudWatch metrics on.

The seed's external boundary is "WAF + DDoS protection". A WebACL that lacks the managed groups
(common rule set, known bad inputs, IP reputation, SQL injection), that overrides them to
``count``, or that has no blocking rate-based rule stops nothing; one without metrics cannot be
monitored (NIST SP 800-171 3.13.1: monitor and protect communications at external boundaries).
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import finding, nist_800_171, resource_policy
from .._lib.k8s import get_bool, get_int, get_map, get_str, maps

REQUIRED_GROUPS = ("AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet",
                   "AWSManagedRulesAmazonIpReputationList", "AWSManagedRulesSQLiRuleSet")


def _metrics_on(visibility) -> bool:
    return bool(get_bool(visibility, "cloudwatchMetricsEnabled", "visibilityConfig"))


def check(obj, config):
    props = obj.props
    if not _metrics_on(get_map(props, "visibilityConfig", "")):
        yield finding("metrics-off", "visibilityConfig.cloudwatchMetricsEnabled is not true; turn on metrics for the WebACL")
    groups: dict[str, str] = {}
    rate_rule = False
    for _, rule, path in maps(props, "rules", ""):
        statement = get_map(rule, "statement", path)
        managed = get_map(statement, "managedRuleGroupStatement", f"{path}.statement")
        name = get_str(rule, "name", path) or path
        if managed:
            group = get_str(managed, "name", f"{path}.statement.managedRuleGroupStatement") or ""
            override = get_map(rule, "overrideAction", path)
            groups[group] = "count" if "count" in override else "enforced"
        rate = get_map(statement, "rateBasedStatement", f"{path}.statement")
        if rate:
            action = get_map(rule, "action", path)
            limit = get_int(rate, "limit", f"{path}.statement.rateBasedStatement")
            if "block" in action and limit:
                rate_rule = True
            else:
                yield finding("rate-rule-not-blocking", f"{path} ({name}) is a rate-based rule that does not block; set action: {{block: {{}}}}")
        if not _metrics_on(get_map(rule, "visibilityConfig", path)):
            yield finding("rule-metrics-off", f"{path} ({name}) has no CloudWatch metrics; set visibilityConfig.cloudwatchMetricsEnabled: true")
    for group in REQUIRED_GROUPS:
        state = groups.get(group)
        if state is None:
            yield finding("managed-group-missing", f"the AWS managed rule group {group} is missing; add it with overrideAction: {{none: {{}}}}")
        elif state == "count":
            yield finding("managed-group-count-only", f"the AWS managed rule group {group} is overridden to count, so it blocks nothing; use none")
    if not rate_rule:
        yield finding("rate-rule-missing", "no rate-based rule blocks a flooding client; add one (rateBasedStatement, aggregateKeyType: IP)")


POLICY = resource_policy(
    name="webacl-missing-managed-rules",
    description="The edge WAFv2 WebACL blocks with AWS managed rule groups and a per-IP rate rule, metrics on.",
    kinds=[("aws:wafv2", "WebAcl")],
    severity=Severity.HIGH,
    control=nist_800_171("3.13.1"),
    tags=["cmmc:SC.L1-3.13.1", "iec62443:SR 5.2", "iec62443:SR 7.1", "nist800-207:tenet-6"],
    remediation="""
Use the stack's EdgeProtection (ingress.waf): managed groups AWSManagedRulesCommonRuleSet,
AWSManagedRulesKnownBadInputsRuleSet, AWSManagedRulesAmazonIpReputationList and
AWSManagedRulesSQLiRuleSet with overrideAction none, a rate-based rule with action block, and
visibilityConfig.cloudwatchMetricsEnabled on the WebACL and every rule.""",
    check=check,
)
