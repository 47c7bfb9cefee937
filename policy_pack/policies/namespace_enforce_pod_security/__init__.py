"""namespace-enforce-pod-security: every Namespace enforces the restricted Pod Security Standard.

``pod-security.kubernetes.io/enforce`` at ``restricted`` (or at the level an unexpired entry of
policy_pack/exemptions.yaml allows that namespace, via ``namespacePodSecurity``), and an
``enforce-version`` that holds every rule of the pinned profile: ``latest``, unset (which means
latest) or ``v1.N`` from v1.30 on. An older version drops rules (v1.29 and before admit
``appArmorProfile.type: Unconfined``, v1.22 and before do not require dropping ALL capabilities).

Whether the version is pinned, and whether ``audit`` and ``warn`` are set, changes what is logged
and shown, and when rules change, not what is admitted: namespace-configure-pod-security-labels
advises on those.
"""
from __future__ import annotations

import re

from pulumi_policy import Severity

from .._lib.exemptions import POD_SECURITY_LEVELS, namespace_pod_security
from .._lib.framework import builtin_exemptions, nist_800_171, resource_policy
from .._lib.pss import CHECKS_SINCE, MINIMUM_VERSION, parse_version

PREFIX = "pod-security.kubernetes.io/"
VERSION = re.compile(r"^v1\.\d+$")


def _rank(level: str) -> int:
    return POD_SECURITY_LEVELS.index(level)


def check(obj, config):
    labels = obj.labels()
    allowed = namespace_pod_security(obj.name, builtin_exemptions())
    where = "" if allowed == "restricted" else f" (policy_pack/exemptions.yaml allows {allowed} here)"

    key = PREFIX + "enforce"
    enforce = labels.get(key)
    if enforce is None:
        yield f"the namespace has no {key} label, so no Pod Security level is enforced; set it to {allowed}{where}"
    elif enforce not in POD_SECURITY_LEVELS:
        yield (f"the namespace has {key}: {enforce!r}, which is not a Pod Security level "
               f"({', '.join(POD_SECURITY_LEVELS)}); set it to {allowed}{where}")
    elif _rank(enforce) > _rank(allowed):
        yield (f"the namespace enforces Pod Security '{enforce}', weaker than the allowed '{allowed}'"
               f"{where}; set {key}: {allowed}, or add a justified namespacePodSecurity entry to "
               "policy_pack/exemptions.yaml")

    version = labels.get(PREFIX + "enforce-version")
    pinned = config.get("pinnedVersion")
    parsed = parse_version(version)
    if parsed is not None and parsed < MINIMUM_VERSION:
        missing = [what for since, what in CHECKS_SINCE if parsed < since]
        yield (f"the namespace pins {PREFIX}enforce-version: {version}, which predates rules of the restricted "
               f"profile ({'; '.join(missing)}): pods breaking them are admitted; pin "
               f"v1.{MINIMUM_VERSION[1]} or later (the stack pins {pinned or 'v1.33'}), or use latest")
    elif pinned and version != pinned:
        yield (f"the namespace has {PREFIX}enforce-version: {version or '(unset, latest)'}; this stack's "
               f"configuration (pinnedVersion) requires {pinned}")


POLICY = resource_policy(
    name="namespace-enforce-pod-security",
    description="Namespaces must enforce the restricted Pod Security Standard, at a version that holds all its rules.",
    kinds=[("core", "Namespace")],
    severity=Severity.HIGH,
    control=nist_800_171("3.4.2"),
    tags=["cmmc:CM.L2-3.4.2", "iec62443:SR 7.6", "nist800-207:tenet-4", "cis-k8s:5.2.1"],
    remediation="""
Label the Namespace pod-security.kubernetes.io/enforce: restricted, with enforce-version latest or
pinned at v1.30 or later (the stack pins the cluster's minor version, v1.33). A system namespace
that needs a lower level gets a namespacePodSecurity entry in policy_pack/exemptions.yaml with its
reason and expiry.""",
    config={
        "pinnedVersion": {"type": "string", "pattern": r"^v1\.\d+$",
                          "description": "If set, the enforce-version every Namespace must pin (e.g. v1.33)."},
    },
    check=check,
)
