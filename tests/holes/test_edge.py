"""Issue 17, item 3: the WAF protected nothing. The stack now builds a layer-7 entry point (an
ALB) in front of the gateway, associates every WebACL with it by reference, and keeps TLS 1.3 end
to end."""
from __future__ import annotations

import pytest

from components.config import ConfigError, parse_stack_config
from components.edge import DEFAULT_SSL_POLICY
from tests.harness import k8s, of_type, prod_document, render_records


@pytest.fixture(scope="module")
def prod():
    return render_records()


def test_every_web_acl_is_associated_with_a_load_balancer_of_the_stack(prod):
    """Fails whenever a WebACL is left unassociated (the render before issue 17 had none)."""
    acls = of_type(prod, "aws:wafv2/webAcl:WebAcl")
    assocs = of_type(prod, "aws:wafv2/webAclAssociation:WebAclAssociation")
    albs = of_type(prod, "aws:lb/loadBalancer:LoadBalancer")
    assert acls
    for acl in acls:
        mine = [a for a in assocs if a.inputs["webAclArn"].endswith(f"/{acl.name}")]
        assert mine, f"WebACL {acl.name} is associated with nothing"
        for a in mine:
            target = a.inputs["resourceArn"]
            assert any(target.endswith(f"/{alb.name}") for alb in albs), f"{target} is no ALB of the stack"
            assert acl.urn in a.dependencies
    for alb in albs:
        assert alb.inputs["loadBalancerType"] == "application" and alb.inputs["internal"] is False
        assert alb.inputs["dropInvalidHeaderFields"] is True and alb.inputs["desyncMitigationMode"] == "strictest"


def test_tls13_end_to_end(prod):
    listeners = {r.inputs["port"]: r.inputs for r in of_type(prod, "aws:lb/listener:Listener")}
    https = listeners[443]
    assert https["protocol"] == "HTTPS" and https["sslPolicy"] == DEFAULT_SSL_POLICY
    assert https["sslPolicy"].startswith("ELBSecurityPolicy-TLS13-1-3-")
    assert https["certificateArn"].startswith("arn:aws:acm:")
    assert listeners[80]["defaultActions"][0]["redirect"]["protocol"] == "HTTPS"
    (tg,) = [r for r in of_type(prod, "aws:lb/targetGroup:TargetGroup") if r.name.endswith("-alb-tg")]
    assert tg.inputs["protocol"] == "HTTPS" and tg.inputs["targetType"] == "ip"
    assert https["defaultActions"][0]["targetGroupArn"].endswith(f"/{tg.name}")
    # the gateway behind it accepts TLS 1.3 only
    (f,) = k8s(prod, "EnvoyFilter", "public-tls13", "istio-ingress")
    params = f["spec"]["configPatches"][0]["patch"]["value"]["transport_socket"]["typed_config"]["common_tls_context"][
        "tls_params"]
    assert params["tls_minimum_protocol_version"] == "TLSv1_3"


def test_the_alb_is_the_only_way_in(prod):
    (gw,) = k8s(prod, "Gateway", "public", "istio-ingress")
    assert gw["metadata"]["annotations"]["networking.istio.io/service-type"] == "ClusterIP"
    (tgb,) = k8s(prod, "TargetGroupBinding", "public-istio-alb", namespace="istio-ingress")
    assert tgb["spec"]["serviceRef"] == {"name": "public-istio", "port": 443}
    assert tgb["spec"]["targetGroupARN"].startswith("arn:aws:lb") and tgb["spec"]["targetType"] == "ip"
    (np,) = k8s(prod, "NetworkPolicy", "allow-ingress-clients", "istio-ingress")
    sources = [p["ipBlock"]["cidr"] for rule in np["spec"]["ingress"] for p in rule["from"]]
    # the ALB's subnets only (issue 23, item 4: not the whole VPC; tests/paths/test_edge_paths.py)
    assert sorted(set(sources)) == ["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"]


def test_shield_advanced_protects_the_alb_when_on():
    doc = prod_document()
    doc["ingress"]["waf"]["shieldAdvanced"] = True
    records = render_records({"ingress": doc["ingress"]})
    (shield,) = of_type(records, "aws:shield/protection:Protection")
    (alb,) = of_type(records, "aws:lb/loadBalancer:LoadBalancer")
    assert shield.inputs["resourceArn"].endswith(f"/{alb.name}")


@pytest.mark.parametrize("mutate, key, fragment", [
    (lambda d: d["ingress"].pop("alb"), "ingress.alb", "protect nothing"),
    (lambda d: d["ingress"]["waf"].update(loadBalancerArn="arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/x/1"),
     "ingress.waf.loadBalancerArn", "remove one"),
    (lambda d: d["ingress"]["alb"].update(sslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06"), "ingress.alb.sslPolicy",
     "TLS 1.2"),
    (lambda d: d["ingress"]["alb"].update(subnetIds=["subnet-0a1b2c3d4e5f60001"]), "ingress.alb.subnetIds", ""),
    (lambda d: d["ingress"]["alb"].update(vpcCidr="10.0.0.1/16"), "ingress.alb.vpcCidr", "host bits"),
])
def test_an_unprotected_or_weak_edge_is_refused(mutate, key, fragment):
    doc = prod_document()
    mutate(doc)
    with pytest.raises(ConfigError) as exc:
        parse_stack_config(doc)
    assert f"hardened-stack:{key}" in str(exc.value) and fragment in str(exc.value)
