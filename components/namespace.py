"""``HardenedNamespace``: a namespace that is locked down before anything runs in it, and the
network allow rules derived from intents.

Every namespace gets Pod Security Standards labels (enforce/audit/warn at a pinned version),
``default-deny-all`` for ingress and egress, an ``allow-dns`` egress policy to kube-dns
(UDP and TCP 53), a ResourceQuota and a LimitRange. Allowed flows are added as intents
(:class:`FlowRule`), never as raw NetworkPolicy YAML.
"""
from __future__ import annotations

from typing import Literal, Optional

import pulumi
from pydantic import Field

from .base import (HardenedComponent, PSS_VERSION, StrictModel, child_opts, k8s_object, own_namespace_only,
                   standard_labels)
from .base import QuotaConfig, Resources

TOKEN = "hardened:index:HardenedNamespace"

PodSecurityLevel = Literal["restricted", "baseline", "privileged"]


class FlowPeer(StrictModel):
    """One side of a flow: a namespace and optionally the pods of one workload (``app`` label)."""

    namespace: str
    app: Optional[str] = Field(None, description="Workload `app` label; none means every pod of the namespace.")
    pod_labels: dict[str, str] = Field(default_factory=dict,
                                       description="Extra pod labels to match instead of `app` (e.g. kube-dns).")

    def pod_selector(self) -> dict:
        labels = dict(self.pod_labels)
        if self.app:
            labels["app"] = self.app
        return {"matchLabels": labels} if labels else {}

    def peer(self) -> dict:
        return {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": self.namespace}},
            "podSelector": self.pod_selector(),
        }


class FlowRule(StrictModel):
    """An allowed flow ``source -> destination:port``; rendered on the side(s) this namespace owns."""

    name: str = Field(description="Stable policy name suffix, e.g. 'dashboard-to-mcp-server-8080'.")
    source: FlowPeer
    destination: FlowPeer
    port: int = Field(ge=1, le=65535)
    protocol: Literal["TCP", "UDP"] = "TCP"


class HardenedNamespaceArgs(StrictModel):
    name: str = Field(description="Namespace name.")
    pod_security: PodSecurityLevel = Field(
        "restricted",
        description="Pod Security Standards level (default restricted). Anything else must be backed by a "
                    "named exemption in policy_pack/exemptions.yaml, or the policy pack rejects it.")
    quota: Optional[QuotaConfig] = Field(default_factory=QuotaConfig,
                                         description="ResourceQuota (default 8 CPU, 16Gi, 50 pods); None skips it.")
    default_resources: Resources = Field(default_factory=Resources, description="LimitRange container defaults.")
    labels: dict[str, str] = Field(default_factory=dict, description="Extra namespace labels (e.g. mesh injection).")
    flows: list[FlowRule] = Field(default_factory=list, description="Allowed flows touching this namespace.")
    allow_dns: bool = Field(True, description="Allow egress to kube-dns on UDP/TCP 53 (default true).")
    isolate_apps: list[str] = Field(
        default_factory=list, description="Workloads (app label) under emergency isolation: deny all in and out.")


def _policy(name: str, namespace: str, spec: dict) -> dict:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace, "labels": standard_labels(name, "network-policy")},
        "spec": spec,
    }


#: The label emergency isolation keys on: the golden path labels every workload's pods ``app: <name>``.
ISOLATION_KEY = "app"


def _selecting(selector: dict, isolated: list[str]) -> Optional[dict]:
    """*selector* of an allow policy, narrowed so that it never selects an isolated workload's pods.

    NetworkPolicies are additive: a pod selected by ``emergency-isolate-<app>`` and by any allow
    policy keeps what the allow policy opens (``allow-dns`` alone is a tunnel out). So a selector
    that names an isolated workload is dropped (None: the policy is not rendered), and one that
    could select it (namespace-wide ``{}``, or labels without ``app``) gets ``app NotIn [...]``."""
    if not isolated:
        return selector
    labels = dict(selector.get("matchLabels", {}))
    if labels.get(ISOLATION_KEY) in isolated:
        return None
    if ISOLATION_KEY in labels:
        return selector
    return {**selector, "matchExpressions": [
        *selector.get("matchExpressions", []),
        {"key": ISOLATION_KEY, "operator": "NotIn", "values": sorted(isolated)}]}


