"""Issue 27.2: the ledger of opt-outs. Every config field that can weaken a secure default carries
the marker (components.base.weakens); this test enumerates them from the config model, sets each to
a weakening value in the prod stack, and checks that it is on the ledger, refused in prod without
an optOuts entry, accepted with one, and documented in docs/config.md."""
from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest

from components.config import ConfigError, StackConfig, parse_stack_config
from components.ledger import marked_fields, opt_outs
from tests.harness import prod_document

ROOT = Path(__file__).resolve().parents[2]
PRIV = "pods-disallow-privileged"
REG = "images-enforce-trusted-registries"

#: One weakening value per marked field (config path pattern -> (document path, value, ledger setting)).
#: A new marked field without a row fails test_every_marked_field_has_a_weakening_case.
#: A syslog forwarder as a stack would add one: syslog has no TLS, so it is a reviewed opt-out itself.
SYSLOG = {"address": "siem.lego-mcp.io:514", "allowCleartext": True}
#: Opt-outs a case needs besides its own (the settings its weakening cannot be made without).
PREREQUISITES = {"runtimeDetection.siem.syslog.protocol": ["runtimeDetection.siem.syslog.allowCleartext"],
                 "runtimeDetection.siem.syslog.minimumPriority": ["runtimeDetection.siem.syslog.allowCleartext"]}
