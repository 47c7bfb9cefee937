"""pod-disallow-untrusted-registries: every image comes from a trusted registry.

An image without a registry host is pulled from Docker Hub and judged by its full name
(``nginx`` is ``docker.io/library/nginx``); a trusted entry is a registry (``ghcr.io``) or a
registry path prefix (``docker.io/hashicorp``); a bare Docker Hub namespace (``openpolicyagent``)
means ``docker.io/openpolicyagent``.
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.k8s import POD_KINDS, PodSpec, container_findings, get_str, parse_image, registry_prefix, trusted

DEFAULT_REGISTRIES = [
    "registry.k8s.io",
    "ghcr.io",
    "docker.io/hashicorp",
    "docker.io/falcosecurity",
    "registry.istio.io/release",
    "docker.io/openpolicyagent",
    "quay.io/jetstack",
    "oci.external-secrets.io",
    "cgr.dev/chainguard",
]


def check(obj, config):
    registries = list(config["allowedRegistries"])
    prefixes = [registry_prefix(r) for r in registries]

    def _container(c):
        image = get_str(c.obj, "image", c.path)
        if not image:
            yield f"{c.label} names no image ({c.path}.image); name one from a trusted registry"
            return
        ref = parse_image(image)
        if not trusted(ref, prefixes):
            yield (f"{c.label} image {image} comes from {ref.full_name}, which no trusted registry covers "
                   f"({c.path}.image); use a mirror in one of: {', '.join(registries)}")

    yield from container_findings(PodSpec(obj), _container)


POLICY = resource_policy(
    name="pod-disallow-untrusted-registries",
    description="Container images must come from a trusted registry.",
    kinds=POD_KINDS,
    severity=Severity.HIGH,
    control=nist_800_171("3.4.8"),
    tags=["cmmc:CM.L2-3.4.8", "iec62443:SR 3.4", "nist800-207:tenet-5", "cis-k8s:5.5.1"],
    remediation="""
Pull the image from a trusted registry (mirror it there if needed), or, after review, add the
registry or registry path to the policy's `allowedRegistries` setting (and to the stack's
trustedRegistries, which Gatekeeper enforces at admission).""",
    config={
        "allowedRegistries": {
            "type": "array", "minItems": 1, "uniqueItems": True,
            "items": {"type": "string", "minLength": 1, "pattern": r"^[^\s:/][^\s]*$"},
            "default": DEFAULT_REGISTRIES,
            "description": "Registries (host) or registry path prefixes images may come from.",
        },
    },
    check=check,
)
