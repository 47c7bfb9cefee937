"""``EdgeProtection``: the external boundary in front of the ingress gateway (issues 8 and 17).

An AWS WAFv2 WebACL (scope REGIONAL) with the AWS managed rule groups the seed's "WAF + DDoS
protection" box implies (common rule set, known bad inputs, Amazon IP reputation list, SQL
injection) and a rate-based rule per client IP, every rule with CloudWatch metrics and sampled
requests on.

A regional WebACL attaches to an Application Load Balancer, never to the network load balancer a
LoadBalancer Service gets, so the WebACL used to protect nothing (issue 17). With ``ingress.alb``
the stack now builds the layer-7 entry point itself and associates the WebACL with it by reference
(docs/ingress.md, "The edge"):

* an internet-facing ALB in the given public subnets (invalid header fields dropped, desync
  mitigation ``strictest``, deletion protection) with its own security group (80 and 443 in, 443 to
  the VPC out);
* an HTTPS listener with the ACM certificate and a TLS 1.3-only security policy (default
  ``ELBSecurityPolicy-TLS13-1-3-PQ-2025-09``: TLS 1.3 only, hybrid post-quantum key exchange
  X25519MLKEM768 offered alongside X25519); port 80 answers with a 301 to https;
* a target group of the gateway pods' IPs over HTTPS (the ALB re-encrypts to the gateway, which
  accepts TLS 1.3 only), health-checked on Istio's status port 15021, filled by the AWS Load
  Balancer Controller from a ``TargetGroupBinding`` on the gateway's (ClusterIP) Service;
* ``aws:wafv2/webAclAssociation`` of the WebACL with that ALB, and, behind ``waf.shieldAdvanced``,
  AWS Shield Advanced protection of the same ALB.

Without ``ingress.alb``, ``waf.loadBalancerArn`` may name an ALB built elsewhere; a prod stack
must have one or the other (validation refuses a WebACL that would protect nothing).
"""
from __future__ import annotations

import json
import re
from typing import Any, Literal, Optional

import pulumi
import pulumi_aws as aws
from pydantic import Field, field_validator, model_validator

from .base import weakens
from .base import Cidr
from .base import HardenedComponent, AwsResource, StrictModel, child_opts, k8s_object

TOKEN = "hardened:index:EdgeProtection"

#: AWS managed rule groups, in evaluation order (priority = position).
MANAGED_RULE_GROUPS = (
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesSQLiRuleSet",
)


class WafConfig(StrictModel):
    enabled: bool = Field(True, description="Create the WAFv2 WebACL (default true).", json_schema_extra=weakens('the WAF is off'))
    rate_limit: int = Field(
        2000, ge=10, le=2_000_000_000,
        description="Requests one client IP may send per 5-minute window before it is blocked (default 2000, "
                    "about 7 per second sustained).", json_schema_extra=weakens('a client may send more requests before the WAF blocks it', 'raised'))
    load_balancer_arn: Optional[str] = Field(
        None, description="ARN of the ingress load balancer (ALB) to associate. Default none: the WebACL is "
                          "created and associated once the ARN is known (the gateway Service's load balancer is "
                          "created by the AWS Load Balancer Controller; put its ARN here and run `pulumi up`).")
    managed_rule_groups: list[str] = Field(
        default_factory=lambda: list(MANAGED_RULE_GROUPS),
        description="AWS managed rule groups (default: IP reputation, common rule set, known bad inputs, SQLi; "
                    "removing one is a visible opt-out the policy pack reports).", json_schema_extra=weakens('an AWS managed rule group of the default set is dropped', 'drops_defaults'))
    mode: Literal["block", "count"] = Field(
        "block", description="block (default) or count: count only observes (visible opt-out for a trial).", json_schema_extra=weakens('the WAF only counts (does not block)'))
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


#: The path ACME HTTP-01 challenges are fetched on (RFC 8555, section 8.3).
ACME_CHALLENGE_PATH = "/.well-known/acme-challenge/*"
ALB_LOG_PREFIX = "alb/"
#: Elastic Load Balancing's log-delivery account per Region, for the Regions that existed before
#: August 2022 (AWS, "Enable access logs for your Application Load Balancer", step 2); newer
#: Regions deliver as the service principal logdelivery.elasticloadbalancing.amazonaws.com.
ELB_LOG_ACCOUNTS = {"us-east-1": "127311923021", "us-west-2": "797873946194", "eu-west-1": "156460612806",
                    "eu-central-1": "054676820928"}


