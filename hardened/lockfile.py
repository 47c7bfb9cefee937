"""``charts.lock``: what the stack deploys from upstream, pinned by content.

One file at the project root, YAML, keys sorted::

    charts:
      - {name: base, version: 1.30.3, repository: https://..., digest: "h1:..."}
    manifests:
      - {url: https://github.com/.../standard-install.yaml, folder: gateway-api-v1.6.1, digest: "objects:sha256:..."}

A chart's ``digest`` is a canonical hash of its *unpacked files* (Go's module ``dirhash.Hash1``,
golang.org/x/mod ``sumdb/dirhash/hash.go``: the SHA-256 of the sorted lines
``<sha256 of file>  <path>\\n``, base64, prefixed ``h1:``). Timestamps, file modes, archive order
and compression do not enter it, so a mirror that repackages the same chart (ChartMuseum, Harbor,
Artifactory) still verifies, while one changed byte in one file does not.

A release manifest's ``digest`` hashes its *objects* (each decoded as the provider decodes it and
serialised as sorted JSON, the list sorted): a release's ``standard-install.yaml`` and the folder of
its per-object files carry the same objects, so both verify.

The lock is checked on ``charts pull`` and whenever ``render`` reads the cache
(:func:`verify_chart`, :func:`verify_manifests`); a mismatch is refused, naming the chart.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

import yaml

from .stackfile import REPO_ROOT, read_yaml

LOCK_NAME = "charts.lock"
#: Environment variable naming another charts.lock (tests, a fork with its own lock).
LOCK_ENV = "HARDENED_CHARTS_LOCK"

HEADER = """\
# charts.lock: the upstream Helm charts and release manifests this stack deploys, pinned by content.
# Written by `python -m hardened charts pull` (a chart it fetched for the first time is added) and
# `python -m hardened charts lock` (from a filled cache); checked by `charts pull` and by `render`
# whenever it reads the cache: a chart whose files differ is refused, naming it.
# digest (charts): dirhash h1 of the unpacked chart's files (sha256 of the sorted
#   "<sha256>  <path>" lines), so a mirror's repackaged archive of the same files still verifies.
# digest (manifests): sha256 of the release's objects (decoded, sorted JSON), so the release's
#   standard-install.yaml and the folder of its per-object files verify alike.
"""


class LockError(Exception):
    """A chart or manifest that does not match charts.lock; the message names it and the fix."""


def lock_path() -> Path:
    raw = os.environ.get(LOCK_ENV)
    return Path(raw).expanduser() if raw else REPO_ROOT / LOCK_NAME


def tree_digest(directory: os.PathLike | str) -> str:
    """dirhash ``h1:`` of every regular file under *directory* (paths relative, ``/``-separated)."""
    root = Path(directory)
    lines = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in filenames:
            path = Path(dirpath) / name
            if path.is_symlink() or not path.is_file():
                continue
            rel = path.relative_to(root).as_posix()
            if "\n" in rel:
                raise LockError(f"{path}: a file name with a newline cannot be hashed")
            lines.append(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {rel}\n")
    summary = hashlib.sha256("".join(sorted(lines)).encode()).digest()
    return "h1:" + base64.b64encode(summary).decode("ascii")


def objects_digest(objects: Iterable[Any]) -> str:
    """``objects:sha256:<hex>`` of decoded Kubernetes objects, independent of file layout and order."""
    docs = sorted(json.dumps(o, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
                  for o in objects if isinstance(o, dict) and o)
    return "objects:sha256:" + hashlib.sha256("\n".join(docs).encode()).hexdigest()


def manifest_files_digest(files: Iterable[Path], documents: Callable[[str, str], Iterable[Any]]) -> str:
    """:func:`objects_digest` of the objects in *files*, decoded by *documents* (text, source name):
    the engine's decoder (hardened/engine.py ``_documents``), which this module does not import."""
    objects: list[Any] = []
    for path in files:
        objects.extend(documents(path.read_text(encoding="utf-8"), str(path)))
    return objects_digest(objects)


@dataclass(frozen=True)
class ChartPin:
    name: str
    version: str
    repository: str
    digest: str

    @property
    def folder(self) -> str:
        return f"{self.name}-{self.version}"


@dataclass(frozen=True)
class ManifestPin:
    url: str
    folder: str
    digest: str


