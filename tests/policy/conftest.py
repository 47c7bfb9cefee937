"""The policy pack, started once per session exactly as the Pulumi CLI starts it (its own
process, the Analyzer gRPC protocol); tests that configure it restore the default after."""
from __future__ import annotations

import pytest

from hardened.analyzer import PolicyPackProcess


@pytest.fixture(scope="session")
def pack():
    with PolicyPackProcess() as process:
        yield process


@pytest.fixture
def configure(pack):
    """``configure({...})`` sends a --policy-pack-config document for this test only."""
    def apply(document: dict) -> None:
        pack.configure(document)

    yield apply
    pack.configure({})
