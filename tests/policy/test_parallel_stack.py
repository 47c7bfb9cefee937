"""A large ``AnalyzeStack`` runs its stack policies in two processes (policy_pack/policies/_lib/
parallel.py): parent and child take the policies one at a time and the two answers are merged in
the SDK's order. The answer must be the SDK's own (pulumi_policy/policy.py,
``_PolicyAnalyzerServicer.AnalyzeStack``) byte for byte, whichever process took which policy, and
also when the child fails or hangs: then the parent runs what the child would have."""
from __future__ import annotations

import os
import time

import pytest
from pulumi.runtime.proto import analyzer_pb2 as pb

from policy_pack.policies._lib import fastpath, parallel

from .test_fastpath import servicers  # noqa: F401 (the fixture: the fast and the SDK servicer)
from .test_stack_request import stack_request, whole_sample_set


@pytest.fixture(scope="module")
def whole_set():
    """Every sample in one request (each stack policy meets the others' kinds)."""
    return stack_request(whole_sample_set())


@pytest.fixture
def forking(monkeypatch, counted_forks):
    """Every request is large enough to be split; the children made are counted."""
    monkeypatch.setattr(parallel, "MIN_RESOURCES", 0)
    return counted_forks


def _bytes(servicer, request) -> bytes:
    return servicer.AnalyzeStack(request, None).SerializeToString()


def test_two_processes_answer_as_the_sdk(servicers, whole_set, forking):
    fast, plain = servicers
    expected = _bytes(plain, whole_set)
    assert pb.AnalyzeResponse.FromString(expected).diagnostics, "a vacuous comparison proves nothing"
    for _ in range(3):  # which process takes which policy varies from run to run; the answer may not
        assert _bytes(fast, whole_set) == expected
    assert len(forking) == 3


def test_a_child_that_answers_nothing_leaves_its_policies_to_the_parent(servicers, whole_set, forking, monkeypatch):
    fast, plain = servicers
    real_answer = parallel.answer

    def lost(pid, fd, timeout):
        real_answer(pid, fd, timeout)  # reaped as ever, its answer lost
        return None

    monkeypatch.setattr(parallel, "answer", lost)
    assert _bytes(fast, whole_set) == _bytes(plain, whole_set)
    assert forking


def test_a_child_that_hangs_is_stopped_and_its_policies_run_by_the_parent(servicers, whole_set, forking, monkeypatch):
    fast, plain = servicers
    parent = os.getpid()
    monkeypatch.setattr(parallel, "MIN_WAIT", 0.5)
    real_claims = parallel._claims

    def claims(fd, policies, taken):
        claim = real_claims(fd, policies, taken)

        def slow():
            if os.getpid() != parent:
                time.sleep(60)  # the child takes nothing in time
            return claim()
        return slow

    monkeypatch.setattr(parallel, "_claims", claims)
    started = time.monotonic()
    assert _bytes(fast, whole_set) == _bytes(plain, whole_set)
    assert time.monotonic() - started < 30
    assert forking


def test_small_requests_and_large_ones_run_in_one_process(servicers, whole_set, monkeypatch):
    fast, plain = servicers
    monkeypatch.setattr(parallel.os, "fork", lambda: pytest.fail("forked"))
    monkeypatch.setattr(parallel, "MIN_RESOURCES", len(whole_set.resources) + 1)
    assert _bytes(fast, whole_set) == _bytes(plain, whole_set)
    monkeypatch.setattr(parallel, "MIN_RESOURCES", 0)
    monkeypatch.setattr(parallel, "MAX_BYTES", whole_set.ByteSize() - 1)
    assert _bytes(fast, whole_set) == _bytes(plain, whole_set)
    monkeypatch.delattr(parallel.os, "fork")  # Windows
    monkeypatch.setattr(parallel, "MAX_BYTES", 1 << 40)
    assert _bytes(fast, whole_set) == _bytes(plain, whole_set)


def test_answers_merge_in_the_policies_order_each_ones_reports_in_its_own():
    def d(policy, message):
        return pb.AnalyzeDiagnostic(policyName=policy, message=message)

    first = pb.AnalyzeResponse(diagnostics=[d("c", "c1"), d("a", "a1"), d("a", "a2")],
                               not_applicable=[pb.PolicyNotApplicable(policy_name="c", reason="r")])
    second = pb.AnalyzeResponse(diagnostics=[d("b", "b1"), d("d", "d1"), d("b", "b2")],
                                not_applicable=[pb.PolicyNotApplicable(policy_name="b", reason="s")])
    out = parallel.merged(first, second, ["a", "b", "c", "d"])
    assert [x.message for x in out.diagnostics] == ["a1", "a2", "b1", "b2", "c1", "d1"]
    assert [x.policy_name for x in out.not_applicable] == ["b", "c"]


def test_the_heaviest_policies_are_taken_first(servicers):
    from hardened.manifests import Resource

    fast, _ = servicers
    policies = parallel._stack_policies(fast)
    resources = fastpath.read_stack_request(stack_request([
        Resource("kubernetes:core/v1:ServiceAccount", f"sa{i}", {"metadata": {"name": f"sa{i}"}},
                 f"urn:pulumi:t::p::kubernetes:core/v1:ServiceAccount::sa{i}") for i in range(3)]
    ).SerializeToString()).resources._all
    order = parallel.heaviest_first(policies, resources)
    assert sorted(order) == list(range(len(policies)))
    reads = [sum(1 for r in resources if policies[i].reads(r.type, r.parent)) for i in order]
    assert reads == sorted(reads, reverse=True) and reads[0] > reads[-1]