CASES = {
    "mesh.enabled": (("mesh", "enabled"), False, None),
    "mesh.outboundRegistryOnly": (("mesh", "outboundRegistryOnly"), False, None),
    "mesh.requireJwtOnExternal": (("mesh", "requireJwtOnExternal"), False, None),
    "mesh.extraValues": (("mesh", "extraValues"), {"pilot": {"env": {"X": "1"}}}, None),
    "spire.enabled": (("spire", "enabled"), False, None),
    "spire.datastore.tlsOptions": (("spire", "datastore", "tlsOptions"), ["sslmode=require"], None),
    "vault.enabled": (("vault", "enabled"), False, None),
    "vault.extraValues": (("vault", "extraValues"), {"server": {"logLevel": "debug"}}, None),
    "secrets.enabled": (("secrets", "enabled"), False, None),
    "secrets.certManager.extraValues": (("secrets", "certManager", "extraValues"), {"x": 1}, None),
    "secrets.externalSecrets.extraValues": (("secrets", "externalSecrets", "extraValues"), {"x": 1}, None),
    "admission.enabled": (("admission", "enabled"), False, None),
    "admission.failurePolicy": (("admission", "failurePolicy"), "Ignore", None),
    "admission.constraints.<name>.enforcementAction": (
        ("admission", "constraints"), {PRIV: {"enforcementAction": "dryrun"}},
        f"admission.constraints.{PRIV}.enforcementAction"),
    "admission.constraints.<name>.excludedNamespaces": (
        ("admission", "constraints"), {PRIV: {"excludedNamespaces": ["lego-mcp-prod"]}},
        f"admission.constraints.{PRIV}.excludedNamespaces"),
    "admission.constraints.<name>.parameters": (
        ("admission", "constraints"), {REG: {"parameters": {"registries": ["ghcr.io/lego-mcp", "quay.io/evil"]}}},
        f"admission.constraints.{REG}.parameters"),
    "admission.signatures.enabled": (("admission", "signatures", "enabled"), False, None),
    "admission.signatures.subject": (("admission", "signatures", "subject"), "https://github.com/lego-mcp/*", None),
    "admission.signatures.excludedNamespaces": (("admission", "signatures", "excludedNamespaces"),
                                                ["ltmc-production"], None),
    "admission.signatures.noMatchPolicy": (("admission", "signatures", "noMatchPolicy"), "warn", None),
    "admission.signatures.mode": (("admission", "signatures", "mode"), "warn", None),
    "admission.signatures.platformImages": (("admission", "signatures", "platformImages"), False, None),
    "admission.signatures.egressHosts": (("admission", "signatures", "egressHosts"), ["cdn01.quay.io"], None),
    "ingress.acme.egressHosts": (("ingress", "acme", "egressHosts"), ["acme.example.net"], None),
    "admission.extraValues": (("admission", "extraValues"), {"x": 1}, None),
    "ingress.enabled": (("ingress", "enabled"), False, None),
    "ingress.hstsIncludeSubdomains": (("ingress", "hstsIncludeSubdomains"), False, None),
    "ingress.hstsPreload": (("ingress", "hstsPreload"), False, None),
    "ingress.httpRedirect": (("ingress", "httpRedirect"), False, None),
    "ingress.rateLimit.enabled": (("ingress", "rateLimit", "enabled"), False, None),
    "ingress.waf.enabled": (("ingress", "waf", "enabled"), False, None),
    "ingress.waf.mode": (("ingress", "waf", "mode"), "count", None),
    "ingress.alb.deletionProtection": (("ingress", "alb", "deletionProtection"), False, None),
    "ingress.alb.sslPolicy": (("ingress", "alb", "sslPolicy"), "ELBSecurityPolicy-TLS13-1-3-2021-06", None),
    "runtimeDetection.enabled": (("runtimeDetection", "enabled"), False, None),
    "runtimeDetection.minimumPriority": (("runtimeDetection", "minimumPriority"), "error", None),
    "runtimeDetection.siem.splunk.checkCert": (("runtimeDetection", "siem", "splunk", "checkCert"), False, None),
    "runtimeDetection.siem.splunk.minimumPriority": (("runtimeDetection", "siem", "splunk", "minimumPriority"),
                                                     "critical", None),
    # prod forwards no syslog (it has no TLS): each syslog case adds one, so allowCleartext comes with it
    "runtimeDetection.siem.syslog.allowCleartext": (("runtimeDetection", "siem", "syslog"), SYSLOG, None),
    "runtimeDetection.siem.syslog.protocol": (("runtimeDetection", "siem", "syslog"), {**SYSLOG, "protocol": "udp"},
                                              "runtimeDetection.siem.syslog.protocol"),
    "runtimeDetection.siem.syslog.minimumPriority": (("runtimeDetection", "siem", "syslog"),
                                                     {**SYSLOG, "minimumPriority": "error"},
                                                     "runtimeDetection.siem.syslog.minimumPriority"),
    "compliance.enabled": (("compliance", "enabled"), False, None),
    "compliance.auditRetention.enabled": (("compliance", "auditRetention", "enabled"), False, None),
    "compliance.auditRetention.forceDestroy": (("compliance", "auditRetention", "forceDestroy"), True, None),
    "compliance.auditTrails.eks": (("compliance", "auditTrails", "eks"), False, None),
    "compliance.auditTrails.vault": (("compliance", "auditTrails", "vault"), False, None),
    "compliance.auditTrails.falco": (("compliance", "auditTrails", "falco"), False, None),
    "storage.enabled": (("storage", "enabled"), False, None),
    "compliance.auditRetention.retentionDays": (("compliance", "auditRetention", "retentionDays"), 365, None),
    "ingress.waf.rateLimit": (("ingress", "waf", "rateLimit"), 100000, None),
    "ingress.waf.managedRuleGroups": (("ingress", "waf", "managedRuleGroups"),
                                      ["AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet",
                                       "AWSManagedRulesSQLiRuleSet"], None),
    "ingress.rateLimit.requestsPerSecond": (("ingress", "rateLimit", "requestsPerSecond"), 1000, None),
    "storage.reclaimPolicy": (("storage", "reclaimPolicy"), "Delete", None),
    "namespaces[].labels": (("namespaces", 0, "labels"), {"istio-injection": "disabled"}, "namespaces[0].labels"),
}
OWNER = {"team": "platform-security", "contact": "platform-security@lego-mcp.io"}
PATTERNS = sorted({p for p, *_ in marked_fields(StackConfig)})


def weakened(pattern: str, environment: str = "prod") -> tuple[dict, str]:
    path, value, setting = CASES[pattern]
    doc = copy.deepcopy(prod_document())
    doc["cluster"]["environment"] = environment
    target = doc
    for part in path[:-1]:
        target = target.setdefault(part, {}) if isinstance(part, str) else target[part]
    if isinstance(value, dict) and isinstance(target.get(path[-1]), dict):
        target[path[-1]] = {**target[path[-1]], **value}
    else:
        target[path[-1]] = value
    return doc, setting or pattern


