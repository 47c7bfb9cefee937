"""Fixtures for the foundation tests: the prod config as a plain document, and a renderer."""
from __future__ import annotations

import pytest

from tests.harness import ROOT, full_keys
from tests.harness import prod_document as _prod_document

__all__ = ["ROOT", "overrides"]


@pytest.fixture
def prod_document() -> dict:
    """The prod stack's hardened-stack config as a plain (camelCase) document, fresh per test."""
    return _prod_document()


def overrides(document: dict) -> dict:
    """A config document as run_program overrides (full keys)."""
    return full_keys(document)

