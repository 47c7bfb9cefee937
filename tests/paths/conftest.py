"""One prod render for every data-path test (the same whole-program render the other areas use)."""
from __future__ import annotations

import pytest

from tests.harness import render_records


@pytest.fixture(scope="session")
def prod():
    return render_records()
