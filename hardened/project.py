"""The project's own metadata: version and repository URL (for SARIF ``helpUri`` and report links).

The version is written once, in :data:`hardened.__version__`; ``pyproject.toml`` reads it from there.
The repository URL comes from, in order: ``HARDENED_REPOSITORY_URL``; in GitHub Actions, the running
repository (``GITHUB_SERVER_URL``/``GITHUB_REPOSITORY``, at ``GITHUB_SHA``); the installed package's
metadata; ``[project.urls] Repository`` in ``pyproject.toml``.
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Optional

from . import __version__

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
DIST = "hardened-stack"


def version() -> str:
    return __version__


@lru_cache(maxsize=1)
def _pyproject_urls() -> dict:
    try:
        import tomllib

        with open(PYPROJECT, "rb") as f:
            return dict(tomllib.load(f).get("project", {}).get("urls", {}))
    except (OSError, ValueError):
        return {}


@lru_cache(maxsize=1)
def _installed_urls() -> dict:
    try:
        from importlib import metadata

        urls = metadata.metadata(DIST).get_all("Project-URL") or []
    except Exception:  # noqa: BLE001 - not installed
        return {}
    return {label.strip(): url.strip() for label, _, url in (u.partition(",") for u in urls)}


def repository_url() -> Optional[str]:
    env = os.environ
    if env.get("HARDENED_REPOSITORY_URL"):
        return env["HARDENED_REPOSITORY_URL"].rstrip("/")
    if env.get("GITHUB_REPOSITORY") and env.get("GITHUB_SERVER_URL"):
        return f"{env['GITHUB_SERVER_URL'].rstrip('/')}/{env['GITHUB_REPOSITORY']}"
    url = _pyproject_urls().get("Repository") or _installed_urls().get("Repository")
    return url.rstrip("/") if url else None


def docs_url(relative: str) -> str:
    """An absolute URL for a repository-relative link such as ``docs/policies.md#name`` (the
    link unchanged when it is absolute already or no repository URL is known)."""
    if relative.startswith(("https://", "http://")):
        return relative
    repo = repository_url()
    if not repo:
        return relative
    ref = os.environ.get("GITHUB_SHA") if os.environ.get("GITHUB_REPOSITORY") else None
    return f"{repo}/blob/{ref or 'main'}/{relative.lstrip('/')}"
