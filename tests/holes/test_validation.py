"""Issue 17, item 6: validation that used to let bad config through. Each case fails on the
validation before this issue (it accepted these values) and names the key and the fix now."""
from __future__ import annotations

import pytest

from components.base import parse_cpu, parse_memory, parse_quantity
from components.config import ConfigError, parse_stack_config
from tests.harness import prod_document as _prod


@pytest.fixture
def doc():
    return _prod()


def _error(document) -> str:
    with pytest.raises(ConfigError) as exc:
        parse_stack_config(document)
    return str(exc.value)


# --- quantities, as the API server parses them ------------------------------------------------

@pytest.mark.parametrize("text, value", [
    ("500m", 0.5), ("2", 2), ("1.5", 1.5), (".5", 0.5), ("5.", 5), ("+1", 1), ("1k", 1e3), ("1M", 1e6),
    ("1G", 1e9), ("1T", 1e12), ("1P", 1e15), ("1E", 1e18), ("1Ki", 1024), ("512Mi", 512 * 2**20),
    ("8Gi", 8 * 2**30), ("1Ti", 2**40), ("1Pi", 2**50), ("1Ei", 2**60), ("1e3", 1e3), ("1E3", 1e3),
    ("1e-3", 1e-3), ("100n", 1e-7), ("100u", 1e-4), ("0", 0),
])
def test_quantities_the_api_server_accepts(text, value):
    assert parse_quantity(text) == pytest.approx(value)
    assert parse_cpu(text) == pytest.approx(value) and parse_memory(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["1.5.5", "Mi", "1kb", "1KB", "1K", "1mi", "1 Gi", " 1Gi", "1Gi ", "", "e3", "1e",
                                  "1e3.5", "--1", "1,5", "0x10", "1Gi1", "Gi1", "inf", "nan", "1_000"])
def test_not_quantities(text):
    assert parse_quantity(text) is None
    assert parse_cpu(text) == -1.0 and parse_memory(text) == -1.0


@pytest.mark.parametrize("section, path, value", [
    ("workloads", (0, "resources", "limits", "memory"), "1.5.5Gi"),
    ("workloads", (0, "resources", "limits", "memory"), "-1Gi"),
    ("workloads", (0, "resources", "requests", "cpu"), "1kb"),
    ("namespaces", (0, "quota", "memory"), "Mi"),
    ("namespaces", (0, "quota", "cpu"), "-4"),
])
def test_bad_quantities_in_the_stack_file_are_refused_by_key(doc, section, path, value):
    target = doc[section]
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    msg = _error(doc)
    assert repr(value) in msg and f"hardened-stack:{section}[0]" in msg


# --- CIDRs ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("cidr, fragment", [
    ("10.0.0.0/33", "not a valid CIDR"), ("10.0.0.1/16", "host bits are set; did you mean '10.0.0.0/16'"),
    ("10.0.0.0", "must be written as"), ("10.0.0.0/16 ", "must be written as"), ("ten/8", "not a valid CIDR"),
    ("0.0.0.0/0", "every address"), ("::/0", "every address"),
])
def test_control_plane_cidrs_are_parsed_strictly(doc, cidr, fragment):
    doc["admission"]["controlPlaneCidrs"] = [cidr]
    msg = _error(doc)
    assert "hardened-stack:admission.controlPlaneCidrs[0]" in msg and fragment in msg


def test_every_cidr_key_is_parsed_strictly(doc):
    doc["spire"]["datastore"]["cidrs"] = ["10.0.64.0/20", "10.0.64.1/20"]
    doc["vault"]["awsEndpointCidrs"] = ["10.1.0.0/40"]
    msg = _error(doc)
    assert "hardened-stack:spire.datastore.cidrs[1]" in msg and "host bits" in msg
    assert "hardened-stack:vault.awsEndpointCidrs[0]" in msg


def test_egress_exceptions_may_be_any_valid_range(doc):
    """An egressExcept range only narrows an egress rule: any valid range is accepted there (every
    range that names a place is refused when it means the world: tests/privilege/test_validation.py)."""
    doc["vault"]["egressExcept"] = ["0.0.0.0/0"]
    parse_stack_config(doc)


