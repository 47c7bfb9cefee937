"""The pack reads ``AnalyzeStack`` from its wire form (policy_pack/policies/_lib/fastpath.py,
``read_stack_request``): one copy of the request, each resource indexed, its properties converted
when a policy reads them, within a bounded cache; each framework stack policy is handed only the
resources it reads. None of that may change an answer: the tests compare every answer with the
SDK's own servicer (pulumi_policy/policy.py, ``_PolicyAnalyzerServicer.AnalyzeStack``) on every
sample with every field the engine sends, with the cache at its size and at none, and through a
real gRPC server."""
from __future__ import annotations

import pytest
from google.protobuf import json_format

from hardened.analyzer import resource_options, to_struct
from policy_pack.policies import all_policies
from policy_pack.policies._lib import fastpath
from policy_pack.policies._lib.framework import urn_type

from .test_fastpath import CASES, servicers  # noqa: F401 (the fixture: the fast and the SDK servicer)

CHART = "urn:pulumi:test::hardened-stack::kubernetes:helm.sh/v4:Chart::web"


def stack_request(resources):
    """The request as ``hardened check`` (and the engine) fills it: parent, options, provider,
    dependencies and property dependencies."""
    from pulumi.runtime.proto import analyzer_pb2 as pb

    provider = pb.AnalyzerProviderResource(
        type="pulumi:providers:kubernetes", urn="urn:pulumi:test::p::pulumi:providers:kubernetes::k8s", name="k8s",
        properties=to_struct({"namespace": "default"}))
    entries = []
    for i, r in enumerate(resources):
        deps = [resources[i - 1].urn] if i else []
        entries.append(pb.AnalyzerResource(
            type=r.type, properties=to_struct(r.inputs), urn=r.urn, name=r.name, parent=r.parent or "",
            options=resource_options(pb, r), provider=provider if i % 2 else None, dependencies=deps,
            propertyDependencies={"metadata": pb.AnalyzerPropertyDependencies(urns=deps)} if deps else {}))
    return pb.AnalyzeStackRequest(resources=entries)


def whole_sample_set():
    """Every sample's resources, each URN once."""
    resources, seen = [], set()
    for _, rs in CASES:
        for r in rs:
            if r.urn not in seen:
                seen.add(r.urn)
                resources.append(r)
    return resources


def answer(servicer, request):
    return json_format.MessageToDict(servicer.AnalyzeStack(request, None))


@pytest.mark.parametrize("budget", ["kept", "none"])
@pytest.mark.parametrize("case,resources", CASES, ids=[c for c, _ in CASES])
def test_stack_answers_exactly_as_the_sdk(servicers, monkeypatch, case, resources, budget):
    """With no budget every read converts again (the path of a 100,000-resource stack)."""
    if budget == "none":
        monkeypatch.setattr(fastpath, "VIEW_BUDGET", 0)
        monkeypatch.setattr(fastpath, "RECENT_VIEWS", 0)
    fast, plain = servicers
    request = stack_request(resources)
    assert answer(fast, request) == answer(plain, request)


def test_a_whole_sample_set_at_once_answers_as_the_sdk(servicers, monkeypatch):
    """Every sample in one request: each stack policy sees the others' kinds, and the cache fills."""
    monkeypatch.setattr(fastpath, "VIEW_BUDGET", 4096)
    monkeypatch.setattr(fastpath, "RECENT_VIEWS", 2)
    fast, plain = servicers
    request = stack_request(whole_sample_set())
    got = answer(fast, request)
    assert got == answer(plain, request)
    assert got.get("diagnostics"), "the set holds disallowed samples: a vacuous comparison proves nothing"


def test_chart_children_are_judged_through_their_parent(servicers):
    """A children policy (chart-missing-rendered-resources) is handed the children of the charts
    it judges: a chart with a child passes, one without is reported, as the SDK reports it."""
    from hardened.manifests import Resource

    fast, plain = servicers
    chart = Resource("kubernetes:helm.sh/v4:Chart", "web", {}, CHART)
    other = Resource("kubernetes:helm.sh/v4:Chart", "empty", {}, CHART.replace("::web", "::empty"))
    child = Resource("kubernetes:core/v1:ConfigMap", "web:default/c",
                     {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}},
                     "urn:pulumi:test::hardened-stack::kubernetes:helm.sh/v4:Chart$kubernetes:core/v1:ConfigMap::web:c",
                     parent=CHART)
    request = stack_request([chart, other, child])
    got = answer(fast, request)
    assert got == answer(plain, request)
    urns = {d.get("urn") for d in got.get("diagnostics", []) if d["policyName"] == "chart-missing-rendered-resources"}
    assert urns == {other.urn}


