"""The offline engine: the real program under SDK mocks, written deterministically."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pulumi
import pytest
import yaml

from hardened.render import OFFLINE_SECRET_PLACEHOLDER, REDACTED, run_program, write_output
from tests.foundation.conftest import ROOT, overrides
from tests.harness import k8s as find


def _tree(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def test_render_is_byte_identical_across_runs(tmp_path):
    write_output(run_program("prod", ROOT), tmp_path / "a", "prod")
    write_output(run_program("prod", ROOT), tmp_path / "b", "prod")
    a, b = _tree(tmp_path / "a"), _tree(tmp_path / "b")
    assert a.keys() == b.keys() and len(a) > 20
    assert [k for k in a if a[k] != b[k]] == []


def test_manifests_have_integers_not_floats(tmp_path):
    write_output(run_program("prod", ROOT), tmp_path, "prod")
    text = (tmp_path / "manifests/lego-mcp-prod/deployment-dashboard.yaml").read_text()
    doc = yaml.safe_load(text)
    assert doc["spec"]["replicas"] == 3 and isinstance(doc["spec"]["replicas"], int)
    port = doc["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"]
    assert port == 5000 and isinstance(port, int)
    assert "5000.0" not in text


def test_every_resource_is_parented_to_a_component():
    records = run_program("prod", ROOT)
    by_urn = {r.urn: r for r in records}
    for r in records:
        if r.type == "pulumi:pulumi:Stack" or r.type.startswith("pulumi:providers:"):
            continue  # the root, and the engine's default providers (no parent: hardened/engine.py)
        assert r.parent, r.urn
        if r.custom:
            parent = by_urn[r.parent]
            assert parent.type.startswith("hardened:index:") or not parent.custom, (r.urn, parent.type)


def test_every_tenant_namespace_gets_default_deny_and_restricted_labels(prod_document):
    records = run_program("prod", ROOT)
    for ns in prod_document["namespaces"]:
        (deny,) = find(records, "NetworkPolicy", "default-deny-all", ns["name"])
        assert deny["spec"]["podSelector"] == {}
        (obj,) = find(records, "Namespace", ns["name"])
        assert obj["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_emergency_isolation_denies_all_and_drops_the_workloads_allow_rules(prod_document):
    prod_document["isolate"] = ["lego-mcp-prod/mcp-server"]
    records = run_program("prod", ROOT, overrides=overrides(prod_document))
    (iso,) = find(records, "NetworkPolicy", "emergency-isolate-mcp-server", "lego-mcp-prod")
    assert iso["spec"] == {"podSelector": {"matchLabels": {"app": "mcp-server"}},
                           "policyTypes": ["Ingress", "Egress"]}
    names = {m["metadata"]["name"] for m in find(records, "NetworkPolicy", namespace="lego-mcp-prod")}
    assert not any("to-mcp-server" in n for n in names), names
    assert "allow-ingress-ns-istio-ingress-to-dashboard-5000" in names  # other flows stay


def test_intents_become_network_policies_on_both_sides():
    records = run_program("prod", ROOT)
    (egress,) = find(records, "NetworkPolicy", "allow-egress-dashboard-to-mcp-server-8080", "lego-mcp-prod")
    (ingress,) = find(records, "NetworkPolicy", "allow-ingress-dashboard-to-mcp-server-8080", "lego-mcp-prod")
    assert egress["spec"]["egress"][0]["ports"] == [{"port": 8080, "protocol": "TCP"}]
    assert ingress["spec"]["podSelector"] == {"matchLabels": {"app": "mcp-server"}}


def test_secret_values_are_redacted_in_output(tmp_path):
    def program():
        import pulumi_kubernetes as k8s

        k8s.core.v1.Secret("probe", metadata={"name": "probe", "namespace": "x"},
                           string_data={"token": pulumi.Output.secret("hunter2-very-secret")})

    records = run_program("prod", ROOT, program=program)
    write_output(records, tmp_path, "prod")
    everything = b"".join(_tree(tmp_path).values())
    assert b"hunter2-very-secret" not in everything
    (rec,) = [r for r in records if r.name == "probe"]
    # the provider's Check writes stringData as base64 data, each value secret (docs/engine.md, item 6)
    assert "stringData" not in rec.inputs
    assert rec.inputs["data"] == {"token": REDACTED} and rec.secret_paths == ["/data/token"]


def test_offline_secret_config_is_a_placeholder_and_stays_secret(tmp_path):
    from pulumi.runtime.config import is_config_secret

    seen = {}

    def program():
        seen["is_secret"] = is_config_secret("hardened-stack:splunkHecToken")
        seen["value"] = pulumi.Config("hardened-stack").get("splunkHecToken")

    run_program("prod", ROOT, overrides={"hardened-stack:splunkHecToken": {"secure": "v1:AAAA"}}, program=program)
    assert seen["is_secret"] is True
    assert seen["value"] == OFFLINE_SECRET_PLACEHOLDER  # ciphertext is never treated as the value


def test_dev_stack_renders():
    records = run_program("dev", ROOT)
    assert find(records, "Deployment", "hello", "demo")


def _cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "hardened", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def test_dev_stack_passes_its_own_pack(tmp_path):
    """Every shipped stack, not only prod, renders and passes the pack (dev once failed
    clustersecretstore-missing-namespace-conditions on a store that admits no namespace)."""
    assert _cli("render", "--stack", "dev", "--out", str(tmp_path), "--quiet").returncode == 0
    proc = _cli("check", str(tmp_path), "--format", "compact", "--quiet")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_cli_render_writes_manifests_and_resources(tmp_path):
    proc = _cli("render", "--stack", "prod", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "resources.json").exists()
    assert list((tmp_path / "manifests").rglob("*.yaml"))
    assert "namespace lego-mcp-prod" in proc.stderr  # one progress line per component


def test_cli_bad_config_names_the_key_without_traceback(tmp_path):
    for name in ("Pulumi.yaml", "__main__.py"):
        (tmp_path / name).write_text((ROOT / name).read_text())
    (tmp_path / "components").symlink_to(ROOT / "components")
    doc = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    doc["config"]["hardened-stack:workloads"][0]["image"] = "ghcr.io/lego-mcp/dashboard:latest"
    (tmp_path / "Pulumi.prod.yaml").write_text(yaml.safe_dump(doc))
    proc = _cli("render", "--stack", "prod", "--root", str(tmp_path), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2  # bad configuration, as for every command
    assert "hardened-stack:workloads[0].image" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_unknown_stack_lists_the_stacks(tmp_path):
    proc = _cli("render", "--stack", "nope", "--out", str(tmp_path))
    assert proc.returncode == 2
    assert "Pulumi.prod.yaml" in proc.stderr


def test_workload_objects_wait_for_their_namespace():
    """A component's depends_on reaches its children: the Deployment is not created before its
    Namespace (Pulumi does not propagate a component's dependencies by itself)."""
    records = run_program("prod", ROOT)
    (ns,) = [r for r in records if r.is_kubernetes_object and r.inputs["kind"] == "Namespace"
             and r.inputs["metadata"]["name"] == "lego-mcp-prod"]
    deployments = [r for r in records if r.is_kubernetes_object and r.inputs["kind"] == "Deployment"
                   and r.inputs["metadata"].get("namespace") == "lego-mcp-prod"]
    assert deployments
    for d in deployments:
        assert ns.urn in d.dependencies, d.urn


def test_k8s_object_secret_values_are_secret_one_by_one(tmp_path):
    """A Secret registered through k8s_object is redacted value by value, so the written manifest
    is still a valid Secret (a map of keys), and nothing of the value is written."""
    from components.base import k8s_object

    def program():
        k8s_object("probe", {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                             "metadata": {"name": "probe", "namespace": "x"},
                             "stringData": {"token": "plain-but-secret-value"}}, pulumi.ResourceOptions())

    records = run_program("prod", ROOT, program=program)
    (rec,) = [r for r in records if r.name == "probe"]
    # the provider's Check writes stringData as base64 data, each value secret (docs/engine.md, item 6)
    assert rec.inputs["data"] == {"token": REDACTED} and "stringData" not in rec.inputs
    assert rec.secret_paths == ["/data/token"]
    write_output(records, tmp_path, "prod")
    assert b"plain-but-secret-value" not in b"".join(_tree(tmp_path).values())


def test_namespaced_objects_wait_only_for_their_own_namespace():
    """Each tenant object waits for its own Namespace (and its default-deny), never for another
    tenant's: the dependency graph stays linear in the number of tenants."""
    records = run_program("prod", ROOT)
    ns_urn = {r.inputs["metadata"]["name"]: r.urn for r in records
              if r.is_kubernetes_object and r.inputs["kind"] == "Namespace"}
    tenants = ("lego-mcp-prod", "ltmc-production")
    checked = 0
    for r in records:
        if not r.is_kubernetes_object or r.inputs["kind"] == "Namespace":
            continue
        own = r.inputs["metadata"].get("namespace")
        if own not in tenants:
            continue
        if r.inputs["kind"] in ("Deployment", "AuthorizationPolicy"):
            assert ns_urn[own] in r.dependencies, r.urn
            checked += 1
        others = [ns_urn[t] for t in tenants if t != own]
        assert not set(others) & set(r.dependencies), r.urn
    assert checked >= 5  # three Deployments and the mesh's policies in both tenants


def test_no_namespace_waits_for_another_namespace():
    """A Namespace (and so everything in it) never waits for another namespace, even when its
    component does: the mesh waits for every tenant namespace, but its own istio-system namespace
    must not, or whatever waits for the mesh reaches every tenant through it and the SDK's cycle
    check walks them all for each edge (renders quadratic in tenants)."""
    records = run_program("prod", ROOT)
    namespaces = {r.urn: r.inputs["metadata"]["name"] for r in records
                  if r.is_kubernetes_object and r.inputs["kind"] == "Namespace"}
    assert {"istio-system", "lego-mcp-prod", "ltmc-production"} <= set(namespaces.values())
    waits = {name: sorted(namespaces[d] for d in r.dependencies if d in namespaces)
             for r in records if r.urn in namespaces for name in [namespaces[r.urn]]}
    assert waits == {name: [] for name in namespaces.values()}
