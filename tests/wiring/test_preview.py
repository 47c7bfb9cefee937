"""The wiring policies at a first ``pulumi preview``: every cloud-computed output unknown
(``render --preview``), the stack judged through the real pack process (Analyze, then
AnalyzeStack). Every name one object writes into another must be known there, or the pack can only
say "cannot verify": the IRSA role ARNs, the roles' trust policies (Vault's OIDC provider ARN is
derived as IAM names it, not read from the provider's output) and every Kubernetes name."""
from __future__ import annotations

import json

import pytest

from hardened.analyzer import PolicyPackProcess
from hardened.manifests import load_path
from policy_pack.policies._lib.wiring import CHECKS
from tests.harness import ROOT


@pytest.fixture(scope="module")
def preview_analysis(tmp_path_factory):
    from hardened.render import run_program, write_output

    out = tmp_path_factory.mktemp("wiring-preview")
    write_output(run_program("prod", ROOT, preview=True), out, "prod")
    with PolicyPackProcess() as pack:
        return pack.analyze(load_path(out / "resources.json")), out


def test_a_first_preview_of_prod_has_no_wiring_finding(preview_analysis):
    """Every name is known at a first preview, except what only the cluster's creation decides: prod
    creates its cluster (cluster.create), so the IAM OIDC provider's ARN (it carries the issuer id EKS
    assigns) is unknown until then, and each IRSA trust policy with it. The pack says "cannot verify"
    for exactly those, never passes them silently, and finds nothing else."""
    analysis, _ = preview_analysis
    found = [f"{name}: {v.message}" for name in CHECKS for v in analysis.by_policy(name)]
    pending = [f for f in found if f.startswith("serviceaccount-missing-irsa-trust: cannot verify IAM role ")
               and "'s assumeRolePolicy at preview" in f]
    assert len(pending) == 2, found  # Vault's unseal role and falcosidekick's audit writer
    assert [f for f in found if f not in pending] == []


def test_the_preview_really_leaves_cloud_outputs_unknown(preview_analysis):
    """Not vacuous: the preview render holds unknown outputs (e.g. the audit bucket's ARN in the
    writers' policies); the IRSA trusts wait for the created cluster's OIDC provider."""
    from hardened.manifests import RENDERED_UNKNOWN as UNKNOWN  # restored to the engine's marker when read

    _, out = preview_analysis
    resources = json.loads((out / "resources.json").read_text())["resources"]
    assert any(UNKNOWN in json.dumps(r.get("inputs")) for r in resources)
    roles = [r for r in resources if r["type"] == "aws:iam/role:Role"]
    assert any(UNKNOWN in json.dumps(r["inputs"]) for r in roles)


def test_vaults_trust_names_the_provider_the_stack_creates_and_waits_for_it(prod_records):
    """The derived provider ARN is the one IAM gives the provider the stack creates (IAM:
    arn:<partition>:iam::<account>:oidc-provider/<issuer URL without https://>), and the role is
    created after the provider."""
    (provider,) = [r for r in prod_records if r.type == "aws:iam/openIdConnectProvider:OpenIdConnectProvider"]
    (role,) = [r for r in prod_records if r.type == "aws:iam/role:Role" and r.name.endswith("-unseal-role")]
    (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    host = provider.inputs["url"].removeprefix("https://")
    assert statement["Principal"]["Federated"] == f"arn:aws:iam::123456789012:oidc-provider/{host}"
    assert provider.urn in role.dependencies
