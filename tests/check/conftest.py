"""Inputs for the check tests: small directories of compliant and non-compliant manifests."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "policy_pack" / "policies"


#: A whole stack deploys Gatekeeper failing closed (stack-missing-gatekeeper-fail-closed), here as
#: a helm.sh/v3 Release: the provider installs it itself, so the pack judges its values (a v4 Chart
#: reaches the pack with no properties; its objects are judged instead, see hardened/engine.py).
GATEKEEPER = """\
pulumiType: kubernetes:helm.sh/v3:Release
name: gatekeeper
inputs:
  chart: gatekeeper
  version: 3.23.0
  namespace: gatekeeper-system
  values: {validatingWebhookFailurePolicy: Fail, disableAudit: false}
"""

#: ...and Falco on the modern eBPF driver with falcosidekick (stack-missing-runtime-detection).
FALCO = """\
pulumiType: kubernetes:helm.sh/v3:Release
name: falco
inputs:
  chart: falco
  version: 9.1.0
  namespace: falco
  values: {driver: {kind: modern_ebpf}, falcosidekick: {enabled: true}}
"""


@pytest.fixture
def clean_dir(tmp_path):
    """Manifests that pass every policy: a golden Deployment, its ServiceAccount, and Gatekeeper."""
    d = tmp_path / "clean"
    d.mkdir()
    (d / "gatekeeper.yaml").write_text(GATEKEEPER)
    (d / "falco.yaml").write_text(FALCO)
    (d / "deployment.yaml").write_text(
        (SAMPLES / "pod_disallow_privileged_containers" / "samples" / "allowed-golden-deployment.yaml").read_text())
    (d / "serviceaccount.yaml").write_text(
        (SAMPLES / "serviceaccount_disable_token_automount" / "samples" / "allowed-automount-off.yaml").read_text())
    return d


@pytest.fixture
def dirty_dir(tmp_path):
    """The clean manifests plus the seed's mistakes: a :latest CronJob and a literal Secret."""
    d = tmp_path / "dirty"
    d.mkdir()
    (d / "gatekeeper.yaml").write_text(GATEKEEPER)
    (d / "falco.yaml").write_text(FALCO)
    (d / "deployment.yaml").write_text(
        (SAMPLES / "pod_disallow_privileged_containers" / "samples" / "allowed-golden-deployment.yaml").read_text())
    (d / "cronjob.yaml").write_text(
        (SAMPLES / "container_disallow_mutable_image_tags" / "samples" / "disallowed-seed-latest.yaml").read_text())
    (d / "secret.yaml").write_text(
        (SAMPLES / "secret_disallow_literal_data" / "samples" / "disallowed-seed-hsm-credentials.yaml").read_text())
    return d
