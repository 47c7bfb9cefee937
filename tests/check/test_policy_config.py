"""The stack's policy configuration (hardened/policyconfig.py): the pack judges with the settings
the stack gives its Gatekeeper constraints, render writes them, check and report use them."""
from __future__ import annotations

import json
import shutil

import pytest

from hardened import policyconfig
from hardened.analyzer import PolicyPackProcess
from hardened.cli import main
from hardened.render import run_program, write_output
from tests.harness import full_keys, prod_document

from .conftest import ROOT
from .test_cli import check

NEW_REGISTRY = "registry.example.com/payments"


@pytest.fixture(scope="module")
def prod_records():
    from tests.rendercache import cached_run_program

    return cached_run_program("prod", ROOT)


@pytest.fixture(scope="module")
def pack():
    with PolicyPackProcess() as p:
        yield p


@pytest.mark.parametrize("stack", ["prod", "dev"])
def test_the_document_fits_the_packs_policies_and_schemas(pack, stack):
    document = policyconfig.stack_policy_config(stack)
    pack.configure(document)  # raises ConfigError on an unknown policy or a property breaking a schema
    assert set(document) == {"pod-disallow-untrusted-registries", "container-missing-resource-limits",
                             "container-missing-probes"}


def test_every_property_is_its_twin_constraints_parameter(prod_records):
    """No drift by construction: each value is what the rendered Gatekeeper constraint enforces."""
    from components.admission import TEMPLATES_BY_CONSTRAINT

    document = policyconfig.stack_policy_config("prod")
    compared = 0
    for constraint, properties in policyconfig.PARAMETERS.items():
        template = TEMPLATES_BY_CONSTRAINT[constraint]
        [rendered] = [r.inputs for r in prod_records if r.is_kubernetes_object and r.inputs["kind"] == template.kind]
        for parameter, prop in properties.items():
            assert document[template.crossguard_policy][prop] == rendered["spec"]["parameters"][parameter]
            compared += 1
        if constraint == "containers-enforce-probes":
            assert document[template.crossguard_policy]["namespaces"] == rendered["spec"]["match"]["namespaces"]
            assert document[template.crossguard_policy]["namespaces"] == ["lego-mcp-prod", "ltmc-production"]
    assert compared == 4


def test_render_writes_it_and_check_uses_it(capsys, tmp_path):
    out = tmp_path / "prod"
    assert main(["render", "--stack", "prod", "--out", str(out), "--quiet"]) == 0
    assert json.loads((out / policyconfig.FILE_NAME).read_text()) == policyconfig.stack_policy_config("prod")
    capsys.readouterr()
    status, report, err = check(capsys, out, "--format", "json")
    assert status == 0, report
    assert f"policy configuration {out / policyconfig.FILE_NAME}" in err


def test_a_registry_the_stack_adds_is_trusted_by_both_layers(capsys, tmp_path):
    """The day-one drift: a team adds its registry to trustedRegistries and moves a workload there.
    Gatekeeper's constraint follows the stack; with the stack's policy configuration the pack
    follows too, while the pack's defaults alone would refuse the image."""
    doc = prod_document()
    # the workload runs in a namespace where signatures are verified, so the team also names the
    # release workflow that signs its images (config: an image no signature policy names is refused)
    admission = doc["admission"]
    signer = {"repository": "https://github.com/example/payments", "workflow": ".github/workflows/release.yml",
              "refs": ["refs/tags/v"], "images": [f"{NEW_REGISTRY}/**"]}
    admission["signatures"]["signers"] = admission["signatures"].get("signers", []) + [signer]
    overrides = {"trustedRegistries": doc["trustedRegistries"] + [NEW_REGISTRY], "workloads": doc["workloads"],
                 "admission": admission}
    digest = overrides["workloads"][0]["image"].split("@", 1)[1]
    overrides["workloads"][0]["image"] = f"{NEW_REGISTRY}/dashboard@{digest}"
    out = tmp_path / "render"
    write_output(run_program("prod", ROOT, overrides=full_keys(overrides)), out, "prod")
    policyconfig.write(out, policyconfig.stack_policy_config("prod", overrides=full_keys(overrides)))

    status, report, err = check(capsys, out, "--format", "json")
    assert status == 0, [v["message"] for v in json.loads(report)["violations"]]

    defaults = tmp_path / "defaults.json"
    defaults.write_text("{}")
    status, report, _ = check(capsys, out, "--format", "json", "--config", defaults)
    refused = {(v["policy"], v["resource"]["name"]) for v in json.loads(report)["violations"] if v["resource"]}
    assert status == 1 and ("pod-disallow-untrusted-registries", "dashboard") in refused


def test_check_refuses_to_guess_between_two_stacks_configurations(capsys, tmp_path):
    out = tmp_path / "a"
    assert main(["render", "--stack", "prod", "--out", str(out), "--quiet"]) == 0
    other = tmp_path / "b"
    shutil.copytree(out, other)
    document = json.loads((other / policyconfig.FILE_NAME).read_text())
    document["container-missing-resource-limits"]["maxCpu"] = "2"
    policyconfig.write(other, document)
    capsys.readouterr()
    status, _, err = check(capsys, out, other)
    assert status == 2 and "different stack policy configurations" in err and "--config" in err


def test_the_command_prints_the_document(capsys):
    assert main(["policy-config", "--stack", "dev"]) == 0
    assert json.loads(capsys.readouterr().out) == policyconfig.stack_policy_config("dev")
    assert main(["policy-config", "--stack", "nope"]) == 2
    assert "Pulumi.nope.yaml" in capsys.readouterr().err
