"""Where findings point: the offending field's line (not the document start), repo-relative SARIF
URIs, absolute helpUri, exemptions as suppressions, a rendered stack's findings mapped back to the
Pulumi.<stack>.yaml key that produced them; and the JSON format against its published schema."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import yaml

from hardened import check, locate
from hardened.cli import main

from .conftest import ROOT

SCHEMA = ROOT / "docs" / "schema" / f"check-result.v{check.JSON_FORMAT_VERSION}.json"


def run_check(capsys, *argv):
    status = main(["check", *map(str, argv)])
    out, err = capsys.readouterr()
    return status, out, err


def line_of(path: Path, needle: str, start: int = 1) -> int:
    return next(i for i, text in enumerate(path.read_text().splitlines(), 1) if i >= start and needle in text)


# ---------------------------------------------------------------------------------------------
# The line index
# ---------------------------------------------------------------------------------------------

def test_field_paths_are_read_from_messages():
    assert locate.field_paths("runs privileged (spec.template.spec.containers[0].securityContext.privileged: true)") \
        == [["spec", "template", "spec", "containers", 0, "securityContext", "privileged"]]
    assert locate.field_paths("the ServiceAccount mounts its token (automountServiceAccountToken is true)") \
        == [["automountServiceAccountToken"]]
    assert ["spec", "tls"] in locate.field_paths("host is not listed in any spec.tls[].hosts; add it")
    assert locate.field_paths("a plain sentence with no field") == []


DOC = """\
# comment
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: a}
  spec:
    containers:
    - name: app
      image: nginx
---
pulumiType: aws:kms/key:Key
name: k
inputs:
  enableKeyRotation: false
