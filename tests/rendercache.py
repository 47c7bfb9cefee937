"""The prod render, once per test run, shared by every pytest-xdist worker (issue 26).

A whole-program render costs seconds and dozens of modules' fixtures need the same default prod
render. Within one process :func:`cached_run_program` keeps it in memory; across the workers of
one ``pytest -n N`` run it keeps it on disk, in a folder named after the run's id
(``HARDENED_TEST_RUN``, set by the controlling process and inherited by every worker), under a file lock (``fcntl.flock``): the
first worker to ask renders while the others wait, then each reads the pickle (its own copy, so a
test that edits the records cannot leak into another).

The key is everything the render reads that a test could change without monkeypatching: the
stack, the root, ``preview``, ``expand_charts``, the chart cache, and a digest of the program's
sources (components/, hardened/, policy_pack/_lib and exemptions.yaml, __main__.py, the stack
files). Only renders without overrides and without a custom program are shared: renders under
overrides are each distinct (nothing to share), and a test that monkeypatches the program's
modules renders with :func:`hardened.render.run_program` itself.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import pickle
import shutil
import tempfile
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parents[1]
#: The environment variable naming this run's shared folder: set by the controlling pytest process
#: (tests/conftest.py, before pytest-xdist starts its workers, which inherit it).
RUN_ENV = "HARDENED_TEST_RUN"
_SOURCES = ("components", "hardened", "policy_pack/policies/_lib", "policy_pack/exemptions.yaml", "__main__.py")

_MEMORY: dict[str, bytes] = {}
_FINGERPRINT: Optional[str] = None


def fingerprint() -> str:
    """A digest of the files a render reads (paths, sizes and modification times)."""
    global _FINGERPRINT
    if _FINGERPRINT is None:
        h = hashlib.sha256()
        paths: list[Path] = []
        for rel in _SOURCES:
            p = ROOT / rel
            paths.extend(sorted(p.rglob("*.py")) + sorted(p.rglob("*.yaml")) if p.is_dir() else [p])
        paths.extend(sorted(ROOT.glob("Pulumi*.yaml")))
        for p in paths:
            with contextlib.suppress(OSError):
                st = p.stat()
                h.update(f"{p.relative_to(ROOT)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        _FINGERPRINT = h.hexdigest()
    return _FINGERPRINT


def shared_dir() -> Optional[Path]:
    """This run's folder shared by its workers (None when no run id is set)."""
    run = os.environ.get(RUN_ENV)
    if not run or not run.isalnum():
        return None
    return Path(tempfile.gettempdir()) / f"hardened-renders-{run}"


def key_of(stack: str, root: Path, preview: bool, expand_charts: bool) -> str:
    from hardened import engine

    doc = {"stack": stack, "root": str(Path(root).resolve()), "preview": preview, "charts": expand_charts,
           "cache": str(engine.chart_cache()), "sources": fingerprint()}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:32]


def cached_run_program(stack: str = "prod", root: Path = ROOT, *, preview: bool = False,
                       expand_charts: bool = True) -> list:
    """``run_program(stack, root)``: rendered once per test run, a fresh copy per call."""
    from hardened.render import run_program

    key = key_of(stack, root, preview, expand_charts)
    blob = _MEMORY.get(key)
    if blob is None:
        folder = shared_dir()
        if folder is None:
            blob = pickle.dumps(run_program(stack, root, preview=preview, expand_charts=expand_charts),
                                protocol=pickle.HIGHEST_PROTOCOL)
        else:
            blob = _shared(folder, key, lambda: run_program(stack, root, preview=preview,
                                                           expand_charts=expand_charts))
        _MEMORY[key] = blob
    return pickle.loads(blob)


def _shared(folder: Path, key: str, render: Any) -> bytes:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{key}.pickle"
    with open(folder / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the first worker renders; the others wait here
        try:
            if target.is_file():
                return target.read_bytes()
            blob = pickle.dumps(render(), protocol=pickle.HIGHEST_PROTOCOL)
            partial = target.with_suffix(f".{os.getpid()}.tmp")
            partial.write_bytes(blob)
            partial.replace(target)
            return blob
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def cleanup() -> None:
    """Remove this run's shared folder (the controller calls it when the run ends)."""
    folder = shared_dir()
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
