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
    assert {r.verdict for r in rows} <= {report.NOT_APPLICABLE, report.MANUAL, report.NOT_ADDRESSED}
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
    # Rev. 2's own numbers as tokens (NIST's OSCAL catalog is Rev. 3's, a different set, and is not
    # claimed); CMMC keeps its practice id
    assert "SP_800_171_r2_3.1.5" in ids and "SP_800_171_r2_3.13.16" in ids and "AC.L2-3.1.5" in ids
    assert not any(re.match(r"^\d", i) or i.startswith("SP_800_171_0") for i in ids)
    rev2 = next(r for r in resources.values() if r["title"] == "NIST SP 800-171 Rev. 2")
    hrefs = [l["href"] for l in rev2["rlinks"]]
    assert hrefs == ["https://csrc.nist.gov/pubs/sp/800/171/r2/upd1/final",
                     "https://nvlpubs.nist.gov/nistpubs/SpecialPublications/NIST.SP.800-171r2.pdf"]
    assert not any("rev3" in h for r in resources.values() for h in (l["href"] for l in r.get("rlinks", [])))
    # the verdicts live in the assessment results, one finding per control
    [result] = ar["results"]
    assert len(result["findings"]) == len(rows)
    states = {f["target"]["target-id"]: f["target"]["status"]["state"] for f in result["findings"]}
    assert states["SP_800_171_r2_3.13.6"] == "satisfied"
    assert states["SP_800_171_r2_3.13.11"] == "not-satisfied", "FIPS validation is not addressed by a TLS setting"
    observed = {o["uuid"] for o in result["observations"]}
    assert all(r["observation-uuid"] in observed for f in result["findings"] for r in f.get("related-observations", []))
    # import-ap links the assessment plan report writes beside it; the plan imports the SSP resource
    assert ar["import-ap"]["href"] == report.ASSESSMENT_PLAN
    ap = report.oscal_assessment_plan("prod", rows, "1.0.0", controls, header)["assessment-plan"]
    from trestle.oscal.assessment_plan import AssessmentPlan

    AssessmentPlan.parse_obj(ap)
    assert ap["import-ssp"]["href"].lstrip("#") in {r["uuid"] for r in ap["back-matter"]["resources"]}
    planned = {c["control-id"] for c in ap["reviewed-controls"]["control-selections"][0]["include-controls"]}
    assert planned == set(states) == {c["control-id"] for c in
                                      result["reviewed-controls"]["control-selections"][0]["include-controls"]}
    assert "verdict" not in json.dumps(cd), "component-definition keeps what implements what, not verdicts"


def test_cli_writes_all_four_documents(tmp_path):
    from hardened.cli import main

    assert main(["report", "--stack", "prod", "--out", str(tmp_path), "--quiet"]) == 0
    assert {p.name for p in tmp_path.iterdir()} == {"compliance.md", "compliance.html", "component-definition.json",
                                                     "assessment-plan.json", "assessment-results.json",
                                                     "opt-outs.json"}
    md = (tmp_path / "compliance.md").read_text()
    for section in ("| Git commit |", "## Scope and limits", "## Active exemptions", "## Pre-deployment checklist",
                    "resources judged", "## Sign-off", "| Assessor |", "## Opt-outs (the ledger)"):
        assert section in md
    # per-control status first, the exemptions after it
    assert md.index("## NIST SP 800-171 Rev. 2") < md.index("## Pre-deployment checklist") < md.index(
        "## Active exemptions") < md.index("## Sign-off")
    ar = json.loads((tmp_path / "assessment-results.json").read_text())["assessment-results"]
    assert (tmp_path / ar["import-ap"]["href"]).is_file(), "import-ap names the plan written beside it"
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


# ---------------------------------------------------------------------------------------------
# No control passes on evidence that does not prove it
# ---------------------------------------------------------------------------------------------

def _row(rows, framework_key, control_id):
    return next(r for r in rows if r.framework_key == framework_key and r.control_id == control_id)


def test_fips_and_hsm_are_never_passed_on_a_tls_or_rotation_setting(built):
    controls, runs, rows, checklist, _ = built
    fips = _row(rows, "nist800-171", "3.13.11")
    assert "mesh-enforce-tls13-hybrid-kex" in fips.policies, "the related policy is still shown"
    assert fips.verdict == report.NOT_ADDRESSED and "CMVP" in fips.reason
    assert _row(rows, "cmmc", "SC.L2-3.13.11").verdict == report.NOT_ADDRESSED
    hsm = next(c for c in checklist if c.item.startswith("HSM"))
    assert hsm.verdict == report.PARTIAL and "not HSM storage" in hsm.reason
    # every capped control and item carries its reason into the documents
    for r in [*rows, *checklist]:
        if r.verdict in (report.PARTIAL, report.NOT_ADDRESSED):
            assert len(r.reason) >= 20


