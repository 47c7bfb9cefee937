"""Deserialize a resource's inputs once per ``Analyze`` call instead of once per policy.

pulumi_policy's analyzer turns the request's protobuf ``Struct`` into Python values (then wraps
them in its unknown-checking proxy) inside its loop over policies: with two dozen policies that
is two dozen identical conversions of the same message, about 95% of the pack's time per
resource. :func:`install` memoises the three conversion steps by the identity of their input,
per thread, so every policy of one call shares one read-only view of the inputs:

- results are identical (same functions, same input object; the tests compare responses with
  and without it on every sample);
- the memo holds the last few inputs of the current thread only (a gRPC worker serves one call
  at a time) and keeps them alive, so an identity can never be reused while cached;
- remediations (which deserialize with secrets proxied) and anything else bypass the memo;
- it is applied only to the pulumi-policy versions it was written against; on any other
  version :func:`install` does nothing and the pack runs exactly as before, only slower.

The policies never modify their inputs (they only read), which is what makes sharing safe.
"""
from __future__ import annotations

import threading
from typing import Any

SUPPORTED_VERSIONS = ("1.21.",)
_MEMO_SIZE = 4
_local = threading.local()


def _memo() -> list:
    memo = getattr(_local, "memo", None)
    if memo is None:
        memo = _local.memo = []
    return memo


def _memoised(function, step: str):
    def wrapper(value: Any, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs:
            return function(value, *args, **kwargs)
        memo = _memo()
        for s, source, result in memo:
            if s == step and source is value:
                return result
        result = function(value)
        memo.append((step, value, result))
        if len(memo) > _MEMO_SIZE * 3:
            del memo[0]
        return result
    wrapper.__wrapped__ = function  # type: ignore[attr-defined]
    return wrapper


class _JsonFormat:
    """``json_format`` as pulumi_policy.policy sees it, with ``MessageToDict`` memoised."""

    def __init__(self, module: Any):
        self._module = module
        self.MessageToDict = _memoised(module.MessageToDict, "dict")  # noqa: N815 (protobuf's name)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)


def installed() -> bool:
    from pulumi_policy import policy as sdk

    return isinstance(getattr(sdk, "json_format", None), _JsonFormat)


def install() -> bool:
    """Install the memo into pulumi_policy's analyzer; True when active."""
    from pulumi_policy import policy as sdk
    from pulumi_policy.version import VERSION

    if installed():
        return True
    if not str(VERSION).startswith(SUPPORTED_VERSIONS):
        return False
    needed = ("json_format", "deserialize_properties", "unknown_checking_proxy")
    if not all(hasattr(sdk, n) for n in needed):
        return False
    sdk.json_format = _JsonFormat(sdk.json_format)
    sdk.deserialize_properties = _memoised(sdk.deserialize_properties, "deserialize")
    sdk.unknown_checking_proxy = _memoised(sdk.unknown_checking_proxy, "proxy")
    return True


def uninstall() -> None:
    """Restore pulumi_policy's own functions (tests)."""
    from pulumi_policy import policy as sdk

    if not installed():
        return
    sdk.json_format = sdk.json_format._module
    sdk.deserialize_properties = sdk.deserialize_properties.__wrapped__
    sdk.unknown_checking_proxy = sdk.unknown_checking_proxy.__wrapped__
    _local.__dict__.clear()