def access_log_bucket_policy(bucket_arn: str, account_id: str, region: str) -> dict:
    """What AWS documents for ALB access-log delivery: PutObject below
    ``<prefix>/AWSLogs/<account>/`` for the Region's ELB account (or the log-delivery service
    principal), and nothing over plain HTTP."""
    elb = ELB_LOG_ACCOUNTS.get(region)
    principal = ({"AWS": f"arn:aws:iam::{elb}:root"} if elb
                 else {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"})
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "ElbLogDelivery", "Effect": "Allow", "Principal": principal, "Action": "s3:PutObject",
         "Resource": f"{bucket_arn}/{ALB_LOG_PREFIX}AWSLogs/{account_id}/*"},
        {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": [bucket_arn, f"{bucket_arn}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    ]}


#: ALB security policies that negotiate TLS 1.3 only (AWS's ELBSecurityPolicy-TLS13-1-3-*).
TLS13_ONLY_POLICY = re.compile(r"^ELBSecurityPolicy-TLS13-1-3-[A-Za-z0-9-]+$")
DEFAULT_SSL_POLICY = "ELBSecurityPolicy-TLS13-1-3-PQ-2025-09"
ACM_ARN = re.compile(r"^arn:aws(-[a-z]+)*:acm:[a-z0-9-]+:\d{12}:certificate/[A-Za-z0-9-]+$")


class AlbConfig(StrictModel):
    """The layer-7 entry point the WebACL protects: an ALB in front of the ingress gateway."""

    vpc_id: str = Field(pattern=r"^vpc-[0-9a-f]{8,17}$", description="VPC of the cluster.")
    vpc_cidr: Cidr = Field(description="The VPC's CIDR: where the ALB's security group may connect to (the gateway "
                                      "pods); the subnetCidrs lie inside it.")
    subnet_ids: list[str] = Field(min_length=2, description="Public subnets, in at least two zones.")
    subnet_cidrs: list[Cidr] = Field(
        min_length=2,
        description="The CIDRs of those subnets, one per subnet: the ALB's nodes connect to the gateway and run "
                    "their health checks from these addresses, and the gateway admits nothing else (not the whole "
                    "VPC: a pod or node elsewhere in the VPC would reach the gateway around the WAF).")
    certificate_arn: str = Field(description="ACM certificate for the external hostnames.")
    ssl_policy: str = Field(
        DEFAULT_SSL_POLICY,
        description="HTTPS listener security policy (default ELBSecurityPolicy-TLS13-1-3-PQ-2025-09: TLS 1.3 only with "
                    "hybrid post-quantum key exchange; any ELBSecurityPolicy-TLS13-1-3-* is accepted).", json_schema_extra=weakens('an ALB TLS policy other than TLS 1.3 with post-quantum key exchange'))
    target_service: Optional[str] = Field(
        None, description="Service the ALB forwards to (default: the Service Istio creates for the Gateway, "
                          "<gatewayName>-<gatewayClass>; with controller nginx, ingress.nginxConfigmap, the chart's "
                          "ingress-nginx-controller).")
    deletion_protection: bool = Field(True, description="ALB deletion protection (default true).", json_schema_extra=weakens('the ALB can be deleted without a second step'))
    idle_timeout_seconds: int = Field(60, ge=1, le=4000, description="ALB idle timeout (default 60).")

    @field_validator("subnet_ids")
    @classmethod
    def _subnets(cls, v: list[str]) -> list[str]:
        for s in v:
            if not re.match(r"^subnet-[0-9a-f]{8,17}$", s):
                raise ValueError(f"subnetIds entry {s!r} is not a subnet id (subnet-<hex>)")
        return v

    @model_validator(mode="after")
    def _subnet_cidrs(self) -> "AlbConfig":
        import ipaddress

        if len(self.subnet_cidrs) != len(self.subnet_ids):
            raise ValueError(f"subnetCidrs lists {len(self.subnet_cidrs)} ranges for {len(self.subnet_ids)} subnetIds; "
                             "give the CIDR of each ALB subnet, in the same order")
        try:
            vpc = ipaddress.ip_network(self.vpc_cidr, strict=False)
            for cidr in self.subnet_cidrs:
                if not ipaddress.ip_network(cidr, strict=False).subnet_of(vpc):
                    raise ValueError(f"subnetCidrs entry {cidr!r} is not inside vpcCidr {self.vpc_cidr!r}: the ALB's "
                                     "subnets are subnets of its VPC")
        except (TypeError, ValueError) as e:
            if "subnetCidrs" in str(e):
                raise
        return self

    @field_validator("certificate_arn")
    @classmethod
    def _cert(cls, v: str) -> str:
        if not ACM_ARN.match(v):
            raise ValueError(f"certificateArn {v!r} is not an ACM certificate ARN "
                             "(arn:aws:acm:<region>:<account>:certificate/<id>)")
        return v

    @field_validator("ssl_policy")
    @classmethod
    def _policy(cls, v: str) -> str:
        if not TLS13_ONLY_POLICY.match(v):
            raise ValueError(f"sslPolicy {v!r} also negotiates TLS 1.2 or older; use a TLS 1.3-only policy such as "
                             f"{DEFAULT_SSL_POLICY} or ELBSecurityPolicy-TLS13-1-3-2021-06")
        return v


