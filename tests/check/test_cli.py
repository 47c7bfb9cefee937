"""``python -m hardened check``: exit codes, the three report formats, configuration, and the
rendered prod stack passing its own pack (conformance)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hardened.cli import main
from policy_pack.policies import all_policies

from .conftest import ROOT, SAMPLES

POLICY_NAMES = sorted(p.name for p in all_policies())


def check(capsys, *argv):
    status = main(["check", *map(str, argv)])
    out, err = capsys.readouterr()
    return status, out, err


def test_exit_0_without_mandatory_violations(capsys, clean_dir):
    status, out, err = check(capsys, clean_dir)
    assert status == 0, out + err
    assert "passed; no violation" in out


def test_exit_1_with_a_mandatory_violation_and_text_grouped_by_resource(capsys, dirty_dir, monkeypatch):
    monkeypatch.chdir(dirty_dir)
    status, out, _ = check(capsys, ".")
    assert status == 1
    lines = out.splitlines()
    assert lines.index("cronjob.yaml:2  CronJob lego-mcp-prod/compliance-scan") < lines.index(
        "secret.yaml:2  Secret lego-mcp-prod/hsm-credentials"), "resources in file order"
    header = lines.index("cronjob.yaml:2  CronJob lego-mcp-prod/compliance-scan")
    block = lines[header + 1:lines.index("", header)]
    assert any(line.split()[:3] == ["MANDATORY", "high", "container-disallow-mutable-image-tags"] for line in block)
    assert any("[NIST SP 800-171 r2 3.4.1]" in line for line in block)
    assert "secret.yaml:2  Secret lego-mcp-prod/hsm-credentials" in lines
    assert "FAILED with" in lines[-1]


def test_advisory_violations_alone_exit_0(capsys, dirty_dir, tmp_path):
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps({"all": "advisory"}))
    status, out, _ = check(capsys, dirty_dir, "--config", config)
    assert status == 0 and "advisory" in out and "passed;" in out


@pytest.mark.parametrize("text,where", [
    ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: [x\n", "broken.yaml:5:1: YAML syntax error"),
    ("apiVersion: v1\nkind: Pod\n---\nmetadata: {name: x}\nspec: {}\n", "broken.yaml:4: document has no apiVersion"),
])
def test_exit_2_for_unreadable_input_naming_file_and_line(capsys, tmp_path, text, where):
    (tmp_path / "broken.yaml").write_text(text)
    status, out, err = check(capsys, tmp_path / "broken.yaml")
    assert status == 2 and out == ""
    assert where in err and err.startswith("check: error: unreadable input")


def test_exit_2_for_missing_or_empty_input(capsys, tmp_path):
    status, _, err = check(capsys, tmp_path / "nowhere")
    assert status == 2 and "nowhere: no such file or directory" in err
    status, _, err = check(capsys, tmp_path)
    assert status == 2 and "no Kubernetes objects found" in err


@pytest.mark.parametrize("content,problem", [
    ("{not json", "cfg.json:1:2: not valid JSON"),
    (json.dumps({"pod-disallow-host-ports": {"exemptions": [{"resource": {"kind": "Pod", "name": "x"},
                                                              "reason": "no expiry given here"}]}}),
     "'expires' is required"),
])
def test_exit_2_for_a_configuration_that_does_not_fit(capsys, clean_dir, tmp_path, content, problem):
    config = tmp_path / "cfg.json"
    config.write_text(content)
    status, _, err = check(capsys, clean_dir, "--config", config)
    assert status == 2 and problem in err, err


@pytest.mark.parametrize("document,needle", [
    ({"container-missing-resource-limits": {"maxCpus": "2"}}, "has no setting 'maxCpus'"),
    ({"pod-disallow-host-port": "disabled"}, "'pod-disallow-host-port' is no policy of this pack"),
], ids=["unknown-setting", "unknown-policy"])
def test_a_configuration_mistake_the_cli_lets_through_fails_as_a_mandatory_finding(capsys, clean_dir, tmp_path,
                                                                                   document, needle):
    """The Pulumi CLI passes unknown names and settings to the pack without a word (see
    tests/engine/test_wire.py); check does too, and the pack fails the run naming the setting."""
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps(document))
    status, out, _ = check(capsys, clean_dir, "--config", config)
    assert status == 1 and needle in out and "MANDATORY" in out, out


def test_json_report_shape(capsys, dirty_dir):
    status, out, _ = check(capsys, dirty_dir, "--format", "json")
    doc = json.loads(out)
    assert status == 1 and doc["version"] == 1
    assert doc["summary"]["passed"] is False and doc["summary"]["mandatory"] == len(doc["violations"]) > 0
    assert [p["name"] for p in doc["policies"]] == POLICY_NAMES
    for v in doc["violations"]:
        assert set(v) >= {"policy", "enforcementLevel", "severity", "resource", "message", "framework", "tags",
                          "remediation", "url"}
        assert v["resource"] is None or set(v["resource"]) >= {"kind", "namespace", "name", "file", "line", "urn",
                                                               "type"}
        assert v["framework"]["name"] == "NIST SP 800-171" and v["tags"]
    secret = next(v for v in doc["violations"] if v["policy"] == "secret-disallow-literal-data")
    assert secret["resource"]["kind"] == "Secret" and secret["resource"]["name"] == "hsm-credentials"
    assert secret["resource"]["file"].endswith("secret.yaml") and secret["resource"]["line"] == 2
    assert "1234" not in out, "secret values never reach a report"


def test_sarif_report_is_what_code_scanning_takes(capsys, dirty_dir, monkeypatch):
    monkeypatch.chdir(dirty_dir.parent)
    status, out, _ = check(capsys, "dirty", "--format", "sarif")
    doc = json.loads(out)
    assert status == 1 and doc["version"] == "2.1.0" and "sarif" in doc["$schema"]
    [run] = doc["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == POLICY_NAMES
    for rule in rules:
        assert rule["shortDescription"]["text"] and rule["help"]["text"]
        assert rule["defaultConfiguration"]["level"] in ("error", "warning", "note", "none")
        assert float(rule["properties"]["security-severity"]) > 0 and "security" in rule["properties"]["tags"]
    assert run["results"]
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in ("error", "warning", "note") and result["message"]["text"]
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uri"].startswith("dirty/") and location["region"]["startLine"] >= 1
        assert result["partialFingerprints"]
    assert {r["ruleId"] for r in run["results"]} >= {"container-disallow-mutable-image-tags",
                                                     "secret-disallow-literal-data"}


def test_output_file_and_summary_on_stderr(capsys, dirty_dir, tmp_path):
    report = tmp_path / "reports" / "check.sarif"
    status, out, err = check(capsys, dirty_dir, "--format", "sarif", "--output", report)
    assert status == 1 and out == "" and "FAILED" in err
    assert json.loads(report.read_text())["version"] == "2.1.0"


def test_exemptions_from_the_configuration_are_reported(capsys, dirty_dir, tmp_path):
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps({
        "secret-disallow-literal-data": {"exemptions": [{
            "id": "hsm-migration", "resource": {"kind": "Secret", "namespace": "lego-mcp-prod", "name": "hsm-*"},
            "reason": "Moves to Vault with the HSM migration; tracked in SEC-123.", "expires": "2999-01-01"}]},
        "container-disallow-mutable-image-tags": "advisory", "cronjob-enforce-bounded-runs": "advisory"}))
    status, out, _ = check(capsys, dirty_dir, "--config", config, "--format", "json")
    doc = json.loads(out)
    assert status == 0 and doc["summary"]["exempted"] == 1
    [exempted] = doc["exemptions"]
    assert exempted["policy"] == "secret-disallow-literal-data" and "hsm-migration" in exempted["reason"]
    # the text report sums them up in one line; --show-exemptions names each exempted object once,
    # with the policies and the entry, not the reasons
    status, text, _ = check(capsys, dirty_dir, "--config", config)
    assert "exempted: 1 policy finding on 1 object by 1 named entry (list: --show-exemptions;" in text
    assert "hsm-migration" not in text
    status, text, _ = check(capsys, dirty_dir, "--config", config, "--show-exemptions")
    lines = [l for l in text.splitlines() if "hsm-migration" in l]
    assert lines == ["  Secret lego-mcp-prod/hsm-credentials: secret-disallow-literal-data (hsm-migration)"], text
    assert "SEC-123" not in text and "exempted (1 policy finding on 1 object; reasons in --format json):" in text


def test_the_json_report_is_written_as_json_dumps_writes_it(capsys, dirty_dir, tmp_path):
    """The json writer streams each violation, exemption and suppression (hardened/formats/
    json_format.py); its bytes, to a file and to standard output, are json.dumps(indent=2,
    sort_keys=True) of the same document, with every streamed list non-empty here."""
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps({"secret-disallow-literal-data": {"exemptions": [{
        "id": "hsm-migration", "resource": {"kind": "Secret", "namespace": "lego-mcp-prod", "name": "hsm-*"},
        "reason": "Moves to Vault with the HSM migration; tracked in SEC-123.", "expires": "2999-01-01"}]}}))
    text = (dirty_dir / "secret.yaml").read_text()
    (dirty_dir / "skipped.yaml").write_text(text.replace(
        "metadata: {name: hsm-credentials,", "metadata: {annotations: {hardened.io/skip-secret-disallow-literal-data: "
        "'moves to Vault; SEC-9'}, name: skipped-credentials,", 1))
    report = tmp_path / "out" / "check.json"
    status, _, err = check(capsys, dirty_dir, "--config", config, "--format", "json", "--output", report)
    assert status == 1, err
    written = report.read_text()
    doc = json.loads(written)
    assert doc["violations"] and doc["exemptions"] and doc["suppressions"], doc["summary"]
    assert written == json.dumps(doc, indent=2, sort_keys=True) + "\n"
    _, stdout, _ = check(capsys, dirty_dir, "--config", config, "--format", "json")
    assert stdout == written


def _random_json(rng, depth=0):
    kind = rng.randrange(9 if depth < 4 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.choice([0, -1, 7, 2 ** 70, -(2 ** 53) - 1])
    if kind == 3:
        return rng.choice([0.0, -0.0, 1.5, 1e-7, 1e300, 123456789.123, float("inf"), float("-inf"), float("nan")])
    if kind in (4, 5):
        return "".join(rng.choice(["a", "Z", " ", '"', "\\", "\n", "\t", "\x00", "\x7f", "é", "€", "𝄞", "\u2028", "/"])
                       for _ in range(rng.randrange(6)))
    if kind in (6, 7):
        return [_random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {str(_random_json(rng, 5)): _random_json(rng, depth + 1) for _ in range(rng.randrange(4))}


def test_the_json_writer_encodes_as_json_dumps_does():
    """hardened/formats/json_format.py writes each item itself (json.dumps indents in pure Python):
    the text of json.dumps(indent=2, sort_keys=True) for every kind of value (escapes, unicode,
    big and special numbers, empty and nested containers); keys json.dumps converts (numbers,
    booleans, None) and other types go through json.dumps itself."""
    import random

    from hardened.formats.json_format import _indented

    rng = random.Random(26)
    values = [_random_json(rng) for _ in range(3000)]
    values += [{1: "a", 2: "b"}, {None: 1}, {True: [], False: {}}, {1.5: 0}, (1, "two", [3.0]), {"t": (None,)},
               {1: "a", "b": 2}, {"a": {1, 2}}, b"bytes"]
    for value in values:
        for prefix in ("", "    "):
            try:
                expected = json.dumps(value, indent=2, sort_keys=True).replace("\n", "\n" + prefix)
            except TypeError:  # keys that do not sort together, a type JSON has not
                with pytest.raises(TypeError):
                    _indented(value, prefix)
                continue
            assert _indented(value, prefix) == expected, value


def test_a_stack_policys_exemption_is_reported_with_its_object(capsys):
    """A stack policy's finding lifted by an exemption is accounted for as a resource policy's is:
    the pack names each exempted object in its not-applicable reason, the client lists it."""
    sample = SAMPLES / "clusterrole_disallow_secrets_read" / "samples" / "allowed-platform-controller-by-exemption.yaml"
    status, out, _ = check(capsys, sample, "--format", "json")
    doc = json.loads(out)
    assert status == 0 and doc["violations"] == []
    [exempted] = [e for e in doc["exemptions"] if e["policy"] == "clusterrole-disallow-secrets-read"]
    assert exempted["resource"]["kind"] == "ClusterRole" and exempted["resource"]["name"] == "external-secrets-controller"
    assert "'secrets-read-external-secrets-controller'" in exempted["reason"]


def test_as_a_command(dirty_dir, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "hardened", "check", str(dirty_dir), "--format", "json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["summary"]["mandatory"] > 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: [\n")
    proc = subprocess.run([sys.executable, "-m", "hardened", "check", str(bad)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2 and "bad.yaml:2:1" in proc.stderr


def test_the_rendered_prod_stack_passes_its_own_pack(capsys, tmp_path):
    """Conformance: the stack with its prod configuration, rendered offline, breaches nothing."""
    out = tmp_path / "prod"
    assert main(["render", "--stack", "prod", "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    status, report, err = check(capsys, out, "--format", "json")
    doc = json.loads(report)
    assert [f"{v['policy']}: {v['resource']['kind'] if v['resource'] else 'stack'}: {v['message']}"
            for v in doc["violations"]] == []
    assert status == 0 and doc["summary"]["analyzed"] > 50
    # what is exempted is exempted by a named entry of policy_pack/exemptions.yaml, nothing else
    from policy_pack.policies._lib.exemptions import load_exemptions

    ids = {e.id for e in load_exemptions()}
    assert doc["exemptions"] and all(any(f"'{i}'" in e["reason"] for i in ids) for e in doc["exemptions"])
