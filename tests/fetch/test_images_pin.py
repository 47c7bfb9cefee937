"""``images pin`` against an OCI registry served on 127.0.0.1 (tests/fetch/servers.py: the
distribution API and the anonymous Bearer token flow), and images.lock applied by render.

Facts from upstream: the token flow (distribution/distribution docs/spec/auth/token.md: a 401 with
``WWW-Authenticate: Bearer realm=...,service=...,scope=...``, then ``GET <realm>?service&scope``);
manifests by tag with ``Docker-Content-Digest`` (opencontainers/distribution-spec spec.md); the
post-renderer the provider runs on a chart's manifests (pulumi-kubernetes
provider/pkg/provider/helm/v4/chart.go, ``postRenderer``).
"""
from __future__ import annotations

import hashlib
import subprocess

import pytest
import yaml

from components import imagelock
from hardened import images
from hardened.console import UserError
from hardened.render import ChartContext, run_program

from .conftest import ROOT, env
from .servers import Registry

DIGEST = "sha256:" + "ab" * 32


def test_resolve_follows_the_anonymous_token_flow_and_returns_the_index_digest():
    with Registry(token_auth=True) as registry:
        digest = registry.add_image("spiffe/spire-server", "1.15.2")
        assert images.resolve(f"{registry.host}/spiffe/spire-server:1.15.2") == digest
        methods = [(m, p.split("?")[0], bool(a)) for m, p, a in registry.requests]
    assert methods[0] == ("HEAD", "/v2/spiffe/spire-server/manifests/1.15.2", False)     # 401 first
    assert methods[1] == ("GET", "/token", False)                                          # anonymous token
    assert methods[2] == ("HEAD", "/v2/spiffe/spire-server/manifests/1.15.2", True)      # with the Bearer
    assert len(methods) == 3          # the digest came from the header: no manifest body was fetched


@pytest.mark.parametrize("media", ["application/vnd.docker.distribution.manifest.list.v2+json",
                                   "application/vnd.docker.distribution.manifest.v2+json"])
def test_resolve_accepts_docker_manifest_lists_and_v2_manifests(media):
    with Registry() as registry:
        digest = registry.add_image("library/busybox", "1.37", media_type=media)
        assert images.resolve(f"{registry.host}/library/busybox:1.37") == digest


def test_without_a_digest_header_the_manifest_is_fetched_and_hashed():
    with Registry(send_digest_header=False) as registry:
        digest = registry.add_image("org/app", "v1")
        assert images.resolve(f"{registry.host}/org/app:v1") == digest
        assert [m for m, _p, _a in registry.requests] == ["HEAD", "GET"]


def test_a_header_that_disagrees_with_the_manifest_bytes_is_refused(monkeypatch):
    """A registry that sends no digest on HEAD and a wrong one with the manifest: the bytes decide."""
    with Registry(lie_about_digest=True) as registry:
        registry.add_image("org/app", "v1")
        original = images._request

        def head_without_header(url, method, headers):
            status, got, body = original(url, method, headers)
            if method == "HEAD":
                got.pop("docker-content-digest", None)
            return status, got, body

        monkeypatch.setattr(images, "_request", head_without_header)
        with pytest.raises(UserError, match="the registry says sha256:0+ but the manifest it sent hashes to"):
            images.resolve(f"{registry.host}/org/app:v1")


def test_errors_name_the_image():
    with Registry(token_auth=True, refuse_tokens=True) as registry:
        with pytest.raises(UserError, match=r"org/app:v1: the token service .* answered HTTP 403"):
            images.resolve(f"{registry.host}/org/app:v1")
    with Registry() as registry:
        with pytest.raises(UserError, match=r"org/missing:v9: no such image"):
            images.resolve(f"{registry.host}/org/missing:v9")
    with pytest.raises(UserError, match=r"127\.0\.0\.1:9/org/app:v1"):
        images.resolve("127.0.0.1:9/org/app:v1")


def test_docker_hub_names_resolve_as_runtimes_resolve_them():
    assert images.split_image("openpolicyagent/gatekeeper:v3.23.0") == \
        ("registry-1.docker.io", "openpolicyagent/gatekeeper", "v3.23.0")
    assert images.split_image("busybox") == ("registry-1.docker.io", "library/busybox", "latest")
    assert images.split_image("ghcr.io/spiffe/spire-agent:1.15.2", mirror="mirror.local:5000/proxy") == \
        ("mirror.local:5000", "proxy/ghcr.io/spiffe/spire-agent", "1.15.2")
    assert images.parse_challenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
                                  'scope="repository:library/busybox:pull"') == \
        {"realm": "https://auth.docker.io/token", "service": "registry.docker.io",
         "scope": "repository:library/busybox:pull"}