# --- secrets in clear text -----------------------------------------------------------------------

def test_a_secret_key_in_clear_text_is_refused_without_echoing_it(doc):
    doc["splunkHecToken"] = "hec-0123456789"
    msg = _error(doc)
    assert "hardened-stack:splunkHecToken: is in clear text" in msg and "pulumi config set --secret" in msg
    assert "hec-0123456789" not in msg


def test_a_secret_key_set_as_secret_is_accepted(doc):
    doc["splunkHecToken"] = {"secure": "v1:abc"}
    parse_stack_config(doc)
    doc["splunkHecToken"] = None
    parse_stack_config(doc)


@pytest.mark.parametrize("name", ["DB_PASSWORD", "API_TOKEN", "HSM_PIN", "AWS_SECRET_ACCESS_KEY", "STRIPE_API_KEY",
                                  "SECRET", "CLIENT_SECRET"])
def test_a_secret_looking_env_literal_is_refused(doc, name):
    doc["workloads"][1].setdefault("env", {})[name] = "s3cr3t"
    msg = _error(doc)
    assert f"hardened-stack:workloads[1].env.{name}" in msg and "workloads[1].secrets" in msg
    assert "s3cr3t" not in msg


@pytest.mark.parametrize("name", ["TOKEN_TTL_SECONDS", "PINNED_VERSION", "SECRETS_DIR_NAME", "KEYCLOAK_REALM",
                                  "ENABLE_AUDIT_LOGGING"])
def test_plain_env_that_only_mentions_a_secret_word_is_accepted(doc, name):
    doc["workloads"][1].setdefault("env", {})[name] = "x"
    parse_stack_config(doc)


def test_hsm_flag_without_an_hsm_is_refused(doc):
    doc["workloads"][0]["env"]["HSM_ENABLED"] = "true"
    msg = _error(doc)
    assert "hardened-stack:workloads[0].env.HSM_ENABLED" in msg and "nothing mounts" in msg
    doc["workloads"][0]["env"]["HSM_ENABLED"] = "false"
    parse_stack_config(doc)


def test_the_prod_stack_sets_no_hsm_flag(doc):
    assert not any("HSM_ENABLED" in w.get("env", {}) for w in doc["workloads"])


# --- every error in one pass ---------------------------------------------------------------------

def test_every_error_of_a_stack_file_is_reported_at_once(doc):
    doc["typo"] = 1                                                        # unknown key
    doc["splunkHecToken"] = "plain"                                        # clear-text secret
    doc["admission"]["controlPlaneCidrs"] = ["0.0.0.0/0"]                  # CIDR
    doc["workloads"][0]["replicas"] = 0                                    # field error
    doc["namespaces"][1]["quota"]["memory"] = "16GB"                       # field error, other section
    doc["vault"]["replicas"] = 4                                           # field error, third section
    msg = _error(doc)
    for key in ("hardened-stack:typo", "hardened-stack:splunkHecToken", "admission.controlPlaneCidrs[0]",
                "workloads[0].replicas", "namespaces[1].quota.memory", "vault.replicas"):
        assert key in msg, f"{key} missing from:\n{msg}"


def test_every_cross_field_error_is_reported_at_once(doc):
    doc["intents"][0]["to"] = "lego-mcp-prod/ghost"
    doc["isolate"] = ["nowhere/nothing"]
    doc["workloads"][2]["secrets"][0]["vaultKey"] = "lego-mcp-prod/hsm#pin"
    doc["workloads"][1]["image"] = "ghcr.io/lego-mcp/mcp-server:latest"
    msg = _error(doc)
    for key in ("intents[0].to", "isolate[0]", "workloads[2].secrets[0].vaultKey", "workloads[1].image"):
        assert f"hardened-stack:{key}" in msg, f"{key} missing from:\n{msg}"
    assert len(msg.splitlines()) == 5


def test_scanner_quantities_are_parsed_too(doc):
    doc["compliance"]["resources"] = {"limitsMemory": "512MB"}
    msg = _error(doc)
    assert "hardened-stack:compliance.resources.limitsMemory" in msg and "'512MB'" in msg
