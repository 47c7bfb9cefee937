"""manifest-disallow-credential-patterns: no manifest carries a credential that a secret scanner
recognises by its shape, wherever in the object it hides.

container-disallow-literal-credentials judges env entries by their *name*; secret-disallow-literal-data
refuses literal Secret data whatever it holds. This policy judges every other string by its *value*,
with the high-precision rules of gitleaks' default configuration (config/gitleaks.toml: each
pattern has a fixed, recognisable prefix or armour, so a match is a credential, not a guess):
AWS access key ids (``aws-access-token``, its ``EXAMPLE`` allowlist kept), private key blocks
(``private-key``), GitHub tokens (``github-pat``, ``github-fine-grained-pat``, ``github-oauth``,
``github-app-token``, ``github-refresh-token``), GitLab personal access tokens (``gitlab-pat``),
Slack tokens (``slack-*-token``), Stripe secret and restricted keys (``stripe-access-token``),
Google API keys (``gcp-api-key``), JSON Web Tokens (``jwt``), and a password written into a URL's
userinfo (``scheme://user:password@host``, placeholders such as ``$(VAR)``, ``${VAR}``, ``<pw>``
and ``%s`` excepted).

Judged: every string of every object (keys and values), so a credential is found in env values,
``args``, ``command``, probe and lifecycle ``httpHeaders``, init and ephemeral containers, any
custom resource that embeds a pod or a container, ConfigMap ``data`` and ``binaryData`` (decoded),
annotations (``last-applied-configuration`` included) and labels. Not judged: Secrets (refused
whole by secret-disallow-literal-data, decoded or not), CustomResourceDefinitions (schemas, not
data), and ``metadata.managedFields``.
"""
from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any, Iterator

from pulumi_policy import Severity
from pulumi_policy.proxy import UnknownValueError

from .._lib import fastpath
from .._lib.framework import finding, nist_800_171, resource_policy
from .._lib.k8s import DICT_PROXY, LIST_PROXY, UNKNOWN_SENTINELS, is_list, join

#: gitleaks rule id -> pattern (gitleaks config/gitleaks.toml, default rules).
PATTERNS = {
    "aws-access-token": re.compile(r"\b((?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b"),
    "private-key": re.compile(r"-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----"),
    "github-pat": re.compile(r"\bghp_[0-9a-zA-Z]{36}\b"),
    "github-fine-grained-pat": re.compile(r"\bgithub_pat_\w{82}\b"),
    "github-oauth": re.compile(r"\bgho_[0-9a-zA-Z]{36}\b"),
    "github-app-token": re.compile(r"\b(?:ghu|ghs)_[0-9a-zA-Z]{36}\b"),
    "github-refresh-token": re.compile(r"\bghr_[0-9a-zA-Z]{36}\b"),
    "gitlab-pat": re.compile(r"\bglpat-[\w-]{20}\b"),
    "slack-token": re.compile(r"\bxox[baprse]-(?:[0-9]{10,13}-)?[0-9a-zA-Z-]{10,}"),
    "stripe-access-token": re.compile(r"\b(?:sk|rk)_(?:test|live|prod)_[a-zA-Z0-9]{10,99}\b"),
    "gcp-api-key": re.compile(r"\bAIza[\w-]{35}\b"),
    "jwt": re.compile(r"\bey[a-zA-Z0-9]{17,}\.ey[a-zA-Z0-9/\\_-]{17,}\.(?:[a-zA-Z0-9/\\_-]{10,}={0,2})?"),
    "url-password": re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@'\"]+:([^\s@/'\"]+)@[^\s/@'\"]+"),
}
#: gitleaks' allowlist of its aws-access-token rule: AWS's documented example keys.
_AWS_EXAMPLE = re.compile(r"EXAMPLE$")
_PLACEHOLDER = re.compile(r"^(?:\$\(.*\)|\$\{.*\}|\$[A-Za-z_]\w*|<.*>|%[sv]|\{\{.*\}\}|\*+|x+|\.\.\.)$")
_SKIPPED_KINDS = ("Secret", "CustomResourceDefinition")
#: The fixed text each pattern cannot match without (its prefix or armour). A text holding none of
#: them matches no pattern, so the texts without a credential (nearly all) are passed by one search
#: of literals instead of thirteen pattern scans, and a text that holds some is scanned only by the
#: patterns whose literal it holds (a URL by url-password alone). Keep in step with PATTERNS:
#: tests/policy/test_credential_prefilter.py generates each pattern's matches and checks both.
_NEEDS = {
    "aws-access-token": re.compile(r"A3T|AKIA|ASIA|ABIA|ACCA"),
    "private-key": re.compile(r"PRIVATE KEY"),
    "github-pat": re.compile(r"ghp_"),
    "github-fine-grained-pat": re.compile(r"github_pat_"),
    "github-oauth": re.compile(r"gho_"),
    "github-app-token": re.compile(r"gh[us]_"),
    "github-refresh-token": re.compile(r"ghr_"),
    "gitlab-pat": re.compile(r"glpat-"),
    "slack-token": re.compile(r"xox"),
    "stripe-access-token": re.compile(r"[sr]k_"),
    "gcp-api-key": re.compile(r"AIza"),
    "jwt": re.compile(r"\.ey"),
    "url-password": re.compile(r"://"),
}
_REQUIRED = re.compile("|".join(f"(?:{p.pattern})" for p in _NEEDS.values()))
#: The same literals in a resource's properties as they travel (UTF-8, every key and string whole):
#: none there, and no binaryData to decode, means no string of the resource holds one.
_REQUIRED_BYTES = re.compile(_REQUIRED.pattern.encode("ascii"))


