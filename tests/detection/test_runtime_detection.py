"""RuntimeDetection: Falco on the modern eBPF driver only, the stack's rules rendered, validated and
snapshot-tested, falcosidekick to the SIEM over the configured ports only, Falco's privileges
backed by a named exemption, and bad input rejected naming the field."""
from __future__ import annotations

import os
from pathlib import Path

import jinja2
import pytest
import yaml

from components.config import parse_stack_config
from components.runtime_detection import (NAMESPACE, PRIORITIES, SIEM_SECRET, RulesError, RuntimeDetectionArgs,
                                          _ENV, _values, balanced, falco_service_account, image_repository,
                                          network_policies, rules_yaml, hec_endpoint, sidekick_manifests,
                                          validate_rules)

from tests.harness import reviewed

from .harness import config_error, k8s, one, prod_document, render

SNAPSHOTS = Path(__file__).parent / "snapshots"
CHART = "kubernetes:helm.sh/v4:Chart"


#: A syslog collector on the private network, accepted only with the visible clear-text opt-out
#: (prod sends to the SIEM through HEC over https only: tests/paths/test_telemetry_tls.py).
PRIVATE_SYSLOG = {"address": "siem.lego-mcp.io:514", "protocol": "tcp", "format": "cef", "allowCleartext": True}


def _args(**section) -> RuntimeDetectionArgs:
    doc = prod_document()
    doc["runtimeDetection"]["siem"]["syslog"] = PRIVATE_SYSLOG
    cfg = parse_stack_config(reviewed(doc, whole=True))  # syslog's clear text is a reviewed opt-out in prod
    rd = cfg.runtime_detection.model_copy(update=section) if section else cfg.runtime_detection
    return RuntimeDetectionArgs(config=rd, tenant_images=[w.image for w in cfg.workloads], splunk_token="t")


def _rules(text: str) -> dict[str, dict]:
    return {i["rule"]: i for i in yaml.safe_load(text) if "rule" in i}


# --- rules: snapshot, template, validation ----------------------------------------------------

def test_prod_rules_match_snapshot():
    text = rules_yaml(_args())
    path = SNAPSHOTS / "falco_rules.yaml"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.write_text(text)
    assert text == path.read_text(), "falco rules changed; review and rerun with UPDATE_SNAPSHOTS=1"


def test_template_is_strict_about_missing_variables():
    with pytest.raises(jinja2.UndefinedError):
        _ENV.get_template("falco_rules.yaml.j2").render(shells=["sh"], miners=["xmrig"])


def test_shell_rule_watches_exactly_the_tenant_image_repositories():
    """The seed matched 'lego-mcp' by substring (any image with that text, and never ltmc): the rule
    now names every tenant repository exactly, digest and tag stripped."""
    items = yaml.safe_load(rules_yaml(_args()))
    (tenants,) = [i for i in items if i.get("list") == "hardened_tenant_images"]
    cfg = parse_stack_config(prod_document())
    assert tenants["items"] == sorted({w.image.split("@")[0] for w in cfg.workloads})
    assert "ghcr.io/ltmc/ltmc-mcp-server" in tenants["items"]
    shell = _rules(rules_yaml(_args()))["Shell spawned in a stack container"]
    assert "container.image.repository in (hardened_tenant_images)" in shell["condition"]
    assert "proc.name in (hardened_shell_binaries)" in shell["condition"]


def test_no_tenant_images_means_no_shell_rule_with_an_empty_list():
    args = RuntimeDetectionArgs(config=_args().config, tenant_images=[], splunk_token="t")
    text = rules_yaml(args)
    assert "hardened_tenant_images" not in text and "Shell spawned" not in text