class EdgeProtectionArgs(StrictModel):
    waf: WafConfig = Field(default_factory=WafConfig, description="The WAF section.")
    cluster_name: str = Field(description="Cluster name, used in names, metrics and tags.")
    alb: Optional[AlbConfig] = Field(None, description="The ALB to build in front of the gateway (ingress.alb).")
    target_namespace: str = Field("istio-ingress", description="Namespace of the gateway Service.")
    target_service: str = Field("public-istio", description="The gateway Service the ALB forwards to.")
    target_port: int = Field(443, description="Its HTTPS port.")
    acme_http01: bool = Field(False, description="Forward ACME HTTP-01 challenges on port 80 to the gateway's port-80 "
                                                 "listener (HardenedStack sets it with ingress.acme).")
    access_logs_bucket: Optional[str] = Field(
        None, description="Bucket of the ALB's access logs (HardenedStack: <audit bucket>-alb, created here); default "
                          "none.")
    access_logs_retention_days: int = Field(2555, ge=1, description="Object Lock retention of the access logs.")
    account_id: Optional[str] = Field(None, description="cluster.accountId (the access-log bucket policy).")
    region: str = Field("us-east-1", description="AWS region (the access-log bucket policy).")


def alb_resources(args: EdgeProtectionArgs, prefix: str, tags: dict) -> dict:
    """Wire-format inputs of the ALB pieces (pure; references between them are filled in by the
    component): security group, load balancer, target group, listeners."""
    a = args.alb
    assert a is not None
    egress_ports = sorted({args.target_port, 15021} | ({80} if args.acme_http01 else set()))
    sg = {
        "name": f"{prefix}-alb", "description": f"Public entry of {args.cluster_name}: 80/443 in, 443 to the VPC",
        "vpcId": a.vpc_id,
        "ingress": [{"protocol": "tcp", "fromPort": port, "toPort": port, "cidrBlocks": ["0.0.0.0/0"],
                     "ipv6CidrBlocks": ["::/0"], "description": f"clients on {port}"} for port in (80, 443)],
        "egress": [{"protocol": "tcp", "fromPort": p, "toPort": p, "cidrBlocks": [a.vpc_cidr],
                    "description": f"gateway pods on {p}"} for p in egress_ports],
        "tags": tags,
    }
    lb = {
        "name": f"{prefix}-alb"[:32], "loadBalancerType": "application", "internal": False,
        "subnets": list(a.subnet_ids), "ipAddressType": "ipv4",
        "dropInvalidHeaderFields": True, "desyncMitigationMode": "strictest",
        "enableDeletionProtection": a.deletion_protection, "enableHttp2": True,
        "idleTimeout": a.idle_timeout_seconds, "tags": tags,
    }
    tg = {
        "name": f"{prefix}-gw"[:32], "port": args.target_port, "protocol": "HTTPS", "targetType": "ip",
        "vpcId": a.vpc_id, "deregistrationDelay": 30,
        "healthCheck": {"enabled": True, "protocol": "HTTP", "port": "15021", "path": "/healthz/ready",
                        "matcher": "200", "interval": 10, "healthyThreshold": 2, "unhealthyThreshold": 3},
        "tags": tags,
    }
    https = {"port": 443, "protocol": "HTTPS", "sslPolicy": a.ssl_policy, "certificateArn": a.certificate_arn,
             "tags": tags}
    http = {"port": 80, "protocol": "HTTP", "tags": tags,
            "defaultActions": [{"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443",
                                                                  "statusCode": "HTTP_301"}}]}
    out = {"sg": sg, "lb": lb, "tg": tg, "https": https, "http": http}
    if args.acme_http01:
        # ACME HTTP-01 (the CA fetches http://<host>/.well-known/acme-challenge/<token> on port 80):
        # the HTTP listener forwards that path, and only it, to the gateway's port-80 listener,
        # where cert-manager's solver route answers; everything else on 80 is still the 301.
        out["tg_http"] = {
            "name": f"{prefix}-gw-http"[:32], "port": 80, "protocol": "HTTP", "targetType": "ip",
            "vpcId": a.vpc_id, "deregistrationDelay": 30,
            "healthCheck": {"enabled": True, "protocol": "HTTP", "port": "15021", "path": "/healthz/ready",
                            "matcher": "200", "interval": 10, "healthyThreshold": 2, "unhealthyThreshold": 3},
            "tags": tags,
        }
        out["acme_rule"] = {"priority": 1, "tags": tags,
                            "conditions": [{"pathPattern": {"values": [ACME_CHALLENGE_PATH]}}]}
    if args.access_logs_bucket:
        lb["accessLogs"] = {"bucket": args.access_logs_bucket, "prefix": ALB_LOG_PREFIX.rstrip("/"),
                            "enabled": True}
    return out


