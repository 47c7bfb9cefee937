"""Shared building blocks for every component: the strict config model, Kubernetes object
helpers and the validated scalar types (image references, names, quantities).

Nothing here registers a resource by itself; components call :func:`k8s_object` with a plain
Kubernetes manifest (camelCase, exactly as ``kubectl`` would read it) and get the typed Pulumi
resource for that kind, so the manifests in the code read like the manifests in the docs.
"""
from __future__ import annotations

import re
from typing import Any, Mapping, Optional

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

#: Pod Security Standards version the namespace labels pin (kept in step with the
#: supported Kubernetes minor version, so a cluster upgrade never silently changes the policy).
PSS_VERSION = "v1.33"

#: Kubernetes versions the rendered objects are validated against.
SUPPORTED_KUBERNETES_VERSIONS = ("1.32", "1.33")

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
IMAGE_DIGEST = re.compile(
    r"^(?P<repo>(?P<registry>[a-z0-9.-]+(?::[0-9]+)?)/[a-z0-9._/-]+)(?::(?P<tag>[A-Za-z0-9_.-]+))?"
    r"@sha256:(?P<digest>[a-f0-9]{64})$"
)

LABEL_NAME = "app.kubernetes.io/name"
LABEL_PART_OF = "app.kubernetes.io/part-of"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
PART_OF = "hardened-stack"


class StrictModel(BaseModel):
    """Base for every config and args model.

    Unknown keys are rejected (a typo in ``Pulumi.prod.yaml`` fails early), models are immutable,
    and fields are read from camelCase keys (the Pulumi config convention) or their Python names.
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        alias_generator=to_camel,
        arbitrary_types_allowed=True,
    )


def image_registry(image: str) -> str:
    """The registry host of a fully qualified image reference."""
    return image.split("/", 1)[0]


def check_image_reference(image: str, trusted_registries: tuple[str, ...] | list[str] | None = None) -> str:
    """Validate that *image* is pinned by digest (and, if given, from a trusted registry).

    Returns the image unchanged; raises ``ValueError`` with the fix otherwise.
    """
    if not IMAGE_DIGEST.match(image):
        raise ValueError(
            f"image {image!r} must be fully qualified and pinned by digest, e.g. "
            "'ghcr.io/org/app@sha256:<64 hex>' (tags such as ':latest' are mutable)"
        )
    if trusted_registries is not None:
        registry = image_registry(image)
        if not any(registry == r or image.startswith(r.rstrip("/") + "/") for r in trusted_registries):
            raise ValueError(
                f"image {image!r} comes from registry {registry!r}, which is not in "
                f"trustedRegistries {list(trusted_registries)}; add it there or use a trusted mirror"
            )
    return image


def standard_labels(name: str, component: str | None = None) -> dict[str, str]:
    """The recommended Kubernetes labels every object of the stack carries."""
    labels = {LABEL_NAME: name, LABEL_PART_OF: PART_OF, LABEL_MANAGED_BY: "pulumi"}
    if component:
        labels["app.kubernetes.io/component"] = component
    return labels


def child_opts(parent: pulumi.Resource, depends_on: Optional[list] = None, **kwargs: Any) -> pulumi.ResourceOptions:
    """Options for a child resource: parented to *parent* (so it inherits its providers)."""
    return pulumi.ResourceOptions(parent=parent, depends_on=depends_on or [], **kwargs)


# (apiVersion, kind) -> typed pulumi_kubernetes class. Anything else is a CustomResource, whose
# type token is `kubernetes:<group/version>:<Kind>`, the same token the provider uses.
_TYPED: dict[tuple[str, str], Any] = {
    ("v1", "Namespace"): k8s.core.v1.Namespace,
    ("v1", "ServiceAccount"): k8s.core.v1.ServiceAccount,
    ("v1", "Service"): k8s.core.v1.Service,
    ("v1", "ConfigMap"): k8s.core.v1.ConfigMap,
    ("v1", "Secret"): k8s.core.v1.Secret,
    ("v1", "ResourceQuota"): k8s.core.v1.ResourceQuota,
    ("v1", "LimitRange"): k8s.core.v1.LimitRange,
    ("v1", "PersistentVolumeClaim"): k8s.core.v1.PersistentVolumeClaim,
    ("v1", "Pod"): k8s.core.v1.Pod,
    ("apps/v1", "Deployment"): k8s.apps.v1.Deployment,
    ("apps/v1", "StatefulSet"): k8s.apps.v1.StatefulSet,
    ("apps/v1", "DaemonSet"): k8s.apps.v1.DaemonSet,
    ("batch/v1", "CronJob"): k8s.batch.v1.CronJob,
    ("batch/v1", "Job"): k8s.batch.v1.Job,
    ("policy/v1", "PodDisruptionBudget"): k8s.policy.v1.PodDisruptionBudget,
    ("networking.k8s.io/v1", "NetworkPolicy"): k8s.networking.v1.NetworkPolicy,
    ("networking.k8s.io/v1", "Ingress"): k8s.networking.v1.Ingress,
    ("rbac.authorization.k8s.io/v1", "Role"): k8s.rbac.v1.Role,
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): k8s.rbac.v1.RoleBinding,
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): k8s.rbac.v1.ClusterRole,
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): k8s.rbac.v1.ClusterRoleBinding,
    ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration"):
        k8s.admissionregistration.v1.ValidatingWebhookConfiguration,
    ("storage.k8s.io/v1", "CSIDriver"): k8s.storage.v1.CSIDriver,
}

_SNAKE = re.compile(r"(?<!^)(?=[A-Z])")


def _snake(key: str) -> str:
    return _SNAKE.sub("_", key).lower()


def k8s_object(resource_name: str, manifest: Mapping[str, Any], opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
    """Register one Kubernetes object given as a plain manifest.

    ``resource_name`` is the Pulumi resource name (stable: renaming it replaces the live object);
    the manifest's ``metadata.name`` is the Kubernetes name.
    """
    api_version = manifest["apiVersion"]
    kind = manifest["kind"]
    body = {k: v for k, v in manifest.items() if k not in ("apiVersion", "kind")}
    cls = _TYPED.get((api_version, kind))
    if cls is None:
        return k8s.apiextensions.CustomResource(
            resource_name, api_version=api_version, kind=kind, opts=opts,
            metadata=body.pop("metadata", None), spec=body.pop("spec", None),
            **{_snake(k): v for k, v in body.items()},
        )
    return cls(resource_name, opts=opts, **{_snake(k): v for k, v in body.items()})


def helm_chart(resource_name: str, *, chart: str, version: str, repo: str, namespace: str,
               values: Mapping[str, Any], opts: pulumi.ResourceOptions) -> pulumi.Resource:
    """An upstream Helm chart at a pinned version (``helm.v4.Chart``).

    Values are key-sorted by the caller's pure ``_values()``; chart hooks are dropped by
    ``helm.v4.Chart``, so components replace the hooks that matter with explicit resources.
    """
    return k8s.helm.v4.Chart(
        resource_name,
        chart=chart,
        version=version,
        namespace=namespace,
        repository_opts=k8s.helm.v4.RepositoryOptsArgs(repo=repo),
        values=dict(values),
        opts=opts,
    )


def deep_merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """Merge *extra* into a copy of *base* (dicts merge recursively, everything else replaces).

    Used for the ``extraValues`` escape hatch of Helm-backed components: merged last, so the
    policy pack remains the backstop for anything it weakens.
    """
    out: dict[str, Any] = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out
