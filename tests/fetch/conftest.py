"""Shared fixtures: the mirror of every locked chart, served on 127.0.0.1."""
from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import pytest

from hardened import lockfile

from .servers import SHARED, helm_mirror

ROOT = Path(__file__).resolve().parents[2]


def locked_chart_dirs() -> list[Path]:
    lock = lockfile.Lock.load(ROOT / "charts.lock")
    return [SHARED / "charts" / pin.folder for pin in lock.charts.values()]


@pytest.fixture(scope="session")
def shared_charts() -> Path:
    if not (SHARED / "charts").is_dir():
        pytest.skip("the upstream chart releases (/work/shared/charts) are not on this machine")
    return SHARED / "charts"


@pytest.fixture(scope="session")
def mirror(tmp_path_factory, shared_charts) -> str:
    """A Helm repository of every chart charts.lock names, plus the Gateway API release under
    ``<mirror>/github.com/...``."""
    with helm_mirror(tmp_path_factory.mktemp("mirror") / "repo", locked_chart_dirs()) as url:
        yield url


@pytest.fixture(scope="session")
def tampered_mirror(tmp_path_factory, shared_charts) -> str:
    """The same mirror, with one more line in gatekeeper's values.yaml."""
    with helm_mirror(tmp_path_factory.mktemp("tampered") / "repo", locked_chart_dirs(),
                     tamper="gatekeeper-3.23.0") as url:
        yield url


@pytest.fixture
def lock_copy(tmp_path, monkeypatch) -> lockfile.Lock:
    """A private copy of charts.lock (a pull that adds an entry must not write the repository's)."""
    path = tmp_path / "charts.lock"
    shutil.copy(ROOT / "charts.lock", path)
    monkeypatch.setenv(lockfile.LOCK_ENV, str(path))
    lockfile.forget_verified()
    yield lockfile.Lock.load(path)
    lockfile.forget_verified()


@contextlib.contextmanager
def env(**values):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update({k: v for k, v in values.items() if v is not None})
    for k, v in values.items():
        if v is None:
            os.environ.pop(k, None)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