def test_the_post_renderer_command_pins_what_the_lock_names_and_nothing_else(tmp_path):
    lock = tmp_path / "images.lock"
    lock.write_text(yaml.safe_dump({"images": {"docker.io/hashicorp/vault:2.0.4": DIGEST}}))
    stream = yaml.safe_dump_all([
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "vault"},
         "spec": {"template": {"spec": {"initContainers": [{"name": "i", "image": "docker.io/hashicorp/vault:2.0.4"}],
                                        "containers": [{"name": "v", "image": "docker.io/hashicorp/vault:2.0.4"},
                                                       {"name": "o", "image": "other/app:1"}]}}}},
        {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"},
         "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [
             {"name": "c", "image": f"docker.io/hashicorp/vault:2.0.4@{'sha256:' + 'cd' * 32}"}]}}}}}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "m"},
         "data": {"image": "docker.io/hashicorp/vault:2.0.4"}},
    ])
    # as the provider runs it: the command and args of the Chart's postRenderer, manifests on stdin
    args = imagelock.post_renderer_args(imagelock.load(lock))
    assert args is not None
    with env(**{imagelock.LOCK_ENV: str(lock)}):
        args = imagelock.post_renderer_args()
    proc = subprocess.run([args["command"], *args["args"]], input=stream, capture_output=True, text=True,
                          timeout=60, cwd="/")
    assert proc.returncode == 0, proc.stderr
    sts, cron, cm = list(yaml.safe_load_all(proc.stdout))
    spec = sts["spec"]["template"]["spec"]
    assert spec["initContainers"][0]["image"] == spec["containers"][0]["image"] == \
        f"docker.io/hashicorp/vault:2.0.4@{DIGEST}"
    assert spec["containers"][1]["image"] == "other/app:1"                         # not locked: unchanged
    assert cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["image"].endswith("cd" * 32)
    assert cm["data"]["image"] == "docker.io/hashicorp/vault:2.0.4"                # not a container


def test_an_empty_lock_leaves_the_charts_inputs_alone():
    assert imagelock.load(ROOT / "images.lock") == {}          # committed empty: no registry reachable here
    assert imagelock.post_renderer_args({}) is None


def _all_images(records) -> dict[str, str]:
    found = {}
    for rec in records:
        if rec.is_kubernetes_object:
            for image in imagelock.images_of(rec.inputs):
                found[image] = rec.name
    return found


def test_pin_then_render_deploys_every_container_by_digest(tmp_path):
    """The whole flow: every image of the prod stack served by a registry on 127.0.0.1 behind the
    token flow (through --registry-mirror), `images pin` writes the lock, and the render then
    deploys every container, the charts' and the components' own, as <image>@sha256:<digest>."""
    from policy_pack.policies._lib.k8s import parse_image

    lock = tmp_path / "images.lock"
    with Registry(token_auth=True, serve_any=True) as registry:
        from hardened.cli import main

        assert main(["images", "pin", "--stack", "prod", "--registry-mirror", registry.host, "-o", str(lock),
                     "--quiet"]) == 0
        pins = imagelock.load(lock)
        expected = {}
        for image in pins:
            ref = parse_image(image)
            media, body = registry.manifests[(f"{ref.registry}/{ref.repository}", ref.tag)]
            expected[image] = "sha256:" + hashlib.sha256(body).hexdigest()
    assert len(pins) >= 15 and "docker.io/hashicorp/vault:2.0.4" in pins
    assert pins == expected
    messages: list[str] = []
    with env(**{imagelock.LOCK_ENV: str(lock)}):
        records = run_program("prod", ROOT, charts=ChartContext(), progress=messages.append)
    assert not [m for m in messages if "pinned by tag only" in m], messages
    deployed = _all_images(records)
    unpinned = {i: n for i, n in deployed.items() if parse_image(i).digest is None}
    assert not unpinned, f"containers still pinned by tag only: {unpinned}"
    for image in deployed:
        base = image.split("@")[0]
        if base in expected:
            assert image == f"{base}@{expected[base]}"
    # the pack's own check, with no exemption: nothing left for the `*-image-tags` entries of
    # policy_pack/exemptions.yaml to lift, so they apply to nothing once the lock is filled
    from policy_pack.policies.container_disallow_mutable_image_tags import POLICY

    findings = [m for r in records if r.is_kubernetes_object for m in POLICY.run(r.type, r.inputs, name=r.name)]
    assert findings == []
    charts = [r for r in records if r.type == "kubernetes:helm.sh/v4:Chart"]
    assert charts and all(r.inputs.get("postRenderer", {}).get("args", [""])[0].endswith("imagelock.py")
                          for r in charts)
