"""eks-disallow-public-endpoint: an EKS cluster's API endpoint is private, or public only to an
allowlist of CIDRs, never to the world.

EKS turns the public endpoint on by default, open to 0.0.0.0/0 (``vpcConfig.endpointPublicAccess``
and ``publicAccessCidrs`` unset): anyone on the internet can then reach the API server and try
credentials. Anchors: CIS Amazon EKS Benchmark 5.4.1/5.4.2 (restrict access to the control-plane
endpoint; private endpoint enabled, public access disabled), checkov CKV_AWS_38 (public access CIDRs
not 0.0.0.0/0) and CKV_AWS_39 (public endpoint disabled), pulumi/compliance-policies
``vendor-aws/aws/eks/Cluster/disallowApiEndpointPublicAccess.ts`` (unset counts as public; a CIDR
list with 0.0.0.0/0 or ::/0 is public). This policy also requires the private endpoint, so nodes
and the VPC reach the API without leaving it.
"""
from __future__ import annotations

import ipaddress

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.k8s import get_bool, get_map, strings


def _world(cidr: str) -> bool:
    try:
        return ipaddress.ip_network(cidr.strip(), strict=False).prefixlen == 0
    except ValueError:
        return True  # unparseable: AWS rejects it; never judged safe


def check(obj, config):
    vpc = get_map(obj.props, "vpcConfig", "")
    if get_bool(vpc, "endpointPrivateAccess", "vpcConfig") is not True:
        yield ("vpcConfig.endpointPrivateAccess is not true: nodes and in-VPC clients reach the API server through "
               "the public endpoint; set endpoint_private_access=True")
    if get_bool(vpc, "endpointPublicAccess", "vpcConfig") is False:
        return
    cidrs = strings(vpc, "publicAccessCidrs", "vpcConfig")
    if not cidrs:
        yield ("the public endpoint is on (vpcConfig.endpointPublicAccess is true or unset, EKS's default) with no "
               "publicAccessCidrs, so EKS opens it to 0.0.0.0/0; set endpoint_public_access=False, or list your "
               "admins' ranges in public_access_cidrs")
    for cidr in cidrs:
        if _world(cidr):
            yield (f"vpcConfig.publicAccessCidrs holds {cidr!r}: the API server is public to the whole internet; "
                   "remove it (private endpoint only, or your admins' ranges)")


POLICY = resource_policy(
    name="eks-disallow-public-endpoint",
    description="EKS API endpoints are private (public only to an allowlist of CIDRs, never 0.0.0.0/0).",
    kinds=[("aws:eks", "Cluster")],
    severity=Severity.CRITICAL,
    control=nist_800_171("3.13.1"),
    tags=["cis-eks:5.4.1", "cis-eks:5.4.2", "checkov:CKV_AWS_38", "checkov:CKV_AWS_39", "cmmc:SC.L1-3.13.1",
          "nist800-207:tenet-3"],
    remediation="""
Use the stack's HardenedCluster (cluster.create: true): endpoint_private_access=True and
endpoint_public_access=False; cluster.publicAccessCidrs is the only alternative, and it refuses
0.0.0.0/0 and ::/0. For an adopted cluster: aws eks update-cluster-config --resources-vpc-config
endpointPrivateAccess=true,endpointPublicAccess=false.""",
    check=check,
)
