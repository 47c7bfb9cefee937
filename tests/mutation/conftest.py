"""The rendered prod stack as the engine would send it to the analyzer, and the policy pack
process, once per session."""
from __future__ import annotations

from pathlib import Path

import pytest

from .mutators import Res
from .packclient import Resource, start_pack

ROOT = Path(__file__).resolve().parents[2]


#: CustomResourceDefinitions (the charts' and the Gateway API's, nine tenths of the stack's bytes)
#: are judged by no policy (test_no_policy_judges_crds); the stack each of the hundreds of mutants is
#: analysed with keeps only their identity (a Chart of CRDs is judged by its children: they must
#: be there), which keeps every mutant's whole-stack analysis fast.
CRD = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"


def _slim(r) -> dict:
    return {k: r.inputs[k] for k in ("apiVersion", "kind", "metadata") if k in r.inputs} if r.type == CRD else r.inputs


def analyzable(records) -> list[Res]:
    """What the engine sends the analyzer: every resource but the root stack and the providers
    (and the CRDs' bodies, see :data:`CRD`). Every registration goes through ``Analyze`` (a Chart
    with no properties) and ``AnalyzeStack``, where the composition root marks the set as a whole
    stack and a Chart's children name it as their parent."""
    return [Res(r.type, r.name, _slim(r), r.urn, r.custom, r.parent) for r in records
            if not r.type.startswith("pulumi:")]


def as_resource(res: Res) -> Resource:
    return Resource(res.type, res.name, res.urn, res.inputs, res.custom, res.parent)


@pytest.fixture(scope="session")
def prod_stack() -> list[Res]:
    from tests.rendercache import cached_run_program

    return analyzable(cached_run_program("prod", ROOT))


@pytest.fixture(scope="session")
def pack():
    client = start_pack()
    try:
        yield client
    finally:
        client.close()