def test_crypto_mining_rule_covers_miners_and_stratum_pools():
    items = yaml.safe_load(rules_yaml(_args()))
    (miners,) = [i for i in items if i.get("list") == "hardened_miner_binaries"]
    assert {"xmrig", "ethminer"} <= set(miners["items"])
    rule = _rules(rules_yaml(_args()))["Crypto mining process in a container"]
    assert '"stratum+tcp"' in rule["condition"] and rule["priority"] == "CRITICAL"


def test_extra_rules_from_config_are_rendered_verbatim_and_tagged():
    rules = _rules(rules_yaml(_args()))
    cfg = parse_stack_config(prod_document()).runtime_detection
    for r in cfg.extra_rules:
        rendered = rules[r.name]
        assert rendered["condition"] == r.condition and rendered["priority"] == r.priority
        assert "hardened-stack" in rendered["tags"]


def test_every_rendered_rule_passes_validation():
    items = validate_rules(rules_yaml(_args()))
    for item in items:
        if "rule" in item:
            assert item["priority"] in PRIORITIES and balanced(item["condition"])


@pytest.mark.parametrize("text, problem", [
    ("- rule: [unclosed", "not valid YAML"),
    ("rule: x", "YAML list"),
    ("- rule: r\n  desc: d\n  condition: a\n  output: o\n", "lacks priority"),
    ("- rule: r\n  desc: d\n  condition: a\n  output: o\n  priority: SEVERE\n", "not one of"),
    ("- rule: r\n  desc: d\n  condition: (a and b\n  output: o\n  priority: ERROR\n", "parentheses"),
    ("- rule: r\n  desc: d\n  condition: container\n  output: o\n  priority: ERROR\n"
     "- rule: r\n  desc: d\n  condition: container\n  output: o\n  priority: ERROR\n", "defined twice"),
    ("- list: l\n", "needs items"),
    ("- something: else\n", "not a rule"),
    ("- rule: r\n  desc: d\n  condition: spawned_proces and container\n  output: o\n  priority: ERROR\n",
     "uses spawned_proces"),
], ids=["bad-yaml", "not-a-list", "missing-priority", "unknown-priority", "unbalanced", "duplicate",
        "list-without-items", "unknown-item", "unknown-macro"])
def test_validation_rejects_rules_falco_would_not_load(text, problem):
    with pytest.raises(RulesError, match=problem):
        validate_rules(text)


def test_macros_defined_in_the_file_may_be_used():
    text = ("- macro: my_shell\n  condition: proc.name = sh\n"
            "- rule: r\n  desc: d\n  condition: spawned_process and my_shell\n  output: o\n  priority: ERROR\n")
    assert validate_rules(text)


@pytest.mark.parametrize("condition, macros", [
    ("spawned_process and container and proc.name in (bash, sh)", {"spawned_process", "container"}),
    ('open_write and fd.name startswith "/etc" and not proc.name = sshd', {"open_write"}),
    ("proc.aname[2] = sh and fd.num >= 3", set()),
    ("evt.type in (execve, execveat) and not user_known_shell_spawn_activities",
     {"user_known_shell_spawn_activities"}),
], ids=["lists-are-values", "compared-values-are-not-macros", "fields-with-args", "negated-macro"])
def test_condition_macros(condition, macros):
    from components.runtime_detection import condition_macros

    assert condition_macros(condition) == macros


@pytest.mark.parametrize("condition, ok", [
    ("a and (b or c)", True), ('proc.cmdline contains "(" and a', True), ("(a", False), ("a)", False),
    (")(", False), ('a = "unclosed', False),
], ids=["nested", "paren-in-quotes", "open", "close", "reversed", "open-quote"])
def test_balanced_parentheses(condition, ok):
    assert balanced(condition) is ok


@pytest.mark.parametrize("image, repo", [
    ("ghcr.io/a/b@sha256:" + "0" * 64, "ghcr.io/a/b"),
    ("ghcr.io/a/b:1.2@sha256:" + "0" * 64, "ghcr.io/a/b"),
    ("registry:5000/a/b:1.2", "registry:5000/a/b"),
], ids=["digest", "tag-and-digest", "registry-port"])
def test_image_repository(image, repo):
    assert image_repository(image) == repo


