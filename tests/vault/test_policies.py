"""The pack's Vault and KMS policies: every sample judged as its file name says, and the stack's own
Vault chart objects and unseal key pass while a weakened copy fails (the policy is the backstop for
`extraValues`). The Vault policy judges what the engine sends for a helm.v4.Chart: its objects (the
StatefulSet and the HCL it mounts), never the Chart's values (hardened/engine.py)."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from .harness import one, prod_document, render
from tests.harness import reviewed

POLICIES = Path(__file__).resolve().parents[2] / "policy_pack" / "policies"
MINE = ("vault_enforce_ha_tls", "kms_enable_key_rotation")


def _policy(module: str):
    from policy_pack.policies import load_policy

    return load_policy(module)


def _token(doc: dict) -> tuple[str, dict, str]:
    if "pulumiType" in doc:
        return doc["pulumiType"], doc["inputs"], doc["name"]
    api = doc["apiVersion"]
    return f"kubernetes:{api if '/' in api else 'core/' + api}:{doc['kind']}", doc, doc["metadata"]["name"]


SAMPLES = [(m, p) for m in MINE for p in sorted((POLICIES / m / "samples").glob("*.yaml"))]
#: resource-policy samples, judged in-process (the stack policy's go through the pack in test_samples)
RESOURCE_SAMPLES = [(m, p) for m, p in SAMPLES if m == "kms_enable_key_rotation"]


def _vault_verdicts(records) -> list[str]:
    """The Vault policy over the Vault chart's children, through the pack process (gRPC)."""
    from hardened.analyzer import analyze
    from hardened.manifests import Resource

    chart = one(records, "kubernetes:helm.sh/v4:Chart", "vault-chart")
    children = [Resource(r.type, r.name, r.inputs, r.urn, r.parent, r.custom) for r in records
                if r.parent == chart.urn]
    assert any(r.type == "kubernetes:apps/v1:StatefulSet" for r in children), "the Vault chart rendered no StatefulSet"
    analysis = analyze(children)
    return [v.message for v in analysis.verdicts if v.policy == "vault-enforce-ha-tls"]


@pytest.mark.parametrize("module, path", RESOURCE_SAMPLES, ids=[f"{m}/{p.stem}" for m, p in RESOURCE_SAMPLES])
def test_sample_is_judged_as_named(module, path):
    # a sample may hold several documents (e.g. both ends of an allowed range), each judged
    for doc in (d for d in yaml.safe_load_all(path.read_text()) if d):
        typ, props, name = _token(doc)
        messages = _policy(module).run(typ, props, name=name)
        if path.name.startswith("allowed-"):
            assert messages == [], name
        else:
            assert messages, f"{path.name} ({name}) should be a violation"


@pytest.mark.parametrize("module", MINE)
def test_each_policy_has_both_kinds_of_sample(module):
    names = [p.name for p in (POLICIES / module / "samples").glob("*.yaml")]
    assert any(n.startswith("allowed-") for n in names) and any(n.startswith("disallowed-") for n in names)


@pytest.fixture(scope="module")
def prod():
    records, _ = render()
    return records


def test_the_stacks_vault_chart_and_key_pass(prod):
    key = one(prod, "aws:kms/key:Key", "-vault-unseal-key")
    assert _vault_verdicts(prod) == []
    assert _policy("kms_enable_key_rotation").run(key.type, key.inputs) == []


@pytest.mark.parametrize("path, value, fragment", [
    (("global", "tlsDisable"), True, "Vault listens without TLS"),
    (("server", "ha", "replicas"), 4, "even"),
], ids=["tls-off", "even-replicas"])
def test_weakening_the_chart_through_extra_values_is_caught(path, value, fragment):
    doc = prod_document()
    extra: dict = {}
    cursor = extra
    for key in path[:-1]:
        cursor = cursor.setdefault(key, {})
    cursor[path[-1]] = value
    records, _ = render(reviewed({"vault": {**doc["vault"], "extraValues": extra}}))
    messages = _vault_verdicts(records)
    assert any(fragment in m for m in messages), messages


def test_key_with_rotation_removed_fails(prod):
    key = one(prod, "aws:kms/key:Key", "-vault-unseal-key")
    weakened = copy.deepcopy(key.inputs)
    weakened["enableKeyRotation"] = False
    assert _policy("kms_enable_key_rotation").run(key.type, weakened)


def test_malformed_release_values_fail_closed(tmp_path):
    from hardened.analyzer import analyze
    from hardened.manifests import load_path

    (tmp_path / "release.yaml").write_text(
        "pulumiType: kubernetes:helm.sh/v3:Release\nname: vault\ninputs: {chart: vault, values: {global: oops}}\n")
    messages = [v.message for v in analyze(load_path(tmp_path)).verdicts if v.policy == "vault-enforce-ha-tls"]
    assert messages and "cannot verify" in messages[0]


def test_samples_through_the_analyzer_protocol():
    """The resource policy's samples through the pack process over gRPC in one run (as `pulumi preview
    --policy-pack`); the stack policy's samples are objects that belong together, judged one file at a
    time by tests/policy/test_samples.py."""
    import io
    import json

    from hardened.check import main as check_main

    out = io.StringIO()
    import contextlib
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        check_main(["--format", "json", *[str(p) for _, p in RESOURCE_SAMPLES]])
    report = json.loads(out.getvalue())
    mine = {_policy(m).name for m in MINE}
    flagged = {Path(v["resource"]["file"]).name for v in report["violations"] if v["policy"] in mine}
    for _, path in RESOURCE_SAMPLES:
        assert (path.name in flagged) == path.name.startswith("disallowed-"), path.name
