"""Shared helpers for the vault and secrets tests: the prod config document, a render of the whole
program that also records each resource's dependencies, and record lookups."""
from __future__ import annotations

import json
from typing import Any

from tests.harness import (ROOT, PREFIX, k8s, of_type, one, prod_document,  # noqa: F401 (re-exported)
                           render_with_dependencies as render)

KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def policy_doc(value: Any) -> dict:
    return json.loads(value) if isinstance(value, str) else value
