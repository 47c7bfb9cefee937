"""Judge: every value the stack passes to a Helm chart is proven by render (tests/judges/values.py):
removing it changes what the chart renders, or tests/judges/inert_values.yaml says why not."""
from __future__ import annotations

import json
import os

import pytest

from .values import (ChartCall, chart_calls, dotted, fingerprint, leaves, load_inert, prove_all, verdict,
                     without)

KUBE_VERSION_KEY = "hardened-stack:cluster"


@pytest.fixture(scope="module")
def calls(rendered_prod) -> list[ChartCall]:
    return chart_calls(rendered_prod.out / "resources.json")


@pytest.fixture(scope="module")
def kube_version() -> str:
    from hardened.render import read_stack_config, stack_kube_version
    from tests.judges.conftest import ROOT

    return stack_kube_version(read_stack_config("prod", ROOT)[0])


@pytest.mark.selfadmission
def test_every_chart_value_changes_the_render_or_is_listed_inert(calls, kube_version):
    inert = load_inert()
    assert len(calls) >= 5, "the render holds too few charts: are they expanded?"
    total = sum(len(list(leaves(c.values))) for c in calls)
    assert total >= 100
    workers = int(os.environ.get("HARDENED_JUDGE_WORKERS", "1"))
    failures = verdict(prove_all(calls, kube_version, workers=workers), inert)
    if failures:
        pytest.fail(f"{len(failures)} of {total} chart value leaves are not proven by render:\n" + "\n".join(failures),
                    pytrace=False)


def test_inert_file_names_only_charts_of_the_render(calls):
    charts = {c.chart for c in calls}
    assert set(load_inert()) <= charts, set(load_inert()) - charts


# --- the judge itself ------------------------------------------------------------------------------

def test_leaves_and_their_removal():
    values = {"a": {"b": 1, "c": []}, "l": [{"k": 1, "m": 2}, "x"], "e": {}}
    assert [dotted(p) for p, _ in leaves(values)] == ["a.b", "a.c", "l[0].k", "l[0].m", "l[1]", "e"]
    assert without(values, ("l", 0, "k")) == {"a": {"b": 1, "c": []}, "l": [{"m": 2}, "x"], "e": {}}
    assert without(values, ("l", 1)) == {"a": {"b": 1, "c": []}, "l": [{"k": 1, "m": 2}], "e": {}}
    assert without(values, ("a", "c")) == {"a": {"b": 1}, "l": [{"k": 1, "m": 2}, "x"], "e": {}}
    assert values["l"][0] == {"k": 1, "m": 2}, "removal must not touch the original"
    assert dotted(("podAnnotations", "sidecar.istio.io/inject")) == 'podAnnotations["sidecar.istio.io/inject"]'


def test_a_live_value_changes_the_render_and_a_typo_does_not(calls, kube_version):
    """On the cheapest chart of the render: a real key changes the objects, a misspelt one
    does not, and the verdict names the misspelt one."""
    call = min((c for c in calls if len(list(leaves(c.values))) >= 3), key=lambda c: len(list(leaves(c.values))))
    base = fingerprint(call, call.values, kube_version, None)
    assert base == fingerprint(call, json.loads(json.dumps(call.values)), kube_version, None), "renders must be stable"
    typo = ChartCall(call.resource, call.chart, call.version, call.release, call.namespace,
                     {**call.values, "noSuchKeyAnywhere": {"really": True}})
    outcomes = prove_all([typo], kube_version, workers=1)
    by_key = {dotted(o.path): o.changes for o in outcomes}
    assert by_key["noSuchKeyAnywhere.really"] is False
    assert any(by_key.values()), f"no value of {call.chart} changes its render"
    failures = verdict(outcomes, {})
    assert any("noSuchKeyAnywhere.really" in f and "not a key of" in f for f in failures)
    assert not verdict(outcomes, {call.chart: {dotted(o.path): "listed for this test, on purpose"
                                               for o in outcomes if not o.changes}})
    stale = verdict(outcomes, {call.chart: {"gone.key": "a key the stack no longer passes at all"}})
    assert any("gone.key" in f and "drop the entry" in f for f in stale)
