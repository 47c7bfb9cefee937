"""clustersecretstore-missing-namespace-conditions: every ClusterSecretStore says which namespaces
may use it.

A ClusterSecretStore is usable from every namespace unless its ``spec.conditions`` restrict it
(External Secrets, "Security best practices": restrict ClusterSecretStores with conditions;
external-secrets.io/v1 ``ClusterSecretStoreCondition``: ``namespaceSelector``, ``namespaces``,
``namespaceRegexes``, a namespace may use the store when any condition matches it). Without them,
any tenant that may create an ExternalSecret reads whatever the store's credentials read. Refused:
no ``conditions``; a condition that matches every namespace: an empty one, an empty
``namespaceSelector`` (``{}`` selects everything), or a regex that matches any name (``.*``,
``.+``, with or without anchors).
"""
from __future__ import annotations

import re

from pulumi_policy import Severity

from .._lib.framework import finding, nist_800_171, resource_policy
from .._lib.k8s import get_map, maps, strings

_ANY = re.compile(r"^\^?\.[*+]\$?$")


def check(obj, config):
    conditions = list(maps(obj.spec, "conditions", "spec"))
    if not conditions:
        yield finding("no-conditions", "spec.conditions is unset: every namespace may use this ClusterSecretStore and "
                                       "read what its credentials read; list the namespaces (conditions[].namespaces "
                                       "or a namespaceSelector)")
        return
    for _, condition, path in conditions:
        selector = get_map(condition, "namespaceSelector", path) if "namespaceSelector" in condition else None
        names = strings(condition, "namespaces", path)
        regexes = strings(condition, "namespaceRegexes", path)
        if (selector is not None and not selector.get("matchLabels") and not selector.get("matchExpressions")) \
                or any(_ANY.match(r) for r in regexes) or (selector is None and not names and not regexes):
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
