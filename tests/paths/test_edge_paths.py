"""Issue 23 item 4 and issue 21 item 2: the way in goes through the WAF only, its logs and the
ALB's access logs are kept, and the public certificate can be issued.

* WAF bypass: the gateway admitted the whole VPC (10.0.0.0/16): any pod or node could reach it
  around the ALB and its WebACL. Now only the ALB subnets' addresses (ingress.alb.subnetCidrs,
  where the ALB's nodes connect and health-check from) may.
* WAF logs: AWS WAF logs only to destinations named ``aws-waf-logs-*`` (AWS WAF developer guide,
  "Logging destinations"): a Firehose stream of that name writes ``waf/`` of the audit bucket.
* ALB access logs support SSE-S3 only (ELB user guide, "Enable access logs for your Application
  Load Balancer"), so they go to ``<audit bucket>-alb``: Object Lock COMPLIANCE for the same
  retention, the bucket policy AWS documents for the Region's ELB account, TLS only.
* ACME HTTP-01: the CA fetches ``http://<host>/.well-known/acme-challenge/<token>`` (RFC 8555 8.3)
  from the ALB, whose port-80 listener only redirected: nothing reached the route cert-manager
  attaches to the gateway's port-80 listener. The listener now forwards that path to the gateway.
"""
from __future__ import annotations

import ipaddress
import json

import pytest

from components.config import ConfigError, parse_stack_config
from components.edge import ELB_LOG_ACCOUNTS
from components.ingress import ACME_SOLVER_LABEL, ACME_SOLVER_PORT
from tests.harness import k8s, of_type, prod_document
from tests.paths import iam
from tests.paths.upstream import upstream_text

GATEWAY_POD = {"gateway.networking.k8s.io/gateway-name": "public", "istio.io/gateway-name": "public"}


def _selects(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items()) and not selector.get(
        "matchExpressions")


def admitted(prod, namespace: str, labels: dict, source: str, port: int) -> bool:
    """Whether an outside address may open *port* on a pod with *labels* (NetworkPolicy ingress:
    the union of every policy that selects the pod; ipBlock peers only, as the source is no pod)."""
    ip = ipaddress.ip_address(source)
    policies = [p for p in k8s(prod, "NetworkPolicy", namespace=namespace)
                if "Ingress" in p["spec"].get("policyTypes", ["Ingress"]) and _selects(p["spec"]["podSelector"], labels)]
    assert policies, "default deny must select the pod"
    for p in policies:
        for rule in p["spec"].get("ingress", []):
            ports = [q["port"] for q in rule.get("ports", [])]
            if ports and port not in ports:
                continue
            for peer in rule.get("from", []):
                block = peer.get("ipBlock")
                if block and ip in ipaddress.ip_network(block["cidr"]) and not any(
                        ip in ipaddress.ip_network(e) for e in block.get("except", [])):
                    return True
    return False


@pytest.mark.parametrize("source, port, expected", [
    ("10.0.0.17", 443, True), ("10.0.2.200", 443, True), ("10.0.1.9", 15021, True),  # the ALB's nodes
    ("10.0.50.7", 443, False), ("10.0.64.3", 443, False),  # a pod or node elsewhere in the VPC
    ("10.0.50.7", 15021, False), ("10.0.50.7", 80, False), ("203.0.113.5", 443, False),  # the internet
    ("10.0.0.17", 80, True),  # ACME HTTP-01, forwarded by the ALB
    ("10.0.0.17", 15090, False),
])
def test_only_the_alb_reaches_the_gateway(prod, source, port, expected):
    assert admitted(prod, "istio-ingress", GATEWAY_POD, source, port) is expected


def test_subnet_cidrs_must_be_the_alb_subnets_inside_the_vpc():
    for change, fragment in [({"subnetCidrs": ["10.0.0.0/24", "10.0.1.0/24"]}, "for 3 subnetIds"),
                             ({"subnetCidrs": ["10.0.0.0/24", "10.0.1.0/24", "192.168.0.0/24"]}, "not inside vpcCidr")]:
        doc = prod_document()
        doc["ingress"]["alb"].update(change)
        with pytest.raises(ConfigError) as exc:
            parse_stack_config(doc)
        assert "hardened-stack:ingress.alb" in str(exc.value) and fragment in str(exc.value)
    doc = prod_document()
    doc["ingress"]["alb"].pop("subnetCidrs")
    with pytest.raises(ConfigError) as exc:
        parse_stack_config(doc)
    assert "hardened-stack:ingress.alb.subnetCidrs" in str(exc.value)


