"""SPIFFE/SPIRE workload identity (issue 4).

Placeholder section: the config model exists so StackConfig is complete; the component is
built in its issue.
"""
from __future__ import annotations

from pydantic import Field

from .base import StrictModel


class SpireConfig(StrictModel):
    enabled: bool = Field(True, description="Deploy this part of the stack (default true).")
