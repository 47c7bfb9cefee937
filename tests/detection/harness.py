"""Shared helpers for the detection and compliance tests: the prod config document, whole-program
renders under mocks, record lookups, and everything a render writes as one text."""
from __future__ import annotations

import pytest

from components.config import ConfigError, parse_stack_config
from tests.harness import ROOT, PREFIX, all_text, k8s, one, prod_document  # noqa: F401 (re-exported)
from tests.harness import render_records as render  # noqa: F401


def config_error(mutate) -> str:
    doc = prod_document()
    mutate(doc)
    with pytest.raises(ConfigError) as exc:
        parse_stack_config(doc)
    return str(exc.value)
