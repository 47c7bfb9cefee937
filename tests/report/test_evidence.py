"""The evidence report as an auditor reads it: header, scope and limits, exemptions, resources judged
per policy (none judged is "not applicable", never "pass"), OSCAL component-definition and
assessment-results valid for compliance-trestle, and the HTML looked at in headless Chromium."""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import struct
import subprocess
import zlib
from dataclasses import replace
from pathlib import Path

import pytest

from hardened import __version__, report
from hardened.analyzer import Verdict

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def analysis():
    return report.analyze_stack("prod")


@pytest.fixture(scope="module")
def built(analysis):
    controls = report.load_controls()
    runs = report.policy_runs(analysis)
    rows, checklist = report.build_rows(controls, analysis, runs)
    header = report.make_header("prod", analysis, rows, runs, ROOT)
    return controls, runs, rows, checklist, header


def test_header_names_time_commit_digest_and_versions(built):
    *_, header = built
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$", header.generated)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    assert header.commit.startswith(head) if head else "unknown" in header.commit
    assert header.stack_digest == "sha256:" + hashlib.sha256((ROOT / "Pulumi.prod.yaml").read_bytes()).hexdigest()
    assert header.tool_version == __version__ and header.pack == "hardened-stack" and header.pack_version


def test_scope_says_what_was_and_was_not_evaluated(built, analysis):
    *_, header = built
    assert any(f"{len(analysis.resources):,} resources" in line for line in header.evaluated)
    text = " ".join(header.not_evaluated)
    assert "live cluster" in text and "secret values" in text and "controls that no policy covers" in text
    charts = [r for r in analysis.resources if r.type.startswith("kubernetes:helm.sh/")]
    rendered = any(r.parent in {c.urn for c in charts} for r in analysis.resources)
    assert ("inside the" in text) == (bool(charts) and not rendered)


def test_judged_counts_follow_the_resources_of_each_policys_kinds(built, analysis):
    _, runs, *_ = built
    deployments = [r for r in analysis.resources if r.type == "kubernetes:apps/v1:Deployment"]
    namespaces = [r for r in analysis.resources if r.type == "kubernetes:core/v1:Namespace"]
    assert runs["pod-disallow-root-user"].judged >= len(deployments) > 0
    assert runs["namespace-enforce-pod-security"].judged == len(namespaces)
    assert runs["kms-enable-key-rotation"].judged == sum(r.type == "aws:kms/key:Key" for r in analysis.resources)


def test_a_control_whose_policies_judged_nothing_is_not_applicable_not_pass(analysis, built):
    controls, runs, *_ = built
    none_judged = {n: replace(r, judged=0) for n, r in runs.items()}
    rows, checklist = report.build_rows(controls, analysis, none_judged)
    assert {r.verdict for r in rows} <= {report.NOT_APPLICABLE, report.MANUAL}
    assert report.PASS not in {c.verdict for c in checklist}
    # a violation still fails, whatever the counts
    bad = replace(analysis, verdicts=[Verdict("namespace-missing-default-deny", "mandatory", "high", "x", "urn:x", None)])
    rows, _ = report.build_rows(controls, bad, none_judged)
    assert any(r.verdict == report.FAIL and r.control_id == "3.13.6" for r in rows)


def test_exemptions_are_listed_with_expiry_and_status(analysis):
    from policy_pack.policies._lib.exemptions import load_exemptions

    rows = report.exemption_rows(analysis)
    assert [r.id for r in rows] == [e.id for e in load_exemptions()]
    assert all(re.match(r"\d{4}-\d\d-\d\d$", r.expires) and r.status for r in rows)
    import datetime as dt

    late = report.exemption_rows(analysis, today=dt.date(2099, 1, 1))
    assert {r.status for r in late} == {"expired"}


