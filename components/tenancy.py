"""``TenantSecretIsolation``: each namespace reads only its own Vault path (issue 17).

Before, one ``ClusterSecretStore`` (``vault-backend``) served every namespace with External
Secrets' own Vault role, whose policy read ``secret/data/*``: an ``ExternalSecret`` in one tenant
could pull any other tenant's secret. Now, for every namespace that reads secrets:

* a ``ServiceAccount`` ``vault-secrets`` in the namespace (no token mounted anywhere: External
  Secrets requests a short-lived token for it with the TokenRequest API, audience ``vault``);
* a Vault Kubernetes-auth role ``ns-<namespace>`` bound to exactly that ServiceAccount in exactly
  that namespace, carrying the policy ``ns-<namespace>``, which reads
  ``<kv mount>/data/<namespace>/*`` (and lists its metadata) and nothing else;
* a ``ClusterSecretStore`` ``vault-<namespace>`` that logs in with that role and whose
  ``conditions`` admit ``ExternalSecret``s from that namespace only.

Vault has no Pulumi provider in this stack, so the roles and policies are a script rendered from
the config (``templates/vault-tenants.sh.j2``) in the ConfigMap ``vault/vault-tenancy``, run after
the bootstrap (docs/secrets.md); the policy text of each namespace is also there as
``<namespace>.hcl`` for review. ``vault-backend`` stays for the platform's own namespaces (Falco's
HEC token), narrowed the same way (:func:`platform_policy`).

The prefix convention (``<namespace>/``, :func:`components.config.vault_prefix`) is what the
policy pack's ``externalsecret-disallow-cross-tenant-key`` checks by default.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import jinja2
import pulumi
from pydantic import Field

from .base import HardenedComponent, StrictModel, child_opts, k8s_object, standard_labels, vault_prefix
from .secrets import ESO_API_VERSION, VAULT_AUDIENCE, VAULT_TLS_SECRET, SecretsConfig, store_conditions

TOKEN = "hardened:index:TenantSecretIsolation"

#: The ServiceAccount each namespace's store logs in to Vault with.
SERVICE_ACCOUNT = "vault-secrets"
CONFIGMAP = "vault-tenancy"
TEMPLATES = Path(__file__).parent / "templates"
_ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), undefined=jinja2.StrictUndefined,
                          keep_trailing_newline=True, autoescape=False)


def store_name(namespace: str) -> str:
    """The ClusterSecretStore a namespace's ExternalSecrets name."""
    return f"vault-{namespace}"


def role_name(namespace: str) -> str:
    """The Vault Kubernetes-auth role (and policy) of a namespace."""
    return f"ns-{namespace}"


def namespace_policy(namespace: str, kv_mount: str) -> str:
    """The Vault policy of one namespace: read its own KV v2 prefix, nothing else (HCL)."""
    prefix = vault_prefix(namespace)
    return (f'path "{kv_mount}/data/{prefix}*" {{\n  capabilities = ["read"]\n}}\n'
            f'path "{kv_mount}/metadata/{prefix}*" {{\n  capabilities = ["read", "list"]\n}}\n')


def platform_policy(namespaces: list[str], kv_mount: str) -> str:
    """External Secrets' own role (``vault-backend``): the platform namespaces' prefixes only; with
    none, a policy that grants nothing (Vault denies by default)."""
    if not namespaces:
        return "# no platform namespace reads secrets through vault-backend: this policy grants nothing\n"
    return "".join(namespace_policy(ns, kv_mount) for ns in sorted(namespaces))


def policy_paths(hcl: str) -> list[str]:
    """The ``path "..."`` entries of a policy (tests, docs)."""
    import re

    return re.findall(r'^path "([^"]+)"', hcl, flags=re.M)


class TenantSecretIsolationArgs(StrictModel):
    namespaces: list[str] = Field(description="Namespaces that read secrets, each from its own Vault prefix.")
    config: SecretsConfig = Field(default_factory=SecretsConfig, description="The secrets section (mounts, address).")
    vault_namespace: str = Field("vault", description="Namespace of Vault (its CA Secret, the tenancy ConfigMap).")
    manage_vault_configmap: bool = Field(
        True, description="Write the roles/policies script into the Vault namespace (default true; false when Vault "
                          "is not part of the stack).")


