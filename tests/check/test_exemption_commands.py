"""Exemptions cannot break silently in any command (issue 15, item 2): render, check and report
read policy_pack/exemptions.yaml first; a malformed file is one error line with file and line
(exit 2); an expired entry fails render, naming it and its owner; one expiring within 30 days is
a warning in all three; the report lists the exemptions in force with their expiry."""
from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from hardened import render, report
from hardened.cli import main
from policy_pack.policies._lib import exemptions as ex

ROOT = Path(__file__).resolve().parents[2]

ENTRY = """\
exemptions:
  - id: legacy-agent
    owner: {team: node-team, contact: node-team@example.com}
    policies: [pod-disallow-host-path-volumes]
    resource: {kind: DaemonSet, namespace: agents, name: agent}
    reason: The agent reads its socket from the node; nothing narrower works.
    expires: %s
"""


def _file(tmp_path, expires: str, monkeypatch=None) -> Path:
    path = tmp_path / "exemptions.yaml"
    path.write_text(ENTRY % expires)
    if monkeypatch is not None:
        monkeypatch.setattr(ex, "DEFAULT_PATH", path)
    return path


def test_render_refuses_an_expired_exemption_naming_it_and_its_owner(tmp_path, monkeypatch, capsys):
    _file(tmp_path, "2020-01-31", monkeypatch)
    status = render.main(["--stack", "dev", "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert status == 2 and not (tmp_path / "out").exists()
    [line] = err.strip().splitlines()
    assert line.startswith("render: error: exemption 'legacy-agent'") and "expired on 2020-01-31" in line
    assert "owner team 'node-team', contact 'node-team@example.com'" in line


@pytest.mark.parametrize("text,where", [
    ("exemptions:\n  - id: a\n    owner: {team: t, contact: c\n", ":4:"),
    (ENTRY.replace("pod-disallow-host-path-volumes", "pod-disallow-host-paths") % "2099-01-01", ":4:"),
    (ENTRY.replace("    reason:", "    reasn:") % "2099-01-01", ":6:"),
    (ENTRY % "2099-02-30", ":7:"),
])
def test_render_and_report_stop_on_a_malformed_file_with_one_line(tmp_path, monkeypatch, capsys, text, where):
    path = tmp_path / "exemptions.yaml"
    path.write_text(text)
    monkeypatch.setattr(ex, "DEFAULT_PATH", path)
    assert render.main(["--stack", "dev", "--out", str(tmp_path / "out"), "--quiet"]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("render: error: policy_pack/exemptions.yaml" + where), line
    assert report.run(SimpleNamespace(stack="dev", out=str(tmp_path / "r"), policy_pack=None)) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("report: error: policy_pack/exemptions.yaml" + where), line


def test_an_exemption_five_days_from_expiry_warns_in_render_and_report(tmp_path, monkeypatch, capsys):
    soon = (ex.utc_today() + dt.timedelta(days=5)).isoformat()
    _file(tmp_path, soon, monkeypatch)
    assert ex.preflight("render", fail_on_expired=True)
    assert ex.preflight("report", fail_on_expired=False)
    err = capsys.readouterr().err.splitlines()
    assert [line.split(":")[0] for line in err] == ["render", "report"]
    assert all("warning: exemption 'legacy-agent'" in line and f"expires in 5 days ({soon})" in line for line in err)


def _pack_copy(tmp_path: Path, exemptions: str) -> Path:
    pack = tmp_path / "pack"
    shutil.copytree(ROOT / "policy_pack", pack, ignore=shutil.ignore_patterns("venv", "__pycache__"))
    (pack / "exemptions.yaml").write_text(exemptions)
    return pack


def test_check_warns_about_an_exemption_about_to_expire(tmp_path, capsys, clean_dir):
    soon = (ex.utc_today() + dt.timedelta(days=5)).isoformat()
    pack = _pack_copy(tmp_path, ENTRY % soon)
    status = main(["check", str(clean_dir), "--policy-pack", str(pack)])
    err = capsys.readouterr().err
    assert status == 0
    assert f"check: warning: exemption 'legacy-agent' ({pack / 'exemptions.yaml'}:2, owner team 'node-team'" in err
    assert "expires in 5 days" in err


def test_check_stops_on_a_malformed_file_with_one_line(tmp_path, capsys, clean_dir):
    pack = _pack_copy(tmp_path, ENTRY.replace("policies:", "policy:") % "2099-01-01")
    status = main(["check", str(clean_dir), "--policy-pack", str(pack)])
    out, err = capsys.readouterr()
    assert status == 2 and out == ""
    [line] = err.strip().splitlines()
    assert line.startswith(f"check: error: {pack / 'exemptions.yaml'}:4:") and "'policy' (did you mean 'policies'?)" in line


def test_the_report_lists_the_exemptions_in_force_with_their_expiry():
    analysis = SimpleNamespace(pack="hardened-stack", version="1.0.0", resources=[], policies={}, exempted=[])
    rows = report.exemption_rows(analysis)
    docs = report.render_documents("prod", [], [], analysis, exemptions=rows)
    entries = ex.review().active()
    assert entries and {r.id for r in rows} >= {e.id for e in entries}
    for e in entries:
        line = next(l for l in docs["compliance.md"].splitlines() if l.startswith(f"| {e.id} |"))
        assert e.target in line and e.expires.isoformat() in line and e.owner.team in line
        assert f"<td>{e.id}</td>" in docs["compliance.html"]
    expired = ex.parse_exemption({
        "id": "old", "owner": {"team": "t", "contact": "c"}, "policies": ["pod-disallow-root-user"],
        "resource": {"kind": "Pod", "namespace": "n", "name": "p"}, "reason": "expired long ago",
        "expires": "2020-01-01"}, "e")
    assert expired.expired() and "| old |" not in docs["compliance.md"]