def test_oscal_documents_validate_with_trestle_and_use_catalog_ids(built, analysis):
    from trestle.oscal.assessment_results import AssessmentResults
    from trestle.oscal.component import ComponentDefinition

    controls, runs, rows, _, header = built
    cd = report.oscal_component_definition("prod", rows, "1.0.0", controls, header)["component-definition"]
    ar = report.oscal_assessment_results("prod", rows, runs, analysis, controls, header)["assessment-results"]
    ComponentDefinition.parse_obj(cd)
    AssessmentResults.parse_obj(ar)
    resources = {r["uuid"]: r for r in cd["back-matter"]["resources"]}
    assert {r["title"] for r in resources.values()} >= {fw["title"] for fw in controls["frameworks"].values()}
    ids = set()
    for comp in cd["components"]:
        for impl in comp["control-implementations"]:
            assert impl["source"].lstrip("#") in resources, "every source is a back-matter resource"
            for req in impl["implemented-requirements"]:
                ids.add(req["control-id"])
                assert all(p.get("ns") == report.OSCAL_NS for p in req.get("props", [])), "custom props carry ns"
    # NIST's OSCAL catalog spelling for SP 800-171 (SP_800_171_03.01.05); CMMC keeps its practice id
    assert "SP_800_171_03.01.05" in ids and "SP_800_171_03.13.16" in ids and "AC.L2-3.1.5" in ids
    assert not any(re.match(r"^\d", i) for i in ids)
    # the verdicts live in the assessment results, one finding per control
    [result] = ar["results"]
    assert len(result["findings"]) == len(rows)
    states = {f["target"]["target-id"]: f["target"]["status"]["state"] for f in result["findings"]}
    assert states["SP_800_171_03.13.06"] == "satisfied"
    observed = {o["uuid"] for o in result["observations"]}
    assert all(r["observation-uuid"] in observed for f in result["findings"] for r in f.get("related-observations", []))
    assert ar["import-ap"]["href"].lstrip("#") in {r["uuid"] for r in ar["back-matter"]["resources"]}
    assert "verdict" not in json.dumps(cd), "component-definition keeps what implements what, not verdicts"


def test_cli_writes_all_four_documents(tmp_path):
    from hardened.cli import main

    assert main(["report", "--stack", "prod", "--out", str(tmp_path), "--quiet"]) == 0
    assert {p.name for p in tmp_path.iterdir()} == {"compliance.md", "compliance.html", "component-definition.json",
                                                     "assessment-results.json", "opt-outs.json"}
    md = (tmp_path / "compliance.md").read_text()
    for section in ("| Git commit |", "## Scope and limits", "## Active exemptions", "## Pre-deployment checklist",
                    "resources judged", "## Opt-outs (the ledger)"):
        assert section in md
    assert "[secret]" not in md and "hecToken" not in md


def _png_size_and_ink(path: Path) -> tuple[int, int, int]:
    """(width, height, distinct byte values in the image data): a blank page has very few."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    idat, pos = b"", 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    pixels = zlib.decompress(idat)
    return width, height, len(set(pixels[: 4 * width * 200]))


def test_html_report_in_headless_chromium(built, analysis, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        pytest.skip("headless Chromium is not installed (Debian: apt-get install chromium; `make setup` installs it "
                    "when it runs as root with apt)")
    controls, runs, rows, checklist, header = built
    docs = report.render_documents("prod", rows, checklist, analysis, header, report.exemption_rows(analysis), runs)
    page = tmp_path / "compliance.html"
    page.write_text(docs["compliance.html"])
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1400,2400"]
    dom = subprocess.run([*flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    for needle in ('<section id="evidence">', "<h2>Scope and limits</h2>", "<h2>Active exemptions</h2>",
                   "<h2>NIST SP 800-171 Rev. 2</h2>", "<h2>Pre-deployment checklist</h2>",
                   f"<th>Git commit</th><td><code>{header.commit}</code>"):
        assert needle in dom.stdout, needle
    shot = tmp_path / "shot.png"
    proc = subprocess.run([*flags, f"--screenshot={shot}", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and shot.exists(), proc.stderr[-2000:]
    width, height, ink = _png_size_and_ink(shot)
    assert (width, height) == (1400, 2400)
    assert ink > 20, "the page rendered as (nearly) one colour"