def namespace_manifests(args: HardenedNamespaceArgs) -> list[tuple[str, dict]]:
    """Every object of the namespace as ``(suffix, manifest)``: a pure function, unit-tested."""
    ns = args.name
    isolated = sorted(args.isolate_apps)
    level = args.pod_security
    labels = {
        **args.labels,
        **standard_labels(ns, "namespace"),
        "kubernetes.io/metadata.name": ns,
        "pod-security.kubernetes.io/enforce": level,
        "pod-security.kubernetes.io/enforce-version": PSS_VERSION,
        "pod-security.kubernetes.io/audit": "restricted",
        "pod-security.kubernetes.io/audit-version": PSS_VERSION,
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/warn-version": PSS_VERSION,
    }
    out: list[tuple[str, dict]] = [
        ("ns", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": labels}}),
        ("default-deny-all", _policy("default-deny-all", ns, {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})),
    ]
    if args.allow_dns:
        dns = FlowPeer(namespace="kube-system", pod_labels={"k8s-app": "kube-dns"})
        out.append(("allow-dns", _policy("allow-dns", ns, {
            "podSelector": _selecting({}, isolated),
            "policyTypes": ["Egress"],
            "egress": [{"to": [dns.peer()],
                        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}],
        })))
    for flow in sorted(args.flows, key=lambda f: f.name):
        port = [{"protocol": flow.protocol, "port": flow.port}]
        source = _selecting(flow.source.pod_selector(), isolated) if flow.source.namespace == ns else None
        destination = _selecting(flow.destination.pod_selector(), isolated) if flow.destination.namespace == ns else None
        if source is not None:
            out.append((f"egress-{flow.name}", _policy(f"allow-egress-{flow.name}", ns, {
                "podSelector": source,
                "policyTypes": ["Egress"],
                "egress": [{"to": [flow.destination.peer()], "ports": port}],
            })))
        if destination is not None:
            out.append((f"ingress-{flow.name}", _policy(f"allow-ingress-{flow.name}", ns, {
                "podSelector": destination,
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [flow.source.peer()], "ports": port}],
            })))
    for app in sorted(args.isolate_apps):
        # The seed's emergency-isolate policy: selects the pods and allows nothing. NetworkPolicies are
        # additive, so isolation also needs every allow policy above to stop selecting these pods
        # (_selecting); HardenedStack also withdraws the isolated workload's intents everywhere.
        out.append((f"isolate-{app}", _policy(f"emergency-isolate-{app}", ns, {
            "podSelector": {"matchLabels": {"app": app}},
            "policyTypes": ["Ingress", "Egress"],
        })))
    if args.quota is not None:
        out.append(("quota", {
            "apiVersion": "v1", "kind": "ResourceQuota",
            "metadata": {"name": "quota", "namespace": ns, "labels": standard_labels("quota", "quota")},
            "spec": {"hard": {"limits.cpu": args.quota.cpu, "limits.memory": args.quota.memory,
                              "requests.cpu": args.quota.cpu, "requests.memory": args.quota.memory,
                              "pods": str(args.quota.pods)}},
        }))
    d = args.default_resources
    out.append(("limits", {
        "apiVersion": "v1", "kind": "LimitRange",
        "metadata": {"name": "container-defaults", "namespace": ns, "labels": standard_labels("limits", "quota")},
        "spec": {"limits": [{
            "type": "Container",
            "default": {"cpu": d.limits.cpu, "memory": d.limits.memory},
            "defaultRequest": {"cpu": d.requests.cpu, "memory": d.requests.memory},
        }]},
    }))
    return out


class HardenedNamespace(HardenedComponent):
    """A namespace with restricted pod security, default-deny networking, DNS, quota and limits."""

    def __init__(self, name: str, args: HardenedNamespaceArgs, opts: Optional[pulumi.ResourceOptions] = None):
        # A namespace never waits for the other namespaces its parent waits for (the mesh waits
        # for every tenant namespace; its own istio-system namespace must not, or every resource
        # that waits for the mesh reaches all of them through it: renders quadratic in tenants).
        super().__init__(TOKEN, name, None, own_namespace_only(args.name, opts) if opts is not None else None)
        self.args = args
        objects = namespace_manifests(args)
        namespace = k8s_object(f"{name}-ns", objects[0][1], child_opts(self))
        self.namespace = namespace
        created = {suffix: k8s_object(f"{name}-{suffix}", manifest, child_opts(self, depends_on=[namespace]))
                   for suffix, manifest in objects[1:]}
        #: what dependents wait for: the namespace exists and denies all traffic by default
        self.ready = [namespace, created["default-deny-all"]]
        for resource in self.ready:
            resource._hardened_namespace = args.name  # see base.k8s_object
        self.namespace_name = pulumi.Output.from_input(args.name)
        self.register_outputs({"namespaceName": self.namespace_name, "podSecurity": args.pod_security})
