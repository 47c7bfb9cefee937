"""Real protocols on 127.0.0.1, started inside the tests.

- :func:`helm_mirror`: a classic Helm chart repository (``index.yaml`` at its root, written by the
  Helm SDK's ``repo_index_generate`` as ``helm repo index`` writes it, charts packaged by the SDK's
  ``package`` as ``helm package`` packs them) that also serves plain URLs under
  ``<mirror>/<host>/<path>``: the mirror layout ``charts pull`` reads.
- :class:`Registry`: the OCI distribution API (opencontainers/distribution-spec ``spec.md``):
  ``/v2/`` version check, blob uploads (POST, PATCH, PUT ``?digest=``, monolithic and chunked),
  blob HEAD/GET, manifest PUT/HEAD/GET by tag or digest with ``Docker-Content-Digest``, tag list;
  and, when ``token_auth`` is set, the Docker token flow (distribution/distribution
  ``docs/spec/auth/token.md``): ``401`` with ``WWW-Authenticate: Bearer realm,service,scope`` and a
  token endpoint that grants anonymous pull (and push) for the scope it is asked. ``serve_any``
  makes it a mirror of everything: a tag it does not hold gets a manifest of its own on first ask.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import json
import re
import secrets
import shutil
import threading
import uuid
from pathlib import Path
from typing import Iterator, Optional

SHARED = Path("/work/shared")
GATEWAY_URL = "https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.6.1/standard-install.yaml"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # noqa: D401 - keep test output clean
        pass


@contextlib.contextmanager
def serve_directory(directory: Path) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def standard_install(folder: Path) -> str:
    """A release's standard-install.yaml as hack/build-install-yaml.sh builds it: a header, then
    the per-object files joined by ``---``."""
    parts = [f.read_text() for f in sorted(folder.glob("gateway.networking.k8s.io_*.yaml"))]
    return "# Copyright 2026 The Kubernetes Authors.\n#\n# Gateway API Standard channel install\n#\n---\n" + \
        "\n---\n".join(parts)


def build_mirror(root: Path, charts: list[Path], tamper: Optional[str] = None) -> Path:
    """Package *charts* into *root* (a Helm repository) and add the Gateway API release under
    ``<root>/github.com/...``. *tamper* names a chart folder whose values.yaml gets one more line."""
    import helm_python

    root.mkdir(parents=True, exist_ok=True)
    for chart in charts:
        source = chart
        if tamper and chart.name == tamper:
            source = root.parent / f"tampered-{chart.name}" / chart.name
            shutil.copytree(chart, source)
            with (source / "values.yaml").open("a") as handle:
                handle.write("\n# an extra line a compromised mirror added\n")
        helm_python.package(str(source), destination=str(root))
    helm_python.repo_index_generate(str(root))
    release = root / "github.com/kubernetes-sigs/gateway-api/releases/download/v1.6.1"
    release.mkdir(parents=True, exist_ok=True)
    (release / "standard-install.yaml").write_text(standard_install(SHARED / "manifests" / "gateway-api-v1.6.1"))
    return root


@contextlib.contextmanager
def helm_mirror(root: Path, charts: list[Path], tamper: Optional[str] = None) -> Iterator[str]:
    build_mirror(root, charts, tamper)
    with serve_directory(root) as url:
        yield url


# ---------------------------------------------------------------------------------------------
# OCI distribution
# ---------------------------------------------------------------------------------------------

_NAME = r"(?P<name>[a-z0-9._/-]+?)"


class Registry:
    """An in-memory OCI registry on 127.0.0.1 (see the module docstring)."""

    def __init__(self, token_auth: bool = False, send_digest_header: bool = True,
                 lie_about_digest: bool = False, refuse_tokens: bool = False, serve_any: bool = False):
        self.blobs: dict[str, bytes] = {}
        self.manifests: dict[tuple[str, str], tuple[str, bytes]] = {}   # (name, tag|digest) -> (media type, body)
        self.uploads: dict[str, bytearray] = {}
        self.tokens: dict[str, str] = {}      # token -> scope granted
        self.token_auth, self.send_digest_header = token_auth, send_digest_header
        self.lie_about_digest, self.refuse_tokens = lie_about_digest, refuse_tokens
        self.serve_any = serve_any
        self.requests: list[tuple[str, str, Optional[str]]] = []   # (method, path, Authorization)
        self.service = "test-registry"
        self.server: Optional[http.server.ThreadingHTTPServer] = None

    @property
    def host(self) -> str:
        assert self.server is not None
        return f"127.0.0.1:{self.server.server_port}"

    # -- content ---------------------------------------------------------------------------
    def add_image(self, name: str, tag: str, media_type: str = "application/vnd.oci.image.index.v1+json") -> str:
        """Store a small manifest (an index by default) under *name*:*tag*; returns its digest."""
        config = json.dumps({"architecture": "amd64", "os": "linux", "name": name, "tag": tag}).encode()
        config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
        self.blobs[config_digest] = config
        manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                               "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                          "digest": config_digest, "size": len(config)},
                               "layers": []}, sort_keys=True).encode()
        manifest_digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
        self.manifests[(name, manifest_digest)] = ("application/vnd.oci.image.manifest.v1+json", manifest)
        if media_type.endswith("index.v1+json") or media_type.endswith("list.v2+json"):
            body = json.dumps({"schemaVersion": 2, "mediaType": media_type, "manifests": [
                {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest,
                 "size": len(manifest), "platform": {"architecture": "amd64", "os": "linux"}}]},
                sort_keys=True).encode()
        else:
            body = manifest
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        self.manifests[(name, tag)] = (media_type, body)
        self.manifests[(name, digest)] = (media_type, body)
        return digest

    # -- server ----------------------------------------------------------------------------
    def __enter__(self) -> "Registry":
        registry = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _send(self, code: int, body: bytes = b"", headers: Optional[dict] = None, head: bool = False) -> None:
                self.send_response(code)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if body and not head:
                    self.wfile.write(body)

            def _body(self) -> bytes:
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _authorized(self, name: Optional[str], action: str) -> bool:
                if not registry.token_auth:
                    return True
                auth = self.headers.get("Authorization", "")
                scope = registry.tokens.get(auth[len("Bearer "):]) if auth.startswith("Bearer ") else None
                if scope is not None and (name is None or scope.startswith(f"repository:{name}:")):
                    return True
                self._body()                  # a refused upload's body must not read as the next request
                self.close_connection = True
                realm = f"http://{registry.host}/token"
                challenge = f'Bearer realm="{realm}",service="{registry.service}"'
                if name:
                    challenge += f',scope="repository:{name}:{action}"'
                self._send(401, json.dumps({"errors": [{"code": "UNAUTHORIZED"}]}).encode(),
                           {"WWW-Authenticate": challenge, "Content-Type": "application/json"},
                           head=self.command == "HEAD")
                return False

            def _route(self) -> None:
                registry.requests.append((self.command, self.path, self.headers.get("Authorization")))
                path, _, query = self.path.partition("?")
                params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
                if path == "/token":
                    from urllib.parse import unquote

                    scope = unquote(params.get("scope", ""))
                    if registry.refuse_tokens or unquote(params.get("service", "")) != registry.service:
                        return self._send(403)
                    token = secrets.token_hex(8)
                    registry.tokens[token] = scope
                    return self._send(200, json.dumps({"token": token, "expires_in": 300}).encode(),
                                      {"Content-Type": "application/json"})
                if path in ("/v2", "/v2/"):
                    if self._authorized(None, "pull"):
                        self._send(200, b"{}", {"Content-Type": "application/json"})
                    return None
                m = re.fullmatch(rf"/v2/{_NAME}/(?P<kind>manifests|blobs|tags)/(?P<ref>.+)", path)
                u = re.fullmatch(rf"/v2/{_NAME}/blobs/uploads/(?P<id>[^/]*)", path)
                if u:
                    return self._upload(u.group("name"), u.group("id"), params)
                if not m:
                    return self._send(404)
                name, kind, ref = m.group("name"), m.group("kind"), m.group("ref")
                write = self.command in ("PUT", "POST", "PATCH")
                if not self._authorized(name, "push,pull" if write else "pull"):
                    return None
                if kind == "tags":
                    tags = sorted(t for (n, t) in registry.manifests if n == name and not t.startswith("sha256:"))
                    return self._send(200, json.dumps({"name": name, "tags": tags}).encode(),
                                      {"Content-Type": "application/json"})
                if kind == "blobs":
                    blob = registry.blobs.get(ref)
                    if blob is None:
                        return self._send(404, head=self.command == "HEAD")
                    return self._send(200, blob, {"Docker-Content-Digest": ref,
                                                  "Content-Type": "application/octet-stream"},
                                      head=self.command == "HEAD")
                if self.command == "PUT":
                    body = self._body()
                    digest = "sha256:" + hashlib.sha256(body).hexdigest()
                    media = self.headers.get("Content-Type", "application/vnd.oci.image.manifest.v1+json")
                    registry.manifests[(name, ref)] = (media, body)
                    registry.manifests[(name, digest)] = (media, body)
                    return self._send(201, b"", {"Docker-Content-Digest": digest,
                                                 "Location": f"/v2/{name}/manifests/{digest}"})
                hit = registry.manifests.get((name, ref))
                if hit is None and registry.serve_any and not ref.startswith("sha256:"):
                    registry.add_image(name, ref)           # a mirror of everything: one manifest per tag asked
                    hit = registry.manifests.get((name, ref))
                if hit is None:
                    return self._send(404, json.dumps({"errors": [{"code": "MANIFEST_UNKNOWN"}]}).encode(),
                                      {"Content-Type": "application/json"}, head=self.command == "HEAD")
                media, body = hit
                headers = {"Content-Type": media}
                if registry.send_digest_header:
                    digest = "sha256:" + hashlib.sha256(body).hexdigest()
                    headers["Docker-Content-Digest"] = ("sha256:" + "0" * 64) if registry.lie_about_digest else digest
                return self._send(200, body, headers, head=self.command == "HEAD")

            def _upload(self, name: str, upload_id: str, params: dict) -> None:
                if not self._authorized(name, "push,pull"):
                    return None
                if self.command == "POST":
                    self._body()
                    upload_id = uuid.uuid4().hex
                    registry.uploads[upload_id] = bytearray()
                    return self._send(202, b"", {"Location": f"/v2/{name}/blobs/uploads/{upload_id}",
                                                 "Range": "0-0", "Docker-Upload-UUID": upload_id})
                data = registry.uploads.get(upload_id)
                if data is None:
                    return self._send(404)
                data.extend(self._body())
                if self.command == "PATCH":
                    return self._send(202, b"", {"Location": f"/v2/{name}/blobs/uploads/{upload_id}",
                                                 "Range": f"0-{max(len(data) - 1, 0)}"})
                from urllib.parse import unquote

                digest = unquote(params.get("digest", ""))
                if digest != "sha256:" + hashlib.sha256(bytes(data)).hexdigest():
                    return self._send(400, json.dumps({"errors": [{"code": "DIGEST_INVALID"}]}).encode())
                registry.blobs[digest] = bytes(data)
                del registry.uploads[upload_id]
                return self._send(201, b"", {"Location": f"/v2/{name}/blobs/{digest}", "Docker-Content-Digest": digest})

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = _route  # noqa: N815 - http.server's names

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()
