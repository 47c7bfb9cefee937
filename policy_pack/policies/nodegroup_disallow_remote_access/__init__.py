"""nodegroup-disallow-remote-access: EKS managed node groups allow no SSH (no ``remoteAccess``).

``remoteAccess.ec2SshKey`` opens port 22 on every node; without ``sourceSecurityGroupIds`` EKS
opens it to 0.0.0.0/0 (checkov CKV_AWS_100). A node reached over SSH is a node whose kubelet
credentials, pod secrets and container runtime are one command away. The stack's nodes have no key
and no remote access; emergencies go through the break-glass role (docs/cluster.md).
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.k8s import get_map, get_str, strings


def check(obj, config):
    remote = get_map(obj.props, "remoteAccess", "")
    if not remote:
        return
    key = get_str(remote, "ec2SshKey", "remoteAccess")
    sources = strings(remote, "sourceSecurityGroupIds", "remoteAccess")
    if key and not sources:
        yield (f"remoteAccess.ec2SshKey {key!r} with no sourceSecurityGroupIds opens SSH on every node to 0.0.0.0/0; "
               "remove remoteAccess")
    else:
        yield "remoteAccess is set: nodes accept SSH; remove it (no SSH on nodes; use the break-glass procedure)"


POLICY = resource_policy(
    name="nodegroup-disallow-remote-access",
    description="EKS managed node groups set no remoteAccess (no SSH to nodes).",
    kinds=[("aws:eks", "NodeGroup")],
    severity=Severity.HIGH,
    control=nist_800_171("3.1.12"),
    tags=["checkov:CKV_AWS_100", "cmmc:AC.L2-3.1.12", "cmmc:CM.L2-3.4.7", "iec62443:SR 1.13"],
    remediation="""
Remove remote_access from the node group (the stack's HardenedCluster sets none and builds nodes from
a launch template without key_name); investigate nodes with `kubectl debug node/...` under the
break-glass role.""",
    check=check,
)