def target_group_binding(args: EdgeProtectionArgs, target_group_arn: Any, port: Optional[int] = None,
                         suffix: str = "alb") -> dict:
    """The AWS Load Balancer Controller registers the gateway pods' IPs in the stack's target group
    (the Service port's target port on each ready pod: aws-load-balancer-controller,
    pkg/backend/endpoint_resolver.go, ResolvePodEndpoints)."""
    return {
        "apiVersion": "elbv2.k8s.aws/v1beta1", "kind": "TargetGroupBinding",
        "metadata": {"name": f"{args.target_service}-{suffix}", "namespace": args.target_namespace,
                     "labels": {"app.kubernetes.io/name": f"{args.target_service}-{suffix}",
                                "app.kubernetes.io/part-of": "hardened-stack",
                                "app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/component": "edge"}},
        "spec": {"serviceRef": {"name": args.target_service, "port": port or args.target_port},
                 "targetGroupARN": target_group_arn, "targetType": "ip"},
    }


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
        self.alb = None
        protected: Any = cfg.load_balancer_arn
        if args.alb is not None:
            protected = self._alb(name, args, prefix, tags)
        if protected:
            self.association = AwsResource(
                "aws:wafv2/webAclAssociation:WebAclAssociation", f"{name}-web-acl-association",
                {"resourceArn": protected, "webAclArn": self.web_acl.arn}, child_opts(self), outputs=())
            if cfg.shield_advanced:
                self.shield = aws.shield.Protection(
                    f"{name}-shield", name=f"{prefix}-ingress-lb", resource_arn=protected,
                    tags=tags, opts=child_opts(self))
        else:
            pulumi.log.warn("ingress.waf.loadBalancerArn is not set: the WebACL exists but protects nothing until it "
                            "is associated; set ingress.alb (the stack builds the ALB and associates it) or put the "
                            "ARN of your ALB in ingress.waf.loadBalancerArn and run `pulumi up` again"
                            + (" (Shield Advanced protection is created then too)" if cfg.shield_advanced else ""),
                            self)
        if cfg.mode == "count":  # fail open: every request passes, a rule match is only counted
            pulumi.log.warn("ingress.waf.mode is count: the WAF counts rule matches and lets every request through "
                            "(fail open); the default block refuses them", self)
        self.web_acl_arn = self.web_acl.arn
        self.register_outputs({
            "webAclArn": self.web_acl.arn,
            "associated": self.association is not None,
            "albArn": self.alb.arn if self.alb is not None else None,
            "shieldAdvanced": self.shield is not None,
        })

    def _alb(self, name: str, args: EdgeProtectionArgs, prefix: str, tags: dict) -> Any:
        """The ALB, its listeners and target group, and the binding that fills it; returns its ARN."""
        spec = alb_resources(args, prefix, tags)
        sg = AwsResource("aws:ec2/securityGroup:SecurityGroup", f"{name}-alb-sg", spec["sg"], child_opts(self))
        lb_deps = self._access_log_bucket(name, args, tags) if args.access_logs_bucket else []
        self.alb = AwsResource("aws:lb/loadBalancer:LoadBalancer", f"{name}-alb",
                               {**spec["lb"], "securityGroups": [sg.id]}, child_opts(self, depends_on=lb_deps),
                               outputs=("arn", "dnsName"))
        tg = AwsResource("aws:lb/targetGroup:TargetGroup", f"{name}-alb-tg", spec["tg"], child_opts(self))
        AwsResource("aws:lb/listener:Listener", f"{name}-alb-https",
                    {**spec["https"], "loadBalancerArn": self.alb.arn,
                     "defaultActions": [{"type": "forward", "targetGroupArn": tg.arn}]}, child_opts(self))
        http = AwsResource("aws:lb/listener:Listener", f"{name}-alb-http",
                           {**spec["http"], "loadBalancerArn": self.alb.arn}, child_opts(self))
        k8s_object(f"{name}-alb-binding", target_group_binding(args, tg.arn), child_opts(self))
        if "acme_rule" in spec:
            tg_http = AwsResource("aws:lb/targetGroup:TargetGroup", f"{name}-alb-tg-http", spec["tg_http"],
                                  child_opts(self))
            AwsResource("aws:lb/listenerRule:ListenerRule", f"{name}-alb-acme-http01",
                        {**spec["acme_rule"], "listenerArn": http.arn,
                         "actions": [{"type": "forward", "targetGroupArn": tg_http.arn}]}, child_opts(self))
            k8s_object(f"{name}-alb-binding-http", target_group_binding(args, tg_http.arn, port=80, suffix="alb-http"),
                       child_opts(self))
        self.alb_dns_name = getattr(self.alb, "dnsName", None)
        return self.alb.arn

    def _access_log_bucket(self, name: str, args: EdgeProtectionArgs, tags: dict) -> list:
        """The ALB's access logs, kept like the audit archive (Object Lock COMPLIANCE for the same
        retention, versioned, never public, TLS only), in a bucket of their own because ALB access
        logs support SSE-S3 only (AWS, "Enable access logs for your Application Load Balancer":
        "The only server-side encryption option that's supported is Amazon S3-managed keys"), and
        the audit bucket's default encryption is SSE-KMS with the audit key."""
        bucket_name = args.access_logs_bucket
        arn = f"arn:aws:s3:::{bucket_name}"
        bucket = AwsResource("aws:s3/bucket:Bucket", f"{name}-alb-logs",
                             {"bucket": bucket_name, "objectLockEnabled": True, "forceDestroy": False, "tags": tags},
                             child_opts(self), outputs=("arn", "id"))
        opts = child_opts(self, depends_on=[bucket])
        AwsResource("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", f"{name}-alb-logs-public-access",
                    {"bucket": bucket_name, "blockPublicAcls": True, "blockPublicPolicy": True, "ignorePublicAcls": True,
                     "restrictPublicBuckets": True}, opts, outputs=())
        versioning = AwsResource("aws:s3/bucketVersioning:BucketVersioning", f"{name}-alb-logs-versioning",
                                 {"bucket": bucket_name, "versioningConfiguration": {"status": "Enabled"}}, opts,
                                 outputs=())
        sse = AwsResource("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
                          f"{name}-alb-logs-sse", {"bucket": bucket_name, "rules": [
                              {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]}, opts, outputs=())
        lock = AwsResource("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
                           f"{name}-alb-logs-object-lock",
                           {"bucket": bucket_name, "objectLockEnabled": "Enabled",
                            "rule": {"defaultRetention": {"mode": "COMPLIANCE",
                                                          "days": args.access_logs_retention_days}}},
                           child_opts(self, depends_on=[bucket, versioning]), outputs=())
        policy = AwsResource("aws:s3/bucketPolicy:BucketPolicy", f"{name}-alb-logs-policy",
                             {"bucket": bucket_name, "policy": json.dumps(access_log_bucket_policy(
                                 arn, args.account_id or "", args.region), sort_keys=True)}, opts, outputs=())
        return [bucket, sse, lock, policy]
