"""The policies, one package per policy (``<policy_name_with_underscores>/__init__.py`` exposing
``POLICY``, next to its ``samples/``). :func:`all_policies` discovers them; importing this
package imports no policy and starts nothing.

To add a policy: create ``policies/<name_with_underscores>/__init__.py`` that builds ``POLICY``
with :func:`._lib.framework.resource_policy` (or ``stack_policy``), add
``samples/allowed-*.yaml`` and ``samples/disallowed-*.yaml``, and a row in docs/policies.md.
The house-rule tests hold every policy to that.
"""
from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def policy_packages() -> list[str]:
    """Module names (``pod_disallow_privileged_containers``) of every policy package, sorted."""
    return sorted(m.name for m in pkgutil.iter_modules([str(PACKAGE_DIR)])
                  if m.ispkg and not m.name.startswith("_"))


def load_policy(module_name: str):
    """The ``POLICY`` of one policy package."""
    module = importlib.import_module(f"{__name__}.{module_name}")
    policy = getattr(module, "POLICY", None)
    if policy is None:
        raise ImportError(f"{__name__}.{module_name} defines no POLICY")
    return policy


def all_policies() -> list:
    """Every policy, sorted by name. Loads the exemptions file first, so a malformed one stops
    the pack at start with a message naming the entry and field."""
    from ._lib.framework import builtin_exemptions

    builtin_exemptions()
    policies = [load_policy(name) for name in policy_packages()]
    names = [p.name for p in policies]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"duplicate policy names: {', '.join(duplicates)}")
    return sorted(policies, key=lambda p: p.name)
