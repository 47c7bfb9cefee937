"""Secrets as the Pulumi CLI expects them (issue 15, item 4): a stack file carries no ``secure:``
value the CLI could not decrypt, and the offline render fills each secret the configuration
requires with a marked placeholder, saying so on stderr."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from components.config import SECRET_KEYS
from hardened import render
from hardened.secret_placeholders import PLACEHOLDER, required

ROOT = Path(__file__).resolve().parents[2]
STACK_FILES = sorted(p for p in ROOT.glob("Pulumi.*.yaml") if p.name != "Pulumi.yaml")


@pytest.mark.parametrize("path", STACK_FILES, ids=[p.name for p in STACK_FILES])
def test_no_stack_file_carries_ciphertext_the_cli_cannot_decrypt(path):
    doc = yaml.safe_load(path.read_text()) or {}
    secure = [k for k, v in (doc.get("config") or {}).items() if isinstance(v, dict) and "secure" in v]
    has_provider = bool(doc.get("secretsprovider") or doc.get("encryptionsalt") or doc.get("encryptedkey"))
    assert not secure or has_provider, (
        f"{path.name}: {secure} are `secure:` values without the stack's secrets provider; set secrets with "
        "`pulumi config set --secret`, which writes both")


def test_prod_render_needs_no_placeholder_the_spire_password_comes_from_vault():
    """The SPIRE datastore password is delivered by External Secrets (components/spire.py), so prod
    requires no secret the stack file lacks."""
    placeholders: dict = {}
    config, secret_keys = render.read_stack_config("prod", ROOT, placeholders=placeholders)
    assert placeholders == {} and "hardened-stack:spireDatastorePassword" not in config


def test_a_secret_the_stack_sets_is_never_replaced():
    placeholders: dict = {}
    config, _ = render.read_stack_config(
        "prod", ROOT, overrides={"hardened-stack:splunkHecToken": {"secure": "v1:AAAA"}},
        placeholders=placeholders)
    assert config["hardened-stack:splunkHecToken"] == render.OFFLINE_SECRET_PLACEHOLDER
    assert "hardened-stack:splunkHecToken" not in placeholders


@pytest.mark.parametrize("document,expected", [
    ({"cluster": {"name": "c"}}, {}),
    ({"cluster": {"name": "c"}, "spire": {"datastore": {"type": "sqlite3"}}}, {}),
    ({"cluster": {"name": "c", "environment": "dev"}, "vault": {"enabled": False}, "spire": {"enabled": True, "datastore": {"type": "mysql", "host": "db", "port": 3306,
                                                                         "database": "spire", "username": "spire",
                                                                         "cidrs": ["10.0.0.0/24"]}}},
     {}),
    ({"cluster": {"name": "c"}, "unknownKey": 1}, {}),
])
def test_required_secrets_follow_the_configuration(document, expected):
    assert set(required(document)) == set(expected)
    assert set(required(document)) <= set(SECRET_KEYS)


def test_cli_render_says_which_placeholders_it_used(tmp_path, capsys):
    doc = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    rd = doc["config"]["hardened-stack:runtimeDetection"]
    splunk = {k: v for k, v in rd["siem"]["splunk"].items() if k != "tokenVaultKey"}
    stack = tmp_path / "Pulumi.tokenless.yaml"
    doc["config"]["hardened-stack:runtimeDetection"] = {**rd, "siem": {**rd["siem"], "splunk": splunk}}
    stack.write_text(yaml.safe_dump(doc))
    for name in ("Pulumi.yaml", "__main__.py"):
        (tmp_path / name).write_text((ROOT / name).read_text())
    (tmp_path / "components").symlink_to(ROOT / "components")
    (tmp_path / "policy_pack").symlink_to(ROOT / "policy_pack")
    assert render.main(["--stack", "tokenless", "--root", str(tmp_path), "--out", str(tmp_path / "out"),
                        "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "render: note: secret hardened-stack:splunkHecToken (needed by runtimeDetection.siem.splunk" in err
    assert "pulumi config set --secret hardened-stack:splunkHecToken <value>" in err
    assert PLACEHOLDER not in "".join(p.read_text() for p in (tmp_path / "out").rglob("*") if p.is_file())


def _prod() -> dict:
    doc = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())["config"]
    return {k.split(":", 1)[1]: v for k, v in doc.items() if k.startswith("hardened-stack:")}


def test_prod_needs_the_token_without_tokenvaultkey_and_the_license_for_enterprise():
    assert set(required(_prod())) == set()
    doc = _prod()
    splunk = doc["runtimeDetection"]["siem"]["splunk"]
    splunk.pop("tokenVaultKey", None)
    doc["vault"]["edition"] = "enterprise"
    assert set(required(doc)) == {"splunkHecToken", "vaultLicense"}


def test_without_the_placeholder_the_program_refuses_to_run(monkeypatch):
    """The rule is the program's own: it requires the HEC token when no tokenVaultKey names it."""
    import pulumi

    from hardened import secret_placeholders

    doc = _prod()
    doc["runtimeDetection"]["siem"]["splunk"].pop("tokenVaultKey", None)
    monkeypatch.setattr(secret_placeholders, "fill", lambda config, keys: {})
    with pytest.raises(pulumi.RunError, match="splunkHecToken"):
        render.run_program("prod", ROOT, overrides={"runtimeDetection": doc["runtimeDetection"]})
