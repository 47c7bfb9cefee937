"""The Splunk HEC token never reaches render output. Prod takes it from Vault (External Secrets:
nothing in Pulumi at all); without tokenVaultKey it is the Pulumi secret splunkHecToken, and set as
a config secret (the engine's ciphertext) or made a secret by the program from a real value, it is
redacted in the recorded inputs, every manifest and resources.json; a configured Splunk output
without either fails naming the secret."""
from __future__ import annotations

import pulumi
import pytest

from hardened.render import OFFLINE_SECRET_PLACEHOLDER, REDACTED

from .harness import all_text, k8s, prod_document, render

TOKEN = "5f1e6d2c-9a8b-4c7d-8e6f-0a1b2c3d4e5f-real-hec-token"


def _pulumi_secret_path() -> dict:
    """The prod runtimeDetection section with the HEC token taken from the Pulumi secret."""
    rd = prod_document()["runtimeDetection"]
    splunk = {k: v for k, v in rd["siem"]["splunk"].items() if k != "tokenVaultKey"}
    return {"runtimeDetection": {**rd, "siem": {**rd["siem"], "splunk": splunk}}}


def _others(secrets) -> dict:
    """The stack's other secrets as loaded (other components need theirs), without the HEC token."""
    from components.config import SECRET_KEYS

    return {k: secrets.get(k) for k in SECRET_KEYS if k != "splunkHecToken" and secrets.get(k) is not None}


def _siem_secret(records):
    (secret,) = [r for r in records if r.is_kubernetes_object and r.inputs["kind"] == "Secret"
                 and r.inputs["metadata"]["name"] == "falcosidekick-siem"]
    return secret


def test_config_secret_is_redacted_everywhere(tmp_path):
    records = render({**_pulumi_secret_path(), "splunkHecToken": {"secure": "v1:AAAAciphertext"}})
    secret = _siem_secret(records)
    assert secret.inputs["metadata"]["namespace"] == "falco"
    # the provider's Check writes stringData as base64 data, each value secret (docs/engine.md, item 6)
    assert secret.secret_paths and REDACTED in str(secret.inputs["data"]) and "stringData" not in secret.inputs
    text = all_text(records, tmp_path)
    assert OFFLINE_SECRET_PLACEHOLDER not in text and "AAAAciphertext" not in text


def test_real_token_made_secret_by_the_program_never_appears(tmp_path):
    from components.config import Secrets, load_stack_config
    from components.stack import HardenedStack

    def program():
        cfg, secrets = load_stack_config()
        HardenedStack(cfg.cluster.name, cfg, Secrets({**_others(secrets), "splunkHecToken": pulumi.Output.secret(TOKEN)}))

    records = render(_pulumi_secret_path(), program=program)
    assert _siem_secret(records).secret_paths
    assert TOKEN not in all_text(records, tmp_path)


def test_no_secret_value_is_written_for_falcosidekick(tmp_path):
    """The HEC token reaches falcosidekick by reference only: the Falco chart's values hold no
    falcosidekick settings (its subchart is off) and no Secret with literal data is rendered in falco."""
    records = render()
    chart = next(r for r in records if r.type == "kubernetes:helm.sh/v4:Chart" and r.inputs["chart"] == "falco")
    assert chart.inputs["values"]["falcosidekick"] == {"enabled": False}
    assert [r.inputs["metadata"]["name"] for r in records if r.is_kubernetes_object
            and r.inputs["kind"] == "Secret" and r.inputs["metadata"].get("namespace") == "falco"] == []
    deployment = next(r.inputs for r in records if r.is_kubernetes_object and r.inputs["kind"] == "Deployment"
                      and r.inputs["metadata"]["name"] == "falcosidekick")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    token = next(e for e in container["env"] if e["name"] == "SPLUNK_TOKEN")
    assert token == {"name": "SPLUNK_TOKEN", "valueFrom": {"secretKeyRef": {"name": "falcosidekick-siem",
                                                                             "key": "SPLUNK_TOKEN"}}}


def test_splunk_without_the_token_fails_naming_the_secret():
    from components.config import ConfigError, Secrets, load_stack_config
    from components.stack import HardenedStack

    def program():
        cfg, secrets = load_stack_config()
        HardenedStack(cfg.cluster.name, cfg, Secrets(_others(secrets)))

    with pytest.raises(Exception) as exc:
        render(_pulumi_secret_path(), program=program)
    assert "splunkHecToken" in str(exc.value) and "runtimeDetection.siem.splunk" in str(exc.value)


def test_syslog_only_needs_no_token_and_renders_no_secret():
    doc = prod_document()
    siem = {**doc["runtimeDetection"]["siem"]}
    siem.pop("splunk")
    records = render({"runtimeDetection": {**doc["runtimeDetection"], "siem": siem}})
    assert not k8s(records, "Secret", namespace="falco")


def test_prod_syncs_the_token_from_vault_and_holds_no_secret_value(tmp_path):
    records = render()
    assert not k8s(records, "Secret", namespace="falco")
    (es,) = k8s(records, "ExternalSecret", name="falcosidekick-siem", namespace="falco")
    assert es["spec"]["target"]["name"] == "falcosidekick-siem"
    assert es["spec"]["data"] == [{"secretKey": "SPLUNK_TOKEN",
                                   "remoteRef": {"key": "falco/splunk", "property": "hec_token"}}]
    assert es["spec"]["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": "vault-backend"}
    chart = next(r for r in records if r.type == "kubernetes:helm.sh/v4:Chart" and r.inputs["chart"] == "falco")
    assert any(d.endswith("siem-external-secret") for d in chart.dependencies)
