"""The policy pack's entry point, run by the Pulumi CLI (``python -m pulumi.policy <engine>
<this directory>``) and by ``python -m hardened check``: it builds the PolicyPack, which serves
the Analyzer protocol and prints its port. Nothing else lives here; the policies are importable
modules under ``policies/``."""
from pulumi_policy import EnforcementLevel, PolicyPack

from policies import all_policies
from policies._lib import fastpath

# Each request's inputs are deserialized once, not once per policy (see policies/_lib/fastpath.py).
fastpath.install()

PolicyPack(
    name="hardened-stack",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=all_policies(),
    description="The hardened zero-trust Kubernetes checklist: pod security, images, service accounts, RBAC, "
                "secrets, namespaces and network policies (see docs/policies.md).",
    display_name="hardened-stack",
    provider="kubernetes",
    tags=["kubernetes", "security", "nist-800-171", "cmmc", "iec-62443", "nist-800-207", "cis-kubernetes"],
)
