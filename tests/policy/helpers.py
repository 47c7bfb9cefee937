"""Fixtures as plain data: a compliant object per kind (the golden path, as HardenedWorkload and
HardenedNamespace render it), and helpers to run objects through the pack over gRPC."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Iterable, Optional

from hardened.analyzer import Analysis, PolicyPackProcess
from hardened.manifests import Resource, make_urn, type_token

ROOT = Path(__file__).resolve().parents[2]
POLICIES_DIR = ROOT / "policy_pack" / "policies"
DIGEST = "sha256:66cd9688a2ae068244ea01e70f0e230f5623b7fa4cdecb65070a09ec06452262"
IMAGE = f"ghcr.io/lego-mcp/dashboard@{DIGEST}"
NAMESPACE = "lego-mcp-prod"

POD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "CronJob", "Job", "Pod")


def _container(name: str = "app") -> dict:
    return {
        "name": name,
        "image": IMAGE,
        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
        "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]}},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
        "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}},
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }


def golden_pod_spec() -> dict:
    return {
        "serviceAccountName": "app",
        "automountServiceAccountToken": False,
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 10001,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "initContainers": [{**_container("init"), "ports": []}],
        "containers": [_container()],
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
    }


def golden(kind: str, name: str = "app", namespace: str = NAMESPACE) -> dict:
    """A compliant object of a pod-bearing *kind*."""
    meta = {"name": name, "namespace": namespace, "labels": {"app": name}}
    template = {"metadata": {"labels": {"app": name}}, "spec": golden_pod_spec()}
    selector = {"matchLabels": {"app": name}}
    if kind == "Pod":
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": golden_pod_spec()}
    if kind in ("Deployment", "StatefulSet", "DaemonSet"):
        spec: dict[str, Any] = {"selector": selector, "template": template}
        if kind != "DaemonSet":
            spec["replicas"] = 2
        if kind == "StatefulSet":
            spec["serviceName"] = name
        return {"apiVersion": "apps/v1", "kind": kind, "metadata": meta, "spec": spec}
    if kind == "Job":
        template["spec"]["restartPolicy"] = "Never"
        return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": {"template": template}}
    if kind == "CronJob":
        template["spec"]["restartPolicy"] = "OnFailure"
        return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta,
                "spec": {"schedule": "0 */6 * * *", "concurrencyPolicy": "Forbid", "startingDeadlineSeconds": 600,
                         "jobTemplate": {"spec": {"activeDeadlineSeconds": 3600, "backoffLimit": 2,
                                                  "template": template}}}}
    raise ValueError(kind)


def pod_spec(obj: dict) -> dict:
    kind = obj["kind"]
    if kind == "Pod":
        return obj["spec"]
    if kind == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return obj["spec"]["template"]["spec"]


def container(obj: dict) -> dict:
    return pod_spec(obj)["containers"][0]


PSS = {f"pod-security.kubernetes.io/{k}": v for k, v in {
    "enforce": "restricted", "enforce-version": "v1.33", "audit": "restricted", "audit-version": "v1.33",
    "warn": "restricted", "warn-version": "v1.33"}.items()}


def golden_others() -> dict[str, dict]:
    """A compliant object of each other kind the pack judges."""
    rbac = "rbac.authorization.k8s.io/v1"
    return {
        "Namespace": {"apiVersion": "v1", "kind": "Namespace",
                      "metadata": {"name": NAMESPACE, "labels": {"kubernetes.io/metadata.name": NAMESPACE, **PSS}}},
        "NetworkPolicy": {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                          "metadata": {"name": "allow-dns", "namespace": NAMESPACE},
                          "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{
                              "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                                      "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                              "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}]}},
        "ServiceAccount": {"apiVersion": "v1", "kind": "ServiceAccount",
                           "metadata": {"name": "app", "namespace": NAMESPACE}, "automountServiceAccountToken": False},
        "Role": {"apiVersion": rbac, "kind": "Role", "metadata": {"name": "read-config", "namespace": NAMESPACE},
                 "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "watch"]}]},
        "ClusterRole": {"apiVersion": rbac, "kind": "ClusterRole", "metadata": {"name": "read-nodes"},
                        "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list"]}]},
        "RoleBinding": {"apiVersion": rbac, "kind": "RoleBinding", "metadata": {"name": "app-read", "namespace": NAMESPACE},
                        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "read-config"},
                        "subjects": [{"kind": "ServiceAccount", "name": "app", "namespace": NAMESPACE}]},
        "ClusterRoleBinding": {"apiVersion": rbac, "kind": "ClusterRoleBinding", "metadata": {"name": "app-nodes"},
                               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                           "name": "read-nodes"},
                               "subjects": [{"kind": "ServiceAccount", "name": "app", "namespace": NAMESPACE}]},
        "Service": {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "app", "namespace": NAMESPACE},
                    "spec": {"type": "ClusterIP", "selector": {"app": "app"}, "ports": [{"port": 8080}]}},
        "Secret": {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "filled-by-eso", "namespace": NAMESPACE},
                   "type": "Opaque"},
    }


def resource(obj: Any, name: Optional[str] = None, stack: str = "test", type_: Optional[str] = None) -> Resource:
    """*obj* as the engine would register it (odd shapes allowed: the type comes from *type_*)."""
    if type_ is None:
        type_ = type_token(obj["apiVersion"], obj["kind"])
    if name is None:
        meta = obj.get("metadata") if isinstance(obj, dict) else None
        name = meta.get("name") if isinstance(meta, dict) and isinstance(meta.get("name"), str) else "odd"
    return Resource(type_, name, obj, make_urn(stack, type_, name), file="test.yaml", line=1)


def run(pack: PolicyPackProcess, *objs: Any, stack: bool = True) -> Analysis:
    resources, seen = [], {}
    for obj in objs:
        r = obj if isinstance(obj, Resource) else resource(obj)
        n = seen[r.urn] = seen.get(r.urn, 0) + 1
        if n > 1:
            r.urn = f"{r.urn}#{n}"
        resources.append(r)
    return pack.analyze(resources, stack=stack)


def policies_hit(analysis: Analysis, urn: Optional[str] = None) -> set[str]:
    """Policies with a diagnostic about one resource (by default: any resource, not the stack)."""
    return {v.policy for v in analysis.verdicts if v.resource is not None and (urn is None or v.urn == urn)}


def mutated(obj: dict, mutate) -> dict:
    out = copy.deepcopy(obj)
    mutate(out)
    return out


def messages(analysis: Analysis, policy: Optional[str] = None) -> list[str]:
    return [f"{v.policy}: {v.message}" for v in analysis.verdicts if policy is None or v.policy == policy]


def samples(policy_name: str) -> list[Path]:
    folder = POLICIES_DIR / policy_name.replace("-", "_") / "samples"
    return sorted(folder.glob("*.yaml")) if folder.is_dir() else []


def flatten(items: Iterable[Iterable[Any]]) -> list[Any]:
    return [x for group in items for x in group]


#: A disallowed sample's comment line naming a finding it must produce: ``# expect: <policy>: <message key>``
#: (first lines of the file by convention; last lines where a test depends on the sample's line numbers).
EXPECT_PREFIX = "# expect:"


def expected_findings(sample: Path) -> set[tuple[str, str]]:
    """The ``(policy, message key)`` pairs a sample's ``# expect:`` header lines name."""
    out = set()
    for line in sample.read_text(encoding="utf-8").splitlines():
        if line.startswith(EXPECT_PREFIX):
            policy, _, key = line[len(EXPECT_PREFIX):].strip().partition(":")
            out.add((policy.strip(), key.strip()))
    return out


