"""``charts pull`` against real protocols on 127.0.0.1: a classic Helm repository (the mirror
layout: index.yaml at its root, plain URLs under ``<mirror>/<host>/<path>``) and an OCI registry
(Helm's own push and pull through the SDK), with charts.lock checked on pull and on render.

The mirror's archives are packaged here by the Helm SDK from /work/shared/charts (the upstream
releases unpacked), so they are *repackaged* copies: the lock's tree hash must still verify them.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hardened import charts, engine, lockfile
from hardened.console import UserError

from .conftest import ROOT, locked_chart_dirs
from .servers import GATEWAY_URL, SHARED, Registry, standard_install


def _pull(tmp_path: Path, lock: lockfile.Lock, **kwargs) -> charts.Puller:
    return charts.pull(["prod"], root=ROOT, cache=tmp_path / "charts", manifests=tmp_path / "manifests", lock=lock,
                       **kwargs)


def test_pull_fills_an_empty_cache_from_a_mirror_and_every_chart_matches_the_lock(tmp_path, mirror, lock_copy):
    lines: list[str] = []
    puller = _pull(tmp_path, lock_copy, mirror=mirror, say=lines.append)
    pins = {p.folder: p for p in lock_copy.charts.values()}
    pulled = sorted(p.name for p in (tmp_path / "charts").iterdir())
    assert pulled == sorted(pins)                          # the 11 charts of prod, nothing else
    for folder in pulled:                                  # a repackaged copy verifies by its files
        assert lockfile.tree_digest(tmp_path / "charts" / folder) == pins[folder].digest
    # the release manifest came from <mirror>/github.com/<path>, as one standard-install.yaml
    assert [p.name for p in (tmp_path / "manifests" / "gateway-api-v1.6.1").iterdir()] == ["standard-install.yaml"]
    assert puller.fetched == 12 and not puller.added
    assert any(f"{mirror}/github.com/kubernetes-sigs/gateway-api" in line for line in lines)
    # a second pull fetches nothing: what is there is checked, not downloaded again
    again = _pull(tmp_path, lock_copy, mirror="http://127.0.0.1:9")
    assert again.fetched == 0


def test_pull_refuses_a_tampered_chart_and_names_it(tmp_path, tampered_mirror, lock_copy):
    with pytest.raises(lockfile.LockError) as caught:
        _pull(tmp_path, lock_copy, mirror=tampered_mirror)
    message = str(caught.value)
    assert "gatekeeper 3.23.0" in message and "charts.lock" in message and "Refused" in message
    assert not (tmp_path / "charts" / "gatekeeper-3.23.0").exists()     # nothing unverified enters the cache


def test_cli_pull_from_a_tampered_mirror_exits_2_naming_the_chart(tmp_path, tampered_mirror, lock_copy):
    proc = subprocess.run([sys.executable, "-m", "hardened", "charts", "pull", "--stack", "prod",
                           "--chart-cache", str(tmp_path / "charts")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, charts.MIRROR_ENV: tampered_mirror})
    assert proc.returncode == 2, proc.stderr
    assert "charts pull: error: Helm chart gatekeeper 3.23.0" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_pull_refuses_a_changed_chart_already_in_the_cache(tmp_path, mirror, lock_copy):
    cache = tmp_path / "charts"
    shutil.copytree(SHARED / "charts" / "vault-0.34.1", cache / "vault-0.34.1")
    (cache / "vault-0.34.1" / "templates" / "server-statefulset.yaml").write_text("# emptied\n")
    with pytest.raises(lockfile.LockError, match=r"vault 0\.34\.1 in .*vault-0\.34\.1 does not match charts\.lock"):
        _pull(tmp_path, lock_copy, mirror=mirror)


def test_pull_refuses_a_tampered_release_manifest(tmp_path, mirror, lock_copy):
    folder = tmp_path / "manifests" / "gateway-api-v1.6.1"
    folder.mkdir(parents=True)
    text = standard_install(SHARED / "manifests" / "gateway-api-v1.6.1").replace("maxItems: 64", "maxItems: 65", 1)
    (folder / "standard-install.yaml").write_text(text)
    with pytest.raises(lockfile.LockError, match="release manifests gateway-api-v1.6.1 .* do not match"):
        _pull(tmp_path, lock_copy, mirror=mirror)


def test_a_chart_the_lock_does_not_name_is_added_on_first_pull(tmp_path, mirror, lock_copy):
    expected = lock_copy.charts.pop(("spire", "0.30.0"))
    lock_copy.save()
    puller = _pull(tmp_path, lock_copy, mirror=mirror)
    assert puller.added == ["spire 0.30.0"]
    assert lockfile.Lock.load(lock_copy.path).charts[("spire", "0.30.0")] == expected


def test_render_refuses_a_cached_chart_that_differs_from_the_lock(tmp_path, lock_copy):
    cache = tmp_path / "charts"
    shutil.copytree(SHARED / "charts" / "gatekeeper-3.23.0", cache / "gatekeeper-3.23.0")
    engine.render_chart("gatekeeper", "3.23.0", release="gk", namespace="gatekeeper-system", values={},
                        kube_version="1.33", cache=cache)            # the pristine copy renders
    lockfile.forget_verified()
    shutil.rmtree(cache / "gatekeeper-3.23.0" / "crds", ignore_errors=True)
    (cache / "gatekeeper-3.23.0" / "templates" / "extra.yaml").write_text("kind: ConfigMap\napiVersion: v1\n"
                                                                         "metadata: {name: planted}\n")
    with pytest.raises(engine.ChartError, match=r"Helm chart gatekeeper 3\.23\.0 .* does not match charts\.lock"):
        engine.render_chart("gatekeeper", "3.23.0", release="gk2", namespace="gatekeeper-system", values={},
                            kube_version="1.33", cache=cache)


def test_render_refuses_changed_release_manifests(tmp_path, lock_copy):
    folder = tmp_path / "manifests" / "gateway-api-v1.6.1"
    shutil.copytree(SHARED / "manifests" / "gateway-api-v1.6.1", folder)
    engine.read_config_file(GATEWAY_URL, cache=tmp_path / "manifests")
    lockfile.forget_verified()
    (folder / "gateway.networking.k8s.io_gateways.yaml").unlink()       # one CRD missing
    with pytest.raises(engine.ChartError, match="gateway-api-v1.6.1 .* do not match charts.lock"):
        engine.read_config_file(GATEWAY_URL, cache=tmp_path / "manifests")


def test_tree_digest_hashes_names_and_bytes_not_times_or_modes(tmp_path):
    tree = tmp_path / "c"
    (tree / "templates").mkdir(parents=True)
    (tree / "Chart.yaml").write_text("name: c\n")
    (tree / "templates" / "a.yaml").write_text("a: 1\n")
    base = lockfile.tree_digest(tree)
    (tree / "Chart.yaml").chmod(0o600)


    os.utime(tree / "Chart.yaml", (0, 0))
    assert lockfile.tree_digest(tree) == base
    (tree / "templates" / "a.yaml").rename(tree / "templates" / "b.yaml")
    assert lockfile.tree_digest(tree) != base
    (tree / "templates" / "b.yaml").rename(tree / "templates" / "a.yaml")
    (tree / "templates" / "a.yaml").write_text("a: 2\n")
    assert lockfile.tree_digest(tree) != base


def test_mirror_maps_a_plain_url_to_host_and_path():
    assert charts.mirror_url("http://m.example/root/", GATEWAY_URL) == \
        "http://m.example/root/github.com/kubernetes-sigs/gateway-api/releases/download/v1.6.1/standard-install.yaml"


def test_pull_through_an_oci_registry_with_the_token_flow(tmp_path, shared_charts, lock_copy):
    """Helm's own OCI push and pull (the SDK), anonymous Bearer tokens: the mirror is oci://."""
    import helm_python

    with Registry(token_auth=True) as registry:
        archive = helm_python.package(str(shared_charts / "gatekeeper-3.23.0"), destination=str(tmp_path))
        helm_python.push(archive, f"oci://{registry.host}/mirror", plain_http=True)
        puller = charts.Puller(tmp_path / "charts", tmp_path / "manifests", lock_copy,
                               mirror=f"oci://{registry.host}/mirror", plain_http=True)
        puller.chart(charts.ChartRef("gatekeeper", "3.23.0", "https://open-policy-agent.github.io/gatekeeper/charts"))
        assert any(path.startswith("/token?") for _m, path, _a in registry.requests)
        assert any(m == "GET" and "/v2/mirror/gatekeeper/manifests/3.23.0" in path and auth
                   for m, path, auth in registry.requests)
    assert lockfile.tree_digest(tmp_path / "charts" / "gatekeeper-3.23.0") == \
        lock_copy.charts[("gatekeeper", "3.23.0")].digest


