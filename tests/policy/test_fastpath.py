"""The pack's fast path (policy_pack/policies/_lib/fastpath.py) changes how much work a call
costs, never what it answers: responses with and without it are identical on every sample, on
the one-field breaks and on odd inputs."""
from __future__ import annotations

import pytest
from google.protobuf import json_format
from hypothesis import strategies as st

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


def _ordered(value):
    """*value* with every dict's key order made visible (== ignores it)."""
    if isinstance(value, dict):
        return [(k, _ordered(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [_ordered(v) for v in value]
    return (type(value).__name__, value)


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False, allow_infinity=False) | st.integers(-2**53, 2**53)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20)


def test_struct_conversion_is_json_formats_on_every_sample_and_break():
    for name, resources in CASES:
        for r in resources:
            struct = to_struct(r.inputs)
            assert _ordered(fastpath.message_to_dict(struct)) == _ordered(json_format.MessageToDict(struct)), name


def test_struct_conversion_is_json_formats_on_random_values():
    from google.protobuf import struct_pb2
    from hypothesis import given, settings

    @settings(max_examples=300, deadline=None)
    @given(st.dictionaries(st.text(), _JSON_VALUES, max_size=6))
    def check(value):
        struct = struct_pb2.Struct()
        struct.update(value)
        assert _ordered(fastpath.message_to_dict(struct)) == _ordered(json_format.MessageToDict(struct))

    check()


@pytest.mark.parametrize("number", [float("inf"), float("-inf"), float("nan")])
def test_struct_conversion_leaves_what_json_cannot_hold_to_json_format(number):
    from google.protobuf import struct_pb2

    struct = struct_pb2.Struct()
    struct.update({"a": {"b": [number]}})
    with pytest.raises(ValueError) as expected:
        json_format.MessageToDict(struct)
    with pytest.raises(type(expected.value), match=str(expected.value)[:40]):
        fastpath.message_to_dict(struct)


def test_other_messages_are_converted_by_json_format():
    from pulumi.runtime.proto import analyzer_pb2 as pb

    message = pb.AnalyzeRequest(type="t", urn="u", name="n")
    assert fastpath.message_to_dict(message) == json_format.MessageToDict(message) == {"type": "t", "urn": "u",
                                                                                          "name": "n"}


def _proxy_shape(value):
    """A proxy tree as data: each proxy's class, path and contents (== alone ignores the path)."""
    from pulumi_policy.proxy import _DictProxy, _ListProxy

    if isinstance(value, _DictProxy):
        return ("dict", value._DictProxy__props_acc, [(k, _proxy_shape(v)) for k, v in value["__target"].items()])
    if isinstance(value, _ListProxy):
        return ("list", value._ListProxy__props_acc, [_proxy_shape(v) for v in value["__target"]])
    return (type(value).__name__, value)


def _three_steps(struct):
    from pulumi_policy.deserialize import deserialize_properties
    from pulumi_policy.proxy import unknown_checking_proxy

    return unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(struct)))


def test_the_one_pass_view_is_the_sdks_on_every_sample_and_break(servicers):
    for name, resources in CASES:
        for r in resources:
            struct = to_struct(r.inputs)
            assert _proxy_shape(fastpath.proxied_properties(struct)) == _proxy_shape(_three_steps(struct)), name


def test_the_one_pass_view_is_the_sdks_on_random_values(servicers):
    from google.protobuf import struct_pb2
    from hypothesis import given, settings

    secret = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "value": "s3cr3t"}

    @settings(max_examples=300, deadline=None)
    @given(st.dictionaries(st.text(), _JSON_VALUES | st.just(secret), max_size=6))
    def check(value):
        struct = struct_pb2.Struct()
        struct.update(value)
        assert _proxy_shape(fastpath.proxied_properties(struct)) == _proxy_shape(_three_steps(struct))

    check()
