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
    analysis, _ = preview_analysis
    found = [f"{name}: {v.message}" for name in CHECKS for v in analysis.by_policy(name)]
    assert found == []


def test_the_preview_really_leaves_cloud_outputs_unknown(preview_analysis):
    """Not vacuous: the preview render holds unknown outputs (e.g. the audit bucket's ARN in the
    writers' policies), while every IRSA role's trust policy is known."""
    from hardened.manifests import RENDERED_UNKNOWN as UNKNOWN  # restored to the engine's marker when read

    _, out = preview_analysis
    resources = json.loads((out / "resources.json").read_text())["resources"]
    assert any(UNKNOWN in json.dumps(r.get("inputs")) for r in resources)
    roles = [r for r in resources if r["type"] == "aws:iam/role:Role"]
    trusts = [r["inputs"]["assumeRolePolicy"] for r in roles if "WebIdentity" in r["inputs"]["assumeRolePolicy"]]
    # every IRSA role of the stack (Vault, falcosidekick, and what else takes one) is known
    assert len(trusts) >= 2 and not any(UNKNOWN in t for t in trusts)


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
