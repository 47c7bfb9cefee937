"""namespace-enforce-pod-security: every Namespace carries the Pod Security Standards labels.

``enforce`` at ``restricted`` (or at the level an unexpired entry of policy_pack/exemptions.yaml
allows that namespace, via ``namespacePodSecurity``), a pinned ``enforce-version`` (``v1.N``,
never ``latest``, which would change the rules under a running cluster at upgrade), and
``audit`` and ``warn`` at least as strict as the allowed level.
"""
from __future__ import annotations

import re

from pulumi_policy import Severity

from .._lib.exemptions import POD_SECURITY_LEVELS, namespace_pod_security
from .._lib.framework import builtin_exemptions, nist_800_171, resource_policy

PREFIX = "pod-security.kubernetes.io/"
VERSION = re.compile(r"^v1\.\d+$")


def _rank(level: str) -> int:
    return POD_SECURITY_LEVELS.index(level)


def check(obj, config):
    labels = obj.labels()
    name = obj.name
    allowed = namespace_pod_security(name, builtin_exemptions())
    where = "" if allowed == "restricted" else f" (policy_pack/exemptions.yaml allows {allowed} here)"

    def level(mode: str):
        key = PREFIX + mode
        value = labels.get(key)
        if value is None:
            return None, f"has no {key} label"
        if value not in POD_SECURITY_LEVELS:
            return None, f"has {key}: {value!r}, which is not a Pod Security level ({', '.join(POD_SECURITY_LEVELS)})"
        return value, None

    enforce, problem = level("enforce")
    if problem:
        yield f"the namespace {problem}; set it to {allowed}{where}"
    elif _rank(enforce) > _rank(allowed):
        yield (f"the namespace enforces Pod Security '{enforce}', weaker than the allowed '{allowed}'"
               f"{where}; set {PREFIX}enforce: {allowed}, or add a justified namespacePodSecurity entry to "
               "policy_pack/exemptions.yaml")
    version = labels.get(PREFIX + "enforce-version")
    pinned = config.get("pinnedVersion")
    if version is None:
        yield (f"the namespace has no {PREFIX}enforce-version label; pin it (e.g. {pinned or 'v1.33'}) so "
               "an upgrade cannot change the rules silently")
    elif not isinstance(version, str) or not VERSION.match(version):
        yield (f"the namespace has {PREFIX}enforce-version: {version!r}; pin a version such as "
               f"{pinned or 'v1.33'} (never latest)")
    elif pinned and version != pinned:
        yield f"the namespace pins {PREFIX}enforce-version: {version}; the policy requires {pinned}"
    for mode in ("audit", "warn"):
        value, problem = level(mode)
        if problem:
            yield f"the namespace {problem}; set it to restricted so violations are logged and shown"
        elif _rank(value) > _rank(allowed):
            yield f"the namespace sets {PREFIX}{mode}: {value}, weaker than {allowed}; set it to restricted"


POLICY = resource_policy(
    name="namespace-enforce-pod-security",
    description="Namespaces must enforce the restricted Pod Security Standard (pinned version; audit and warn too).",
    kinds=[("core", "Namespace")],
    severity=Severity.HIGH,
    control=nist_800_171("3.4.2"),
    tags=["cmmc:CM.L2-3.4.2", "iec62443:SR 7.6", "nist800-207:tenet-4", "cis-k8s:5.2.1"],
    remediation="""
Label the Namespace pod-security.kubernetes.io/enforce: restricted with enforce-version pinned to
the cluster's minor version (e.g. v1.33), and audit: restricted and warn: restricted. A system
namespace that needs a lower level gets a namespacePodSecurity entry in
policy_pack/exemptions.yaml with its reason and expiry.""",
    config={
        "pinnedVersion": {"type": "string", "pattern": r"^v1\.\d+$",
                          "description": "If set, the enforce-version every Namespace must pin (e.g. v1.33)."},
    },
    check=check,
)
