"""Fixtures for the workload identity and mesh tests: the prod config document and a whole-program
render under mocks."""
from __future__ import annotations

import pytest

from tests.harness import ROOT, charts, k8s, prod_document, render_records

__all__ = ["ROOT", "charts", "k8s", "prod_document", "render"]


def render(overrides=None):
    return render_records(overrides)


@pytest.fixture
def prod_doc() -> dict:
    return prod_document()


@pytest.fixture(scope="package")
def prod_records():
    return render()

