"""``python -m hardened bundle [--stack S] [-o FILE]``: one archive for an air-gapped install.

The archive (tar.gz) holds everything the stack fetches from the internet at deploy time:

- ``charts/<chart>-<version>/``: every Helm chart the stacks use, unpacked, from the chart cache;
- ``manifests/<release>/``: the plain release manifests (Gateway API);
- ``charts.lock`` and ``images.lock``: what each is pinned to;
- ``images.txt``: every image the stacks deploy, one a line, ``<image>@sha256:<digest>`` where
  images.lock pins it (the list to copy into the site's registry, e.g. with ``crane copy`` or
  ``skopeo copy``; a line without a digest is an image the lock does not pin yet).

Every chart and manifest is checked against charts.lock before it is written. On the other side,
``python -m hardened charts pull --from FILE`` fills the cache from it, checking the lock again.
"""
from __future__ import annotations

import argparse
import io
import sys
import tarfile
from pathlib import Path

from . import engine
from .console import UserError
from .lockfile import Lock, LockError, verify_chart, verify_manifests
from .stackfile import REPO_ROOT


def _add_tree(tar: tarfile.TarFile, directory: Path, arcname: str) -> None:
    """Regular files only, sorted, with no owner or time: the same cache gives the same archive."""
    for path in sorted(directory.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        _add_bytes(tar, f"{arcname}/{path.relative_to(directory).as_posix()}", path.read_bytes())


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, 0
    tar.addfile(info, io.BytesIO(data))


def write_bundle(out: Path, stacks: list[str], root: Path = REPO_ROOT, cache: Path | None = None,
                 manifests: Path | None = None, images: list[str] | None = None) -> dict[str, int]:
    from components import imagelock

    from .charts import program_sources

    cache = cache or engine.chart_cache()
    manifests = manifests or engine.manifest_cache()
    lock = Lock.load()
    charts, releases = program_sources(stacks, root)
    if images is None:
        from .images import stack_images

        images = stack_images(stacks, root, str(cache), with_digests=True)
    pins = imagelock.load()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for ref in charts:
            directory = cache / f"{ref.name}-{ref.version}"
            if not (directory / "Chart.yaml").is_file():
                raise UserError(engine.missing_chart_message(ref.name, ref.version, ref.repository, cache))
            try:
                note = verify_chart(ref.name, ref.version, directory, lock)
            except LockError as e:
                raise UserError(str(e)) from None
            if note:
                raise UserError(f"{note}; a bundle holds locked charts only")
            _add_tree(tar, directory, f"charts/{ref.name}-{ref.version}")
        for mref in releases:
            directory = manifests / mref.folder
            if not any(directory.glob("*.yaml")):
                raise UserError(f"{mref.url} is not in the manifest cache (expected {directory}); run "
                                "`python -m hardened charts pull` first")
            try:
                note = verify_manifests(mref.folder, directory, engine._documents, lock)
            except LockError as e:
                raise UserError(str(e)) from None
            if note:
                raise UserError(f"{note}; a bundle holds locked manifests only")
            _add_tree(tar, directory, f"manifests/{mref.folder}")
        for name, path in (("charts.lock", lock.path), ("images.lock", imagelock.lock_path())):
            if path.is_file():
                _add_bytes(tar, name, path.read_bytes())
        listing = "".join(f"{imagelock.pinned(i, pins)}\n" for i in sorted(images))
        _add_bytes(tar, "images.txt", listing.encode())
    return {"charts": len(charts), "manifests": len(releases), "images": len(images),
            "pinned": sum(1 for i in images if "@" in imagelock.pinned(i, pins))}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", action="append", default=None, help="stack name; repeatable; default every stack")
    parser.add_argument("--root", default=str(REPO_ROOT), help=argparse.SUPPRESS)
    parser.add_argument("--chart-cache", metavar="DIR", default=None, help="chart cache (default $HARDENED_CHART_CACHE)")
    parser.add_argument("--output", "-o", metavar="FILE", default="build/hardened-bundle.tar.gz",
                        help="the archive to write (default build/hardened-bundle.tar.gz)")


def run(args: argparse.Namespace) -> int:
    from .charts import stacks_of

    root = Path(args.root)
    stacks = args.stack or stacks_of(root)
    out = Path(args.output)
    counts = write_bundle(out, stacks, root, engine.chart_cache(args.chart_cache),
                          engine.manifest_cache(charts=args.chart_cache))
    print(f"bundle: wrote {out}: {counts['charts']} charts, {counts['manifests']} release manifests, "
          f"{counts['images']} images ({counts['pinned']} pinned by digest); install it with "
          f"`python -m hardened charts pull --from {out}`", file=sys.stderr)
    return 0
