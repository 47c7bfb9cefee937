"""The done-when of issue 25: `make demo` passes on a clone with no ``../shared`` beside it, an
empty HOME and ``HARDENED_CHART_MIRROR`` pointing at a mirror (a Helm repository of the upstream
releases served on 127.0.0.1, tests/fetch/servers.py).

Marked ``freshclone`` because it is slow (about 40 s on two shared cores): it runs the whole demo as
a user would, from a copy of the repository (every tracked and untracked, not ignored, file: what a
clone of this branch holds), so it pulls all 11 charts and the Gateway API release through the
mirror, renders prod and checks it, three processes each importing the SDKs. Run it alone with
``-m freshclone``.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hardened import lockfile

from .conftest import ROOT

VENV = Path(sys.prefix)          # the virtualenv running the tests


def _clone(into: Path) -> Path:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True,
                           check=True).stdout.decode().split("\0")
    for rel in filter(None, files):
        source = ROOT / rel
        if source.is_file():
            (into / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / rel)
    return into


@pytest.mark.freshclone
def test_make_demo_on_a_fresh_clone_with_an_empty_home_and_a_mirror(tmp_path, mirror):
    if not (VENV / ".installed").is_file() or not shutil.which("make"):
        pytest.skip("needs make and the project's installed virtualenv (make setup)")
    clone = _clone(tmp_path / "work" / "hardened-stack")
    assert not (clone.parent / "shared").exists()
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("HARDENED_") and k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(HOME=str(home), PYTHONDONTWRITEBYTECODE="1")

    # the README's commands outside make: a clear error that names a command which exists
    proc = subprocess.run([str(VENV / "bin" / "python"), "-m", "hardened", "render", "--stack", "prod", "--quiet"],
                          cwd=clone, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "`python -m hardened charts pull`" in proc.stderr, proc.stderr

    # make demo, with the mirror: pulls what is missing, renders, checks (the venv is the project's own;
    # -o keeps make from reinstalling it because the copied requirements files are newer)
    env["HARDENED_CHART_MIRROR"] = mirror
    proc = subprocess.run(["make", "demo", f"VENV={VENV}", "-o", f"{VENV}/.installed"], cwd=clone, env=env,
                          capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "passed; no violation" in out and "next: make report" in out
    assert "caBundle" not in out and "cannot" not in out.replace("--", "")
    cache = home / ".cache" / "hardened-stack"
    lock = lockfile.Lock.load(clone / "charts.lock")
    assert sorted(p.name for p in (cache / "charts").iterdir()) == sorted(p.folder for p in lock.charts.values())
    assert (cache / "manifests" / "gateway-api-v1.6.1" / "standard-install.yaml").is_file()
    assert (clone / "build" / "prod" / "resources.json").is_file()