def test_a_capped_control_still_fails_on_a_violation(built, analysis):
    controls, runs, *_ = built
    bad = replace(analysis, verdicts=list(analysis.verdicts) + [Verdict(
        "mesh-enforce-tls13-hybrid-kex", "mandatory", "high", "TLS 1.2 allowed", "urn:x", None)])
    rows, _ = report.build_rows(controls, bad, runs)
    assert _row(rows, "nist800-171", "3.13.11").verdict == report.FAIL


def test_a_pass_that_needed_exemptions_says_so(built, analysis):
    controls, runs, *_ = built
    name = "pod-disallow-root-user"
    row = lambda rs: _row(rs, "cmmc", "AC.L2-3.1.6")  # noqa: E731 - its only policy is pod-disallow-root-user
    lifted = {**runs, name: replace(runs[name], exempted=3)}
    rows, _ = report.build_rows(controls, analysis, lifted)
    assert row(rows).policies == [name]
    assert row(rows).verdict == report.PASS_WITH_EXEMPTIONS and f"{name} (3)" in row(rows).reason
    clean = {**runs, name: replace(runs[name], exempted=0)}
    rows, _ = report.build_rows(controls, analysis, clean)
    assert row(rows).verdict == report.PASS


@pytest.mark.parametrize("item, message", [
    ({"assurance": "partial"}, "needs a reason"),
    ({"assurance": "mostly", "reason": "a reason that is long enough"}, "must be one of partial, not-addressed"),
])
def test_controls_file_refuses_an_assurance_without_reason_or_of_unknown_level(tmp_path, item, message):
    data = {"frameworks": {"f": {"title": "F", "controls": {"1.1": {"title": "t", "components": [], **item}}}}}
    path = tmp_path / "controls.yaml"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=message):
        report.load_controls(path)


def test_each_control_links_its_policies_docs_and_its_findings(built, analysis):
    controls, runs, *_ = built
    bad = replace(analysis, verdicts=list(analysis.verdicts) + [Verdict(
        "namespace-missing-default-deny", "mandatory", "high", "no default deny", "urn:x", None)])
    rows, checklist = report.build_rows(controls, bad, runs)
    docs = report.render_documents("prod", rows, checklist, bad, runs=runs)
    md = docs["compliance.md"]
    url = analysis.policies["namespace-missing-default-deny"].url
    assert url.endswith("#namespace-missing-default-deny")
    assert f"[namespace-missing-default-deny]({url})" in md
    failing = _row(rows, "nist800-171", "3.13.6")
    assert f"(#findings-{failing.anchor})" in md and f'<a id="findings-{failing.anchor}"></a>' in md
    assert f'<ul id="findings-{failing.anchor}">' in docs["compliance.html"]


def test_the_sign_off_names_the_assessor_when_given(built, analysis):
    controls, runs, rows, checklist, header = built
    named = replace(header, assessor="A. Auditor, Example Assessors LLC")
    docs = report.render_documents("prod", rows, checklist, analysis, named, runs=runs)
    assert "| Assessor | A. Auditor, Example Assessors LLC |" in docs["compliance.md"]
    blank = report.render_documents("prod", rows, checklist, analysis, header, runs=runs)
    assert "| Assessor | ________________ |" in blank["compliance.md"]
    ar = report.oscal_assessment_results("prod", rows, runs, analysis, controls, named)["assessment-results"]
    assert {"name": "assessor", "value": "A. Auditor, Example Assessors LLC", "ns": report.OSCAL_NS} in \
        ar["results"][0]["props"]


def test_an_exemption_that_lifted_nothing_is_flagged_unused_and_a_dormant_one_is_not(analysis):
    from policy_pack.policies._lib.exemptions import load_exemptions

    entries = load_exemptions()
    used = next(e for e in entries if e.id == "falco-driver")
    lifted_nothing = replace(analysis, exempted=[x for x in analysis.exempted if used.describe() not in x.reason])
    rows = {r.id: r for r in report.exemption_rows(lifted_nothing, config={})}
    assert rows["falco-driver"].status.startswith("unused") and rows["falco-driver"].applied == 0
    with_config = {r.id: r for r in report.exemption_rows(analysis, config={"vault": {"edition": "community"}})}
    assert with_config["vault-enterprise-license"].status.startswith("dormant")
    assert not with_config["falco-driver"].status.startswith(("unused", "dormant"))