"""


def test_line_index_finds_fields_list_items_and_pulumi_inputs():
    index = locate.LineIndex(DOC)
    image = locate.resolve(index.root(5), ["spec", "containers", 0, "image"])
    assert (image.line, image.column) == (11, 7)
    # a missing field is placed at its nearest existing parent (the container)
    probe = index.locate(5, [["spec", "containers", 0, "livenessProbe"]])
    assert probe.line == 10 and probe.depth == 3
    # a pulumiType document's paths are under inputs
    assert index.locate(13, [["enableKeyRotation"]]).line == 16
    # no field named: the document itself
    assert index.locate(5, []).line == 5


def test_config_location_of_a_stack_key():
    pos = locate.config_location(str(ROOT / "Pulumi.prod.yaml"), "workloads[1].image")
    lines = (ROOT / "Pulumi.prod.yaml").read_text().splitlines()
    assert lines[pos.line - 1].strip().startswith("image:")
    doc = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    assert doc["config"]["hardened-stack:workloads"][1]["image"] in lines[pos.line - 1]


# ---------------------------------------------------------------------------------------------
# SARIF
# ---------------------------------------------------------------------------------------------

def test_sarif_points_at_the_offending_field_with_repo_relative_uris(capsys, dirty_dir, monkeypatch):
    monkeypatch.chdir(dirty_dir.parent)
    status, out, _ = run_check(capsys, "dirty", "--format", "sarif")
    [run] = json.loads(out)["runs"]
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == dirty_dir.parent.as_uri() + "/"
    by_rule = {}
    for r in run["results"]:
        by_rule.setdefault(r["ruleId"], []).append(r)
    [image] = by_rule["container-disallow-mutable-image-tags"]
    loc = image["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"] == {"uri": "dirty/cronjob.yaml", "uriBaseId": "%SRCROOT%"}
    cronjob = dirty_dir / "cronjob.yaml"
    assert loc["region"]["startLine"] == line_of(cronjob, "image:") != 2, "the field, not the document start"
    assert loc["region"]["startColumn"] == cronjob.read_text().splitlines()[loc["region"]["startLine"] - 1].index(
        "image:") + 1
    [secret] = by_rule["secret-disallow-literal-data"]
    first = secret["message"]["text"].split("(stringData.", 1)[1].split(",")[0]  # the first field it names
    assert secret["locations"][0]["physicalLocation"]["region"]["startLine"] == line_of(dirty_dir / "secret.yaml",
                                                                                        f"{first}:")


def test_sarif_uris_are_relative_to_the_git_top_level(capsys, monkeypatch, tmp_path):
    sample = ROOT / "policy_pack" / "policies" / "secret_disallow_literal_data" / "samples" / \
        "disallowed-seed-hsm-credentials.yaml"
    monkeypatch.chdir(ROOT / "docs")  # a subdirectory: URIs stay relative to the repository root
    _, out, _ = run_check(capsys, sample, "--format", "sarif")
    [run] = json.loads(out)["runs"]
    [artifact] = {json.dumps(r["locations"][0]["physicalLocation"]["artifactLocation"]) for r in run["results"]}
    assert json.loads(artifact) == {"uri": str(sample.relative_to(ROOT)), "uriBaseId": "%SRCROOT%"}


def test_help_uri_is_absolute_and_follows_the_running_repository(capsys, dirty_dir, monkeypatch):
    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    monkeypatch.delenv("HARDENED_REPOSITORY_URL", raising=False)
    import tomllib

    repo = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]
    _, out, _ = run_check(capsys, dirty_dir, "--format", "sarif")
    rules = json.loads(out)["runs"][0]["tool"]["driver"]["rules"]
    for rule in rules:
        assert rule["helpUri"] == f"{repo}/blob/main/docs/policies.md#{rule['id']}"
    anchors = (ROOT / "docs" / "policies.md").read_text()
    assert all(f'<a id="{rule["id"]}"></a>' in anchors for rule in rules), "every helpUri anchor exists"
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.example")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/platform")
    monkeypatch.setenv("GITHUB_SHA", "0123abc")
    _, out, _ = run_check(capsys, dirty_dir, "--format", "sarif")
    rule = json.loads(out)["runs"][0]["tool"]["driver"]["rules"][0]
    assert rule["helpUri"] == f"https://github.example/acme/platform/blob/0123abc/docs/policies.md#{rule['id']}"


def test_exemptions_are_sarif_suppressions(capsys, dirty_dir, tmp_path):
    config = tmp_path / "cfg.json"
    reason = "Moves to Vault with the HSM migration; tracked in SEC-123."
    config.write_text(json.dumps({"secret-disallow-literal-data": {"exemptions": [{
        "id": "hsm-migration", "resource": {"kind": "Secret", "namespace": "lego-mcp-prod", "name": "hsm-*"},
        "reason": reason, "expires": "2999-01-01"}]}}))
    _, out, _ = run_check(capsys, dirty_dir, "--config", config, "--format", "sarif")
    results = json.loads(out)["runs"][0]["results"]
    suppressed = [r for r in results if r.get("suppressions")]
    assert [r["ruleId"] for r in suppressed] == ["secret-disallow-literal-data"]
    [s] = suppressed[0]["suppressions"]
    assert s["kind"] == "external" and reason in s["justification"] and "hsm-migration" in s["justification"]
    assert all(not r.get("suppressions") for r in results if r["ruleId"] != "secret-disallow-literal-data")


# ---------------------------------------------------------------------------------------------
# A rendered stack: back to Pulumi.<stack>.yaml
# ---------------------------------------------------------------------------------------------

STRICT = {"container-missing-resource-limits": {"maxCpu": "100m"},
          "namespace-enforce-pod-security": "mandatory"}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("render") / "prod"
    assert main(["render", "--stack", "prod", "--out", str(out), "--quiet"]) == 0
    return out


def test_rendered_findings_point_at_the_stack_key_that_produced_them(capsys, rendered, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    config = tmp_path / "strict.json"
    config.write_text(json.dumps(STRICT))
    status, out, _ = run_check(capsys, rendered, "--config", config, "--format", "sarif")
    assert status == 1
    results = json.loads(out)["runs"][0]["results"]
    stack_file = ROOT / "Pulumi.prod.yaml"
    workloads = yaml.safe_load(stack_file.read_text())["config"]["hardened-stack:workloads"]
    limits = [r for r in results if r["ruleId"] == "container-missing-resource-limits"]
    assert limits
    for r in limits:
        label = r["locations"][0]["logicalLocations"][0]["name"]
        loc = r["locations"][0]["physicalLocation"]
        if not label.startswith("Deployment "):
            continue
        ns, name = label.split(" ", 1)[1].split("/")
        index = next((i for i, w in enumerate(workloads) if (w["namespace"], w["name"]) == (ns, name)), None)
        if index is None:  # a platform Deployment (a chart's): points at its component's section, below
            continue
        assert r["properties"]["configKey"] == f"workloads[{index}].resources"
        assert loc["artifactLocation"] == {"uri": "Pulumi.prod.yaml", "uriBaseId": "%SRCROOT%"}
        expected = locate.config_location(str(stack_file), f"workloads[{index}].resources")
        assert loc["region"]["startLine"] == expected.line
        [related] = r["relatedLocations"]
        rendered_loc = related["physicalLocation"]
        assert rendered_loc["artifactLocation"]["uri"].endswith(f"manifests/{ns}/deployment-{name}.yaml")
        uri = rendered_loc["artifactLocation"]["uri"]  # outside the repository: an absolute file URI
        manifest = Path(uri.removeprefix("file://")) if uri.startswith("file://") else ROOT / uri
        text = manifest.read_text().splitlines()
        assert "cpu" in text[rendered_loc["region"]["startLine"] - 1]
    # a platform component's object points at its section (the compliance CronJob -> compliance)
    cron = [r for r in limits if r["locations"][0]["logicalLocations"][0]["name"].startswith("CronJob compliance/")]
    assert cron and cron[0]["properties"]["configKey"] == "compliance"
    assert cron[0]["locations"][0]["physicalLocation"]["region"]["startLine"] == line_of(
        stack_file, "hardened-stack:compliance:")


def test_text_format_names_the_stack_key_too(capsys, rendered, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    config = tmp_path / "strict.json"
    config.write_text(json.dumps(STRICT))
    _, out, _ = run_check(capsys, rendered, "--config", config)
    assert "      from Pulumi.prod.yaml:" in out and ": workloads[0].resources" in out


# ---------------------------------------------------------------------------------------------
# The JSON format's schema
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def validator():
    import jsonschema  # installed with kubernetes-validate (requirements-dev.txt)

    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_schema_is_versioned_and_promised(validator):
    schema = validator.schema
    assert schema["properties"]["version"] == {"const": check.JSON_FORMAT_VERSION}
    assert schema["$id"] == check.JSON_SCHEMA_ID
    doc = (ROOT / "docs" / "cli.md").read_text()
    assert f"schema/check-result.v{check.JSON_FORMAT_VERSION}.json" in doc and "Stability" in doc


def test_real_output_validates_against_the_schema(capsys, validator, dirty_dir, rendered, tmp_path):
    _, out, _ = run_check(capsys, dirty_dir, "--format", "json")
    doc = json.loads(out)
    validator.validate(doc)
    assert doc["$schema"] == check.JSON_SCHEMA_ID
    config = tmp_path / "strict.json"
    config.write_text(json.dumps(STRICT))
    _, out, _ = run_check(capsys, rendered, "--config", config, "--format", "json")
    doc = json.loads(out)
    validator.validate(doc)
    assert any("configKey" in v["location"] for v in doc["violations"])


def test_schema_rejects_what_breaks_the_promise(validator, capsys, dirty_dir):
    doc = json.loads(run_check(capsys, dirty_dir, "--format", "json")[1])
    broken = dict(doc)
    del broken["violations"]
    assert list(validator.iter_errors(broken))
    renamed = json.loads(json.dumps(doc))
    renamed["violations"][0]["enforcement"] = renamed["violations"][0].pop("enforcementLevel")
    assert list(validator.iter_errors(renamed))


def test_a_component_the_stack_lacks_points_at_the_section_that_would_deploy_it(capsys, tmp_path, monkeypatch):
    """runtimeDetection switched off in dev: the presence policy's finding (no resource) lands on
    the `enabled: false` line a reviewer must see."""
    root = tmp_path / "root"
    root.mkdir()
    for name in ("Pulumi.yaml", "__main__.py"):
        (root / name).write_text((ROOT / name).read_text())
    for name in ("components", "policy_pack"):
        (root / name).symlink_to(ROOT / name)
    stack_file = root / "Pulumi.dev.yaml"
    import yaml

    dev = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    dev["config"].pop("hardened-stack:runtimeDetection", None)  # the section goes last, switched off
    dev["config"]["hardened-stack:runtimeDetection"] = {"enabled": False}
    stack_file.write_text(yaml.safe_dump(dev, sort_keys=False))
    assert main(["render", "--stack", "dev", "--root", str(root), "--out", str(root / "out"), "--quiet"]) == 0
    monkeypatch.chdir(root)
    status, out, _ = run_check(capsys, "out", "--format", "sarif", "--policy", "stack-missing-runtime-detection")
    assert status == 1
    [result] = json.loads(out)["runs"][0]["results"]
    loc = result["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"] == {"uri": "Pulumi.dev.yaml", "uriBaseId": "%SRCROOT%"}
    assert loc["region"]["startLine"] == len(stack_file.read_text().splitlines())  # the `enabled: false` line
    assert result["properties"]["configKey"] == "runtimeDetection.enabled"
    _, text, _ = run_check(capsys, "out", "--policy", "stack-missing-runtime-detection")
    assert "FAILED with 1 mandatory violation and 0 advisory violations in the stack" in text


def test_the_line_index_places_nodes_as_a_full_compose_does():
    """LineIndex composes without resolving tags (locate._ShapeLoader): every node's position, and so
    every answer, is that of PyYAML's own composer."""
    text = ("# head\n---\napiVersion: v1\nkind: List\nitems:\n- {kind: Pod, metadata: {name: a}}\n"
            "- kind: Pod\n  metadata: {name: b, labels: {x: 'yes', n: 1}}\n  spec: &s\n    containers: [{image: x}]\n"
            "- {kind: Pod, spec: *s}\n---\nkind: Pod\nextra: !!str 12\n")
    fast = locate.LineIndex(text)
    full = [n for n in yaml.compose_all(text, Loader=yaml.SafeLoader)]

    def shape(node):
        children = ([shape(k) + shape(v) for k, v in node.value] if isinstance(node, yaml.MappingNode) else
                    [shape(v) for v in node.value] if isinstance(node, yaml.SequenceNode) else [node.value])
        return [type(node).__name__, node.start_mark.line, node.start_mark.column, children]

    assert [shape(n) for n in fast.roots.values()][0] == shape(full[0])
    assert [shape(n) for n in fast.roots.values()][-1] == shape(full[1])
    assert sorted(fast.roots) == [3, 6, 7, 11, 13]
    assert fast.locate(7, [["metadata", "labels", "n"]]) == locate.Position(8, 42, 3)