def in_process_findings(policy, resources: list[Resource]) -> list[str]:
    """The findings of *policy* on *resources* evaluated in this process (the same check code the pack
    process runs, with the default configuration), keeping each finding's message key."""
    from policy_pack.policies._lib.framework import WHOLE_STACK_TOKEN, HardenedStackPolicy
    from policy_pack.policies._lib.k8s import Obj, Unverifiable

    found: list[str] = []
    settings = policy.configuration.default_settings
    objs = []
    for r in resources:
        if not policy.applies_to(r.type):
            continue
        try:
            objs.append(Obj(r.type, r.inputs, r.name, urn=r.urn or r.name))
        except Unverifiable as e:
            found.append(e.message)
    if isinstance(policy, HardenedStackPolicy):
        # A presence policy reports an absent component only for a whole stack (framework._validate).
        whole = not policy.presence or any(r.type == WHOLE_STACK_TOKEN for r in resources)
        found.extend(message for obj, message in policy._findings(objs, settings)
                     if whole or obj is None or getattr(obj, "urn", None))
    else:
        for obj in objs:
            found.extend(policy._findings(obj, settings))
    return found


def finding_keys(policy, resources: list[Resource], wire_messages: Iterable[str]) -> set[str]:
    """The message keys of the findings the pack process reported (*wire_messages*): a finding's key
    travels in this process only, so each message is matched to the in-process finding of the same
    text (its explicit key), else its key is derived from its text."""
    from policy_pack.policies._lib.framework import message_key

    local = {str(m): message_key(m) for m in in_process_findings(policy, resources)}
    return {local.get(m) or message_key(m) for m in wire_messages}
