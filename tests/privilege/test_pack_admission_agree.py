"""Issue 27.2: the pack and the Gatekeeper constraints always agree on what is allowed. Both are
derived from the same stack config (the constraint's parameters, and the pack configuration
`hardened policy-config` writes from them), and the same probe images go through both: the
CrossGuard policy pod-disallow-untrusted-registries (its own check) and the constraint's Rego
(regopy). A registry one admits, the other admits."""
from __future__ import annotations

import copy

import pytest

from components.admission import TEMPLATES_BY_CONSTRAINT
from components.config import ConfigError, parse_stack_config
from hardened.policyconfig import policy_config
from policy_pack.policies._lib.k8s import Obj
from policy_pack.policies.pod_disallow_untrusted_registries import check as pack_check
from tests.admission.harness import violations
from tests.harness import prod_document

REG = "images-enforce-trusted-registries"
DIGEST = "@sha256:" + "a" * 64
PROBES = [
    "ghcr.io/lego-mcp/dashboard" + DIGEST, "ghcr.io/lego-mcp-evil/dashboard" + DIGEST, "ghcr.io/lego-mcpx/a:1",
    "ghcr.io/ltmc/ltmc-mcp-server:1.0", "ghcr.io/ltmcevil/x:1", "nginx:1.27", "library/nginx:1.27",
    "docker.io/library/nginx:1.27", "docker.io/hashicorp/vault:2.0.4", "hashicorp/vault:2.0.4",
    "docker.io/hashicorpx/vault:1", "index.docker.io/hashicorp/vault:2.0.4", "quay.io/jetstack/cert-manager-controller:v1",
    "quay.io/evil/x:1", "registry.k8s.io/pause:3.10", "registry.k8s.io.evil.com/pause:3.10",
    "localhost:5000/lego-mcp/dashboard:1", "ghcr.io/sigstore/policy-controller/policy-controller:v0.10",
    "GHCR.IO/lego-mcp/dashboard:1", "ghcr.io:443/lego-mcp/dashboard:1", "registry.istio.io/release/proxyv2:1.30.3",
]
OWNER = {"team": "platform-security", "contact": "platform-security@lego-mcp.io"}


def pod(image: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "probe", "namespace": "lego-mcp-prod"},
            "spec": {"containers": [{"name": "c", "image": image}]}}


def verdicts(document: dict) -> dict[str, tuple[bool, bool]]:
    cfg = parse_stack_config(document)
    template = TEMPLATES_BY_CONSTRAINT[REG]
    params = cfg.admission.parameters(template, cfg.trusted_registries)
    pack_config = policy_config(cfg)["pod-disallow-untrusted-registries"]
    out = {}
    for image in PROBES:
        gatekeeper = not violations(template, pod(image), params)
        pack = not list(pack_check(Obj("kubernetes:core/v1:Pod", pod(image), "probe"), pack_config))
        out[image] = (gatekeeper, pack)
    return out


def widened() -> dict:
    doc = copy.deepcopy(prod_document())
    cfg = parse_stack_config(doc)
    doc["admission"]["constraints"] = {REG: {"parameters": {
        "registries": list(cfg.trusted_registries) + ["quay.io/evil", "registry.k8s.io"]}}}
    doc["optOuts"] = [{"id": "evil-mirror", "owner": OWNER, "setting": f"admission.constraints.{REG}.parameters",
                       "reason": "a reviewed mirror, for the agreement test", "expires": "2099-01-01"}]
    return doc


@pytest.mark.parametrize("make", [prod_document, widened], ids=["prod", "registries-widened-by-parameters"])
def test_the_pack_and_gatekeeper_admit_the_same_registries(make):
    v = verdicts(make())
    disagree = {image: f"gatekeeper {'admits' if g else 'denies'}, pack {'admits' if p else 'denies'}"
                for image, (g, p) in v.items() if g != p}
    assert disagree == {}
    assert any(g for g, _ in v.values()) and not all(g for g, _ in v.values())


def test_widening_by_parameters_reaches_both_and_is_on_the_ledger():
    assert verdicts(widened())["quay.io/evil/x:1"] == (True, True)
    assert verdicts(prod_document())["quay.io/evil/x:1"] == (False, False)
    doc = widened()
    doc.pop("optOuts")
    with pytest.raises(ConfigError, match=rf"admission\.constraints\.{REG}\.parameters: weakens a secure default"):
        parse_stack_config(doc)


def test_a_shared_registry_in_constraint_parameters_is_refused_as_in_trusted_registries():
    """docker.io whole would admit anyone's image in Gatekeeper; the pack trusts nothing of a
    shared host. One rule for both: the parameter is refused like trustedRegistries."""
    doc = widened()
    doc["admission"]["constraints"][REG]["parameters"]["registries"].append("docker.io")
    with pytest.raises(ConfigError, match="shared registry"):
        parse_stack_config(doc)