def test_field_paths_are_fresh_lists_for_each_caller():
    message = "runs privileged (spec.containers[0].securityContext.privileged: true)"
    first = locate.field_paths(message)
    first[0].append("mutated")
    assert locate.field_paths(message) == [["spec", "containers", 0, "securityContext", "privileged"]]


# ---------------------------------------------------------------------------------------------
# Placing many findings on two cores (check.Findings.locate)
# ---------------------------------------------------------------------------------------------

def _reports(capsys, rendered, config):
    return {fmt: run_check(capsys, rendered, "--config", config, "--format", fmt)[1] for fmt in ("json", "sarif")}


def _without_timings(text: str) -> str:
    return re.sub(r'"(duration|durationSeconds|endTimeUtc|startTimeUtc)": [^,\n]+', "", text)


def test_findings_placed_on_two_cores_are_placed_as_on_one(capsys, rendered, tmp_path, monkeypatch, counted_forks):
    """A forked child places the later half of the files' findings: every report is the same as
    when one process places them all, and so it is when the child fails (the parent places the rest)."""
    monkeypatch.chdir(ROOT)
    config = tmp_path / "strict.json"
    config.write_text(json.dumps(STRICT))
    monkeypatch.setattr(check, "PARALLEL_LOCATE_FILES", 10 ** 9)
    one = {k: _without_timings(v) for k, v in _reports(capsys, rendered, config).items()}
    assert len(json.loads(one["json"])["violations"]) > 2
    forks = counted_forks
    monkeypatch.setattr(check, "PARALLEL_LOCATE_FILES", 2)
    assert {k: _without_timings(v) for k, v in _reports(capsys, rendered, config).items()} == one
    assert len(forks) == 2
    parent, real_origin = os.getpid(), check.Findings.origin

    def failing_in_the_child(self, v):
        if os.getpid() != parent:
            raise RuntimeError("the child fails")
        return real_origin(self, v)

    monkeypatch.setattr(check.Findings, "origin", failing_in_the_child)
    assert {k: _without_timings(v) for k, v in _reports(capsys, rendered, config).items()} == one
    assert len(forks) == 4
