"""Pin every image the stack deploys by digest: ``python -m hardened images pin``.

Renders each stack (its own objects and every chart's pods, with no lock applied), collects every
container image that carries no digest yet, and resolves each through the OCI distribution API
(https://github.com/opencontainers/distribution-spec, spec.md "Pulling manifests"), as a container
runtime does:

1. ``HEAD /v2/<repository>/manifests/<tag>`` with ``Accept`` for an OCI index, a Docker manifest
   list, an OCI manifest and a Docker v2 manifest (a multi-architecture image resolves to its index,
   the digest every node pulls by);
2. a ``401`` names the token service in ``WWW-Authenticate: Bearer realm=...,service=...,scope=...``
   (the Docker registry token flow, distribution/distribution ``docs/spec/auth/token.md``): an
   anonymous ``GET <realm>?service=...&scope=repository:<repository>:pull`` returns the token, and the
   request is repeated with ``Authorization: Bearer <token>``;
3. the digest is the ``Docker-Content-Digest`` header; where a registry sends none, the manifest is
   fetched and hashed (sha256 of its bytes), and a header that disagrees with the bytes is refused.

Docker Hub names resolve as runtimes resolve them (``registry-1.docker.io``, ``library/`` for a
single name). ``--registry-mirror HOST[/PREFIX]`` (``$HARDENED_REGISTRY_MIRROR``) resolves every image
through one mirror instead, as ``<mirror>/<registry>/<repository>:<tag>``; the lock still names the
upstream reference, which the mirror serves under the same digest. ``localhost`` and ``127.0.0.1`` registries are spoken to over plain HTTP (as Docker
treats them), every other registry over HTTPS.

The result, ``images.lock`` (components/imagelock.py says how the program applies it), lists each
image as the stack renders it with its digest. Nothing is written for an image that cannot be
resolved: the command fails naming it.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Callable, Iterable, Optional

import yaml

from components.imagelock import DIGEST as _DIGEST   # the one pattern of a bare digest

from .console import UserError
from .stackfile import REPO_ROOT

ACCEPT = ", ".join((
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
))
TIMEOUT = 30
REGISTRY_MIRROR_ENV = "HARDENED_REGISTRY_MIRROR"


class _NoRedirectAuth(urllib.request.HTTPRedirectHandler):
    """Follow redirects (registries send blobs to storage) but never carry the token off-host."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: N802 - urllib's name
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and urllib.parse.urlsplit(newurl).netloc != urllib.parse.urlsplit(req.full_url).netloc:
            new.headers.pop("Authorization", None)
        return new


_OPENER = urllib.request.build_opener(_NoRedirectAuth)


def split_image(image: str, mirror: Optional[str] = None) -> tuple[str, str, str]:
    """``(registry API host, repository, tag)`` as a runtime resolves the reference; through a
    registry *mirror* (``host[/prefix]``) ``<mirror>/<registry>/<repository>``, the layout of a
    Harbor or Artifactory proxy project per upstream registry (Zarf and UDS mirror the same way)."""
    from policy_pack.policies._lib.k8s import parse_image

    ref = parse_image(image)
    if ref.digest:
        raise UserError(f"{image} is already pinned by digest")
    if mirror:
        host, _, prefix = mirror.strip("/").partition("/")
        return host, "/".join(p for p in (prefix, ref.registry, ref.repository) if p), ref.tag or "latest"
    host = "registry-1.docker.io" if ref.registry == "docker.io" else ref.registry
    return host, ref.repository, ref.tag or "latest"


def _scheme(host: str) -> str:
    return "http" if host.split(":")[0] in ("localhost", "127.0.0.1") or host.startswith("[::1]") else "https"


def parse_challenge(header: str) -> dict[str, str]:
    """``Bearer realm="...",service="...",scope="..."`` -> ``{"realm": ..., ...}``."""
    scheme, _, params = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return {}
    return {k.lower(): v for k, v in re.findall(r'(\w+)="([^"]*)"', params)}


def _request(url: str, method: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, method=method, headers={"User-Agent": "hardened-stack", **headers})
    try:
        with _OPENER.open(request, timeout=TIMEOUT) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, \
                (response.read() if method == "GET" else b"")
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in (e.headers or {}).items()}, b""
    except (urllib.error.URLError, OSError) as e:
        raise UserError(f"{url}: cannot reach the registry ({getattr(e, 'reason', e)})") from None


def _token(challenge: dict[str, str], repository: str, image: str) -> str:
    realm = challenge.get("realm")
    if not realm:
        raise UserError(f"{image}: the registry asks for a token but names no realm")
    query = {"scope": challenge.get("scope") or f"repository:{repository}:pull"}
    if challenge.get("service"):
        query["service"] = challenge["service"]
    url = f"{realm}{'&' if '?' in realm else '?'}{urllib.parse.urlencode(query)}"
    status, _headers, body = _request(url, "GET", {})
    if status != 200:
        raise UserError(f"{image}: the token service {realm} answered HTTP {status} (anonymous pull refused; "
                        "a private image needs credentials, which this command does not take)")
    try:
        doc = json.loads(body)
        token = doc.get("token") or doc.get("access_token")
    except (ValueError, AttributeError):
        token = None
    if not token:
        raise UserError(f"{image}: the token service {realm} returned no token")
    return str(token)


def resolve(image: str, mirror: Optional[str] = None) -> str:
    """The ``sha256:`` digest *image* (``registry/repository:tag``) resolves to; errors name it."""
    try:
        return _resolve(image, mirror)
    except UserError as e:
        if str(e).startswith(image):
            raise
        raise UserError(f"{image}: {e}") from None


