"""The rendered prod stack as the engine would send it to the analyzer, and the policy pack
process, once per session."""
from __future__ import annotations

from pathlib import Path

import pytest

from .mutators import Res
from .packclient import Resource, start_pack

ROOT = Path(__file__).resolve().parents[2]


def analyzable(records) -> list[Res]:
    """What the engine sends the analyzer: every resource but the root stack. Custom resources and
    Helm charts go through ``Analyze``; our component wrappers only reach ``AnalyzeStack``, where
    the composition root marks the set as a whole stack (presence policies need that)."""
    return [Res(r.type, r.name, r.inputs, r.urn, r.custom) for r in records
            if not r.type.startswith("pulumi:")]


def as_resource(res: Res) -> Resource:
    return Resource(res.type, res.name, res.urn, res.inputs, res.custom)


@pytest.fixture(scope="session")
def prod_stack() -> list[Res]:
    from hardened.render import run_program

    return analyzable(run_program("prod", ROOT))


@pytest.fixture(scope="session")
def pack():
    client = start_pack()
    try:
        yield client
    finally:
        client.close()
