"""Shared multi-tenant container registries: hosts where anyone can open an account and publish.

Trusting such a host as a whole trusts every stranger's images on it, so a trusted-registry entry
there must name the owner's repository prefix (``ghcr.io/<owner>``, ``docker.io/<namespace>``).
A host run by one publisher (``registry.k8s.io``: only the Kubernetes project's promotion process
publishes there; ``registry.istio.io``, ``mcr.microsoft.com``, ``oci.external-secrets.io``) may
be trusted whole. Standard library only: the components import it too.
"""
from __future__ import annotations

import re
from typing import Optional

#: Hosts where any account can publish images (Docker Hub under every name it answers to).
SHARED_REGISTRY_HOSTS = frozenset({
    "docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com",
    "ghcr.io", "docker.pkg.github.com",
    "quay.io",
    "gcr.io", "us.gcr.io", "eu.gcr.io", "asia.gcr.io",
    "public.ecr.aws",
    "registry.gitlab.com",
    "cgr.dev",
    "nvcr.io",
})
#: Google Artifact Registry's regional hosts (``europe-west1-docker.pkg.dev``) hold every project.
_SHARED_PATTERN = re.compile(r"^[a-z0-9-]+-docker\.pkg\.dev$")


def shared_host(entry: str) -> Optional[str]:
    """The host, when *entry* (a trusted-registry entry) names a whole shared registry with no
    repository path, e.g. ``ghcr.io`` or ``docker.io/``; else None."""
    text = entry.strip().rstrip("/").lower()
    if not text or "/" in text:
        return None
    host = text.split(":", 1)[0] if text.count(":") == 1 and text.rsplit(":", 1)[1].isdigit() else text
    if host in SHARED_REGISTRY_HOSTS or _SHARED_PATTERN.match(host):
        return host
    return None
