"""eks-enable-control-plane-logging: an EKS cluster sends all five control-plane log types
(api, audit, authenticator, controllerManager, scheduler) to CloudWatch Logs.

Without the ``audit`` log nobody can say who did what to the cluster; without ``authenticator``,
which IAM identity became which Kubernetes user. EKS turns every type off by default. Anchors: CIS
Amazon EKS Benchmark 2.1.1 (enable audit logs), checkov CKV_AWS_37 (all five types). The stack's
audit trail (components/audit.py) archives the audit events from that log group.
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.k8s import strings

LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")


def check(obj, config):
    enabled = set(strings(obj.props, "enabledClusterLogTypes", ""))
    missing = [t for t in LOG_TYPES if t not in enabled]
    if missing:
        yield (f"enabledClusterLogTypes lacks {', '.join(missing)}: "
               + ("the API server's audit trail is lost; " if "audit" in missing else "")
               + f"set enabled_cluster_log_types={list(LOG_TYPES)}")


POLICY = resource_policy(
    name="eks-enable-control-plane-logging",
    description="EKS clusters send all five control-plane log types (api, audit, authenticator, controllerManager, "
                "scheduler) to CloudWatch Logs.",
    kinds=[("aws:eks", "Cluster")],
    severity=Severity.HIGH,
    control=nist_800_171("3.3.1"),
    tags=["cis-eks:2.1.1", "checkov:CKV_AWS_37", "cmmc:AU.L2-3.3.1", "cmmc:AU.L2-3.3.2", "iec62443:SR 2.8"],
    remediation="""
Use the stack's HardenedCluster (cluster.create: true), which turns on all five types and creates
the log group the audit trail archives. For an adopted cluster: aws eks update-cluster-config --name
<name> --logging '{"clusterLogging":[{"types":["api","audit","authenticator","controllerManager",
"scheduler"],"enabled":true}]}'.""",
    check=check,
)