@dataclass
class Lock:
    charts: dict[tuple[str, str], ChartPin]
    manifests: dict[str, ManifestPin]   # by folder
    path: Path

    @classmethod
    def load(cls, path: Optional[Path] = None) -> "Lock":
        path = path or lock_path()
        charts: dict[tuple[str, str], ChartPin] = {}
        manifests: dict[str, ManifestPin] = {}
        if path.is_file():
            try:
                doc = read_yaml(path) or {}
                for c in doc.get("charts") or []:
                    pin = ChartPin(str(c["name"]), str(c["version"]), str(c.get("repository", "")), str(c["digest"]))
                    charts[(pin.name, pin.version)] = pin
                for m in doc.get("manifests") or []:
                    mpin = ManifestPin(str(m["url"]), str(m["folder"]), str(m["digest"]))
                    manifests[mpin.folder] = mpin
            except (yaml.YAMLError, KeyError, TypeError, AttributeError) as e:
                raise LockError(f"{path}: not a valid charts.lock ({type(e).__name__}: {e}); restore it from git "
                                "or rewrite it with `python -m hardened charts lock`") from None
        return cls(charts, manifests, path)

    def save(self) -> None:
        doc = {
            "charts": [{"name": p.name, "version": p.version, "repository": p.repository, "digest": p.digest}
                       for p in sorted(self.charts.values(), key=lambda p: (p.name, p.version))],
            "manifests": [{"url": m.url, "folder": m.folder, "digest": m.digest}
                          for m in sorted(self.manifests.values(), key=lambda m: m.folder)],
        }
        self.path.write_text(HEADER + yaml.safe_dump(doc, sort_keys=True, default_flow_style=False, width=200),
                             encoding="utf-8")


def chart_mismatch(name: str, version: str, directory: Path, found: str, expected: str, lock: Path) -> str:
    return (f"Helm chart {name} {version} in {directory} does not match {lock.name}: its files hash to {found}, "
            f"the lock says {expected}. Refused: the chart was changed or is not the upstream release. Remove "
            f"{directory} and run `python -m hardened charts pull`; if the upstream release really changed, "
            f"review it and update {lock.name}")


_VERIFIED: dict[tuple[str, str], str] = {}
_VERIFY_LOCK = threading.Lock()


def _digest_once(directory: Path, kind: str, compute: Callable[[Path], str]) -> str:
    key = (kind, str(directory.resolve()))
    with _VERIFY_LOCK:
        hit = _VERIFIED.get(key)
    if hit is None:
        hit = compute(directory)
        with _VERIFY_LOCK:
            _VERIFIED[key] = hit
    return hit


def verify_chart(name: str, version: str, directory: Path, lock: Optional[Lock] = None) -> Optional[str]:
    """Check a cached chart against the lock (once per folder and process). Raises
    :class:`LockError` on a mismatch; returns a warning when the lock does not name the chart."""
    lock = lock or Lock.load()
    pin = lock.charts.get((name, version))
    if pin is None:
        return (f"Helm chart {name} {version} is not in {lock.path.name}, so its files are not verified; "
                f"`python -m hardened charts pull` locks it")
    found = _digest_once(directory, "chart", tree_digest)
    if found != pin.digest:
        raise LockError(chart_mismatch(name, version, directory, found, pin.digest, lock.path))
    return None


def prime_chart_digests(cache: Path, lock: Optional[Lock] = None) -> None:
    """Hash the cached folder of every chart *lock* names, ahead of its render (``render`` does
    it while the program starts, before the first chart is registered). Only the memo of
    :func:`verify_chart` is filled: each chart is still compared with the lock when it renders,
    and an unreadable folder is left for that check to report."""
    try:
        lock = lock or Lock.load()
    except LockError:
        return
    for name, version in sorted(lock.charts):
        directory = cache / f"{name}-{version}"
        if (directory / "Chart.yaml").is_file():
            try:
                _digest_once(directory, "chart", tree_digest)
            except (LockError, OSError):
                continue


def verify_manifests(folder: str, directory: Path, documents: Callable[[str, str], Iterable[Any]],
                     lock: Optional[Lock] = None) -> Optional[str]:
    """Check a cached release folder against the lock (*documents* decodes its files); raises
    :class:`LockError` on a mismatch, returns a warning when the lock does not name it."""
    lock = lock or Lock.load()
    pin = lock.manifests.get(folder)
    if pin is None:
        return f"release manifests {folder} are not in {lock.path.name}, so they are not verified"
    found = _digest_once(directory, "manifests",
                         lambda d: manifest_files_digest(sorted(d.glob("*.yaml")), documents))
    if found != pin.digest:
        raise LockError(f"release manifests {folder} in {directory} do not match {lock.path.name}: their objects "
                        f"hash to {found}, the lock says {pin.digest}. Refused. Remove {directory} and run "
                        "`python -m hardened charts pull`")
    return None


def forget_verified() -> None:
    """Drop the per-process verification memo (tests that change a folder in place)."""
    with _VERIFY_LOCK:
        _VERIFIED.clear()
