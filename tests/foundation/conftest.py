"""Fixtures for the foundation tests: the prod config as a plain document, and a renderer."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "hardened-stack:"


@pytest.fixture
def prod_document() -> dict:
    """The prod stack's hardened-stack config as a plain (camelCase) document, fresh per test."""
    raw = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())["config"]
    return copy.deepcopy({k[len(PREFIX):]: v for k, v in raw.items() if k.startswith(PREFIX)})


def overrides(document: dict) -> dict:
    """A config document as run_program overrides (full keys)."""
    return {PREFIX + k: v for k, v in document.items()}


@pytest.fixture
def render_prod():
    """Run the real program under mocks with optional config overrides; returns Registered records."""
    from hardened.render import run_program

    def _render(stack: str = "prod", **kw):
        return run_program(stack, ROOT, **kw)

    return _render
