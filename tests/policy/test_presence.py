"""Presence policies (Gatekeeper, Falco present) judge whole stacks, not one application's YAML."""
from __future__ import annotations

import pytest

from hardened.analyzer import PolicyPackProcess
from hardened.manifests import load_path

PRESENCE = ["stack-missing-gatekeeper-fail-closed", "stack-missing-runtime-detection"]

APP = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: app-settings, namespace: shop}
data: {mode: prod}
"""
ROOT_COMPONENT = """\
---
pulumiType: hardened:index:HardenedStack
name: prod
inputs: {}
"""


def _found(analysis, policy):
    return [v for v in analysis.verdicts if v.policy == policy]


@pytest.fixture(scope="module")
def pack():
    with PolicyPackProcess() as process:
        yield process


@pytest.mark.parametrize("policy", PRESENCE)
def test_absence_is_not_reported_for_one_applications_manifests(pack, tmp_path, policy):
    (tmp_path / "app.yaml").write_text(APP)
    assert _found(pack.analyze(load_path(tmp_path)), policy) == []


@pytest.mark.parametrize("policy", PRESENCE)
def test_absence_is_reported_for_a_whole_stack(pack, tmp_path, policy):
    (tmp_path / "stack.yaml").write_text(APP + ROOT_COMPONENT)
    (verdict,) = _found(pack.analyze(load_path(tmp_path)), policy)
    assert verdict.enforcement_level == "mandatory" and "deploys no" in verdict.message


@pytest.mark.parametrize("policy", PRESENCE)
def test_require_presence_setting_demands_it_of_any_input(tmp_path, policy):
    (tmp_path / "app.yaml").write_text(APP)
    with PolicyPackProcess(config={policy: {"requirePresence": True}}) as pack:
        assert _found(pack.analyze(load_path(tmp_path)), policy)