def _match(text: str) -> Iterator[str]:
    if _REQUIRED.search(text) is None:
        return
    for rule, pattern in PATTERNS.items():
        if _NEEDS[rule].search(text) is None:
            continue
        for m in pattern.finditer(text):
            if rule == "aws-access-token" and _AWS_EXAMPLE.search(m.group(1)):
                continue
            if rule == "url-password" and _PLACEHOLDER.match(m.group(1)):
                continue
            yield rule
            break


def _suspects(value: Any, path: str, out: list[tuple[str, str]]) -> None:
    """Every string under *value* (keys too) that holds one of the literals the patterns need,
    with its path, appended to *out* in reading order. A value unknown at preview holds no literal
    credential, so it is skipped (this policy must not turn every computed field into a finding).

    The SDK's proxies are read past (their own containers, as pulumi_policy proxy.py hands them
    with ``proxy["__target"]``, an unknown being one of its sentinel strings there), and a path is
    built only for a string that is kept: this walk visits every string of every object."""
    kind = type(value)
    if kind is str:
        if _REQUIRED.search(value) is not None:
            out.append((path, value))
        return
    if kind is DICT_PROXY:
        target = value["__target"]
        keys = list(target)
        proxied = True
    elif isinstance(value, Mapping):
        target = value
        keys = list(value.keys())
        proxied = False
    elif kind is LIST_PROXY or is_list(value):
        items = value["__target"] if kind is LIST_PROXY else value
        for i in range(len(items)):
            try:
                v = items[i]
            except UnknownValueError:
                continue
            if kind is LIST_PROXY and type(v) is str and v in UNKNOWN_SENTINELS:
                continue
            _suspects(v, f"{path}[{i}]", out)
        return
    else:
        return
    for k in keys:
        if path == "metadata" and k == "managedFields":
            continue
        if isinstance(k, str) and _REQUIRED.search(k) is not None:
            out.append((join(path, k), k))
        try:
            v = target[k]
        except UnknownValueError:
            continue
        if proxied and type(v) is str and v in UNKNOWN_SENTINELS:
            continue
        if path == "binaryData" and isinstance(v, str):
            try:
                decoded = base64.b64decode(v, validate=True).decode("utf-8")
            except (binascii.Error, ValueError):
                continue
            if _REQUIRED.search(decoded) is not None:
                out.append((join(path, str(k)), decoded))
            continue
        if type(v) is str:  # a leaf: its path only if it is kept
            if _REQUIRED.search(v) is not None:
                out.append((join(path, str(k)), v))
            continue
        _suspects(v, join(path, str(k)), out)


def check(obj, config):
    if obj.kind in _SKIPPED_KINDS:
        return
    wire = fastpath.properties_wire(obj.props)
    if wire is not None and _REQUIRED_BYTES.search(wire) is None and b"binaryData" not in wire:
        return
    seen: set[tuple[str, str]] = set()
    suspects: list[tuple[str, str]] = []
    _suspects(obj.props, "", suspects)
    for path, text in suspects:
        for rule in _match(text):
            if (path, rule) in seen:
                continue
            seen.add((path, rule))
            yield finding(rule, f"{path} holds what secret scanners recognise as a credential (gitleaks rule {rule}); "
                                "move it to Vault and deliver it through an ExternalSecret (a Secret reference or a "
                                "mounted file), and rotate it: it is in the program's history and state already")




POLICY = resource_policy(
    name="manifest-disallow-credential-patterns",
    description="No manifest string matches a secret scanner's credential pattern (keys, tokens, private keys, "
                "passwords in URLs).",
    kinds=["*"],
    severity=Severity.HIGH,
    control=nist_800_171("3.13.16"),
    tags=["cis-k8s:5.4.1", "cmmc:IA.L2-3.5.10", "cmmc:SC.L2-3.13.16", "iec62443:SR 1.5", "iec62443:SR 4.1",
          "nist800-171:3.5.10", "nist800-207:tenet-6"],
    remediation="""
Remove the credential from the manifest: store it in Vault, deliver it with an ExternalSecret
(a secretKeyRef or a mounted Secret file), and rotate it, since it is already in the program's
history, state and review diffs.""",
    check=check,
)