# --- chart values -----------------------------------------------------------------------------

def test_values_run_modern_ebpf_without_loader_or_runtime_rule_downloads():
    v = _values(_args())
    assert v["driver"] == {"enabled": True, "kind": "modern_ebpf", "loader": {"enabled": False},
                           "modernEbpf": {"leastPrivileged": True}}
    assert v["tty"] is True and v["falco"]["json_output"] is True
    assert v["falcoctl"]["artifact"]["install"]["enabled"] is False
    assert v["falcoctl"]["artifact"]["follow"]["enabled"] is False
    assert v["customRules"] == {"hardened-stack-rules.yaml": rules_yaml(_args())}


def _sidekick(c=None) -> dict:
    return dict(sidekick_manifests(c or _args().config))


def test_falcosidekick_is_not_the_subchart_that_writes_a_literal_secret():
    """falcosidekick 0.12.x (Falco chart 9.1.0's subchart) renders a Secret with every output's
    settings whatever config.existingSecret says; the component deploys falcosidekick itself."""
    v = _values(_args())
    assert v["falcosidekick"] == {"enabled": False}
    assert {m["kind"] for m in _sidekick().values()} == {"ServiceAccount", "Deployment", "PodDisruptionBudget",
                                                          "Service"}
    assert not [m for m in _sidekick().values() if m["kind"] == "Secret"]


