"""The compliance report: real stack, real pack, verdicts that follow the pack, valid OSCAL."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest

from hardened import report
from hardened.analyzer import Verdict


@pytest.fixture(scope="module")
def analysis():
    return report.analyze_stack("prod")


@pytest.fixture(scope="module")
def controls():
    return report.load_controls()


def test_every_checklist_policy_exists_in_the_pack(analysis, controls):
    named = {p for items in controls["checklist"].values() for it in items for p in it.get("policies", [])}
    assert named and named <= set(analysis.policies)


def test_policy_mappings_come_from_the_pack_metadata(analysis, controls):
    rows, _ = report.build_rows(controls, analysis)
    by_id = {(r.framework, r.control_id): r for r in rows}
    row = by_id[("NIST SP 800-171 Rev. 2", "3.13.6")]
    assert "namespace-missing-default-deny" in row.policies
    for name in row.policies:
        p = analysis.policies[name]
        assert p.framework.get("reference") == "3.13.6" or "nist800-171:3.13.6" in p.tags


def test_prod_stack_passes_and_unmapped_controls_are_manual(analysis, controls):
    rows, checklist = report.build_rows(controls, analysis)
    assert [r for r in rows if r.verdict == report.FAIL] == []
    # without a policy: manual, or not addressed where the control says nothing in a render proves it
    assert all(r.verdict == (report.NOT_ADDRESSED if r.reason else report.MANUAL) for r in rows if not r.policies)
    assert all(c.evidence for c in checklist if c.verdict == report.MANUAL)


def test_a_mandatory_violation_turns_its_controls_and_checklist_items_to_fail(analysis, controls):
    bad = replace(analysis, verdicts=list(analysis.verdicts) + [Verdict(
        policy="bucket-enforce-object-lock-retention", enforcement_level="mandatory", severity="high",
        message="retention 30 days < 2555", urn="urn:x", resource=None)])
    rows, checklist = report.build_rows(controls, bad)
    failed = {r.control_id for r in rows if r.verdict == report.FAIL}
    assert {"3.3.1", "3.3.8"} <= failed
    assert any(c.verdict == report.FAIL and "Object Lock" in c.item for c in checklist)


def test_checklist_naming_an_unknown_policy_is_refused(analysis):
    with pytest.raises(ValueError, match="unknown policies"):
        report.build_rows({"frameworks": {}, "checklist": {"S": [{"item": "x", "policies": ["no-such"]}]}},
                          analysis)


def test_oscal_component_definition_validates_with_trestle(analysis, controls):
    from trestle.oscal.component import ComponentDefinition

    rows, _ = report.build_rows(controls, analysis)
    data = report.oscal_component_definition("prod", rows, "1.0.0")
    cd = ComponentDefinition.parse_obj(data["component-definition"])
    titles = {c.title for c in cd.components}
    assert {"hardened-stack runtimeDetection", "hardened-stack compliance"} <= titles
    # deterministic UUIDs: the same stack gives the same identifiers
    assert report.oscal_component_definition("prod", rows, "1.0.0")["component-definition"]["uuid"] == str(cd.uuid)


def test_cli_writes_markdown_html_and_oscal(tmp_path):
    from hardened.cli import build_parser

    args = build_parser().parse_args(["report", "--stack", "prod", "--out", str(tmp_path)])
    assert args.run(args) == 0
    md = (tmp_path / "compliance.md").read_text()
    html = (tmp_path / "compliance.html").read_text()
    assert "</a>3.14.6 |" in md and "[stack-missing-runtime-detection](" in md
    assert "<h2>Pre-deployment checklist</h2>" in html
    json.loads((tmp_path / "component-definition.json").read_text())
    assert "[secret]" not in md and "hecToken" not in md


def test_html_escapes_text_from_config_and_messages(analysis):
    row = report.ControlRow("F", "1.1", "<script>alert(1)</script>", ["x"], ["p"], report.FAIL, ["p: <b>bad</b>"])
    docs = report.render_documents("prod", [row], [], analysis)
    assert "<script>" not in docs["compliance.html"] and "&lt;script&gt;" in docs["compliance.html"]
    assert "<b>bad</b>" not in docs["compliance.html"]
