"""``bundle`` writes one archive for an air-gapped install; ``charts pull --from`` reads it back,
checking charts.lock again (a bundle altered in transit is refused, naming the chart)."""
from __future__ import annotations

import io
import tarfile

import pytest
import yaml

from components import imagelock
from hardened import bundle, charts, lockfile
from hardened.console import UserError

from .conftest import ROOT, env
from .servers import SHARED

IMAGES = ["docker.io/hashicorp/vault:2.0.4", "ghcr.io/org/app@sha256:" + "11" * 32]


@pytest.fixture(scope="module")
def archive(tmp_path_factory, shared_charts):
    out = tmp_path_factory.mktemp("bundle") / "hardened-bundle.tar.gz"
    lock = out.parent / "images.lock"
    lock.write_text(yaml.safe_dump({"images": {IMAGES[0]: "sha256:" + "22" * 32}}))
    with env(**{imagelock.LOCK_ENV: str(lock)}):
        counts = bundle.write_bundle(out, ["prod"], ROOT, SHARED / "charts", SHARED / "manifests", images=IMAGES)
    assert counts == {"charts": 11, "manifests": 1, "images": 2, "pinned": 2}
    return out


def test_the_bundle_holds_charts_manifests_locks_and_the_pinned_image_list(archive):
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        listing = tar.extractfile("images.txt").read().decode().splitlines()
        assert tar.extractfile("charts.lock").read() == (ROOT / "charts.lock").read_bytes()
    assert {n.split("/")[1] for n in names if n.startswith("charts/")} == \
        {p.folder for p in lockfile.Lock.load(ROOT / "charts.lock").charts.values()}
    assert any(n.startswith("manifests/gateway-api-v1.6.1/") for n in names)
    assert listing == [f"{IMAGES[0]}@sha256:{'22' * 32}", IMAGES[1]]


def test_pull_from_the_bundle_fills_an_empty_cache_without_network(tmp_path, archive, lock_copy):
    puller = charts.pull(["prod"], root=ROOT, cache=tmp_path / "charts", manifests=tmp_path / "manifests",
                         bundle=archive, mirror="http://127.0.0.1:9", lock=lock_copy)
    assert puller.fetched == 12 and not puller.added
    for pin in lock_copy.charts.values():
        assert lockfile.tree_digest(tmp_path / "charts" / pin.folder) == pin.digest


def test_a_bundle_altered_in_transit_is_refused_naming_the_chart(tmp_path, archive, lock_copy):
    altered = tmp_path / "altered.tar.gz"
    with tarfile.open(archive) as src, tarfile.open(altered, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read() if member.isfile() else None
            if member.name == "charts/falco-9.1.0/values.yaml":
                data += b"\n# changed\n"
                member.size = len(data)
            dst.addfile(member, io.BytesIO(data) if data is not None else None)
    with pytest.raises(lockfile.LockError, match=r"Helm chart falco 9\.1\.0 .* does not match charts\.lock"):
        charts.pull(["prod"], root=ROOT, cache=tmp_path / "charts", manifests=tmp_path / "manifests",
                    bundle=altered, lock=lock_copy)
    assert not (tmp_path / "charts" / "falco-9.1.0").exists()


def test_a_bundle_refuses_charts_the_lock_does_not_name(tmp_path, lock_copy, shared_charts):
    lock_copy.charts.pop(("vault", "0.34.1"))
    lock_copy.save()
    with pytest.raises(UserError, match=r"vault 0\.34\.1 is not in charts\.lock"):
        bundle.write_bundle(tmp_path / "b.tgz", ["prod"], ROOT, shared_charts, SHARED / "manifests", images=[])


def test_a_bundle_that_writes_outside_its_folder_is_refused(tmp_path):
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as tar:
        data = b"planted\n"
        info = tarfile.TarInfo("../../outside.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(UserError, match="not a readable bundle"):
        charts.extract_bundle(evil, tmp_path / "into")
    assert not (tmp_path / "outside.txt").exists() and not (tmp_path.parent / "outside.txt").exists()