def test_sidekick_forwards_to_both_siems_and_reads_the_token_from_the_secret():
    (container,) = _sidekick()["sidekick"]["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    # falcosidekick >= 2.32.0 reads splunk.host as the whole endpoint and posts {"event": ...} to it
    assert env["SPLUNK_HOST"]["value"] == "https://splunk.lego-mcp.io:8088/services/collector/event"
    assert env["SPLUNK_CHECKCERT"]["value"] == "true" and env["SPLUNK_MINIMUMPRIORITY"]["value"] == "notice"
    assert env["SPLUNK_TOKEN"] == {"name": "SPLUNK_TOKEN",
                                   "valueFrom": {"secretKeyRef": {"name": SIEM_SECRET, "key": "SPLUNK_TOKEN"}}}
    assert (env["SYSLOG_HOST"]["value"], env["SYSLOG_PORT"]["value"]) == ("siem.lego-mcp.io", "514")
    assert env["SYSLOG_PROTOCOL"]["value"] == "tcp" and env["SYSLOG_FORMAT"]["value"] == "cef"
    assert [e for e in container["env"] if "TOKEN" in e["name"] and "value" in e] == []


def test_sidekick_without_a_siem_has_no_siem_settings():
    quiet = _args().config.model_copy(update={"siem": _args().config.siem.model_copy(
        update={"splunk": None, "syslog": None})})
    (container,) = _sidekick(quiet)["sidekick"]["spec"]["template"]["spec"]["containers"]
    assert [e["name"] for e in container["env"]] == ["LISTENPORT"]


def test_sidekick_runs_restricted_without_a_token():
    m = _sidekick()
    pod = m["sidekick"]["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] and sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["allowPrivilegeEscalation"] is False and sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] > 10000
    assert pod["automountServiceAccountToken"] is False and m["sidekick-sa"]["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == m["sidekick-sa"]["metadata"]["name"]
    assert set(c["resources"]) == {"requests", "limits"} and {"cpu", "memory"} == set(c["resources"]["limits"])
    assert c["livenessProbe"]["httpGet"]["path"] == "/ping" and c["readinessProbe"]["httpGet"]["path"] == "/ping"


def test_falco_posts_to_the_sidekick_service_and_its_pods_match_the_network_policies():
    m = _sidekick()
    url = _values(_args())["falco"]["http_output"]["url"]
    svc = m["sidekick-svc"]
    assert url == f"http://{svc['metadata']['name']}.{svc['metadata']['namespace']}.svc:{svc['spec']['ports'][0]['port']}"
    labels = m["sidekick"]["spec"]["template"]["metadata"]["labels"]
    assert svc["spec"]["selector"].items() <= labels.items()
    assert m["sidekick"]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    for _, pol in network_policies(_args().config):
        sel = pol["spec"]["podSelector"]["matchLabels"]
        if sel.get("app.kubernetes.io/name") == "falcosidekick":
            assert sel.items() <= labels.items()


def test_falco_mounts_no_token_through_its_own_service_account():
    v = _values(_args())
    sa = falco_service_account()
    assert v["serviceAccount"] == {"create": False, "name": sa["metadata"]["name"]}
    assert sa["automountServiceAccountToken"] is False and sa["metadata"]["namespace"] == NAMESPACE
    assert v["collectors"]["kubernetes"]["enabled"] is False  # nothing in Falco calls the API


def test_image_digests_pin_falco_and_falcosidekick():
    digest = "sha256:" + "ab" * 32
    args = _args(image_digest=digest, sidekick_image_digest=digest)
    assert _values(args)["image"]["tag"] == f"0.44.1@{digest}"
    (c,) = dict(sidekick_manifests(args.config))["sidekick"]["spec"]["template"]["spec"]["containers"]
    assert c["image"] == f"docker.io/falcosecurity/falcosidekick:2.34.1@{digest}"


@pytest.mark.parametrize("url, endpoint", [
    ("https://splunk.example.com:8088", "https://splunk.example.com:8088/services/collector/event"),
    ("https://splunk.example.com:8088/", "https://splunk.example.com:8088/services/collector/event"),
    ("https://hec.example.com/services/collector/raw", "https://hec.example.com/services/collector/raw"),
], ids=["bare", "trailing-slash", "own-path"])
def test_hec_endpoint_gets_the_event_path_only_when_the_url_names_none(url, endpoint):
    assert hec_endpoint(url) == endpoint


def test_falco_config_d_is_hidden_so_the_container_plugin_loads_once():
    """With the loader and falcoctl off the image's config.d would load the container plugin a
    second time (Falco aborts); an empty, read-only directory over it is the fix."""
    v = _values(_args())
    volumes = {m["name"]: m for m in v["mounts"]["volumes"]}
    mount, = [m for m in v["mounts"]["volumeMounts"] if m["mountPath"] == "/etc/falco/config.d"]
    assert volumes[mount["name"]] == {"name": mount["name"], "emptyDir": {}} and mount["readOnly"] is True
    assert "grpc" not in v["falco"] and "grpc_output" not in v["falco"]  # removed in Falco 0.44


def test_extra_values_merge_last():
    v = _values(_args(extra_values={"resources": {"limits": {"cpu": "2"}}}))
    assert v["resources"]["limits"] == {"cpu": "2", "memory": "1Gi"} and v["driver"]["kind"] == "modern_ebpf"


# --- network policies -------------------------------------------------------------------------

def test_sidekick_egress_is_only_the_siem_ports_and_never_private_ranges():
    (siem,) = [m for s, m in network_policies(_args().config) if s == "siem"]
    (rule,) = siem["spec"]["egress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 514}, {"protocol": "TCP", "port": 8088}]
    (peer,) = rule["to"]
    assert peer["ipBlock"]["cidr"] == "0.0.0.0/0"
    assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"} <= set(peer["ipBlock"]["except"])
    assert siem["spec"]["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "falcosidekick"}}


def test_known_siem_addresses_narrow_the_egress():
    c = _args().config
    c = c.model_copy(update={"siem": c.siem.model_copy(update={"cidrs": ["203.0.113.10/32"]})})
    (siem,) = [m for s, m in network_policies(c) if s == "siem"]
    assert siem["spec"]["egress"][0]["to"] == [{"ipBlock": {"cidr": "203.0.113.10/32"}}]


def test_udp_syslog_opens_udp_only():
    c = _args().config
    syslog = c.siem.syslog.model_copy(update={"protocol": "udp"})
    c = c.model_copy(update={"siem": c.siem.model_copy(update={"syslog": syslog, "splunk": None})})
    (siem,) = [m for s, m in network_policies(c) if s == "siem"]
    assert siem["spec"]["egress"][0]["ports"] == [{"protocol": "UDP", "port": 514}]


# --- bad input names the field ----------------------------------------------------------------

def _rd(doc, **changes):
    doc["runtimeDetection"] = {**doc["runtimeDetection"], **changes}


def _siem(doc, **changes):
    doc["runtimeDetection"]["siem"] = {**doc["runtimeDetection"]["siem"], **changes}


@pytest.mark.parametrize("mutate, field, hint", [
    (lambda d: _rd(d, driver="kmod"), "runtimeDetection.driver", "modern_ebpf"),
    (lambda d: _rd(d, driver="ebpf"), "runtimeDetection.driver", "legacy"),
    (lambda d: _rd(d, driver="gvisor"), "runtimeDetection.driver", "modern_ebpf"),
    (lambda d: _siem(d, splunk={"url": "http://splunk.lego-mcp.io:8088"}), "runtimeDetection.siem.splunk.url",
     "https"),
    (lambda d: _siem(d, splunk={"url": "https://admin:pw@splunk.lego-mcp.io:8088"}),
     "runtimeDetection.siem.splunk.url", "credentials"),
    (lambda d: _siem(d, splunk={"url": "https://splunk.lego-mcp.io:8088/?token=abc"}),
     "runtimeDetection.siem.splunk.url", "query"),
    (lambda d: _siem(d, syslog={"address": "siem.lego-mcp.io"}), "runtimeDetection.siem.syslog.address",
     "host:port"),
    (lambda d: _siem(d, syslog={"address": "udp://siem.lego-mcp.io:514"}), "runtimeDetection.siem.syslog.address",
     "without scheme"),
    (lambda d: _siem(d, syslog={"address": "siem.lego-mcp.io:70000"}), "runtimeDetection.siem.syslog.address",
     "1-65535"),
    (lambda d: _rd(d, extraRules=[{**d["runtimeDetection"]["extraRules"][0], "priority": "SEVERE"}]),
     "runtimeDetection.extraRules[0].priority", "EMERGENCY"),
    (lambda d: _rd(d, extraRules=[{**d["runtimeDetection"]["extraRules"][0], "condition": "(a and b"}]),
     "runtimeDetection.extraRules[0].condition", "unbalanced"),
    (lambda d: _rd(d, extraRules=[{**d["runtimeDetection"]["extraRules"][0], "condition": "  "}]),
     "runtimeDetection.extraRules[0].condition", "empty"),
    (lambda d: _rd(d, extraRules=[{**d["runtimeDetection"]["extraRules"][0],
                                   "condition": "spawned_proces and container"}]),
     "runtimeDetection.extraRules[0].condition", "spawned_proces"),
    (lambda d: _rd(d, extraRules=[d["runtimeDetection"]["extraRules"][0]] * 2),
     "runtimeDetection.extraRules[1].name", "twice"),
    (lambda d: _rd(d, imageDigest="latest"), "runtimeDetection.imageDigest", "sha256"),
    (lambda d: _siem(d, splunk={"url": "https://splunk.lego-mcp.io:8088", "tokenVaultKey": "no-property"}),
     "runtimeDetection.siem.splunk.tokenVaultKey", "lego-mcp/splunk#hec_token"),
    (lambda d: d.update(vault={**d["vault"], "enabled": False}, cluster={**d["cluster"], "environment": "dev"},
                        workloads=[{k: v for k, v in w.items() if k != "secrets"} for w in d["workloads"]]),
     "runtimeDetection.siem.splunk.tokenVaultKey", "enable the vault"),
], ids=["kmod", "classic-ebpf", "unknown-driver", "hec-http", "hec-credentials", "hec-query", "syslog-no-port",
        "syslog-scheme", "syslog-port-range", "rule-priority", "rule-unbalanced", "rule-empty-condition", "rule-unknown-macro",
        "rule-duplicate", "digest", "vault-key-format",
        "vault-key-without-vault"])
def test_bad_config_is_rejected_naming_the_field(mutate, field, hint):
    message = config_error(mutate)
    assert field in message and hint in message, message


def test_prod_may_not_switch_runtime_detection_off():
    message = config_error(lambda d: _rd(d, enabled=False))
    assert "runtimeDetection.enabled" in message and "prod" in message


# --- the whole program ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def records():
    return render()


def test_falco_chart_is_pinned_with_modern_ebpf(records):
    chart = one(records, CHART, "runtime-detection-chart")
    assert chart.inputs["chart"] == "falco" and chart.inputs["version"] == "9.1.0"
    assert chart.inputs["repositoryOpts"]["repo"] == "https://falcosecurity.github.io/charts"
    assert chart.inputs["namespace"] == NAMESPACE
    assert chart.inputs["values"]["driver"]["kind"] == "modern_ebpf"


def test_falco_namespace_level_comes_from_the_named_exemption(records):
    from policy_pack.policies._lib.exemptions import load_exemptions, namespace_pod_security

    (ns,) = k8s(records, "Namespace", name=NAMESPACE)
    level = namespace_pod_security(NAMESPACE)
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == level == "privileged"
    (entry,) = [e for e in load_exemptions() if e.namespace == NAMESPACE and e.namespace_pod_security]
    assert entry.id == "falco-driver" and len(entry.reason) > 100
    assert k8s(records, "NetworkPolicy", name="default-deny-all", namespace=NAMESPACE)


def test_falco_namespace_has_exactly_the_policies_it_needs(records):
    names = {m["metadata"]["name"] for m in k8s(records, "NetworkPolicy", namespace=NAMESPACE)}
    # with the mesh, Splunk HEC goes through the egress gateway (components/egress.py writes that rule)
    assert {"allow-egress-falco-to-sidekick", "allow-ingress-sidekick-from-falco",
            "allow-egress-egress-gateway"} <= names
    assert "allow-egress-sidekick-siem" not in names
    for m in k8s(records, "NetworkPolicy", namespace=NAMESPACE):
        for rule in m["spec"].get("egress", []):
            assert rule.get("to"), f"{m['metadata']['name']} allows egress to anywhere"


def test_chart_waits_for_namespace_policies_and_secret(records):
    chart = one(records, CHART, "runtime-detection-chart")
    deps = {r.urn: r for r in records}
    names = {deps[d].name for d in chart.dependencies if d in deps}
    # the namespace's policies (the SIEM rule itself is the egress gateway's with the mesh)
    assert any(n.endswith("-siem-external-secret") for n in names) and any(n.endswith("-sidekick-in") for n in names)
    assert any(n.endswith("-falco-sa") for n in names)


def test_sidekick_waits_for_its_token_secret(records):
    deployment = next(r for r in records if r.is_kubernetes_object and r.inputs["kind"] == "Deployment"
                      and r.inputs["metadata"] == {**r.inputs["metadata"], "name": "falcosidekick", "namespace": NAMESPACE})
    deps = {r.urn: r for r in records}
    assert any(deps[d].name.endswith("-siem-external-secret") for d in deployment.dependencies if d in deps)


def test_dev_may_switch_runtime_detection_off():
    recs = render({"runtimeDetection": {"enabled": False}}, stack="dev")
    assert not [r for r in recs if r.type == CHART and r.inputs.get("chart") == "falco"]
