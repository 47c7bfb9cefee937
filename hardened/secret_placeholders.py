"""Secrets for an offline render: clearly marked placeholders, never values.

A stack's secrets are set with ``pulumi config set --secret hardened-stack:<key> <value>``: the
CLI encrypts them with the stack's secrets provider and writes ``secure: v1:<ciphertext>`` into
``Pulumi.<stack>.yaml``. Nothing here can decrypt that, and a stack file carries no such entry
until its owner sets one. ``render`` therefore fills every secret the configuration requires
(:func:`required`) with the marked placeholder :data:`PLACEHOLDER` (a Pulumi secret like the real
value, so it is redacted in every output) and says so on stderr (:func:`notice`).

The rules mirror where components/stack.py calls ``Secrets.require``; keep them in step
(tests/foundation/test_stack_secrets.py). The SPIRE datastore password is no stack secret: it comes
from Vault through External Secrets (components/spire.py).
"""
from __future__ import annotations

from typing import Any, Mapping

PROJECT = "hardened-stack"
#: The value a required secret gets offline (the same marker ``secure:`` entries get).
PLACEHOLDER = "offline-placeholder-secret"


def required(document: Mapping[str, Any]) -> dict[str, str]:
    """``{secret key: the setting that needs it}`` for a plain config document (camelCase keys,
    values decoded). An invalid document requires nothing here: the program reports it."""
    from components.config import SECRET_KEYS, ConfigError, parse_stack_config

    try:
        cfg = parse_stack_config({k: v for k, v in document.items() if k not in SECRET_KEYS})
    except (ConfigError, ValueError, TypeError):
        return {}
    out: dict[str, str] = {}
    if cfg.vault.enabled and cfg.vault.edition == "enterprise":
        out["vaultLicense"] = "vault.edition enterprise"
    rd = cfg.runtime_detection
    if rd.enabled and rd.siem.splunk is not None and not rd.siem.splunk.token_vault_key:
        out["splunkHecToken"] = "runtimeDetection.siem.splunk (without tokenVaultKey)"
    return out


def fill(config: dict[str, str], secret_keys: list[str]) -> dict[str, str]:
    """Add a placeholder for each required secret the stack does not set; ``{full key: needed by}``
    of those added. *config* is ``{"<ns>:<key>": str}`` as the engine hands it to the program."""
    import json

    prefix = f"{PROJECT}:"
    document = {}
    for key, value in config.items():
        if key.startswith(prefix) and key not in secret_keys:
            try:
                document[key[len(prefix):]] = json.loads(value)
            except ValueError:
                document[key[len(prefix):]] = value
    added = {}
    for key, needed_by in required(document).items():
        full = prefix + key
        if full not in config:
            config[full] = PLACEHOLDER
            secret_keys.append(full)
            added[full] = needed_by
    return added


def notice(added: Mapping[str, str]) -> list[str]:
    """The stderr lines ``render`` prints for the placeholders it used."""
    return [f"render: note: secret {key} (needed by {needed_by}) is not in the stack file; the offline render "
            f"uses the placeholder {PLACEHOLDER!r} (a Pulumi secret, redacted in every output). Before "
            f"`pulumi up`, set it: pulumi config set --secret {key} <value>"
            for key, needed_by in sorted(added.items())]
