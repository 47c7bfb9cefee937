"""secret-disallow-literal-data: no Secret with literal data, in any namespace.

A Secret written with ``data``/``stringData`` puts the value in the program, its state and its
review diffs. Secrets come from Vault through External Secrets (an ``ExternalSecret`` that the
operator turns into the Secret in the cluster). Every namespace is judged, kube-system included
(a credential there is worth more, not less); a Secret that truly cannot come from Vault gets a
named, expiring exemption. The ``systemNamespaces`` setting (default empty) is an explicit,
visible opt-out for whole namespaces.
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.k8s import get_map

DEFAULT_SYSTEM_NAMESPACES: list[str] = []


def check(obj, config):
    namespace = obj.namespace or "default"
    if namespace in config["systemNamespaces"]:
        return
    keys = []
    for field in ("data", "stringData"):
        values = get_map(obj.props, field, "")
        keys.extend(f"{field}.{k}" for k in sorted(values, key=str))
    if keys:
        shown = ", ".join(keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")
        yield (f"the Secret carries literal values in namespace {namespace} ({shown}); deliver them from Vault with an "
               "ExternalSecret (External Secrets) instead of writing the Secret")


POLICY = resource_policy(
    name="secret-disallow-literal-data",
    description="Secrets must not be written with literal data in any namespace; use External Secrets.",
    kinds=[("core", "Secret")],
    severity=Severity.HIGH,
    control=nist_800_171("3.13.16"),
    tags=["cmmc:SC.L2-3.13.16", "cmmc:IA.L2-3.5.10", "iec62443:SR 4.1", "nist800-207:tenet-6", "cis-k8s:5.4.2"],
    remediation="""
Store the value in Vault and declare an ExternalSecret (external-secrets.io/v1) that references
it through the vault-backend ClusterSecretStore; External Secrets creates and rotates the Secret
in the cluster. Delete the literal Secret from the program.""",
    config={
        "systemNamespaces": {
            "type": "array", "items": {"type": "string", "minLength": 1}, "uniqueItems": True,
            "default": DEFAULT_SYSTEM_NAMESPACES,
            "description": "Namespaces whose Secrets are not judged (default none: every namespace is judged; "
                           "prefer a named exemption per Secret).",
        },
    },
    check=check,
)