def test_waf_logs_reach_the_audit_bucket(prod):
    (acl,) = of_type(prod, "aws:wafv2/webAcl:WebAcl")
    (logging,) = of_type(prod, "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration")
    assert logging.inputs["resourceArn"].endswith(f"/{acl.name}")
    (dest,) = logging.inputs["logDestinationConfigs"]
    (stream,) = [r for r in of_type(prod, "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream")
                 if dest.endswith(f"/{r.name}")]
    assert stream.inputs["name"].startswith("aws-waf-logs-")
    s3 = stream.inputs["extendedS3Configuration"]
    assert s3["bucketArn"] == iam.audit_bucket_arn(prod) and s3["prefix"] == "waf/"
    policy = iam.merged(prod, iam.role_by_arn(prod, s3["roleArn"]))
    assert [s["Resource"] for s in policy["Statement"] if "s3:PutObject" in s["Action"]] == [
        f"{iam.audit_bucket_arn(prod)}/waf/*"]


def test_alb_access_logs_are_kept_as_aws_allows_and_locked(prod):
    (alb,) = of_type(prod, "aws:lb/loadBalancer:LoadBalancer")
    logs = alb.inputs["accessLogs"]
    assert logs["enabled"] is True and "AWSLogs" not in logs["prefix"]
    bucket = logs["bucket"]
    assert bucket == f"{iam.audit_bucket(prod).inputs['bucket']}-alb"
    by_bucket = {r.type.split(":")[-1]: r for r in prod if r.inputs.get("bucket") == bucket}
    assert by_bucket["Bucket"].inputs["objectLockEnabled"] is True
    assert by_bucket["BucketServerSideEncryptionConfiguration"].inputs["rules"][0][
        "applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}  # SSE-S3: the only one ALB supports
    assert by_bucket["BucketObjectLockConfiguration"].inputs["rule"]["defaultRetention"] == {"mode": "COMPLIANCE",
                                                                                            "days": 2555}
    assert all(by_bucket["BucketPublicAccessBlock"].inputs[k] is True for k in (
        "blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    policy = json.loads(by_bucket["BucketPolicy"].inputs["policy"])
    (deliver,) = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert deliver["Principal"] == {"AWS": f"arn:aws:iam::{ELB_LOG_ACCOUNTS['us-east-1']}:root"}
    assert deliver["Action"] == "s3:PutObject"
    assert deliver["Resource"] == f"arn:aws:s3:::{bucket}/{logs['prefix']}/AWSLogs/123456789012/*"
    # ELB checks the bucket when the attribute is set: the bucket and its policy come first
    assert {by_bucket["BucketPolicy"].urn, by_bucket["Bucket"].urn} <= set(alb.dependencies)


def test_acme_http01_reaches_the_solver_end_to_end(prod):
    # 1. the issuer: HTTP-01 through a route on the Gateway's port-80 listener
    (issuer,) = k8s(prod, "ClusterIssuer", "letsencrypt-prod")
    (solver,) = issuer["spec"]["acme"]["solvers"]
    (parent,) = solver["http01"]["gatewayHTTPRoute"]["parentRefs"]
    (gw,) = k8s(prod, "Gateway", parent["name"], parent["namespace"])
    (listener,) = [x for x in gw["spec"]["listeners"] if x["name"] == parent["sectionName"]]
    assert listener["port"] == 80 and listener["protocol"] == "HTTP"
    # cert-manager's route (pkg/issuer/acme/http/httproute.go) matches the exact token path, more
    # specific than the redirect route's catch-all, so it wins on that listener
    # 2. the ALB: the port-80 listener forwards exactly the challenge path to a target group ...
    listeners = {r.inputs["port"]: r for r in of_type(prod, "aws:lb/listener:Listener")}
    (rule,) = of_type(prod, "aws:lb/listenerRule:ListenerRule")
    assert rule.inputs["listenerArn"].endswith(f"/{listeners[80].name}")
    assert rule.inputs["conditions"] == [{"pathPattern": {"values": ["/.well-known/acme-challenge/*"]}}]
    assert listeners[80].inputs["defaultActions"][0]["type"] == "redirect"  # everything else still 301
    (action,) = rule.inputs["actions"]
    (tg,) = [r for r in of_type(prod, "aws:lb/targetGroup:TargetGroup") if action["targetGroupArn"].endswith(f"/{r.name}")]
    assert tg.inputs["protocol"] == "HTTP" and tg.inputs["port"] == 80 and tg.inputs["targetType"] == "ip"
    # 3. ... which the AWS Load Balancer Controller fills with the gateway pods' port-80 endpoints
    (tgb,) = [b for b in k8s(prod, "TargetGroupBinding", namespace="istio-ingress")
              if b["spec"]["targetGroupARN"].endswith(f"/{tg.name}")]
    assert tgb["spec"]["serviceRef"] == {"name": f"{gw['metadata']['name']}-{gw['spec']['gatewayClassName']}",
                                         "port": listener["port"]}
    # 4. the ALB's security group may open port 80 to the VPC, and the gateway admits it from the ALB
    # (the ALB's own group: the created cluster has its control plane's, nodes' and endpoints' groups)
    (alb,) = of_type(prod, "aws:lb/loadBalancer:LoadBalancer")
    (sg,) = [g for g in of_type(prod, "aws:ec2/securityGroup:SecurityGroup")
             if f"{g.name}-id" in alb.inputs["securityGroups"]]
    assert any(e["fromPort"] == 80 for e in sg.inputs["egress"])
    assert admitted(prod, "istio-ingress", GATEWAY_POD, "10.0.1.33", 80)
    # 5. the gateway reaches the solver pods cert-manager starts in this namespace, and only it
    solver_labels = {ACME_SOLVER_LABEL: "true", "acme.cert-manager.io/http-domain": "1",
                     "acme.cert-manager.io/http-token": "2"}
    (into,) = [p for p in k8s(prod, "NetworkPolicy", namespace="istio-ingress")
               if p["spec"]["podSelector"].get("matchLabels", {}).get(ACME_SOLVER_LABEL) == "true"
               and "Ingress" in p["spec"]["policyTypes"]]
    (peer,) = into["spec"]["ingress"][0]["from"]
    assert _selects(peer["podSelector"], GATEWAY_POD)
    assert into["spec"]["ingress"][0]["ports"] == [{"protocol": "TCP", "port": ACME_SOLVER_PORT}]
    # nothing from outside the cluster reaches the solver's port
    assert not admitted(prod, "istio-ingress", solver_labels, "10.0.0.17", ACME_SOLVER_PORT)
    out = [p for p in k8s(prod, "NetworkPolicy", namespace="istio-ingress")
           if _selects(p["spec"]["podSelector"], GATEWAY_POD) and "Egress" in p["spec"]["policyTypes"]
           and any(t.get("podSelector", {}).get("matchLabels", {}).get(ACME_SOLVER_LABEL) == "true"
                   for r in p["spec"].get("egress", []) for t in r["to"])]
    assert out and out[0]["spec"]["egress"][0]["ports"] == [{"protocol": "TCP", "port": ACME_SOLVER_PORT}]


def test_recorded_cert_manager_facts_match_its_source():
    pod = upstream_text("cert-manager/cert-manager", "v1.21.1", "pkg/issuer/acme/http/pod.go")
    if pod is None:
        pytest.skip("no cert-manager mirror on this machine; the recorded facts stand")
    http = upstream_text("cert-manager/cert-manager", "v1.21.1", "pkg/issuer/acme/http/http.go")
    types = upstream_text("cert-manager/cert-manager", "v1.21.1", "pkg/apis/acme/v1/types.go")
    route = upstream_text("cert-manager/cert-manager", "v1.21.1", "pkg/issuer/acme/http/httproute.go")
    assert f"acmeSolverListenPort = {ACME_SOLVER_PORT}" in http
    assert f'SolverIdentificationLabelKey = "{ACME_SOLVER_LABEL}"' in types
    assert "cmacme.SolverIdentificationLabelKey: solverIdent" in pod
    assert 'fmt.Sprintf("/.well-known/acme-challenge/%s", ch.Spec.Token)' in route and "PathMatchExact" in route
