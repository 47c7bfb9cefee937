"""Fetch and lock the upstream Helm charts and release manifests the stack deploys.

``python -m hardened charts pull [--stack S] [--mirror URL] [--from BUNDLE]`` fills the chart
cache (``<cache>/<chart>-<version>/``, as ``helm pull --untar`` lays it out; ``$HARDENED_CHART_CACHE``,
else ``~/.cache/hardened-stack/charts``) and the manifest cache beside it (``manifests/<release>/``,
``$HARDENED_MANIFEST_CACHE``) with every chart and release manifest the stack's program asks for
(all stacks when ``--stack`` is not given). Charts come through the Helm SDK's own pull
(``helm-python-sdk``: ``helm_python.pull``), from classic HTTP repositories and ``oci://`` registries
alike. Every folder is checked against ``charts.lock`` (hardened/lockfile.py) before it enters the
cache; what is already there is checked, not fetched again. A chart the lock does not name yet
is added to it (say so in review); a chart whose files differ from the lock is refused, naming it.

One mirror for everything (``--mirror URL`` or ``$HARDENED_CHART_MIRROR``), for sites without
access to the upstream hosts:

- charts from a classic Helm repository at the mirror's root (``<mirror>/index.yaml``, as
  ChartMuseum, Harbor and Artifactory serve one), or from ``oci://<mirror>/<chart>`` when the
  mirror is an ``oci://`` URL;
- release manifests (plain URLs) from ``<mirror>/<host>/<path>`` (an http(s) mirror only).

``--from BUNDLE`` reads an archive written by ``python -m hardened bundle`` instead of the
network (an air-gapped install); its contents are checked against the lock the same way.

``python -m hardened charts lock`` writes charts.lock from a filled cache (the review step after a
chart version changes).
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from . import engine
from .console import UserError
from .lockfile import ChartPin, Lock, LockError, ManifestPin, chart_mismatch, manifest_files_digest, tree_digest
from .stackfile import REPO_ROOT

MIRROR_ENV = "HARDENED_CHART_MIRROR"
#: Seconds a plain download may take.
TIMEOUT = 60


@dataclass(frozen=True)
class ChartRef:
    name: str
    version: str
    repository: str


@dataclass(frozen=True)
class ManifestRef:
    url: str
    folder: str


def stacks_of(root: Path) -> list[str]:
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in root.glob("Pulumi.*.yaml"))


def program_sources(stacks: list[str], root: Path = REPO_ROOT) -> tuple[list[ChartRef], list[ManifestRef]]:
    """The charts and release manifests the program registers for *stacks*: the program runs under
    the SDK mocks with charts left unexpanded, so the set is exactly what ``pulumi up`` fetches."""
    key = (tuple(stacks), str(root))
    if key not in _SOURCES:
        _SOURCES[key] = _program_sources(stacks, root)
    return _SOURCES[key]


#: program_sources per (stacks, root) in this process: the program is the same for its lifetime.
_SOURCES: dict[tuple, tuple[list[ChartRef], list[ManifestRef]]] = {}


def _program_sources(stacks: list[str], root: Path) -> tuple[list[ChartRef], list[ManifestRef]]:
    from .render import run_program

    charts: dict[tuple[str, str], ChartRef] = {}
    manifests: dict[str, ManifestRef] = {}
    for stack in stacks:
        for rec in run_program(stack, root, expand_charts=False):
            if rec.type == engine.CHART_TOKEN:
                ref = ChartRef(str(rec.inputs.get("chart", "")), str(rec.inputs.get("version", "")),
                               str((rec.inputs.get("repositoryOpts") or {}).get("repo", "")))
                charts.setdefault((ref.name, ref.version), ref)
            elif rec.type == engine.CONFIG_FILE_TOKEN:
                url = str(rec.inputs.get("file", ""))
                folder = manifest_folder(url)
                if folder:
                    manifests.setdefault(folder, ManifestRef(url, folder))
    return sorted(charts.values(), key=lambda c: (c.name, c.version)), sorted(manifests.values(), key=lambda m: m.folder)


def manifest_folder(url: str) -> Optional[str]:
    for pattern, folder in engine.MANIFEST_SOURCES:
        match = pattern.match(url)
        if match:
            return folder.format(*match.groups())
    return None


def mirror_url(mirror: str, url: str) -> str:
    """``<mirror>/<host>/<path>`` for a plain URL."""
    parts = urllib.parse.urlsplit(url)
    return f"{mirror.rstrip('/')}/{parts.netloc}{parts.path}"


def _replace(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():
        shutil.rmtree(dest)
    shutil.move(str(src), str(dest))


class Puller:
    """Fills the caches; *say* gets one line per chart or manifest."""

    def __init__(self, cache: Path, manifests: Path, lock: Lock, mirror: Optional[str] = None,
                 plain_http: bool = False, say: Callable[[str], None] = lambda _m: None):
        self.cache, self.manifests, self.lock = cache, manifests, lock
        self.mirror = mirror.rstrip("/") if mirror else None
        self.plain_http = plain_http
        self.say = say
        self.added: list[str] = []
        self.fetched = 0

    # -- charts ----------------------------------------------------------------------------
    def chart(self, ref: ChartRef, bundle: Optional[Path] = None) -> None:
        target = self.cache / f"{ref.name}-{ref.version}"
        if (target / "Chart.yaml").is_file():
            self._admit_chart(ref, target, target, moved=False)
            self.say(f"{ref.name} {ref.version}: in the cache, matches {self.lock.path.name}")
            return
        with tempfile.TemporaryDirectory(prefix="hardened-pull-") as tmp:
            if bundle is not None:
                unpacked = bundle / "charts" / f"{ref.name}-{ref.version}"
                if not (unpacked / "Chart.yaml").is_file():
                    raise UserError(f"the bundle has no Helm chart {ref.name} {ref.version} (charts/{ref.name}-"
                                    f"{ref.version}/); write it again with `python -m hardened bundle`")
                source = "the bundle"
            else:
                unpacked, source = self._helm_pull(ref, Path(tmp))
            self._admit_chart(ref, unpacked, target, moved=True)
            self.fetched += 1
            self.say(f"{ref.name} {ref.version}: pulled from {source}, matches {self.lock.path.name}")

    def _helm_pull(self, ref: ChartRef, tmp: Path) -> tuple[Path, str]:
        import helm_python

        repo = self.mirror or ref.repository
        if not repo:
            raise UserError(f"Helm chart {ref.name} {ref.version} names no repository and no mirror is set "
                            f"(--mirror or {MIRROR_ENV})")
        kwargs: dict = {"version": ref.version, "untar": True, "destination": str(tmp)}
        if repo.startswith("oci://"):
            chart_ref = f"{repo.rstrip('/')}/{ref.name}"
            kwargs["plain_http"] = self.plain_http
        else:
            chart_ref = ref.name
            kwargs["repo_url"] = repo
        try:
            helm_python.pull(chart_ref, **kwargs)
        except helm_python.HelmError as e:
            raise UserError(f"Helm chart {ref.name} {ref.version}: cannot pull it from {repo}: {e}") from None
        found = [p for p in tmp.iterdir() if (p / "Chart.yaml").is_file()]
        if len(found) != 1:
            raise UserError(f"Helm chart {ref.name} {ref.version}: the pull from {repo} unpacked "
                            f"{len(found)} charts, expected one")
        return found[0], repo

    def _admit_chart(self, ref: ChartRef, unpacked: Path, target: Path, moved: bool) -> None:
        import helm_python

        with helm_python.Chart.load(str(unpacked)) as loaded:
            name, version = str(loaded.metadata.get("name")), str(loaded.metadata.get("version"))
        if (name, version) != (ref.name, ref.version):
            raise UserError(f"{unpacked} holds Helm chart {name} {version}, not {ref.name} {ref.version}")
        digest = tree_digest(unpacked)
        pin = self.lock.charts.get((ref.name, ref.version))
        if pin is None:
            self.lock.charts[(ref.name, ref.version)] = ChartPin(ref.name, ref.version, ref.repository, digest)
            self.added.append(f"{ref.name} {ref.version}")
        elif pin.digest != digest:
            raise LockError(chart_mismatch(ref.name, ref.version, unpacked if moved else target, digest, pin.digest,
                                           self.lock.path))
        if moved:
            _replace(unpacked, target)

    # -- release manifests -----------------------------------------------------------------
    def manifest(self, ref: ManifestRef, bundle: Optional[Path] = None) -> None:
        target = self.manifests / ref.folder
        if any(target.glob("*.yaml")):
            self._admit_manifest(ref, target)
            self.say(f"{ref.folder}: in the cache, matches {self.lock.path.name}")
            return
        with tempfile.TemporaryDirectory(prefix="hardened-pull-") as tmp:
            staged = Path(tmp) / ref.folder
            if bundle is not None:
                source_dir = bundle / "manifests" / ref.folder
                if not any(source_dir.glob("*.yaml")):
                    raise UserError(f"the bundle has no release manifests {ref.folder} (manifests/{ref.folder}/); "
                                    "write it again with `python -m hardened bundle`")
                shutil.copytree(source_dir, staged)
                source = "the bundle"
            else:
                url = mirror_url(self.mirror, ref.url) if self.mirror and not self.mirror.startswith("oci://") \
                    else ref.url
                staged.mkdir()
                (staged / Path(urllib.parse.urlsplit(ref.url).path).name).write_bytes(download(url))
                source = url
            self._admit_manifest(ref, staged)
            _replace(staged, target)
            self.fetched += 1
            self.say(f"{ref.folder}: fetched from {source}, matches {self.lock.path.name}")

    def _admit_manifest(self, ref: ManifestRef, directory: Path) -> None:
        digest = manifest_files_digest(sorted(directory.glob("*.yaml")), engine._documents)
        pin = self.lock.manifests.get(ref.folder)
        if pin is None:
            self.lock.manifests[ref.folder] = ManifestPin(ref.url, ref.folder, digest)
            self.added.append(ref.folder)
        elif pin.digest != digest:
            raise LockError(f"release manifests {ref.folder} from {ref.url} do not match {self.lock.path.name}: "
                            f"their objects hash to {digest}, the lock says {pin.digest}. Refused")


def download(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "hardened-stack"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310 - http(s) only
            return response.read()
    except urllib.error.HTTPError as e:
        raise UserError(f"{url}: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError) as e:
        raise UserError(f"{url}: cannot fetch it ({getattr(e, 'reason', e)})") from None


def extract_bundle(bundle: Path, into: Path) -> Path:
    """Unpack a bundle (tar.gz) safely (no absolute paths, links or devices: tarfile's data filter)."""
    if not hasattr(tarfile, "data_filter"):  # Python < 3.11.4: no extraction filters
        raise UserError("reading a bundle safely needs Python 3.11.4 or newer (tarfile extraction filters)")
    try:
        with tarfile.open(bundle, "r:*") as tar:
            tar.extractall(into, filter="data")
    except (tarfile.TarError, OSError) as e:
        raise UserError(f"{bundle}: not a readable bundle ({e})") from None
    return into


def pull(stacks: Optional[list[str]] = None, *, root: Path = REPO_ROOT, cache: Optional[Path] = None,
         manifests: Optional[Path] = None, mirror: Optional[str] = None, bundle: Optional[Path] = None,
         plain_http: bool = False, lock: Optional[Lock] = None,
         say: Callable[[str], None] = lambda _m: None) -> Puller:
    """Fill the caches for *stacks* (every stack of *root* when None); returns the puller (what
    it fetched, what it added to the lock). The lock is written only when something was added."""
    cache = cache or engine.chart_cache()
    manifests = manifests or engine.manifest_cache()
    lock = lock or Lock.load()
    charts, releases = program_sources(stacks or stacks_of(root), root)
    puller = Puller(cache, manifests, lock, mirror, plain_http, say)
    with tempfile.TemporaryDirectory(prefix="hardened-bundle-") as tmp:
        unpacked = extract_bundle(bundle, Path(tmp)) if bundle is not None else None
        for ref in charts:
            puller.chart(ref, unpacked)
        for mref in releases:
            puller.manifest(mref, unpacked)
    if puller.added:
        lock.save()
    return puller


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=type(parser))
    actions.required = True
    for action, text in (("pull", "fetch every chart and release manifest the stack uses into the cache, "
                                  "checked against charts.lock"),
                         ("lock", "write charts.lock from the charts and manifests in the cache")):
        sub = actions.add_parser(action, help=text, description=text)
        sub.command = f"charts {action}"
        sub.add_argument("--stack", action="append", default=None,
                         help="stack name (Pulumi.<stack>.yaml); repeatable; default every stack")
        sub.add_argument("--root", default=str(REPO_ROOT), help=argparse.SUPPRESS)
        sub.add_argument("--chart-cache", metavar="DIR", default=None,
                         help=f"chart cache (default ${engine.CACHE_ENV}, else {engine.DEFAULT_CACHE})")
        sub.add_argument("--quiet", "-q", action="store_true", help="no line per chart")
        if action == "pull":
            sub.add_argument("--mirror", metavar="URL", default=None,
                             help=f"one mirror for everything (default ${MIRROR_ENV}): a Helm repository at its "
                                  "root (or oci://host/path), plain URLs under <mirror>/<host>/<path>")
            sub.add_argument("--from", dest="bundle", metavar="BUNDLE", default=None,
                             help="read the charts and manifests from a bundle (python -m hardened bundle) "
                                  "instead of the network")
            sub.add_argument("--plain-http", action="store_true",
                             help="talk plain HTTP to an oci:// registry (a local test registry)")


