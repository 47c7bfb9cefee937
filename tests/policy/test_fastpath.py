"""The pack's fast path (policy_pack/policies/_lib/fastpath.py) changes how much work a call
costs, never what it answers: responses with and without it are identical on every sample, on
the one-field breaks and on odd inputs."""
from __future__ import annotations

import pytest
from google.protobuf import json_format

from hardened.analyzer import to_struct
from hardened.manifests import UNKNOWN, load_path
from policy_pack.policies import all_policies
from policy_pack.policies._lib import fastpath

from .helpers import POD_KINDS, container, golden, golden_others, mutated, resource, samples
from .test_fields import OTHER_BREAKS, POD_BREAKS


@pytest.fixture(scope="module")
def servicers():
    from pulumi_policy import EnforcementLevel
    from pulumi_policy import policy as sdk

    was_installed = fastpath.installed()
    assert fastpath.install(), "the fast path should support the pinned pulumi-policy"
    policies = all_policies()
    fast = fastpath.servicer("hardened-stack", policies, EnforcementLevel.MANDATORY)
    plain = sdk._PolicyAnalyzerServicer._fastpath_base("hardened-stack", "1.0.0", policies, EnforcementLevel.MANDATORY)
    yield fast, plain
    if not was_installed:
        fastpath.uninstall()


def _resources():
    out = []
    for p in all_policies():
        for path in samples(p.name):
            out.append((f"{p.name}/{path.stem}", load_path(path)))
    for kind in POD_KINDS:
        for case, mutate, _ in POD_BREAKS:
            out.append((f"{kind}-{case}", [resource(mutated(golden(kind), mutate))]))
    for kind, case, mutate, _ in OTHER_BREAKS:
        out.append((f"{kind}-{case}", [resource(mutated(golden_others()[kind], mutate))]))
    out.append(("unknown-image", [resource(mutated(golden("Pod"), lambda o: container(o).update(image=UNKNOWN)))]))
    out.append(("odd", [resource({"spec": [1]}, "odd", type_="kubernetes:apps/v1:Deployment")]))
    return out


CASES = _resources()


def _answers(servicer, resources):
    from pulumi.runtime.proto import analyzer_pb2 as pb

    structs = [to_struct(r.inputs) for r in resources]
    answers = [json_format.MessageToDict(servicer.Analyze(
        pb.AnalyzeRequest(type=r.type, properties=s, urn=r.urn, name=r.name), None)) for r, s in zip(resources, structs)]
    stack = pb.AnalyzeStackRequest(resources=[pb.AnalyzerResource(type=r.type, properties=s, urn=r.urn, name=r.name)
                                              for r, s in zip(resources, structs)])
    answers.append(json_format.MessageToDict(servicer.AnalyzeStack(stack, None)))
    return answers


@pytest.mark.parametrize("case,resources", CASES, ids=[c for c, _ in CASES])
def test_fast_path_answers_exactly_as_the_sdk(servicers, case, resources):
    fast, plain = servicers
    assert _answers(fast, resources) == _answers(plain, resources)


def test_fast_path_describes_the_same_pack(servicers):
    from google.protobuf import empty_pb2

    fast, plain = servicers
    assert fast.GetAnalyzerInfo(empty_pb2.Empty(), None) == plain.GetAnalyzerInfo(empty_pb2.Empty(), None)


def test_install_is_idempotent_and_refuses_unknown_versions(monkeypatch):
    import pulumi_policy.version

    assert fastpath.install() and fastpath.install()
    if not fastpath.installed():  # pragma: no cover
        pytest.fail("not installed")
    monkeypatch.setattr(fastpath, "SUPPORTED_VERSIONS", ("9.",))
    monkeypatch.setattr(pulumi_policy.version, "VERSION", "2.0.0")
    assert fastpath.install()  # already installed: stays
    fastpath.uninstall()
    assert not fastpath.installed()
    assert not fastpath.install()  # an SDK it was not written for: left alone
    monkeypatch.undo()
    assert fastpath.install()
