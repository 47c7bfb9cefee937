"""The objects of the four chart operators (Vault, cert-manager, External Secrets, Falco) as the
engine sends them: every child each ``helm.v4.Chart`` registers in the prod render passes the
pack (0 mandatory violations), each exemption of their block in policy_pack/exemptions.yaml lifts
exactly the policies it names on exactly the object it names, and every chart value is known at a
first preview, so the provider renders the children there too."""
from __future__ import annotations

import re

import pytest

from hardened.analyzer import PolicyPackProcess
from hardened.engine import CHART_TOKEN
from hardened.manifests import load_path
from hardened.policyconfig import stack_policy_config
from hardened.render import ChartContext, run_program, write_output
from policy_pack.policies._lib.exemptions import DEFAULT_PATH, load_exemptions
from tests.harness import ROOT

#: The chart resources of the four components (name suffix) and the chart each deploys.
CHARTS = {"-vault-chart": "vault", "-secrets-cert-manager": "cert-manager",
          "-secrets-external-secrets": "external-secrets", "-runtime-detection-chart": "falco"}
BLOCK = "# --- chart operators (Vault, cert-manager, External Secrets, Falco) ---"


def _block_ids() -> list[str]:
    """The ids of the entries that follow this block's header in exemptions.yaml."""
    text = DEFAULT_PATH.read_text()
    assert BLOCK in text, f"{DEFAULT_PATH.name} has no block {BLOCK!r}"
    block = text.split(BLOCK, 1)[1].split("\n# --- ", 1)[0]  # up to the next block's header
    return re.findall(r"^  - id: (\S+)$", block, re.M)


def _operator_charts(records) -> dict[str, str]:
    """URN -> chart name of the four operators' Chart resources."""
    out = {r.urn: r.inputs.get("chart") for r in records if r.type == CHART_TOKEN
           and any(r.name.endswith(suffix) for suffix in CHARTS)}
    assert sorted(out.values()) == sorted(CHARTS.values()), out
    return out


@pytest.fixture(scope="module")
def judged(tmp_path_factory):
    """The prod stack rendered and judged by the pack with the stack's own policy configuration."""
    from tests.rendercache import cached_run_program

    records = cached_run_program("prod", ROOT)
    out = tmp_path_factory.mktemp("prod")
    write_output(records, out, "prod")
    with PolicyPackProcess(config=stack_policy_config("prod", ROOT)) as pack:
        analysis = pack.analyze(load_path(out))
    return records, analysis


def test_every_object_of_the_operator_charts_passes_the_pack(judged):
    records, analysis = judged
    charts = _operator_charts(records)
    children = [r for r in analysis.resources if r.parent in charts]
    kinds = {r.kind for r in children}
    assert {"StatefulSet", "DaemonSet", "Deployment", "ServiceAccount", "CustomResourceDefinition"} <= kinds
    assert len(children) > 80
    urns = {r.urn for r in children}
    found = [f"{v.policy}: {v.resource.label}: {v.message}" for v in analysis.mandatory if v.urn in urns]
    assert found == []


def test_what_the_components_write_beside_their_charts_passes_the_pack(judged):
    """falcosidekick, Falco's and External Secrets' ServiceAccounts: the objects written next to
    the charts, in their namespaces, pass too."""
    _, analysis = judged
    around = [r for r in analysis.resources if r.is_kubernetes and r.namespace in (
        "vault", "cert-manager", "external-secrets", "falco")]
    names = {(r.kind, r.object_name) for r in around}
    assert {("Deployment", "falcosidekick"), ("ServiceAccount", "falco"),
            ("ServiceAccount", "external-secrets-webhook")} <= names
    urns = {r.urn for r in around}
    assert [f"{v.policy}: {v.resource.label}" for v in analysis.mandatory if v.urn in urns] == []


def test_no_secret_with_literal_data_among_the_operators_objects(judged):
    records, _ = judged
    charts = _operator_charts(records)
    secrets = [r.inputs["metadata"]["name"] for r in records if r.parent in charts
               and r.type == "kubernetes:core/v1:Secret" and (r.inputs.get("data") or r.inputs.get("stringData"))]
    assert secrets == []


def test_each_exemption_of_the_block_lifts_exactly_its_policies_on_exactly_its_object(judged):
    _, analysis = judged
    ids = _block_ids()
    assert ids, "the chart operators' block has no entries"
    entries = {e.id: e for e in load_exemptions() if e.id in ids}
    assert sorted(entries) == sorted(ids)
    for ident, entry in entries.items():
        assert not any(ch in entry.name + (entry.namespace or "") for ch in "*?["), f"{ident} uses a glob"
        used = [x for x in analysis.exempted if f"exemption {ident!r}" in x.reason]
        objects = {(x.resource.kind, x.resource.namespace, x.resource.object_name) for x in used}
        assert objects == {(entry.kind, entry.namespace, entry.name)}, (ident, objects)
        assert {x.policy for x in used} == set(entry.policies), ident


def test_every_operator_chart_renders_its_objects_at_a_first_preview():
    """With every AWS-computed output unknown (a first `pulumi preview`), no value of the four
    charts is unknown, so the provider renders their children and the pack judges them."""
    from hardened.render import read_stack_config, stack_kube_version

    config, _ = read_stack_config("prod", ROOT)
    ctx = ChartContext(kube_version=stack_kube_version(config))
    said: list[str] = []
    records = run_program("prod", ROOT, preview=True, charts=ctx, progress=said.append)
    charts = _operator_charts(records)
    assert [w for w in ctx.warnings if any(suffix in w for suffix in CHARTS)] == []
    for urn, chart in charts.items():
        kinds = {r.inputs["kind"] for r in records if r.parent == urn}
        workload = {"vault": "StatefulSet", "falco": "DaemonSet"}.get(chart, "Deployment")
        assert workload in kinds, (chart, sorted(kinds))
    # the preview really has unknowns: the role policy names the KMS key by its computed ARN
    policy = next(r for r in records if r.type == "aws:iam/rolePolicy:RolePolicy" and "vault" in r.name)
    assert policy.inputs["policy"] == "[unknown]"
    # prod sets no digest: each component says which of its images are pinned by tag only (and the
    # exemptions above name them), so the tag-only state is never silent
    for fragment in ("docker.io/hashicorp/vault:2.0.4 is pinned by tag only",
                     "cert-manager-controller, cert-manager-webhook, cert-manager-cainjector, cert-manager-acmesolver, "
                     "external-secrets pinned by tag only",
                     "Falco/falcosidekick images are pinned by tag only"):
        assert any(fragment in m for m in said), (fragment, said)
