"""addon-enforce-network-policy: the EKS VPC CNI add-on runs its network policy agent
(``enableNetworkPolicy``), so NetworkPolicies are enforced.

On a stock EKS cluster the VPC CNI ignores NetworkPolicy objects: every default-deny and every
intent of the stack would be a no-op (issue 21). The agent is switched on through the add-on's
configuration values (``{"enableNetworkPolicy": "true"}``, the vpc-cni add-on schema). Anchors: CIS
Amazon EKS Benchmark 4.3.1 (the CNI supports network policies; CIS Kubernetes 5.3.1), NSA/CISA
Kubernetes Hardening Guide (network separation).
"""
from __future__ import annotations

import json

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.k8s import get_str


def check(obj, config):
    if get_str(obj.props, "addonName", "") != "vpc-cni":
        return
    raw = get_str(obj.props, "configurationValues", "")
    try:
        values = json.loads(raw) if raw else {}
    except ValueError:
        yield "configurationValues is not JSON; set it to {\"enableNetworkPolicy\": \"true\"}"
        return
    flag = values.get("enableNetworkPolicy") if isinstance(values, dict) else None
    if str(flag).lower() != "true":
        yield ("the vpc-cni add-on does not set enableNetworkPolicy to \"true\": NetworkPolicies are not enforced "
               "and every default-deny is a no-op; set configuration_values='{\"enableNetworkPolicy\": \"true\"}'")


POLICY = resource_policy(
    name="addon-enforce-network-policy",
    description="The EKS vpc-cni add-on sets enableNetworkPolicy, so NetworkPolicies are enforced.",
    kinds=[("aws:eks", "Addon")],
    severity=Severity.HIGH,
    control=nist_800_171("3.13.6"),
    tags=["cis-eks:4.3.1", "cis-k8s:5.3.1", "cmmc:SC.L2-3.13.6", "iec62443:SR 5.1", "nist800-207:tenet-3"],
    remediation="""
Use the stack's HardenedCluster, whose vpc-cni add-on sets {"enableNetworkPolicy": "true"}. For an
adopted cluster: aws eks update-addon --cluster-name <name> --addon-name vpc-cni
--configuration-values '{"enableNetworkPolicy":"true"}'.""",
    check=check,
)