def _resolve(image: str, mirror: Optional[str]) -> str:
    host, repository, tag = split_image(image, mirror)
    url = f"{_scheme(host)}://{host}/v2/{repository}/manifests/{urllib.parse.quote(tag, safe='')}"
    headers = {"Accept": ACCEPT}
    status, got, body = _request(url, "HEAD", headers)
    if status == 401:
        challenge = parse_challenge(got.get("www-authenticate", ""))
        if not challenge:
            raise UserError(f"{image}: the registry at {host} requires authentication it does not describe "
                            f"(WWW-Authenticate: {got.get('www-authenticate', 'none')})")
        headers["Authorization"] = f"Bearer {_token(challenge, repository, image)}"
        status, got, body = _request(url, "HEAD", headers)
    if status == 404:
        raise UserError(f"{image}: no such image (the registry at {host} has no manifest {repository}:{tag})")
    if status != 200:
        raise UserError(f"{image}: the registry at {host} answered HTTP {status} for {repository}:{tag}")
    digest = got.get("docker-content-digest", "")
    if not _DIGEST.match(digest):
        status, got, body = _request(url, "GET", headers)
        if status != 200:
            raise UserError(f"{image}: the registry at {host} answered HTTP {status} for the manifest")
        computed = "sha256:" + hashlib.sha256(body).hexdigest()
        header = got.get("docker-content-digest", "")
        if header and header != computed:
            raise UserError(f"{image}: the registry says {header} but the manifest it sent hashes to {computed}")
        digest = computed
    return digest


# ---------------------------------------------------------------------------------------------
# What the stack deploys
# ---------------------------------------------------------------------------------------------

def stack_images(stacks: Iterable[str], root: Path = REPO_ROOT, cache: Optional[str] = None,
                 with_digests: bool = False) -> list[str]:
    """Every container image the stacks deploy (their own objects and the charts' pods), as
    rendered with no lock applied; references that carry a digest already are left out unless
    *with_digests*."""
    from components import imagelock

    from .render import ChartContext, run_program

    saved = os.environ.get(imagelock.LOCK_ENV)
    os.environ[imagelock.LOCK_ENV] = os.devnull   # render as if nothing were locked
    try:
        found: set[str] = set()
        for stack in stacks:
            for rec in run_program(stack, root, charts=ChartContext(cache=cache)):
                if rec.is_kubernetes_object:
                    found.update(i for i in imagelock.images_of(rec.inputs) if with_digests or "@" not in i)
    finally:
        if saved is None:
            os.environ.pop(imagelock.LOCK_ENV, None)
        else:
            os.environ[imagelock.LOCK_ENV] = saved
    return sorted(found)


def write_lock(images: dict[str, str], path: Path) -> None:
    header = ("# images.lock: the digest of every image the stack deploys that its config pins by tag only.\n"
              "# Written by `python -m hardened images pin` (OCI distribution API); applied by the program\n"
              "# (components/imagelock.py: the charts' postRenderer, the components' imageDigest defaults).\n"
              "# Empty means nothing is pinned this way: no registry was reachable where it was last written.\n")
    path.write_text(header + yaml.safe_dump({"images": dict(sorted(images.items()))}, sort_keys=True,
                                            default_flow_style=False, width=200), encoding="utf-8")


def pin(stacks: Iterable[str], root: Path = REPO_ROOT, cache: Optional[str] = None,
        say: Callable[[str], None] = lambda _m: None, mirror: Optional[str] = None) -> dict[str, str]:
    images = stack_images(stacks, root, cache)
    pins = {}
    for image in images:
        pins[image] = resolve(image, mirror)
        say(f"{image}: {pins[image]}")
    return pins


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=type(parser))
    actions.required = True
    sub = actions.add_parser("pin", help="resolve every image to a digest and write images.lock",
                             description=__doc__.split("\n\n")[0])
    sub.command = "images pin"
    sub.add_argument("--stack", action="append", default=None,
                     help="stack name; repeatable; default every stack")
    sub.add_argument("--root", default=str(REPO_ROOT), help=argparse.SUPPRESS)
    sub.add_argument("--chart-cache", metavar="DIR", default=None, help="chart cache (default $HARDENED_CHART_CACHE)")
    sub.add_argument("--output", "-o", metavar="FILE", default=None, help="where to write the lock (default images.lock)")
    sub.add_argument("--registry-mirror", metavar="HOST[/PREFIX]", default=None,
                     help=f"resolve through one registry mirror, <mirror>/<registry>/<repository> (default "
                          f"${REGISTRY_MIRROR_ENV})")
    sub.add_argument("--quiet", "-q", action="store_true", help="no line per image")


def run(args: argparse.Namespace) -> int:
    from components import imagelock

    from .charts import stacks_of

    root = Path(args.root)
    stacks = args.stack or stacks_of(root)
    say = (lambda _m: None) if args.quiet else (lambda m: print(f"  {m}", file=sys.stderr))
    pins = pin(stacks, root, args.chart_cache, say,
               mirror=args.registry_mirror or os.environ.get(REGISTRY_MIRROR_ENV) or None)
    out = Path(args.output) if args.output else imagelock.lock_path()
    write_lock(pins, out)
    print(f"images pin: wrote {out} ({len(pins)} images of {', '.join(stacks)} pinned by digest)", file=sys.stderr)
    return 0