def tenants_script(args: TenantSecretIsolationArgs) -> str:
    e = args.config.external_secrets
    tenants = [{"namespace": ns, "role": role_name(ns), "policy": role_name(ns),
                "hcl": namespace_policy(ns, e.kv_mount)} for ns in sorted(args.namespaces)]
    return _ENV.get_template("vault-tenants.sh.j2").render(
        tenants=tenants, auth_mount=e.vault_auth_mount, kv_mount=e.kv_mount, audience=VAULT_AUDIENCE,
        service_account=SERVICE_ACCOUNT, token_ttl="1h", token_max_ttl="24h")


def tenant_manifests(namespace: str, args: TenantSecretIsolationArgs) -> list[tuple[str, dict]]:
    """The ServiceAccount and the scoped ClusterSecretStore of one namespace: a pure function."""
    c = args.config
    e = c.external_secrets
    name = store_name(namespace)
    return [
        ("sa", {"apiVersion": "v1", "kind": "ServiceAccount", "automountServiceAccountToken": False,
                "metadata": {"name": SERVICE_ACCOUNT, "namespace": namespace,
                             "labels": standard_labels(SERVICE_ACCOUNT, "secret-store")}}),
        ("store", {
            "apiVersion": ESO_API_VERSION,
            "kind": "ClusterSecretStore",
            "metadata": {"name": name, "labels": standard_labels(name, "secret-store")},
            "spec": {
                # Only ExternalSecrets of this namespace may use the store (and so this Vault role).
                "conditions": store_conditions([namespace]),
                "provider": {"vault": {
                    "server": c.vault_address,
                    "path": e.kv_mount,
                    "version": "v2",
                    "caProvider": {"type": "Secret", "name": VAULT_TLS_SECRET, "namespace": args.vault_namespace,
                                   "key": "ca.crt"},
                    "auth": {"kubernetes": {
                        "mountPath": e.vault_auth_mount,
                        "role": role_name(namespace),
                        "serviceAccountRef": {"name": SERVICE_ACCOUNT, "namespace": namespace,
                                              "audiences": [VAULT_AUDIENCE]},
                    }},
                }},
                "refreshInterval": 300,
            },
        }),
    ]


def vault_configmap(args: TenantSecretIsolationArgs) -> dict:
    kv = args.config.external_secrets.kv_mount
    data = {"tenants.sh": tenants_script(args)}
    data.update({f"{ns}.hcl": namespace_policy(ns, kv) for ns in sorted(args.namespaces)})
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": CONFIGMAP, "namespace": args.vault_namespace,
                         "labels": standard_labels(CONFIGMAP, "bootstrap")},
            "data": data}


class TenantSecretIsolation(HardenedComponent):
    """One Vault role, policy and scoped ClusterSecretStore per namespace that reads secrets."""

    def __init__(self, name: str, args: TenantSecretIsolationArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(TOKEN, name, None, opts)
        self.stores: dict[str, pulumi.Resource] = {}
        self._ready_by_ns: dict[str, list[pulumi.Resource]] = {}
        ready: list[pulumi.Resource] = []
        for ns in sorted(args.namespaces):
            created = {suffix: k8s_object(f"{name}-{ns}-{suffix}", m, child_opts(self))
                       for suffix, m in tenant_manifests(ns, args)}
            self.stores[ns] = created["store"]
            self._ready_by_ns[ns] = list(created.values())
            ready += created.values()
        if args.manage_vault_configmap and args.namespaces:
            k8s_object(f"{name}-vault-tenancy", vault_configmap(args), child_opts(self))
        self.ready = ready
        self.register_outputs({"stores": {ns: store_name(ns) for ns in sorted(args.namespaces)}})

    def ready_for(self, namespace: str) -> list[pulumi.Resource]:
        """What a workload in *namespace* waits for: its own store and ServiceAccount only."""
        return list(self._ready_by_ns.get(namespace, []))
