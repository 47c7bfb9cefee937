"""externalsecret-disallow-cross-tenant-key: an ExternalSecret reads only its own namespace's
Vault path.

The stack gives every namespace a Vault role and a store that read ``<kv mount>/data/<namespace>/*``
only (components.tenancy); this policy catches, before apply, an ExternalSecret whose key lies
outside that prefix (it would fail at sync time at best, or read another tenant's secret wherever a
store is still shared). Judged: ``spec.data[].remoteRef.key``, ``spec.dataFrom[].extract.key`` and
``spec.dataFrom[].find`` (a find must be confined to a ``path`` inside the prefix: a find without
one searches the whole mount). A key may be written relative to the mount (``team-a/db``) or with
it (``secret/team-a/db``, ``secret/data/team-a/db``); ``..``, ``.`` and empty segments are refused.
An ExternalSecret with no namespace is not judged (the prefix is unknown). Generator references
(``sourceRef.generatorRef``) read no Vault key and are not judged.

The prefix convention is the setting ``keyPrefix`` (default ``{namespace}/``); ``kvMount``
(default ``secret``) is the mount a key may name.
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.k8s import get_map, get_str, maps


def _normalise(key: str, mount: str) -> str:
    for head in (f"{mount}/data/", f"{mount}/"):
        if key.startswith(head):
            return key[len(head):]
    return key


def _inside(key: str, prefix: str) -> bool:
    parts = key.split("/")
    return key.startswith(prefix) and len(key) > len(prefix) and all(p not in ("", ".", "..") for p in parts)


def check(obj, config):
    namespace = obj.namespace
    if not namespace:
        return
    prefix = config["keyPrefix"].replace("{namespace}", namespace)
    mount = config["kvMount"].strip("/")
    fix = (f"keep the secret in Vault below {mount}/data/{prefix} and reference it as '{prefix}<path>' (or move the "
           f"ExternalSecret into the namespace that owns the secret)")
    for _, item, path in maps(obj.spec, "data", "spec"):
        ref = get_map(item, "remoteRef", path)
        key = get_str(ref, "key", f"{path}.remoteRef")
        if key is None:
            yield f"{path}.remoteRef.key is missing: the ExternalSecret names no Vault key; {fix}"
        elif not _inside(_normalise(key, mount), prefix):
            yield (f"{path}.remoteRef.key {key!r} lies outside namespace {namespace}'s Vault path {prefix!r}: a "
                   f"tenant reads only its own secrets; {fix}")
    for _, item, path in maps(obj.spec, "dataFrom", "spec"):
        source = get_map(item, "sourceRef", path)
        if get_map(source, "generatorRef", f"{path}.sourceRef"):
            continue
        extract = get_map(item, "extract", path)
        if extract:
            key = get_str(extract, "key", f"{path}.extract")
            if key is None or not _inside(_normalise(key, mount), prefix):
                yield (f"{path}.extract.key {key!r} lies outside namespace {namespace}'s Vault path {prefix!r}; {fix}")
        find = get_map(item, "find", path)
        if find:
            where = get_str(find, "path", f"{path}.find")
            if where is None:
                yield (f"{path}.find has no path: it searches the whole {mount} mount, other tenants' secrets "
                       f"included; set find.path to '{prefix.rstrip('/')}' or below")
            elif not (_inside(_normalise(where, mount) + "/x", prefix)):
                yield f"{path}.find.path {where!r} lies outside namespace {namespace}'s Vault path {prefix!r}; {fix}"


POLICY = resource_policy(
    name="externalsecret-disallow-cross-tenant-key",
    description="An ExternalSecret reads Vault keys below its own namespace's prefix only.",
    kinds=[("external-secrets.io", "ExternalSecret")],
    severity=Severity.HIGH,
    control=nist_800_171("3.1.3"),
    tags=["cmmc:AC.L2-3.1.3", "nist800-171:3.13.16", "iec62443:SR 2.1", "nist800-207:tenet-6"],
    remediation="""
Store each namespace's secrets in Vault below <kv mount>/data/<namespace>/ and reference them as
'<namespace>/<path>' from ExternalSecrets in that namespace, through the namespace's own
ClusterSecretStore vault-<namespace> (HardenedStack creates it with a Vault role that reads only
that prefix). A secret two namespaces need is written to both prefixes, never read across.""",
    config={
        "keyPrefix": {
            "type": "string", "minLength": 1, "default": "{namespace}/",
            "description": "The Vault key prefix an ExternalSecret's namespace may read; '{namespace}' is replaced by "
                           "the ExternalSecret's namespace (default '{namespace}/', the stack's convention).",
        },
        "kvMount": {
            "type": "string", "minLength": 1, "default": "secret",
            "description": "The KV v2 mount a key may name in front of the prefix (default secret).",
        },
    },
    check=check,
)
