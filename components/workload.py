"""``HardenedWorkload``: the golden path for an application.

A dedicated ServiceAccount with no token automount, a non-root UID above 10000, a read-only root
filesystem, every capability dropped, no privilege escalation, seccomp ``RuntimeDefault``,
requests and limits, liveness and readiness probes, an image pinned by digest, a
PodDisruptionBudget, writable ``emptyDir`` volumes only where declared, and secrets delivered by
External Secrets from Vault (an ``ExternalSecret``, never a ``Secret`` with literals).
"""
from __future__ import annotations

import hashlib
from typing import Optional

import pulumi
from pydantic import Field

from .base import HardenedComponent, StrictModel, child_opts, k8s_object, standard_labels
from .config import WorkloadConfig

TOKEN = "hardened:index:HardenedWorkload"


class HardenedWorkloadArgs(StrictModel):
    workload: WorkloadConfig = Field(description="The workload's validated config.")
    secret_store: Optional[str] = Field(
        None, description="ClusterSecretStore that serves `secrets` (default vault-<namespace>: the namespace's own "
                          "store, whose Vault role reads only secret/data/<namespace>/*, components.tenancy).")
    mesh_sidecar: bool = Field(True, description="Let the mesh inject its proxy (default true).")
    refresh_interval: str = Field("1h", description="How often External Secrets re-reads Vault (default 1h).")
    storage_class: str = Field("gp3-encrypted", description="StorageClass of persistentVolumes that name none "
                                                            "(default gp3-encrypted, EncryptedStorage's class).")


def _volume_name(path: str) -> str:
    slug = path.strip("/").replace("/", "-").replace("_", "-").replace(".", "-").lower()[:40].strip("-")
    return f"rw-{slug}-{hashlib.sha256(path.encode()).hexdigest()[:6]}"


def workload_manifests(args: HardenedWorkloadArgs) -> list[tuple[str, dict]]:
    """Every object of the workload as ``(suffix, manifest)``: a pure function, unit-tested."""
    w = args.workload
    labels = {**standard_labels(w.name, "workload"), "app": w.name}
    selector = {"app": w.name}
    meta = lambda name, extra=None: {  # noqa: E731
        "name": name, "namespace": w.namespace, "labels": {**labels, **(extra or {})}}
    out: list[tuple[str, dict]] = [("sa", {
        "apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(w.name),
        "automountServiceAccountToken": False,
    })]

    env = [{"name": k, "value": v} for k, v in sorted(w.env.items())]
    secret_name = f"{w.name}-secrets"
    if w.secrets:
        out.append(("external-secret", {
            "apiVersion": "external-secrets.io/v1",
            "kind": "ExternalSecret",
            "metadata": meta(secret_name),
            "spec": {
                "refreshInterval": args.refresh_interval,
                "secretStoreRef": {"kind": "ClusterSecretStore",
                                   "name": args.secret_store or f"vault-{w.namespace}"},
                "target": {"name": secret_name, "creationPolicy": "Owner", "deletionPolicy": "Delete"},
                "data": [{
                    "secretKey": s.env,
                    "remoteRef": {"key": s.vault_key.split("#", 1)[0], "property": s.vault_key.split("#", 1)[1]},
                } for s in w.secrets],
            },
        }))
        env += [{"name": s.env, "valueFrom": {"secretKeyRef": {"name": secret_name, "key": s.env}}}
                for s in w.secrets]

    volumes = [{"name": _volume_name(p), "emptyDir": {"sizeLimit": "256Mi"}} for p in sorted(w.writable_paths)]
    mounts = [{"name": _volume_name(p), "mountPath": p} for p in sorted(w.writable_paths)]
    persistent = sorted(w.persistent_volumes, key=lambda v: v.path)
    claims = [{
        "metadata": {"name": _volume_name(v.path).replace("rw-", "data-", 1), "labels": labels},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": v.storage_class or args.storage_class,
                 "resources": {"requests": {"storage": v.size}}},
    } for v in persistent]
    mounts = sorted(mounts + [{"name": c["metadata"]["name"], "mountPath": v.path} for c, v in zip(claims, persistent)],
                    key=lambda m: m["mountPath"])

    def probe(p) -> dict:
        return {"httpGet": {"path": p.path, "port": p.port or w.port}, "periodSeconds": 10,
                "timeoutSeconds": 2, "failureThreshold": 3}

    container = {
        "name": w.name,
        "image": w.image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": w.port, "protocol": "TCP"}],
        "resources": {
            "requests": {"cpu": w.resources.requests.cpu, "memory": w.resources.requests.memory},
            "limits": {"cpu": w.resources.limits.cpu, "memory": w.resources.limits.memory},
        },
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": w.run_as_user,
            "runAsGroup": w.run_as_user,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "livenessProbe": probe(w.liveness),
        "readinessProbe": probe(w.readiness),
    }
    if env:
        container["env"] = env
    if mounts:
        container["volumeMounts"] = mounts
    if w.command:
        container["command"] = list(w.command)
    if w.args:
        container["args"] = list(w.args)

    pod_annotations = {}
    if not args.mesh_sidecar:
        pod_annotations["sidecar.istio.io/inject"] = "false"
    pod_spec = {
        "serviceAccountName": w.name,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": w.run_as_user,
            "runAsGroup": w.run_as_user,
            "fsGroup": w.run_as_user,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "topologySpreadConstraints": [{
            "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": selector},
        }],
    }
    if volumes:
        pod_spec["volumes"] = volumes
    template_meta: dict = {"labels": labels}
    if pod_annotations:
        template_meta["annotations"] = pod_annotations
    if claims:
        # Per-replica data (issue 17): a StatefulSet, each replica with its own encrypted volume.
        out.append(("statefulset", {
            "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": meta(w.name),
            "spec": {
                "replicas": w.replicas,
                "revisionHistoryLimit": 5,
                "serviceName": w.name,
                "podManagementPolicy": "Parallel",
                "selector": {"matchLabels": selector},
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
                "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
                "template": {"metadata": template_meta, "spec": pod_spec},
                "volumeClaimTemplates": claims,
            },
        }))
    else:
        out.append(("deployment", {
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(w.name),
            "spec": {
                "replicas": w.replicas,
                "revisionHistoryLimit": 5,
                "selector": {"matchLabels": selector},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
                "template": {"metadata": template_meta, "spec": pod_spec},
            },
        }))
    out.append(("service", {
        "apiVersion": "v1", "kind": "Service", "metadata": meta(w.name),
        "spec": {"type": "ClusterIP", "selector": selector,
                 "ports": [{"name": "http", "port": w.port, "targetPort": w.port, "protocol": "TCP"}]},
    }))
    out.append(("pdb", {
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": meta(w.name),
        # maxUnavailable (not minAvailable) so a single-replica workload never blocks a node drain.
        "spec": {"selector": {"matchLabels": selector}, "maxUnavailable": 1},
    }))
    return out


class HardenedWorkload(HardenedComponent):
    """A tenant application deployed the secure way, with nothing to opt into."""

    def __init__(self, name: str, args: HardenedWorkloadArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TOKEN, name, None, opts)
        self.args = args
        created = {suffix: k8s_object(f"{name}-{suffix}", manifest, child_opts(self))
                   for suffix, manifest in workload_manifests(args)}
        self.deployment = created.get("deployment") or created["statefulset"]
        self.service = created["service"]
        self.ready = [self.deployment, self.service]
        w = args.workload
        self.service_account_name = pulumi.Output.from_input(w.name)
        self.register_outputs({"serviceAccountName": self.service_account_name,
                               "namespace": w.namespace, "image": w.image})
