"""The policy pack process, once per session, for the fuzz tests."""
from __future__ import annotations

import pytest

from tests.mutation.packclient import start_pack


@pytest.fixture(scope="session")
def pack():
    client = start_pack()
    try:
        yield client
    finally:
        client.close()
