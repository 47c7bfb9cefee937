"""Issue 17, item 1: any tenant could read any tenant's secrets. Each namespace now reads only its
own Vault prefix: its own Kubernetes-auth role and policy, and a store admitting only it."""
from __future__ import annotations

import re

import pytest

from components.config import key_in_prefix, vault_prefix
from components.tenancy import (TenantSecretIsolationArgs, namespace_policy, platform_policy, policy_paths,
                                tenant_manifests, tenants_script)
from tests.harness import k8s, prod_document, render_records


@pytest.fixture(scope="module")
def prod():
    return render_records()


def _readable_prefixes(paths: list[str], kv: str = "secret") -> list[str]:
    """What a policy's paths reach below the KV mount ('secret/data/x/*' -> 'x/')."""
    out = []
    for p in paths:
        m = re.match(rf"^{kv}/(?:data|metadata)/(.*?)\*?$", p)
        assert m, f"path {p!r} is outside the KV mount"
        out.append(m.group(1))
    return out


def test_namespace_policy_reads_only_its_own_prefix():
    paths = policy_paths(namespace_policy("team-a", "secret"))
    assert paths == ["secret/data/team-a/*", "secret/metadata/team-a/*"]
    assert not any(key_in_prefix(p.split("/", 2)[2].rstrip("*") + "x", vault_prefix("team-ab")) for p in paths)


def test_rendered_vault_policies_give_no_tenant_another_tenants_path(prod):
    (cm,) = k8s(prod, "ConfigMap", "vault-tenancy", "vault")
    tenants = sorted({w["namespace"] for w in prod_document()["workloads"] if w.get("secrets")})
    assert tenants and sorted(k[:-4] for k in cm["data"] if k.endswith(".hcl")) == tenants
    for tenant in tenants:
        reach = _readable_prefixes(policy_paths(cm["data"][f"{tenant}.hcl"]))
        assert set(reach) == {f"{tenant}/"}, f"{tenant} reaches {reach}"
        for other in tenants:
            if other != tenant:
                assert not any(f"{other}/".startswith(r) or r.startswith(f"{other}/") for r in reach)
    script = cm["data"]["tenants.sh"]
    for tenant in tenants:
        role = re.search(rf"role/ns-{tenant} \\\n(.*?)token_ttl", script, re.S).group(1)
        assert f"bound_service_account_namespaces={tenant} " in role
        assert "bound_service_account_names=vault-secrets " in role and f"token_policies=ns-{tenant} " in role


def test_no_vault_role_reads_the_whole_kv_mount(prod):
    (bootstrap,) = k8s(prod, "ConfigMap", "vault-bootstrap", "vault")
    script = bootstrap["data"]["bootstrap.sh"]
    eso = script.split("vault policy write external-secrets - <<'POLICY'\n", 1)[1].split("POLICY", 1)[0]
    # vault-backend serves the platform namespaces that read Vault, each below its own path
    assert _readable_prefixes(policy_paths(eso)) == ["falco/", "falco/", "spire-server/", "spire-server/"]
    assert 'secret/data/*"' not in script


def test_every_store_admits_only_the_namespaces_its_role_may_read(prod):
    stores = {s["metadata"]["name"]: s for s in k8s(prod, "ClusterSecretStore")}
    served: dict[str, str] = {}
    for name, store in stores.items():
        conditions = store["spec"].get("conditions")
        assert conditions, f"ClusterSecretStore {name} serves every namespace"
        namespaces = [ns for c in conditions for ns in c.get("namespaces", [])]
        assert all(set(c) == {"namespaces"} for c in conditions), "selectors or regexes would widen the store"
        for ns in namespaces:
            assert ns not in served, f"{ns} is served by {served[ns]} and {name}"
            served[ns] = name
    assert stores["vault-backend"]["spec"]["conditions"] == [{"namespaces": ["falco", "spire-server"]}]
    store = stores["vault-ltmc-production"]["spec"]
    assert store["conditions"] == [{"namespaces": ["ltmc-production"]}]
    auth = store["provider"]["vault"]["auth"]["kubernetes"]
    assert auth["role"] == "ns-ltmc-production"
    assert auth["serviceAccountRef"] == {"name": "vault-secrets", "namespace": "ltmc-production",
                                         "audiences": ["vault"]}


def test_every_external_secret_uses_its_namespace_store_and_prefix(prod):
    stores = {s["metadata"]["name"]: s for s in k8s(prod, "ClusterSecretStore")}
    found = k8s(prod, "ExternalSecret")
    assert found
    for es in found:
        ns = es["metadata"]["namespace"]
        store = stores[es["spec"]["secretStoreRef"]["name"]]
        assert ns in store["spec"]["conditions"][0]["namespaces"]
        for item in es["spec"]["data"]:
            assert key_in_prefix(item["remoteRef"]["key"], vault_prefix(ns)), (ns, item)


def test_the_tenant_service_account_mounts_no_token():
    args = TenantSecretIsolationArgs(namespaces=["team-a"])
    sa = dict(tenant_manifests("team-a", args))["sa"]
    assert sa["automountServiceAccountToken"] is False and sa["metadata"]["namespace"] == "team-a"
    assert "team-b" not in tenants_script(args)


def test_platform_policy_without_platform_namespaces_grants_nothing():
    assert policy_paths(platform_policy([], "secret")) == []


@pytest.mark.parametrize("key, ok", [
    ("team-a/db", True), ("team-a/sub/db", True), ("team-b/db", False), ("team-ab/db", False), ("team-a", False),
    ("team-a/../team-b/db", False), ("team-a//db", False), ("/team-a/db", False), ("team-a/./db", False),
])
def test_key_in_prefix(key, ok):
    assert key_in_prefix(key, "team-a/") is ok
