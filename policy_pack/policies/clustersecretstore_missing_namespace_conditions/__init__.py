"""clustersecretstore-missing-namespace-conditions: every ClusterSecretStore says which namespaces
may use it.

A ClusterSecretStore is usable from every namespace unless its ``spec.conditions`` restrict it
(External Secrets, "Security best practices": restrict ClusterSecretStores with conditions;
external-secrets.io/v1 ``ClusterSecretStoreCondition``: ``namespaceSelector``, ``namespaces``,
``namespaceRegexes``). How External Secrets reads them (pkg/controllers/secretstore/
client_manager.go, ``Manager.shouldProcessSecret``): no conditions, every namespace may use the
store; otherwise a namespace may use it when, in any condition, the ``namespaceSelector`` or a
``kubernetes.io/metadata.name`` selector made of one of ``namespaces`` matches the namespace's
labels, or one of ``namespaceRegexes`` matches its name (Go ``regexp.MatchString``: unanchored).
An empty condition therefore admits no namespace (it fails closed, and is not judged here).

Refused, because a new tenant namespace may use the store without anyone naming it: no
``conditions``; a ``namespaceSelector`` with no positive requirement (``{}``, or only ``NotIn`` /
``DoesNotExist`` expressions and ``Exists`` on ``kubernetes.io/metadata.name``, which the API
server sets on every namespace: a deny-list); a regex that matches any namespace name (probed on
names no tenant list would spell, e.g. ``a``, ``0``: ``.*``, ``^.+$``, ``[a-z0-9]``, ``^``).
Without them, any tenant that may create an ExternalSecret reads whatever the store's
credentials read.
"""
from __future__ import annotations

import re

from pulumi_policy import Severity

from .._lib.framework import finding, nist_800_171, resource_policy
from .._lib.k8s import get_map, maps, strings

#: Namespace names (DNS-1123 labels) no list of tenants would spell out: a regex matching all of
#: them matches any name.
_PROBES = ("a", "0", "z9", "x-1")
#: The label the API server sets on every namespace to its name (NamespaceDefaultLabelName).
_NAME_LABEL = "kubernetes.io/metadata.name"


def _regex_matches_any(regex: str) -> bool:
    try:
        pattern = re.compile(regex)
    except re.error:   # RE2 syntax Python does not read; External Secrets validates it on admission
        return False
    return all(pattern.search(p) for p in _PROBES)


def _selector_is_deny_list(selector, path: str) -> bool:
    """No positive requirement: every namespace the selector does not exclude matches it."""
    if get_map(selector, "matchLabels", path):
        return False
    for _, expr, _path in maps(selector, "matchExpressions", path):
        op, key = expr.get("operator"), expr.get("key")
        if op in ("NotIn", "DoesNotExist") or (op == "Exists" and key == _NAME_LABEL):
            continue
        return False
    return True


def check(obj, config):
    conditions = list(maps(obj.spec, "conditions", "spec"))
    if not conditions:
        yield finding("no-conditions", "spec.conditions is unset: every namespace may use this ClusterSecretStore and "
                                       "read what its credentials read; list the namespaces (conditions[].namespaces "
                                       "or a namespaceSelector)")
        return
    for _, condition, path in conditions:
        # a null selector is no selector (Go: a nil *LabelSelector is skipped)
        selector = get_map(condition, "namespaceSelector", path) if condition.get("namespaceSelector") is not None \
            else None
        regexes = strings(condition, "namespaceRegexes", path)
        if (selector is not None and _selector_is_deny_list(selector, f"{path}.namespaceSelector")) \
                or any(_regex_matches_any(r) for r in regexes):
            yield finding("matches-every-namespace", f"{path} matches every namespace: the ClusterSecretStore is "
                                                     "usable by all tenants; name the namespaces, or select them by "
                                                     "a label")


POLICY = resource_policy(
    name="clustersecretstore-missing-namespace-conditions",
    description="ClusterSecretStores restrict the namespaces that may use them (spec.conditions).",
    kinds=[("external-secrets.io", "ClusterSecretStore")],
    severity=Severity.HIGH,
    control=nist_800_171("3.1.3"),
    tags=["cmmc:AC.L2-3.1.3", "iec62443:SR 2.1", "nist800-171:3.13.16", "nist800-207:tenet-6"],
    remediation="""
Add spec.conditions naming the namespaces that may use the store (namespaces: [...]) or selecting
them by a label the platform controls; better, give each tenant a namespaced SecretStore with its
own Vault role.""",
    check=check,
)