def run(args: argparse.Namespace) -> int:
    root = Path(args.root)
    stacks = args.stack or stacks_of(root)
    cache = engine.chart_cache(args.chart_cache)
    manifests = engine.manifest_cache(charts=args.chart_cache)   # where render will read them

    def say(message: str) -> None:
        if not args.quiet:
            print(f"  {message}", file=sys.stderr)

    if args.action == "lock":
        return _lock(stacks, root, cache, manifests, say)
    mirror = args.mirror or os.environ.get(MIRROR_ENV) or None
    bundle = Path(args.bundle) if args.bundle else None
    if bundle is not None and not bundle.is_file():
        raise UserError(f"{bundle}: no such bundle")
    try:
        puller = pull(stacks, root=root, cache=cache, manifests=manifests, mirror=mirror, bundle=bundle,
                      plain_http=args.plain_http, say=say)
    except LockError as e:
        raise UserError(str(e)) from None
    if puller.added:
        print(f"charts pull: added to {puller.lock.path.name} (review and commit it): {', '.join(puller.added)}",
              file=sys.stderr)
    print(f"charts pull: {puller.fetched} fetched into {cache}"
          f"{f' (mirror {mirror})' if mirror and bundle is None else ''}; every chart and manifest of "
          f"{', '.join(stacks)} matches {puller.lock.path.name}", file=sys.stderr)
    return 0


def _lock(stacks: list[str], root: Path, cache: Path, manifests: Path, say: Callable[[str], None]) -> int:
    charts, releases = program_sources(stacks, root)
    lock = Lock.load()
    for ref in charts:
        directory = cache / f"{ref.name}-{ref.version}"
        if not (directory / "Chart.yaml").is_file():
            raise UserError(engine.missing_chart_message(ref.name, ref.version, ref.repository, cache))
        lock.charts[(ref.name, ref.version)] = ChartPin(ref.name, ref.version, ref.repository, tree_digest(directory))
        say(f"{ref.name} {ref.version}: {lock.charts[(ref.name, ref.version)].digest}")
    for mref in releases:
        directory = manifests / mref.folder
        files = sorted(directory.glob("*.yaml"))
        if not files:
            raise UserError(f"{mref.url} is not in the manifest cache (expected {directory})")
        lock.manifests[mref.folder] = ManifestPin(mref.url, mref.folder, manifest_files_digest(files, engine._documents))
        say(f"{mref.folder}: {lock.manifests[mref.folder].digest}")
    lock.save()
    print(f"charts lock: wrote {lock.path} ({len(charts)} charts, {len(releases)} release manifests)", file=sys.stderr)
    return 0
