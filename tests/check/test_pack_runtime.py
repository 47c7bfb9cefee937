"""The pack as the real Pulumi CLI starts it (issue 15, item 3).

How the CLI reads and starts a Python policy pack (github.com/pulumi/pulumi, read for facts):

- ``sdk/go/common/workspace/loaders.go`` ``LoadPolicyPack`` unmarshals ``PulumiPolicy.yaml`` into
  ``PolicyPackProject`` (``sdk/go/common/workspace/project.go``: ``runtime`` required, ``version``,
  ``main``, ``description``, ``author``, ``website``, ``license``) and only checks that the runtime has
  a name; ``ProjectRuntimeInfo.UnmarshalYAML`` takes the runtime as a string or as ``{name, options}``
  (the same shape as the ``runtime`` definition of ``sdk/go/common/workspace/project.json``).
- ``pkg/resource/plugin/analyzer_plugin.go`` ``NewPolicyAnalyzer`` runs it through the language
  host's ``RunPlugin``; ``sdk/python/cmd/pulumi-language-python/main.go`` ``parseOptions`` reads the
  options ``virtualenv`` (string), ``toolchain`` (pip, poetry, uv) and ``typechecker`` (mypy,
  pyright), and for an analyzer does NOT default ``virtualenv`` (so without it, ``python3`` from
  PATH runs the pack); ``RunPlugin`` runs ``python -u -m pulumi.policy <engine> <pack dir>`` with the
  working directory the pack, through ``sdk/python/toolchain/pip.go`` ``Command``: the interpreter is
  ``<virtualenv>/bin/python``, the virtualenv resolved against the pack directory
  (``resolveVirtualEnvironmentPath``), PATH and VIRTUAL_ENV activated (``ActivateVirtualEnv``).
- ``analyzer_plugin.go`` ``GetAnalyzerInfo`` and ``convertDiagnostics`` replace the version the pack
  reports with ``PulumiPolicy.yaml``'s; the Python SDK's ``PolicyPack`` always reports 0.0.1
  (pulumi_policy/policy.py, ``PolicyPack.__init__``), which also appears in the text of its
  "can't run policy '<p>' from policy pack '<name>@v<version>'" advisory. The pack serves its
  PulumiPolicy.yaml version itself, so every place says the same.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from hardened.analyzer import PackError, PolicyPackProcess

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "policy_pack"

#: PulumiPolicy.yaml as the CLI reads it (written from the Go types cited above), plus the Python
#: language host's option values.
POLICY_PROJECT_SCHEMA = {
    "type": "object",
    "required": ["runtime"],
    "additionalProperties": False,
    "properties": {
        "runtime": {"oneOf": [
            {"type": "string", "minLength": 1},
            {"type": "object", "additionalProperties": False, "required": ["name"],
             "properties": {"name": {"type": "string", "minLength": 1},
                            "options": {"type": "object", "additionalProperties": True}}},
        ]},
        "version": {"type": "string"},
        "main": {"type": "string"},
        "description": {"type": "string"},
        "author": {"type": "string"},
        "website": {"type": "string"},
        "license": {"type": "string"},
    },
}
PYTHON_OPTIONS_SCHEMA = {
    "type": "object",
    "properties": {"virtualenv": {"type": "string", "minLength": 1},
                   "toolchain": {"enum": ["pip", "poetry", "uv"]},
                   "typechecker": {"enum": ["mypy", "pyright"]}},
}


def project() -> dict:
    return yaml.safe_load((PACK / "PulumiPolicy.yaml").read_text())


def test_pulumipolicy_yaml_is_what_the_cli_reads():
    doc = project()
    jsonschema.validate(doc, POLICY_PROJECT_SCHEMA)
    runtime = doc["runtime"]
    assert isinstance(runtime, dict) and runtime["name"] == "python"
    jsonschema.validate(runtime["options"], PYTHON_OPTIONS_SCHEMA)
    # Without a virtualenv the language host would run python3 from PATH for a policy pack.
    assert runtime["options"]["toolchain"] == "pip" and runtime["options"]["virtualenv"]


def test_the_pack_requirements_are_pinned_and_match_the_repository():
    def pins(path: Path) -> dict:
        out = {}
        for line in path.read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                name, _, version = line.partition("==")
                out[name.lower()] = version
        return out

    pack, repo = pins(PACK / "requirements.txt"), pins(ROOT / "requirements.txt")
    assert {"pulumi", "pulumi-policy", "pyyaml"} <= set(pack) and all(pack.values())
    assert all(repo.get(name) == version for name, version in pack.items()), (pack, repo)


def _copy_pack(tmp_path: Path) -> Path:
    target = tmp_path / "policy_pack"
    shutil.copytree(PACK, target, ignore=shutil.ignore_patterns("venv", "__pycache__"))
    return target


def _cli_start(pack_dir: Path) -> PolicyPackProcess:
    """The pack started as the Python language host starts it from PulumiPolicy.yaml."""
    options = yaml.safe_load((pack_dir / "PulumiPolicy.yaml").read_text())["runtime"]["options"]
    venv = Path(options["virtualenv"])
    venv = venv if venv.is_absolute() else pack_dir / venv
    python = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "VIRTUAL_ENV", "PYTHONPATH")}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", VIRTUAL_ENV=str(venv))
    return PolicyPackProcess(pack_dir, python=str(python), env=env)


def test_the_pack_starts_from_the_virtualenv_pulumipolicy_yaml_names(tmp_path):
    pack_dir = _copy_pack(tmp_path)
    # `pulumi install` would create it with requirements.txt; here it is the shared virtualenv,
    # which holds the same pinned packages.
    (pack_dir / "venv").symlink_to(Path(sys.prefix).resolve(), target_is_directory=True)
    with _cli_start(pack_dir) as pack:
        assert pack.name == "hardened-stack" and len(pack.policies) > 30


def test_without_the_virtualenv_the_pack_does_not_start(tmp_path):
    pack_dir = _copy_pack(tmp_path)
    with pytest.raises((PackError, OSError)):
        with _cli_start(pack_dir):
            pass


def test_one_version_everywhere():
    from google.protobuf import empty_pb2, struct_pb2
    from pulumi.runtime.proto import analyzer_pb2 as pb

    version = project()["version"]
    with PolicyPackProcess() as pack:
        info = pack._stub.GetAnalyzerInfo(empty_pb2.Empty())
        assert info.version == version == pack.version
        props = struct_pb2.Struct()
        props.update({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "n"},
                      "spec": {"type": "NodePort"}})
        response = pack._stub.Analyze(pb.AnalyzeRequest(type="kubernetes:core/v1:Service", properties=props,
                                                        urn="urn:pulumi:t::p::kubernetes:core/v1:Service::s", name="s"))
        assert response.diagnostics and {d.policyPackVersion for d in response.diagnostics} == {version}


def test_a_malformed_exemptions_file_stops_the_pack_with_one_line(tmp_path):
    pack_dir = _copy_pack(tmp_path)
    text = (pack_dir / "exemptions.yaml").read_text().replace("pod-disallow-host-path-volumes",
                                                               "pod-disallow-hostpath-volumes", 1)
    (pack_dir / "exemptions.yaml").write_text(text)
    with pytest.raises(PackError) as raised:
        with PolicyPackProcess(pack_dir):
            pass
    detail = str(raised.value).split("failed to start:\n", 1)[1]
    assert "Traceback" not in detail and detail.count("\n") == 0, detail
    assert "policy_pack/exemptions.yaml:" in detail and "'pod-disallow-hostpath-volumes'" in detail