def test_every_marked_field_has_a_weakening_case():
    assert sorted(CASES) == PATTERNS


def test_the_prod_stack_has_no_opt_out():
    assert opt_outs(parse_stack_config(prod_document())) == []


@pytest.mark.parametrize("pattern", PATTERNS)
def test_each_opt_out_is_on_the_ledger(pattern):
    doc, setting = weakened(pattern, "dev")
    try:
        cfg = parse_stack_config(doc)
    except ConfigError as e:  # a dev stack may still refuse what else breaks; the ledger is not the reason
        assert "weakens a secure default" not in str(e)
        pytest.skip(f"{pattern}: the weakened dev stack is invalid for another reason")
    assert setting in [o.setting for o in opt_outs(cfg)]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_prod_refuses_each_opt_out_without_an_entry_and_accepts_it_with_one(pattern):
    doc, setting = weakened(pattern)
    with pytest.raises(ConfigError) as exc:
        parse_stack_config(doc)
    assert f"hardened-stack:{setting}: weakens a secure default" in str(exc.value)
    doc["optOuts"] = [{"id": f"reviewed-{i}", "owner": OWNER, "setting": s,
                       "reason": "reviewed by the platform team for this release", "expires": "2099-12-31"}
                      for i, s in enumerate([setting, *PREREQUISITES.get(pattern, [])])]
    try:
        parse_stack_config(doc)
    except ConfigError as e:  # section switches stay dev-only whatever the ledger says
        assert "weakens a secure default" not in str(e) and setting.endswith("enabled"), str(e)


def test_an_expired_or_stale_entry_is_refused():
    doc, setting = weakened("mesh.outboundRegistryOnly")
    doc["optOuts"] = [{"id": "old", "owner": OWNER, "setting": setting, "reason": "reviewed long ago for x",
                       "expires": "2020-01-01"}]
    with pytest.raises(ConfigError, match="expired on 2020-01-01"):
        parse_stack_config(doc)
    doc = prod_document()
    doc["optOuts"] = [{"id": "stale", "owner": OWNER, "setting": "mesh.outboundRegistryOnly",
                       "reason": "nothing is weakened any more", "expires": "2099-01-01"}]
    with pytest.raises(ConfigError, match="weakens nothing here"):
        parse_stack_config(doc)


@pytest.mark.parametrize("entry,fragment", [
    ({"setting": "mesh.outboundRegistryOnly", "reason": "long enough reason", "expires": "2099-01-01"}, "'id'"),
    ({"id": "x", "setting": "mesh.outboundRegistryOnly", "reason": "long enough reason", "expires": "2099-01-01"},
     "'owner'"),
    ({"id": "x", "owner": OWNER, "setting": "mesh.*", "reason": "long enough reason", "expires": "2099-01-01"},
     "exact config key path"),
    ({"id": "x", "owner": OWNER, "setting": "mesh.outboundRegistryOnly", "reason": "short", "expires": "2099-01-01"},
     "'reason'"),
    ({"id": "x", "owner": OWNER, "setting": "mesh.outboundRegistryOnly", "reason": "long enough reason",
      "expires": "2099-13-01"}, "expires"),
])
def test_entries_are_checked_like_the_exemptions_file(entry, fragment):
    doc, _ = weakened("mesh.outboundRegistryOnly")
    doc["optOuts"] = [entry]
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        parse_stack_config(doc)


def test_every_opt_out_is_documented_in_config_md():
    text = (ROOT / "docs" / "config.md").read_text()
    for pattern, model, name, marker in marked_fields(StackConfig):
        key = model.model_fields[name].alias or name
        section = text.split(f"## {model.__name__}\n", 1)
        assert len(section) == 2, model.__name__
        rows = [line for line in section[1].split("\n## ", 1)[0].splitlines() if line.startswith(f"| `{key}` |")]
        assert rows and "**Opt-out (ledger):**" in rows[0] and marker["weakens"] in rows[0].replace("\\|", "|"), pattern
