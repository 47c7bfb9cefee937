"""``check`` on real repositories (issue 25 item 4), its messages and consistency (item 5), and
hostile inputs met at scale (issue 27 item 3): what a repository holds beside its manifests,
Helm chart folders, standard input, the policy list, the compact format, the repository config
file, the baseline, inline suppressions, one version, image reference errors, JUnit, the JSON
schema's URLs, FIFOs and numbers JSON cannot carry."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import yaml

from hardened import __version__, check
from hardened.cli import main

from .conftest import ROOT, SAMPLES

GOLDEN = (SAMPLES / "pod_disallow_privileged_containers" / "samples" / "allowed-golden-deployment.yaml").read_text()
LATEST = (SAMPLES / "container_disallow_mutable_image_tags" / "samples" / "disallowed-seed-latest.yaml").read_text()


def run(capsys, *argv, stdin=None, monkeypatch=None):
    if stdin is not None:
        import io

        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    try:
        status = main([*map(str, argv)])
    except SystemExit as e:
        status = e.code
    out, err = capsys.readouterr()
    return status, out, err


def findings(doc: dict, policy: str) -> list[dict]:
    return [v for v in doc["violations"] if v["policy"] == policy]


# ---------------------------------------------------------------------------------------------
# What a repository holds beside its manifests
# ---------------------------------------------------------------------------------------------

def repo(tmp_path: Path) -> Path:
    """A repository: manifests, a Helm values file, a kustomization, a workflow, a Chart.yaml-less
    folder of plain YAML lists."""
    d = tmp_path / "repo"
    (d / "deploy").mkdir(parents=True)
    (d / ".github" / "workflows").mkdir(parents=True)
    (d / "deploy" / "app.yaml").write_text(GOLDEN)
    (d / "deploy" / "values.yaml").write_text("replicaCount: 2\nimage: {repository: nginx, tag: latest}\n")
    (d / "deploy" / "kustomization.yaml").write_text("resources: [app.yaml]\nnamePrefix: prod-\n")
    (d / "deploy" / "kustomize-typed.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [app.yaml]\n")
    (d / ".github" / "workflows" / "ci.yml").write_text("on: [push]\njobs: {test: {runs-on: ubuntu-latest}}\n")
    (d / "deploy" / "hosts.yaml").write_text("- web1\n- web2\n")
    return d


def test_non_kubernetes_yaml_is_skipped_with_a_note_not_an_error(capsys, tmp_path):
    d = repo(tmp_path)
    status, out, err = run(capsys, "check", d, "--policy", "pod-disallow-privileged-containers",
                           "--format", "json")
    assert status == 0, err
    doc = json.loads(out)
    assert doc["summary"]["resources"] == 1
    notes = "\n".join(doc["notes"])
    for name in ("values.yaml", "kustomization.yaml", "ci.yml", "hosts.yaml", "kustomize-typed.yaml"):
        assert name in notes and name in err, (name, notes)
    assert "not a Kubernetes object" in notes and "kustomize build" in notes


def test_a_document_that_looks_like_a_broken_manifest_still_fails(capsys, tmp_path):
    (tmp_path / "bad.yaml").write_text("apiVersion: v1\nmetadata: {name: x}\n")  # metadata but no kind
    status, _, err = run(capsys, "check", tmp_path)
    assert status == 2 and "bad.yaml:1: document has no kind" in err


def test_skip_path_leaves_out_files_and_folders_by_glob(capsys, tmp_path):
    d = repo(tmp_path)
    (d / "deploy" / "broken.yaml").write_text("a: b\n  c: d\n")  # a syntax error: would fail the run
    status, _, err = run(capsys, "check", d, "--policy", "pod-disallow-privileged-containers")
    assert status == 2 and "broken.yaml" in err
    status, out, err = run(capsys, "check", d, "--policy", "pod-disallow-privileged-containers", "--format", "json",
                           "--skip-path", "broken.yaml", "--skip-path", ".github/*", "--skip-path", "deploy/values*")
    assert status == 0, err
    notes = "\n".join(json.loads(out)["notes"])
    assert "ci.yml" not in notes and "values.yaml" not in notes and "kustomization.yaml" in notes


def test_a_fifo_met_while_walking_a_folder_is_skipped_not_waited_on(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    (d / "app.yaml").write_text(GOLDEN)
    os.mkfifo(d / "pipe.yaml")  # opening it for reading would block until a writer comes
    proc = subprocess.run([sys.executable, "-m", "hardened", "check", str(d), "--policy",
                           "pod-disallow-privileged-containers"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "pipe.yaml: skipped: a FIFO" in proc.stderr


@pytest.mark.parametrize("value,what", [
    (".nan", "is NaN"), ("-.inf", "an infinity"), (".Inf", "an infinity"),
    ("9" * 5000, "integer conversion limit"), ("9" * 400, "too large for a JSON number"),
])
def test_numbers_json_cannot_carry_are_input_errors_naming_file_and_line(capsys, tmp_path, value, what):
    (tmp_path / "cm.yaml").write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: x}}\n"
                                      f"binaryData: {{}}\nimmutable: true\nspec:\n  replicas: {value}\n")
    status, _, err = run(capsys, "check", tmp_path)
    assert status == 2
    assert re.search(r"cm\.yaml:7: ", err) and what in err, err
    assert "this is a bug" not in err


@pytest.mark.parametrize("text,what", [
    ('{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"},\n "data": {"a": NaN}}', "NaN is not JSON"),
    ('{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"},\n "data": {"a": -Infinity}}',
     "-Infinity is not JSON"),
    ('{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"},\n "data": {"a": ' + "1" * 5000 + "}}",
     "integer conversion limit"),
])
def test_json_numbers_python_accepts_but_go_refuses_are_input_errors(capsys, tmp_path, text, what):
    (tmp_path / "cm.json").write_text(text)
    status, _, err = run(capsys, "check", tmp_path)
    assert status == 2 and "cm.json:2: " in err and what in err and "this is a bug" not in err, err


# ---------------------------------------------------------------------------------------------
# Helm chart folders, standard input
# ---------------------------------------------------------------------------------------------

def chart(tmp_path: Path) -> Path:
    d = tmp_path / "mychart"
    (d / "templates").mkdir(parents=True)
    (d / "Chart.yaml").write_text("apiVersion: v2\nname: mychart\nversion: 0.1.0\n")
    (d / "values.yaml").write_text("image: ghcr.io/lego-mcp/dashboard:1.4.2\nprivileged: false\n")
    (d / "templates" / "pod.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ .Release.Name }}-web\nspec:\n  containers:\n"
        "  - name: web\n    image: {{ .Values.image }}\n    securityContext:\n"
        "      privileged: {{ .Values.privileged }}\n")
    return d


def test_a_helm_chart_folder_is_rendered_with_its_default_values_or_values(capsys, tmp_path):
    d = chart(tmp_path)
    status, out, err = run(capsys, "check", d, "--format", "json", "--policy", "pod-disallow-privileged-containers",
                           "--policy", "container-disallow-mutable-image-tags")
    doc = json.loads(out)
    assert [r["name"] for r in [v["resource"] for v in doc["violations"]]] == ["mychart-web"]
    assert findings(doc, "container-disallow-mutable-image-tags") and not findings(doc, "pod-disallow-privileged-containers")
    assert "Helm chart mychart 0.1.0 rendered" in err and "values.yaml" not in "\n".join(doc["notes"])
    values = tmp_path / "prod-values.yaml"
    values.write_text("privileged: true\n")
    status, out, err = run(capsys, "check", d, "--values", values, "--format", "json",
                           "--policy", "pod-disallow-privileged-containers")
    assert status == 1 and findings(json.loads(out), "pod-disallow-privileged-containers"), err


def test_standard_input_keeps_line_numbers(capsys, monkeypatch):
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n" + LATEST
    status, out, _ = run(capsys, "check", "-", "--format", "json", "--policy", "container-disallow-mutable-image-tags",
                         stdin=text, monkeypatch=monkeypatch)
    (v,) = json.loads(out)["violations"]
    image_line = next(i for i, t in enumerate(text.splitlines(), 1) if "image:" in t)
    assert v["resource"]["file"] == "<stdin>" and v["resource"]["line"] == 6  # after the sample's comment line
    assert v["location"]["line"] == image_line


def test_a_large_stream_is_read_document_by_document_with_its_lines(tmp_path, monkeypatch):
    """Past STREAM_BYTES a file is cut at its document boundaries; lines stay those of the file."""
    from hardened import manifests

    monkeypatch.setattr(manifests, "STREAM_BYTES", 256)
    docs = [f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{i}\ndata: {{k: '---'}}\n" for i in range(50)]
    (tmp_path / "s.yaml").write_text("".join(f"---\n{d}" for d in docs) + "...\n")
    resources = manifests.load_path(tmp_path / "s.yaml")
    assert [r.object_name for r in resources] == [f"c{i}" for i in range(50)]
    assert [r.line for r in resources] == [2 + 6 * i for i in range(50)]


# ---------------------------------------------------------------------------------------------
# The policy list, the compact format, the repository config file
# ---------------------------------------------------------------------------------------------

def test_list_policies_names_id_severity_controls_and_docs(capsys):
    status, out, _ = run(capsys, "check", "--list-policies")
    assert status == 0
    row = next(line for line in out.splitlines() if line.startswith("container-disallow-mutable-image-tags "))
    assert "high" in row and "NIST SP 800-171 r2 3.4.1" in row and "docs/policies.md#container-disallow-mutable-image-tags" in row
    status, out, _ = run(capsys, "check", "--list-policies", "--format", "json")
    doc = json.loads(out)
    names = [p["id"] for p in doc["policies"]]
    assert names == sorted(names) and len(names) == int(out and len(doc["policies"]))
    assert all(p["docs"].endswith(f"#{p['id']}") for p in doc["policies"])


def test_compact_format_is_one_line_per_finding(capsys, dirty_dir, monkeypatch):
    monkeypatch.chdir(dirty_dir)
    status, out, _ = run(capsys, "check", ".", "--format", "compact")
    _, js, _ = run(capsys, "check", ".", "--format", "json")
    lines = out.splitlines()
    assert status == 1 and len(lines) == len(json.loads(js)["violations"]) + 1
    image = next(line for line in lines if "container-disallow-mutable-image-tags" in line)
    assert re.match(r"^cronjob\.yaml:\d+:\d+: error high container-disallow-mutable-image-tags: CronJob ", image)
    assert "FAILED with" in lines[-1]


def test_repo_config_file_sets_flags_and_the_command_line_wins(capsys, dirty_dir, monkeypatch):
    monkeypatch.chdir(dirty_dir)
    Path(".hardened.yaml").write_text("check:\n  skip-path: [cronjob.yaml, secret.yaml]\n  format: compact\n")
    status, out, err = run(capsys, "check", ".")
    assert status == 0 and "flags from .hardened.yaml" in err and "passed; no violation" in out.splitlines()[-1]
    status, out, _ = run(capsys, "check", ".", "--format", "json")
    assert json.loads(out)["summary"]["resources"] >= 1  # --format on the command line wins
    Path(".hardened.yaml").write_text("check:\n  skip-paht: [x]\n")
    status, _, err = run(capsys, "check", ".")
    assert status == 2 and "unknown key 'skip-paht' (did you mean skip-path?)" in err


# ---------------------------------------------------------------------------------------------
# The baseline and inline suppressions
# ---------------------------------------------------------------------------------------------

def test_baseline_accepts_todays_findings_and_fails_only_on_new_ones(capsys, dirty_dir, tmp_path):
    baseline = tmp_path / "baseline.json"
    status, _, err = run(capsys, "check", dirty_dir, "--write-baseline", baseline)
    assert status == 0 and f"to the baseline {baseline}" in err
    doc = json.loads(baseline.read_text())
    assert doc["version"] == 1 and doc["findings"] and all("file" not in f for f in doc["findings"])
    status, out, _ = run(capsys, "check", dirty_dir, "--baseline", baseline, "--format", "json")
    result = json.loads(out)
    assert status == 0 and result["violations"] == [] and result["summary"]["suppressed"] == len(doc["findings"])
    assert {s["kind"] for s in result["suppressions"]} == {"external"}
    (dirty_dir / "new.yaml").write_text(LATEST.replace("name: compliance-scan", "name: another-scan", 1))
    status, out, _ = run(capsys, "check", dirty_dir, "--baseline", baseline, "--format", "json")
    new = json.loads(out)["violations"]
    assert status == 1 and new and {v["resource"]["name"] for v in new} == {"another-scan"}


def annotated(reason: str) -> str:
    return LATEST.replace("metadata: {name: compliance-scan, namespace: lego-mcp-prod}",
                          "metadata:\n  name: compliance-scan\n  namespace: lego-mcp-prod\n  annotations:\n"
                          f"    hardened.io/skip-container-disallow-mutable-image-tags: {reason}", 1)


def test_inline_skip_annotation_is_a_suppression_in_json_and_sarif(capsys, tmp_path):
    (tmp_path / "cj.yaml").write_text(annotated('"vendor image, pinned upstream; SEC-42"'))
    policy = "container-disallow-mutable-image-tags"
    status, out, _ = run(capsys, "check", tmp_path, "--policy", policy, "--format", "json")
    doc = json.loads(out)
    assert status == 0 and doc["violations"] == []
    (s,) = doc["suppressions"]
    assert s["policy"] == policy and s["kind"] == "inSource" and s["justification"] == "vendor image, pinned upstream; SEC-42"
    status, out, _ = run(capsys, "check", tmp_path, "--policy", policy, "--format", "sarif")
    results = [r for r in json.loads(out)["runs"][0]["results"] if r["ruleId"] == policy]
    assert results and all(r["suppressions"][0]["kind"] == "inSource" for r in results)


def test_a_skip_annotation_without_a_reason_suppresses_nothing(capsys, tmp_path):
    (tmp_path / "cj.yaml").write_text(annotated('""'))
    status, _, err = run(capsys, "check", tmp_path, "--policy", "container-disallow-mutable-image-tags")
    assert status == 1 and "gives no reason" in err


# ---------------------------------------------------------------------------------------------
# One version, messages, JUnit, the JSON schema's URLs, the rendered manifest's hash
# ---------------------------------------------------------------------------------------------

def test_one_version_everywhere(capsys, clean_dir):
    pack_version = yaml.safe_load((ROOT / "policy_pack" / "PulumiPolicy.yaml").read_text())["version"]
    assert pack_version == __version__
    status, out, _ = run(capsys, "--version")
    assert out.strip() == f"hardened {__version__}"
    _, out, _ = run(capsys, "check", clean_dir)
    assert f"(hardened-stack {__version__})" in out.splitlines()[-1]
    _, out, _ = run(capsys, "check", clean_dir, "--format", "sarif")
    driver = json.loads(out)["runs"][0]["tool"]["driver"]
    assert driver["version"] == driver["semanticVersion"] == __version__


@pytest.mark.parametrize("image,says", [
    ("ghcr.io/Lego-MCP/dashboard@sha256:" + "0f" * 32, "has uppercase letters; repository names must be lowercase"),
    ("ghcr.io/lego-mcp/dashboard@sha256:" + "0f" * 31, "has 62 hex digits; it must have exactly 64"),
    ("ghcr.io/lego-mcp/dashboard@sha256:" + "0F" * 32, "uppercase hex digits"),
    ("ghcr.io/lego-mcp/dashboard:" + "v" * 129, "at most 128"),
    ("ghcr.io/lego-mcp/dashboard@md5:" + "0f" * 16, "not one runtimes verify"),
    ("ghcr.io/lego-mcp//dashboard:1.0", "empty component"),
])
def test_image_errors_say_what_is_wrong(capsys, tmp_path, image, says):
    (tmp_path / "d.yaml").write_text(GOLDEN.replace(
        re.search(r"image: (\S+)", GOLDEN).group(1), image, 1))
    status, out, _ = run(capsys, "check", tmp_path, "--format", "json", "--policy",
                         "container-disallow-mutable-image-tags", "--policy", "pod-disallow-untrusted-registries")
    doc = json.loads(out)
    for policy in ("container-disallow-mutable-image-tags", "pod-disallow-untrusted-registries"):
        (v,) = findings(doc, policy)
        assert "is not a valid image reference" in v["message"] and says in v["message"], v["message"]
        assert "tags can move" not in v["message"] and "which no trusted registry covers" not in v["message"]


def test_render_accepts_q():
    from hardened.cli import build_parser

    assert build_parser("render").parse_args(["render", "-q"]).quiet is True


def test_format_in_capitals_suggests_the_format(capsys):
    status, _, err = run(capsys, "check", "x.yaml", "--format", "JSON")
    assert status == 2 and "(did you mean json?)" in err


def test_json_schema_and_its_urls_resolve_to_files_in_the_repository(capsys, dirty_dir):
    repository = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]
    owner_repo = repository.removeprefix("https://github.com/")
    schema = json.loads((ROOT / check.JSON_SCHEMA_PATH).read_text())
    assert schema["$id"] == check.JSON_SCHEMA_ID == \
        f"https://raw.githubusercontent.com/{owner_repo}/main/{check.JSON_SCHEMA_PATH}"
    _, out, _ = run(capsys, "check", dirty_dir, "--format", "json")
    doc = json.loads(out)
    assert doc["$schema"] == check.JSON_SCHEMA_ID
    anchors = set(re.findall(r'<a id="([^"]+)"></a>', (ROOT / "docs" / "policies.md").read_text()))
    urls = {p["url"] for p in doc["policies"]} | {v["url"] for v in doc["violations"]}
    for url in urls:
        m = re.fullmatch(rf"{re.escape(repository)}/blob/[^/]+/(docs/policies\.md)#([a-z0-9-]+)", url)
        assert m and (ROOT / m.group(1)).is_file() and m.group(2) in anchors, url


def test_an_edited_rendered_manifest_is_named_not_silently_ignored(capsys, tmp_path):
    from hardened.engine import Registered
    from hardened.render import write_output

    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "apps"},
          "data": {"a": "1"}}
    out = tmp_path / "build"
    write_output([Registered("urn:pulumi:prod::hardened-stack::kubernetes:core/v1:ConfigMap::settings",
                             "kubernetes:core/v1:ConfigMap", "settings", "", True, cm, [], [])], out, "prod")
    status, _, err = run(capsys, "check", out, "--policy", "pod-disallow-privileged-containers")
    assert "edited after render" not in err
    manifest = next((out / "manifests").rglob("*.yaml"))
    manifest.write_text(manifest.read_text().replace("a: '1'", "a: '2'"))
    status, _, err = run(capsys, "check", out, "--policy", "pod-disallow-privileged-containers")
    assert "configmap-settings.yaml was edited after render" in err and "check judges the rendered object" in err


def test_fail_open_admission_settings_warn_at_render():
    from components.admission import AdmissionConfig, fail_open_settings

    assert fail_open_settings(AdmissionConfig()) == []
    cfg = AdmissionConfig.model_validate({"failure_policy": "Ignore", "signatures": {"mode": "warn"},
                                          "constraints": {"images-enforce-digest": {"enforcement_action": "dryrun"}}})
    warnings = "\n".join(fail_open_settings(cfg))
    assert "failurePolicy is Ignore" in warnings and "signatures.mode is warn" in warnings
    assert "images-enforce-digest.enforcementAction is dryrun" in warnings and warnings.count("fail open") == 3


def test_pre_commit_hooks_run_the_installed_command():
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert len({h["id"] for h in hooks}) == len(hooks)
    for h in hooks:
        assert h["language"] == "python" and h["entry"].split()[0] in scripts and "check" in h["entry"].split()
    assert any(h.get("types_or") == ["yaml", "json"] for h in hooks)
