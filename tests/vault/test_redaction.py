"""Secret inputs never reach render output: the Vault Enterprise license, set as a Pulumi secret,
is redacted in the recorded inputs, the written manifests and resources.json."""
from __future__ import annotations

import json

import pulumi
import pytest

from hardened.render import OFFLINE_SECRET_PLACEHOLDER, REDACTED, write_output

from .harness import ROOT, prod_document, render

LICENSE = "02MV4UU43BK5HGYYTOJZWFQMTMNNEWU33JJZ5GY2KNPJFHIR3ABC-the-license-text"


def _enterprise(doc):
    return {"vault": {**doc["vault"], "edition": "enterprise"}}


def _all_text(records, tmp_path) -> str:
    write_output(records, tmp_path, "prod")
    files = [p.read_text() for p in tmp_path.rglob("*") if p.is_file()]
    return "\n".join(files) + json.dumps([r.inputs for r in records])


def test_config_secret_license_is_redacted_everywhere(tmp_path):
    """`pulumi config set --secret hardened-stack:vaultLicense ...` as the engine hands it over."""
    records, _ = render({**_enterprise(prod_document()), "vaultLicense": {"secure": "v1:AAAAencrypted"}})
    (secret,) = [r for r in records if r.is_kubernetes_object and r.inputs["kind"] == "Secret"
                 and r.inputs["metadata"]["name"] == "vault-license"]
    # the provider's Check writes stringData as base64 data, each value secret (docs/engine.md, item 6)
    assert secret.inputs["data"] == {"license": REDACTED} and "stringData" not in secret.inputs
    assert secret.secret_paths
    text = _all_text(records, tmp_path)
    assert OFFLINE_SECRET_PLACEHOLDER not in text and "AAAAencrypted" not in text
    chart = next(r for r in records if r.type == "kubernetes:helm.sh/v4:Chart" and r.name.endswith("vault-chart"))
    assert chart.inputs["values"]["server"]["enterpriseLicense"] == {"secretName": "vault-license",
                                                                    "secretKey": "license"}
    assert chart.inputs["values"]["server"]["image"]["repository"] == "docker.io/hashicorp/vault-enterprise"


def test_program_level_secret_license_never_appears_in_output(tmp_path):
    """A real value (not the offline placeholder) made a secret by the program: still nowhere."""
    from components.config import SECRET_KEYS, Secrets, load_stack_config
    from components.stack import HardenedStack

    def program():
        cfg, secrets = load_stack_config()
        others = {k: secrets.get(k) for k in SECRET_KEYS if k in secrets}  # e.g. the SIEM token
        HardenedStack(cfg.cluster.name, cfg, Secrets({**others, "vaultLicense": pulumi.Output.secret(LICENSE)}))

    records, _ = render(_enterprise(prod_document()), program=program)
    assert any(r.inputs.get("kind") == "Secret" and r.secret_paths for r in records if r.is_kubernetes_object)
    assert LICENSE not in _all_text(records, tmp_path)


def test_community_edition_renders_no_secret_at_all():
    records, _ = render()
    assert not [r for r in records if r.is_kubernetes_object and r.inputs["kind"] == "Secret"
                and r.inputs["metadata"]["namespace"] == "vault"]


@pytest.mark.parametrize("stack_file", ["Pulumi.prod.yaml", "Pulumi.dev.yaml"])
def test_stack_files_hold_secret_keys_only_encrypted(stack_file):
    import yaml

    from components.config import PROJECT, SECRET_KEYS

    config = yaml.safe_load((ROOT / stack_file).read_text())["config"]
    for key in SECRET_KEYS:
        value = config.get(f"{PROJECT}:{key}")
        assert value is None or (isinstance(value, dict) and set(value) == {"secure"}), key
