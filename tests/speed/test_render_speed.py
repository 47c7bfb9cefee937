"""What keeps render near the SDK import floor (issue 26): the exemptions file parsed once per
process, manifests written through the direct node builder (byte-identical to PyYAML's
representer), and the test suite's shared render cache."""
from __future__ import annotations

import json
import pickle

import pytest
import yaml

from hardened import render
from policy_pack.policies._lib import exemptions as ex
from tests import rendercache

VALUES = [
    {"b": 1, "a": [1, 2, {"z": None, "y": True, "x": False}], "s": "yes", "t": "123", "u": "", "v": "null"},
    {"multi": "a\nb\n", "trailing": "a ", "colon": "a: b", "hash": "#x", "star": "*x", "uni": "ünïcödé ☃",
     "long": "word " * 60, "tilde": "~", "date": "2027-11-30", "octal": "0o17", "float": "1e3", "dash": "-"},
    {"f": 1.5, "inf-like": ".inf", "nested": [[[]], {}, [{}]]},
    {1: "int key"},  # the representer's own path (non-string keys)
]


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_dump_yaml_is_byte_identical_to_pyyaml(value):
    expected = yaml.dump(value, Dumper=render._Dumper, sort_keys=True, default_flow_style=False, allow_unicode=True,
                         width=120)
    assert render.dump_yaml(value) == expected


def test_dump_yaml_writes_shared_containers_as_pyyaml_does():
    shared = {"k": "v"}
    value = {"a": shared, "b": shared}
    assert render.dump_yaml(value) == yaml.dump(value, Dumper=render._Dumper, sort_keys=True,
                                                default_flow_style=False, allow_unicode=True, width=120)


def test_every_rendered_manifest_is_dumped_as_pyyaml_would(tmp_path):
    records = rendercache.cached_run_program("prod")
    objects = [r.inputs for r in records if r.is_kubernetes_object]
    assert len(objects) > 300
    for obj in objects:
        assert render.dump_yaml(obj) == yaml.dump(obj, Dumper=render._Dumper, sort_keys=True,
                                                  default_flow_style=False, allow_unicode=True, width=120)


def test_the_exemptions_file_is_parsed_once_per_process_and_version(tmp_path, monkeypatch):
    path = tmp_path / "exemptions.yaml"
    path.write_text("exemptions: []\n")
    calls = []
    real = ex._load_exemptions
    monkeypatch.setattr(ex, "_load_exemptions", lambda *a: calls.append(a) or real(*a))
    for _ in range(5):
        assert ex.load_exemptions(path) == []
    assert len(calls) == 1
    path.write_text("exemptions: [ ]\n")  # a new version (size): read again
    ex.load_exemptions(path)
    assert len(calls) == 2


def test_a_render_reads_the_exemptions_file_once(monkeypatch):
    """render's preflight and the admission component (once per constraint template) share one
    loader module, so one parse."""
    import sys

    from components import admission

    calls = []
    modules = {ex, admission._exemptions_module(), sys.modules.get("hardened_pack_exemptions") or ex}
    for module in modules:
        module._CACHE.clear()
        real = module._load_exemptions
        monkeypatch.setattr(module, "_load_exemptions", lambda *a, real=real: calls.append(a) or real(*a))
    ex.preflight("render", fail_on_expired=False, stream=open("/dev/null", "w"))
    render.run_program("prod")
    assert len(calls) == 1, calls


def test_the_shared_render_cache_renders_once_per_run_and_copies(tmp_path, monkeypatch):
    monkeypatch.setenv(rendercache.RUN_ENV, "speedtest" + tmp_path.name.replace("_", "").replace("-", "")[-8:])
    monkeypatch.setattr(rendercache, "_MEMORY", {})
    renders = []
    monkeypatch.setattr(render, "run_program", lambda *a, **k: renders.append(a) or [{"n": len(renders)}])
    try:
        first = rendercache.cached_run_program("dev")
        first[0]["n"] = 99  # a test that edits its copy
        rendercache._MEMORY.clear()  # another worker: only the file on disk is shared
        second = rendercache.cached_run_program("dev")
        assert renders == [("dev", rendercache.ROOT)] and second == [{"n": 1}]
        assert (rendercache.shared_dir() / f"{rendercache.key_of('dev', rendercache.ROOT, False, True)}.pickle").is_file()
    finally:
        rendercache.cleanup()
    assert not rendercache.shared_dir().exists()
