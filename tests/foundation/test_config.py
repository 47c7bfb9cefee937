"""StackConfig: every bad value fails before any resource, naming the key path and the fix."""
from __future__ import annotations

import pytest

from components.config import ConfigError, StackConfig, parse_stack_config


def test_prod_and_dev_stack_files_validate(prod_document):
    cfg = parse_stack_config(prod_document)
    assert isinstance(cfg, StackConfig)
    assert {w.key for w in cfg.workloads} == {
        "lego-mcp-prod/dashboard", "lego-mcp-prod/mcp-server", "ltmc-production/ltmc-mcp-server"}


def _error(document) -> str:
    with pytest.raises(ConfigError) as exc:
        parse_stack_config(document)
    return str(exc.value)


def test_rejects_unknown_top_level_key_with_suggestion(prod_document):
    prod_document["workload"] = prod_document.pop("workloads")
    msg = _error(prod_document)
    assert "hardened-stack:workload" in msg
    assert "did you mean hardened-stack:workloads?" in msg


def test_rejects_unknown_nested_key_naming_its_path(prod_document):
    prod_document["workloads"][1]["replica"] = 3
    msg = _error(prod_document)
    assert "hardened-stack:workloads[1].replica: unknown key" in msg


@pytest.mark.parametrize("image, fragment", [
    ("ghcr.io/lego-mcp/dashboard:latest", "pinned by digest"),
    ("ghcr.io/lego-mcp/dashboard@sha256:abc", "pinned by digest"),
    ("evil.example.com/dashboard@sha256:" + "a" * 64, "not in trustedRegistries"),
    ("ghcr.io/someone-else/app@sha256:" + "a" * 64, "not in trustedRegistries"),
], ids=["latest-tag", "short-digest", "untrusted-registry", "untrusted-org-on-trusted-host"])
def test_rejects_unpinned_or_untrusted_images(prod_document, image, fragment):
    prod_document["workloads"][0]["image"] = image
    msg = _error(prod_document)
    assert "hardened-stack:workloads[0].image" in msg
    assert fragment in msg


def test_rejects_intent_to_unknown_workload(prod_document):
    prod_document["intents"][0]["to"] = "lego-mcp-prod/ghost"
    msg = _error(prod_document)
    assert "hardened-stack:intents[0].to" in msg and "names no workload" in msg


def test_rejects_whole_namespace_as_destination(prod_document):
    prod_document["intents"][0]["to"] = "lego-mcp-prod/*"
    assert "hardened-stack:intents[0].to" in _error(prod_document)


def test_rejects_workload_in_undeclared_namespace(prod_document):
    prod_document["workloads"][0]["namespace"] = "elsewhere"
    assert "hardened-stack:workloads[0].namespace" in _error(prod_document)


def test_rejects_duplicate_namespaces(prod_document):
    prod_document["namespaces"].append({"name": "lego-mcp-prod"})
    assert "hardened-stack:namespaces[2]: duplicate name 'lego-mcp-prod'" in _error(prod_document)


def test_rejects_duplicate_workloads(prod_document):
    prod_document["workloads"].append(dict(prod_document["workloads"][0]))
    assert "duplicate namespace/name 'lego-mcp-prod/dashboard'" in _error(prod_document)


@pytest.mark.parametrize("uid", [0, 1001, 10000], ids=["root", "seed-uid-1001", "boundary-10000"])
def test_rejects_uid_not_above_10000(prod_document, uid):
    prod_document["workloads"][0]["runAsUser"] = uid
    assert "hardened-stack:workloads[0].runAsUser" in _error(prod_document)


def test_rejects_requests_above_limits(prod_document):
    prod_document["workloads"][0]["resources"] = {"requests": {"cpu": "3", "memory": "1Gi"},
                                                  "limits": {"cpu": "2", "memory": "2Gi"}}
    msg = _error(prod_document)
    assert "hardened-stack:workloads[0].resources" in msg and "requests.cpu 3 exceeds limits.cpu 2" in msg


def test_rejects_malformed_quantity(prod_document):
    prod_document["workloads"][0]["resources"] = {"limits": {"cpu": "lots", "memory": "2Gi"}}
    assert "hardened-stack:workloads[0].resources.limits.cpu" in _error(prod_document)


def test_rejects_isolation_of_unknown_workload(prod_document):
    prod_document["isolate"] = ["lego-mcp-prod/nope"]
    assert "hardened-stack:isolate[0]" in _error(prod_document)


def test_rejects_bad_namespace_name(prod_document):
    prod_document["namespaces"][0]["name"] = "Lego_MCP"
    assert "hardened-stack:namespaces[0].name" in _error(prod_document)


def test_requires_cluster_section(prod_document):
    del prod_document["cluster"]
    assert "hardened-stack:cluster is required" in _error(prod_document)


def test_rejects_secret_vault_key_without_property(prod_document):
    prod_document["workloads"][2]["secrets"][0]["vaultKey"] = "ltmc-production/database"
    assert "hardened-stack:workloads[2].secrets[0].vaultKey" in _error(prod_document)


def test_config_error_is_a_pulumi_run_error():
    import pulumi

    # RunError is what the Pulumi language host prints without a traceback.
    assert issubclass(ConfigError, pulumi.RunError)


@pytest.mark.parametrize("section", ["mesh", "spire", "vault", "secrets", "admission", "ingress",
                                     "runtimeDetection", "compliance"])
def test_prod_refuses_switching_a_security_section_off(prod_document, section):
    prod_document.setdefault(section, {})["enabled"] = False
    assert f"hardened-stack:{section}.enabled" in _error(prod_document)


def test_dev_may_switch_a_section_off(prod_document):
    prod_document["cluster"]["environment"] = "dev"
    prod_document.setdefault("runtimeDetection", {})["enabled"] = False
    assert parse_stack_config(prod_document).runtime_detection.enabled is False
