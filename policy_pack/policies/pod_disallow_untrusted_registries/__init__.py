"""pod-disallow-untrusted-registries: every image comes from a trusted registry.

An image without a registry host is pulled from Docker Hub and judged by its full name
(``nginx`` is ``docker.io/library/nginx``); a trusted entry is a registry (``ghcr.io``) or a
registry path prefix (``docker.io/hashicorp``); a bare Docker Hub namespace (``openpolicyagent``)
means ``docker.io/openpolicyagent``.

An entry that names a whole shared registry (``ghcr.io``, ``docker.io``, ``quay.io``, ``gcr.io``,
``public.ecr.aws``, ``cgr.dev``...: hosts where anyone can publish, see ``_lib/registries.py``)
trusts nothing: it would trust every stranger's images there. Name the owner's repository prefix
(``ghcr.io/<owner>``). The default list is the production stack's ``trustedRegistries``
(Pulumi.prod.yaml): the platform's chart images and the tenants' own organisations.
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import finding, nist_800_171, resource_policy
from .._lib.k8s import (POD_KINDS, PodSpec, container_findings, get_str, parse_image, reference_problem,
                        registry_prefix, trusted)
from .._lib.registries import shared_host

DEFAULT_REGISTRIES = [
    "registry.k8s.io",
    "ghcr.io/lego-mcp",
    "ghcr.io/ltmc",
    "ghcr.io/spiffe",
    "ghcr.io/sigstore",
    "ghcr.io/external-secrets",
    "docker.io/hashicorp",
    "docker.io/falcosecurity",
    "registry.istio.io/release",
    "docker.io/openpolicyagent",
    "quay.io/jetstack",
    "oci.external-secrets.io",
    "cgr.dev/chainguard",
    "ghcr.io/fluent",
]


def check(obj, config):
    registries = [r for r in config["allowedRegistries"] if not shared_host(r)]
    whole_hosts = [r for r in config["allowedRegistries"] if shared_host(r)]
    prefixes = [registry_prefix(r) for r in registries]

    def _container(c):
        image = get_str(c.obj, "image", c.path)
        if not image:
            yield finding("no-image", f"{c.label} names no image ({c.path}.image); name one from a trusted registry")
            return
        problem = reference_problem(image)
        if problem:  # the registry of a reference no runtime parses is no registry at all
            yield finding("invalid-reference", f"{c.label} image {image!r} is not a valid image reference: {problem}; "
                          f"no runtime can pull it ({c.path}.image)")
            return
        ref = parse_image(image)
        if not trusted(ref, prefixes):
            shared = [h for h in whole_hosts if trusted(ref, [registry_prefix(h)])]
            why = (f"; the entry {shared[0]!r} trusts nothing, because {ref.registry} is a shared registry where "
                   f"anyone can publish: trust the owner's prefix ({ref.registry}/{ref.repository.split('/')[0]}) "
                   "after review") if shared else ""
            yield finding("untrusted-registry", f"{c.label} image {image} comes from {ref.full_name}, which no trusted registry covers "
                   f"({c.path}.image); use a mirror in one of: {', '.join(registries)}{why}")

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
            "description": "Registries (host) or registry path prefixes images may come from. A whole shared "
                           "registry host (ghcr.io, docker.io, quay.io, ...) trusts nothing: name the owner's prefix.",
        },
    },
    check=check,
)
