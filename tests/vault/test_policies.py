"""The pack's Vault and KMS policies: every sample judged as its file name says, and the stack's own
Vault chart and unseal key pass while a weakened copy fails (the policy is the backstop for
`extraValues`)."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from .harness import one, prod_document, render

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


@pytest.mark.parametrize("module, path", SAMPLES, ids=[f"{m}/{p.stem}" for m, p in SAMPLES])
def test_sample_is_judged_as_named(module, path):
    typ, props, name = _token(yaml.safe_load(path.read_text()))
    messages = _policy(module).run(typ, props, name=name)
    if path.name.startswith("allowed-"):
        assert messages == []
    else:
        assert messages, f"{path.name} should be a violation"


@pytest.mark.parametrize("module", MINE)
def test_each_policy_has_both_kinds_of_sample(module):
    names = [p.name for p in (POLICIES / module / "samples").glob("*.yaml")]
    assert any(n.startswith("allowed-") for n in names) and any(n.startswith("disallowed-") for n in names)


@pytest.fixture(scope="module")
def prod():
    records, _ = render()
    return records


def test_the_stacks_vault_chart_and_key_pass(prod):
    chart = one(prod, "kubernetes:helm.sh/v4:Chart", "vault-chart")
    key = one(prod, "aws:kms/key:Key", "-vault-unseal-key")
    assert _policy("vault_enforce_ha_tls").run(chart.type, chart.inputs) == []
    assert _policy("kms_enable_key_rotation").run(key.type, key.inputs) == []


@pytest.mark.parametrize("path, value, fragment", [
    (("global", "tlsDisable"), True, "tlsDisable"),
    (("server", "ha", "replicas"), 4, "even"),
    (("server", "ha", "enabled"), False, "single point of failure"),
], ids=["tls-off", "even-replicas", "standalone"])
def test_weakening_the_chart_through_extra_values_is_caught(path, value, fragment):
    doc = prod_document()
    extra: dict = {}
    cursor = extra
    for key in path[:-1]:
        cursor = cursor.setdefault(key, {})
    cursor[path[-1]] = value
    records, _ = render({"vault": {**doc["vault"], "extraValues": extra}})
    chart = one(records, "kubernetes:helm.sh/v4:Chart", "vault-chart")
    messages = _policy("vault_enforce_ha_tls").run(chart.type, chart.inputs)
    assert any(fragment in m for m in messages), messages


def test_key_with_rotation_removed_fails(prod):
    key = one(prod, "aws:kms/key:Key", "-vault-unseal-key")
    weakened = copy.deepcopy(key.inputs)
    weakened["enableKeyRotation"] = False
    assert _policy("kms_enable_key_rotation").run(key.type, weakened)


def test_malformed_values_fail_closed():
    messages = _policy("vault_enforce_ha_tls").run(
        "kubernetes:helm.sh/v4:Chart", {"chart": "vault", "values": {"global": "oops"}})
    assert messages and "cannot verify" in messages[0]


def test_samples_through_the_analyzer_protocol():
    """The same samples through the pack process over gRPC (as `pulumi preview --policy-pack`)."""
    import io
    import json

    from hardened.check import main as check_main

    out = io.StringIO()
    import contextlib
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        check_main(["--format", "json", *[str(p) for _, p in SAMPLES]])
    report = json.loads(out.getvalue())
    mine = {_policy(m).name for m in MINE}
    flagged = {Path(v["resource"]["file"]).name for v in report["violations"] if v["policy"] in mine}
    for _, path in SAMPLES:
        assert (path.name in flagged) == path.name.startswith("disallowed-"), path.name
