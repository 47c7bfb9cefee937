"""``EdgeProtection``: the external boundary in front of the ingress load balancer (issue 8).

An AWS WAFv2 WebACL (scope REGIONAL, for the ALB/NLB of the ingress gateway) with the AWS managed
rule groups the seed's "WAF + DDoS protection" box implies (common rule set, known bad inputs,
Amazon IP reputation list, SQL injection) and a rate-based rule per client IP, every rule with
CloudWatch metrics and sampled requests on; associated with the load balancer when its ARN is
known; and, behind a switch, AWS Shield Advanced protection of the same load balancer.
"""
from __future__ import annotations

from typing import Literal, Optional

import pulumi
import pulumi_aws as aws
from pydantic import Field, field_validator

from .base import HardenedComponent, AwsResource, StrictModel, child_opts

TOKEN = "hardened:index:EdgeProtection"

#: AWS managed rule groups, in evaluation order (priority = position).
MANAGED_RULE_GROUPS = (
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesSQLiRuleSet",
)


class WafConfig(StrictModel):
    enabled: bool = Field(True, description="Create the WAFv2 WebACL (default true).")
    rate_limit: int = Field(
        2000, ge=10, le=2_000_000_000,
        description="Requests one client IP may send per 5-minute window before it is blocked (default 2000, "
                    "about 7 per second sustained).")
    load_balancer_arn: Optional[str] = Field(
        None, description="ARN of the ingress load balancer (ALB) to associate. Default none: the WebACL is "
                          "created and associated once the ARN is known (the gateway Service's load balancer is "
                          "created by the AWS Load Balancer Controller; put its ARN here and run `pulumi up`).")
    managed_rule_groups: list[str] = Field(
        default_factory=lambda: list(MANAGED_RULE_GROUPS),
        description="AWS managed rule groups (default: IP reputation, common rule set, known bad inputs, SQLi; "
                    "removing one is a visible opt-out the policy pack reports).")
    mode: Literal["block", "count"] = Field(
        "block", description="block (default) or count: count only observes (visible opt-out for a trial).")
    shield_advanced: bool = Field(
        False, description="Protect the load balancer with AWS Shield Advanced (default false: Shield Advanced is a "
                           "paid subscription, US$3,000 per month per organisation with a one-year commitment, plus "
                           "data transfer; the account must already be subscribed).")

    @field_validator("load_balancer_arn")
    @classmethod
    def _arn(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and not (v.startswith("arn:aws") and ":elasticloadbalancing:" in v):
            raise ValueError(f"loadBalancerArn {v!r} must be an Elastic Load Balancing ARN "
                             "(arn:aws:elasticloadbalancing:<region>:<account>:loadbalancer/app/...)")
        return v

    @field_validator("managed_rule_groups")
    @classmethod
    def _groups(cls, v: list[str]) -> list[str]:
        for g in v:
            if not g.startswith("AWSManagedRules"):
                raise ValueError(f"managedRuleGroups entry {g!r} is not an AWS managed rule group "
                                 "(names start with AWSManagedRules)")
        if len(set(v)) != len(v):
            raise ValueError("managedRuleGroups lists a group twice")
        return v


def _visibility(metric: str) -> dict:
    return {"cloudwatchMetricsEnabled": True, "metricName": metric, "sampledRequestsEnabled": True}


def web_acl_rules(cfg: WafConfig, metric_prefix: str) -> list[dict]:
    """The WebACL rules (a pure function, unit-tested): managed groups first, then the rate rule."""
    override = {"none": {}} if cfg.mode == "block" else {"count": {}}
    rules = [{
        "name": group,
        "priority": i,
        "overrideAction": override,
        "statement": {"managedRuleGroupStatement": {"vendorName": "AWS", "name": group}},
        "visibilityConfig": _visibility(f"{metric_prefix}-{group}"),
    } for i, group in enumerate(cfg.managed_rule_groups)]
    rules.append({
        "name": "rate-limit-per-ip",
        "priority": len(rules),
        "action": {"block": {}} if cfg.mode == "block" else {"count": {}},
        "statement": {"rateBasedStatement": {"limit": cfg.rate_limit, "aggregateKeyType": "IP",
                                             "evaluationWindowSec": 300}},
        "visibilityConfig": _visibility(f"{metric_prefix}-rate-limit"),
    })
    return rules


class EdgeProtectionArgs(StrictModel):
    waf: WafConfig = Field(default_factory=WafConfig, description="The WAF section.")
    cluster_name: str = Field(description="Cluster name, used in names, metrics and tags.")


class EdgeProtection(HardenedComponent):
    """WAFv2 WebACL (+ association) and optional Shield Advanced protection of the ingress LB."""

    def __init__(self, name: str, args: EdgeProtectionArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TOKEN, name, None, opts)
        cfg = args.waf
        tags = {"hardened-stack/cluster": args.cluster_name, "hardened-stack/component": "edge"}
        prefix = f"{args.cluster_name}-edge"
        # Registered by type token: importing pulumi_aws.wafv2 costs ~0.6 s of every program start.
        self.web_acl = AwsResource("aws:wafv2/webAcl:WebAcl", f"{name}-web-acl", {
            "name": f"{prefix}-web-acl",
            "description": f"Edge WAF for the {args.cluster_name} ingress: AWS managed rules and a per-IP rate limit",
            "scope": "REGIONAL",
            "defaultAction": {"allow": {}},
            "rules": web_acl_rules(cfg, prefix),
            "visibilityConfig": _visibility(f"{prefix}-web-acl"),
            "tags": tags,
        }, child_opts(self))
        self.association = None
        self.shield = None
        if cfg.load_balancer_arn:
            self.association = AwsResource(
                "aws:wafv2/webAclAssociation:WebAclAssociation", f"{name}-web-acl-association",
                {"resourceArn": cfg.load_balancer_arn, "webAclArn": self.web_acl.arn}, child_opts(self), outputs=())
            if cfg.shield_advanced:
                self.shield = aws.shield.Protection(
                    f"{name}-shield", name=f"{prefix}-ingress-lb", resource_arn=cfg.load_balancer_arn,
                    tags=tags, opts=child_opts(self))
        else:
            pulumi.log.warn("ingress.waf.loadBalancerArn is not set: the WebACL exists but protects nothing until it "
                            "is associated; put the ingress load balancer's ARN there and run `pulumi up` again"
                            + (" (Shield Advanced protection is created then too)" if cfg.shield_advanced else ""),
                            self)
        self.web_acl_arn = self.web_acl.arn
        self.register_outputs({
            "webAclArn": self.web_acl.arn,
            "associated": bool(cfg.load_balancer_arn),
            "shieldAdvanced": self.shield is not None,
        })
