"""namespace-configure-pod-security-labels (advisory): pin the Pod Security version, and audit and warn too.

Advice, not a breach (the Kubernetes documentation's own restricted example uses
``enforce-version: latest``): a Namespace that enforces a Pod Security level is advised to

- pin ``enforce-version`` to the cluster's minor version (``v1.N``), so an upgrade of the control
  plane cannot start refusing pods that ran yesterday (an availability choice: ``latest``, or no
  label, follows the cluster);
- set ``audit`` and ``warn`` at least as strict as ``enforce``, so a refused or would-be-refused pod
  is logged in the audit log and shown to whoever applies it.

A Namespace without an ``enforce`` label is namespace-enforce-pod-security's finding, not this one's.
"""
from __future__ import annotations

from pulumi_policy import EnforcementLevel, Severity

from .._lib.exemptions import POD_SECURITY_LEVELS
from .._lib.framework import nist_800_171, resource_policy
from .._lib.pss import PSS_VERSION, parse_version

PREFIX = "pod-security.kubernetes.io/"


def check(obj, config):
    labels = obj.labels()
    enforce = labels.get(PREFIX + "enforce")
    if enforce not in POD_SECURITY_LEVELS:
        return
    target = config.get("version") or PSS_VERSION
    version = labels.get(PREFIX + "enforce-version")
    if version is None or version == "latest":
        state = "is latest" if version else "is not set (latest)"
        yield (f"the namespace's {PREFIX}enforce-version {state}: the rules change when the control plane is "
               f"upgraded; pin the cluster's minor version (e.g. {target}) to upgrade them deliberately")
    elif parse_version(version) is None:
        yield (f"the namespace's {PREFIX}enforce-version is {version!r}, not 'latest' or 'v1.N': Pod Security "
               f"admission reads it as latest and logs an error; pin e.g. {target}")
    rank = POD_SECURITY_LEVELS.index(enforce)
    for mode in ("audit", "warn"):
        value = labels.get(PREFIX + mode)
        if value is None:
            yield (f"the namespace has no {PREFIX}{mode} label: pods that break the Pod Security level are "
                   f"not {'logged in the audit log' if mode == 'audit' else 'shown to the user'}; set it to {enforce}")
        elif value not in POD_SECURITY_LEVELS or POD_SECURITY_LEVELS.index(value) > rank:
            yield f"the namespace sets {PREFIX}{mode}: {value!r}, weaker than enforce ({enforce}); set it to {enforce}"


POLICY = resource_policy(
    name="namespace-configure-pod-security-labels",
    description="Advice: Namespaces pin the Pod Security version and set audit and warn as strict as enforce.",
    kinds=[("core", "Namespace")],
    severity=Severity.LOW,
    control=nist_800_171("3.4.2"),
    tags=["cmmc:CM.L2-3.4.2", "iec62443:SR 6.1", "nist800-207:tenet-7", "cis-k8s:5.2.1"],
    remediation="""
Set pod-security.kubernetes.io/enforce-version (and audit-version, warn-version) to the cluster's
minor version, e.g. v1.33, and pod-security.kubernetes.io/audit and .../warn to the enforced
level. HardenedNamespace does all of this.""",
    config={
        "version": {"type": "string", "pattern": r"^v1\.\d+$", "default": PSS_VERSION,
                    "description": "The version the advice suggests pinning (the cluster's minor version)."},
    },
    enforcement_level=EnforcementLevel.ADVISORY,
    check=check,
)
