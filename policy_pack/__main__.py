"""The policy pack's entry point, run by the Pulumi CLI (``python -m pulumi.policy <engine>
<this directory>``, with the interpreter of the virtualenv PulumiPolicy.yaml names) and by
``python -m hardened check``: it builds the PolicyPack, which serves the Analyzer protocol and
prints its port. Nothing else lives here; the policies are importable modules under ``policies/``.

A malformed ``exemptions.yaml`` stops the pack with one line on stderr naming the file, the line
and the fix (no traceback)."""
import sys

from pulumi_policy import EnforcementLevel, PolicyPack

from policies import all_policies
from policies._lib import fastpath
from policies._lib.exemptions import ExemptionError
from policies._lib.framework import guard_configuration, pack_version, serve_version

# Each request's inputs are deserialized once, not once per policy (see policies/_lib/fastpath.py).
fastpath.install()
# The SDK reports every Python pack as version 0.0.1 (pulumi_policy/policy.py, PolicyPack.__init__);
# serve PulumiPolicy.yaml's version instead, as the CLI reports it.
serve_version(pack_version())
# The Pulumi CLI passes a configuration entry that names no policy on without a word: the pack
# reports it as a mandatory finding (policies/_lib/framework.py, guard_configuration).
guard_configuration()

try:
    POLICIES = all_policies()
except ExemptionError as error:
    print(f"hardened-stack policy pack: {error}", file=sys.stderr)
    sys.exit(1)

PolicyPack(
    name="hardened-stack",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=POLICIES,
    description="The hardened zero-trust Kubernetes checklist: pod security, images, service accounts, RBAC, "
                "secrets, namespaces and network policies (see docs/policies.md).",
    display_name="hardened-stack",
    provider="kubernetes",
    tags=["kubernetes", "security", "nist-800-171", "cmmc", "iec-62443", "nist-800-207", "cis-kubernetes"],
)