def test_the_reader_reads_what_protobuf_reads():
    """Odd but valid wire forms: a message field sent twice (merged), fields out of order, unknown
    fields, an empty provider, no properties at all."""
    from pulumi.runtime.proto import analyzer_pb2 as pb

    def field(number: int, payload: bytes) -> bytes:
        return fastpath_varint((number << 3) | 2) + fastpath_varint(len(payload)) + payload

    first = pb.AnalyzerResource(type="kubernetes:core/v1:ConfigMap", urn="urn:a", name="a",
                                properties=to_struct({"data": {"x": "1"}}), parent="urn:p", dependencies=["urn:d1"],
                                options=pb.AnalyzerResourceOptions(parent="urn:p", protect=True))
    second = pb.AnalyzerResource(properties=to_struct({"metadata": {"name": "a"}}), dependencies=["urn:d2"],
                                 options=pb.AnalyzerResourceOptions(ignoreChanges=["spec"]),
                                 propertyDependencies={"data": pb.AnalyzerPropertyDependencies(urns=["urn:d1"])},
                                 provider=pb.AnalyzerProviderResource())
    unknown = fastpath_varint((15 << 3) | 0) + fastpath_varint(7)  # a varint field this protocol has not
    entry = first.SerializeToString() + unknown + second.SerializeToString()
    bare = pb.AnalyzerResource(type="kubernetes:core/v1:Namespace", urn="urn:b").SerializeToString()
    data = field(1, entry) + field(1, bare)
    expected = pb.AnalyzeStackRequest.FromString(data).resources
    got = fastpath.read_stack_request(data).resources
    assert len(got) == len(expected) == 2
    for mine, theirs in zip(got, expected):
        assert (mine.type, mine.urn, mine.name, mine.parent) == (theirs.type, theirs.urn, theirs.name, theirs.parent)
        assert list(mine.dependencies) == list(theirs.dependencies)
        assert {k: list(v.urns) for k, v in mine.propertyDependencies.items()} == \
            {k: list(v.urns) for k, v in theirs.propertyDependencies.items()}
        assert mine.options == theirs.options
        assert mine.HasField("provider") == theirs.HasField("provider")
        assert mine.HasField("options") == theirs.HasField("options")
        assert mine.provider == theirs.provider
        assert json_format.MessageToDict(mine_struct(mine)) == json_format.MessageToDict(theirs.properties)


def fastpath_varint(n: int) -> bytes:
    from hardened.analyzer import _varint

    return _varint(n)


def mine_struct(resource):
    from google.protobuf import struct_pb2

    return struct_pb2.Struct.FromString(resource.properties.message)


def test_the_pack_server_reads_stack_requests_with_the_reader(servicers, monkeypatch):
    """Registered as PolicyPack registers it (pulumi_policy/policy.py, ``PolicyPack.__init__``:
    ``analyzer_pb2_grpc.add_AnalyzerServicer_to_server``) on a real gRPC server on 127.0.0.1: the
    AnalyzeStack call goes through :func:`fastpath.read_stack_request` and answers as the SDK."""
    from concurrent import futures

    import grpc
    from pulumi.runtime.proto import analyzer_pb2 as pb, analyzer_pb2_grpc
    from pulumi_policy import policy as sdk

    calls = []
    real = fastpath.read_stack_request
    monkeypatch.setattr(fastpath, "read_stack_request", lambda data: calls.append(len(data)) or real(data))
    fast, plain = servicers
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    sdk.analyzer_pb2_grpc.add_AnalyzerServicer_to_server(fast, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        resources = [r for _, rs in CASES[:40] for r in rs]
        request = stack_request(resources)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            response = analyzer_pb2_grpc.AnalyzerStub(channel).AnalyzeStack(request, timeout=60)
    finally:
        server.stop(0)
    assert calls == [request.ByteSize()]
    assert json_format.MessageToDict(response) == answer(plain, request)
    assert isinstance(response, pb.AnalyzeResponse)


def test_the_reader_knows_the_installed_protocol_and_steps_aside_for_another(servicers, monkeypatch):
    """The pinned SDK's protocol is the reader's; with another (a field added), the SDK's own
    reader serves AnalyzeStack and the answers stay the SDK's."""
    assert fastpath.reader_supported()
    fast, plain = servicers
    request = stack_request([r for _, rs in CASES[:10] for r in rs])
    monkeypatch.setitem(fastpath.READER_FIELDS, "AnalyzeStackRequest", {"resources": 1, "config": 2})
    assert not fastpath.reader_supported()
    assert answer(fast, request) == answer(plain, request)


@pytest.mark.parametrize("urn,expected", [
    ("urn:pulumi:prod::hardened-stack::kubernetes:helm.sh/v4:Chart::vault", "kubernetes:helm.sh/v4:Chart"),
    ("urn:pulumi:prod::hardened-stack::hardened:index:HardenedStack$kubernetes:helm.sh/v4:Chart::vault",
     "kubernetes:helm.sh/v4:Chart"),
    ("urn:pulumi:prod::p::kubernetes:core/v1:ConfigMap::vault:ns/name::with::colons", "kubernetes:core/v1:ConfigMap"),
    ("not-a-urn", ""),
])
def test_urn_type(urn, expected):
    assert urn_type(urn) == expected
