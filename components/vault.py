"""Vault in HA with AWS KMS auto-unseal (issue 5).

Placeholder section: the config model exists so StackConfig is complete; the component is
built in its issue.
"""
from __future__ import annotations

from pydantic import Field

from .base import StrictModel


class VaultConfig(StrictModel):
    enabled: bool = Field(True, description="Deploy this part of the stack (default true).")
