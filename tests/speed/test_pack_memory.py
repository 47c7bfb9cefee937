"""The policy pack's memory per resource in ``AnalyzeStack`` (issue 26: the pack's process at or
under 600 MB at 100,000 generated resources, growing linearly; benchmarks/run.py measures the
process itself, minutes long). This guard is the same call in-process on the benchmark's corpus
(the prod render cycled, benchmarks/generate.py ``manifest_corpus``) at two small sizes: the Python
memory an added resource costs at the peak of the call (tracemalloc), with the pack's cache of
converted properties held at a quarter megabyte, as it is full at 100,000 resources
(policy_pack/policies/_lib/fastpath.py, ``VIEW_BUDGET``). The request's own bytes are allocated
before the measure starts (about 1.9 KB of wire per resource here)."""
from __future__ import annotations

import tracemalloc

import pytest

from benchmarks.generate import manifest_corpus
from hardened.analyzer import resource_options, to_struct
from hardened.manifests import load_path
from tests.harness import ROOT

SIZES = (500, 1000)
#: Bytes per added resource at the call's peak. Measured 2.6 to 3.6 KB (2026-12-05, 500 to 4,000
#: resources); before the pack read the request from its wire form and bounded its cache, a stack
#: policy that reads every resource (serviceaccount-disallow-idle-sensitive-permissions) held every
#: converted resource and a copy of it: 13.1 KB, which is 1.25 GB at 100,000.
BOUND = 5000


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    from hardened.render import write_output
    from tests.rendercache import cached_run_program

    out = tmp_path_factory.mktemp("pack-memory")
    write_output(cached_run_program("prod", ROOT), out / "render", "prod")
    paths = {}
    for n in SIZES:
        manifest_corpus(out / "render", n, out / f"corpus{n}", crds=False)
        paths[n] = out / f"corpus{n}"
    return paths


def stack_bytes(resources) -> bytes:
    from pulumi.runtime.proto import analyzer_pb2 as pb

    return pb.AnalyzeStackRequest(resources=[
        pb.AnalyzerResource(type=r.type, properties=to_struct(r.inputs), urn=r.urn, name=r.name, parent=r.parent,
                            options=resource_options(pb, r)) for r in resources]).SerializeToString()


def test_pack_memory_per_resource_stays_bounded(corpora, monkeypatch):
    from pulumi_policy import EnforcementLevel

    from policy_pack.policies import all_policies
    from policy_pack.policies._lib import fastpath

    was_installed = fastpath.installed()
    assert fastpath.install()
    try:
        monkeypatch.setattr(fastpath, "VIEW_BUDGET", 256 * 1024)
        servicer = fastpath.servicer("hardened-stack", all_policies(), EnforcementLevel.MANDATORY)
        peaks = {}
        for n, path in corpora.items():
            data = stack_bytes(load_path(path))
            tracemalloc.start()
            try:
                response = servicer.AnalyzeStack(fastpath.read_stack_request(data), None)
                peaks[n] = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
            assert response.diagnostics, "the corpus holds findings: a pack that judged nothing would be cheap"
    finally:
        if not was_installed:
            fastpath.uninstall()
    small, large = SIZES
    per_resource = (peaks[large] - peaks[small]) / (large - small)
    assert per_resource <= BOUND, f"{per_resource:.0f} bytes per resource at the peak of AnalyzeStack (peaks {peaks})"