def test_pull_names_an_unreachable_repository(tmp_path, lock_copy):
    with pytest.raises(UserError, match=r"gatekeeper 3\.23\.0: cannot pull it from http://127\.0\.0\.1:9"):
        charts.Puller(tmp_path / "c", tmp_path / "m", lock_copy, mirror="http://127.0.0.1:9").chart(
            charts.ChartRef("gatekeeper", "3.23.0", "https://open-policy-agent.github.io/gatekeeper/charts"))


def test_the_missing_chart_error_names_a_command_that_exists(tmp_path):
    with pytest.raises(engine.ChartError) as caught:
        engine.render_chart("vault", "0.34.1", release="v", namespace="vault", values={}, kube_version="1.33",
                            cache=tmp_path)
    assert "`python -m hardened charts pull`" in str(caught.value) and "HARDENED_CHART_MIRROR" in str(caught.value)
    proc = subprocess.run([sys.executable, "-m", "hardened", "charts", "pull", "--help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "--mirror" in proc.stdout and "--from" in proc.stdout


def test_committed_lock_names_every_chart_the_program_uses_at_the_shared_releases(shared_charts):
    lock = lockfile.Lock.load(ROOT / "charts.lock")
    used, releases = charts.program_sources(charts.stacks_of(ROOT), ROOT)
    assert {(c.name, c.version) for c in used} == set(lock.charts)
    for ref in used:
        pin = lock.charts[(ref.name, ref.version)]
        assert pin.repository == ref.repository
        assert pin.digest == lockfile.tree_digest(shared_charts / pin.folder)
    assert {m.folder for m in releases} == set(lock.manifests)
    assert len(locked_chart_dirs()) == 11


@pytest.mark.parametrize("argv,expected", [
    (["charts", "pul"], "charts: error: argument ACTION: invalid choice: 'pul' (choose from 'pull', 'lock') "
                        "(did you mean pull?)"),
    (["charts", "pull", "--mirorr", "x"], "charts pull: error: unrecognized arguments: --mirorr x "
                                          "(did you mean --mirror?)"),
    (["images", "pin", "--registry-miror", "x"], "(did you mean --registry-mirror?)"),
    (["charts", "pull", "--from", "/nonexistent.tgz", "--stack", "prod"], "charts pull: error: /nonexistent.tgz: no such bundle"),
])
def test_the_new_commands_follow_the_error_conventions(capsys, argv, expected):
    from hardened.cli import main

    try:
        status = main(argv)
    except SystemExit as e:
        status = e.code
    _out, err = capsys.readouterr()
    assert status == 2 and expected in err and "Traceback" not in err, err


def test_charts_lock_rewrites_the_committed_lock_from_the_shared_releases(tmp_path, monkeypatch, shared_charts):
    """`charts lock` over /work/shared (the upstream releases unpacked) writes exactly charts.lock."""
    target = tmp_path / "charts.lock"
    monkeypatch.setenv(lockfile.LOCK_ENV, str(target))
    from hardened.cli import main

    assert main(["charts", "lock", "--chart-cache", str(shared_charts), "--quiet"]) == 0
    assert target.read_text() == (ROOT / "charts.lock").read_text()
