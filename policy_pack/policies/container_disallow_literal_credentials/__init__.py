"""container-disallow-literal-credentials: no credential is written as a literal env value.

``env: [{name: DB_PASSWORD, value: hunter2}]`` puts the password in the program, its state, the
review diffs and every ``kubectl get -o yaml``; a credential comes from a Secret
(``valueFrom.secretKeyRef``, delivered by External Secrets) or a mounted file.

An env entry is judged when it has a literal ``value`` (``valueFrom`` is fine). Its name is split
into words (``DB_PASSWORD``, ``db-password``, ``dbPassword`` -> DB PASSWORD) and it names a
credential when its **last** word (after dropping a trailing BASE, VALUE, DATA, B64 or BASE64)
is one of PASSWORD, PASSWD, PASS, PASSPHRASE, PWD, SECRET, SECRETS, TOKEN, TOKENS, CREDENTIAL,
CREDENTIALS, CREDS, APIKEY, PRIVATEKEY, PIN (an HSM or SIM PIN), or KEY not preceded by a word that makes it a public or
lookup key (PUBLIC, CACHE, PARTITION, SORT, ROUTING, PRIMARY, FOREIGN, OBJECT, S3, SHARD,
IDEMPOTENCY, GROUP, TABLE, INDEX, HASH, LOOKUP). Look-alikes whose last word says the value is a
reference, not the secret, are not judged: ``KEY_PATH``, ``TOKEN_FILE``, ``SECRET_NAME``,
``AWS_ACCESS_KEY_ID``, ``PASSWORD_MIN_LENGTH``, ``TOKEN_TTL``, ``SECRET_REF``, ``PWD`` (the working
directory). Nor are values that cannot be a credential: empty, only ``$(VAR)`` references (the
secret comes from another, Secret-backed variable), a path (``/var/run/...``), or a boolean or
0/1. Independently of the name, a value that is a URL with a literal password in it
(``postgres://user:pass@db``; ``$(DB_PASSWORD)`` there is a reference, and fine) is refused.
"""
from __future__ import annotations

import re

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.k8s import POD_KINDS, PodSpec, container_findings, get_str, maps

CREDENTIAL_WORDS = frozenset({"PASSWORD", "PASSWD", "PASS", "PASSPHRASE", "PWD", "SECRET", "SECRETS", "TOKEN",
                              "TOKENS", "CREDENTIAL", "CREDENTIALS", "CREDS", "APIKEY", "PRIVATEKEY", "PIN"})
NOT_SECRET_KEYS = frozenset({"PUBLIC", "CACHE", "PARTITION", "SORT", "ROUTING", "PRIMARY", "FOREIGN", "OBJECT", "S3",
                             "SHARD", "IDEMPOTENCY", "GROUP", "TABLE", "INDEX", "HASH", "LOOKUP"})
VALUE_SUFFIXES = frozenset({"BASE", "VALUE", "DATA", "B64", "BASE64"})
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_ONLY_REFERENCES = re.compile(r"^(?:\$\([A-Za-z_][A-Za-z0-9_.-]*\))+$")
_URL_PASSWORD = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*:([^/\s@]+)@")
_HARMLESS = frozenset({"true", "false", "yes", "no", "on", "off", "0", "1", "enabled", "disabled", "none", "null"})


def words(name: str) -> list[str]:
    return [w.upper() for w in _WORDS.findall(name)]


def names_credential(name: str) -> bool:
    if name.upper() in ("PWD", "OLDPWD"):
        return False
    ws = words(name)
    while len(ws) > 1 and ws[-1] in VALUE_SUFFIXES:
        ws.pop()
    if not ws:
        return False
    last = ws[-1]
    if last in CREDENTIAL_WORDS:
        return True
    if last == "KEY":
        return len(ws) == 1 or ws[-2] not in NOT_SECRET_KEYS
    return False


def could_be_credential(value: str) -> bool:
    text = value.strip()
    return not (not text or _ONLY_REFERENCES.match(text) or text.startswith("/") or text.lower() in _HARMLESS)


def check(obj, config):
    def _container(c):
        for _, entry, path in maps(c.obj, "env", c.path):
            name = get_str(entry, "name", path) or ""
            value = get_str(entry, "value", path)
            if value is None:
                continue
            url = _URL_PASSWORD.match(value.strip())
            if url and not _ONLY_REFERENCES.match(url.group(1)):
                yield (f"{c.label} env {name} ({path}.value) is a URL with a password in it; take the URL (or the "
                       "password) from a Secret with valueFrom.secretKeyRef")
            elif names_credential(name) and could_be_credential(value):
                yield (f"{c.label} env {name} ({path}.value) holds a literal credential; take it from a Secret "
                       f"(valueFrom.secretKeyRef, delivered by an ExternalSecret) or a mounted file")

    yield from container_findings(PodSpec(obj), _container)


POLICY = resource_policy(
    name="container-disallow-literal-credentials",
    description="Containers must not carry credentials (passwords, tokens, secrets, keys) as literal env values.",
    kinds=POD_KINDS,
    severity=Severity.HIGH,
    control=nist_800_171("3.5.10"),
    tags=["nist800-171:3.13.16", "cmmc:IA.L2-3.5.10", "cmmc:SC.L2-3.13.16", "iec62443:SR 1.5", "iec62443:SR 4.1",
          "nist800-207:tenet-6", "cis-k8s:5.4.1"],
    remediation="""
Store the value in Vault, deliver it with an ExternalSecret, and read it with
`valueFrom: {secretKeyRef: {name: <secret>, key: <key>}}` (or mount the Secret as a file and pass
its path, e.g. DB_PASSWORD_FILE). Rotate the credential: it has been in the program's history.""",
    check=check,
)
