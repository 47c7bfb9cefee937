"""Serve the same verdicts with less work per resource.

pulumi_policy's analyzer (1.21) does, for every resource and for every policy of the pack: turn
the request's protobuf ``Struct`` into Python values, wrap them in its unknown-checking proxy,
build the validation arguments, and call the policy, which for most policies returns at once
because it does not judge that resource type. With thirty policies that is thirty conversions
of the same message per resource, about 95% of the pack's time.

:func:`install` replaces the servicer class the SDK instantiates with a subclass that, for the
duration of one call:

- memoises the three conversion steps by the identity of their input, so every policy of one
  ``Analyze`` (and every stack policy of one ``AnalyzeStack``) shares one read-only view of the
  inputs; the memo lives exactly as long as the call;
- during ``AnalyzeStack``, defers each resource's conversion until a stack policy reads it (a
  read-only mapping that converts on first access): a stack policy judging Namespaces never pays
  for the Deployments, and pauses the cyclic garbage collector for the call;
- iterates, during ``Analyze``, only the policies that can report on the request's type: a
  framework policy (:mod:`.framework`) whose ``applies_to(type)`` is false returns without a
  word, so skipping it changes nothing; any other policy is always run.

Nothing else changes: the SDK's own ``Analyze``/``AnalyzeStack`` run unmodified on top (unknown
values, enforcement levels, configuration and remediation behave as before; remediations, which
deserialize with secrets proxied, bypass the memo). Responses are identical with and without it
(the tests compare them on every sample). It is applied only to the pulumi-policy versions it was
written against; on any other version :func:`install` does nothing and the pack runs unchanged.

Sharing one view is safe because policies only read their inputs.
"""
from __future__ import annotations

import gc
import threading
from contextlib import contextmanager
from collections.abc import Mapping
from typing import Any, Optional

SUPPORTED_VERSIONS = ("1.21.",)
_local = threading.local()


class _Scope:
    __slots__ = ("type", "memo", "stack")

    def __init__(self, type_token: Optional[str], stack: bool):
        self.type = type_token
        self.stack = stack
        self.memo: dict[tuple[str, int], tuple[Any, Any]] = {}


class _CallScope:
    """The scope of one gRPC call on this worker thread."""

    def __init__(self, type_token: Optional[str], stack: bool = False):
        self.scope = _Scope(type_token, stack)

    def __enter__(self) -> _Scope:
        self.previous = getattr(_local, "scope", None)
        _local.scope = self.scope
        return self.scope

    def __exit__(self, *exc: Any) -> None:
        _local.scope = self.previous


_gc_lock = threading.Lock()
_gc_state = {"depth": 0, "enabled": True}


@contextmanager
def _gc_paused():
    """No cyclic garbage collection while a stack call builds its view of thousands of resources
    (the collector would rescan them all, again and again: most of a 10,000-resource call).
    Reference counting still frees everything; the collector resumes when the call returns."""
    with _gc_lock:
        if _gc_state["depth"] == 0:
            _gc_state["enabled"] = gc.isenabled()
            gc.disable()
        _gc_state["depth"] += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_state["depth"] -= 1
            if _gc_state["depth"] == 0 and _gc_state["enabled"]:
                gc.enable()


def _memoised(function, step: str):
    def wrapper(value: Any, *args: Any, **kwargs: Any) -> Any:
        scope = getattr(_local, "scope", None)
        if scope is None or args or kwargs:
            return function(value, *args, **kwargs)
        key = (step, id(value))
        hit = scope.memo.get(key)
        if hit is not None and hit[0] is value:
            return hit[1]
        result = function(value)
        scope.memo[key] = (value, result)  # holding *value* keeps its id from being reused
        return result
    wrapper.__wrapped__ = function  # type: ignore[attr-defined]
    return wrapper


class _Deferred:
    """During ``AnalyzeStack``: a message whose conversion waits until a policy reads it."""

    __slots__ = ("message", "_view")

    def __init__(self, message: Any):
        self.message = message
        self._view = None

    def view(self) -> Any:
        if self._view is None:
            self._view = _ORIGINAL["proxy"](_ORIGINAL["deserialize"](_ORIGINAL["dict"](self.message)))
        return self._view


class _LazyProps(Mapping):
    """The inputs of one stack resource, converted on first read (most stack policies judge a few
    kinds, and the SDK would otherwise convert every resource of the stack up front)."""

    __slots__ = ("_deferred",)

    def __init__(self, deferred: _Deferred):
        self._deferred = deferred

    def __getitem__(self, key: Any) -> Any:
        return self._deferred.view()[key]

    def __iter__(self):
        return iter(self._deferred.view())

    def __len__(self) -> int:
        return len(self._deferred.view())

    def __setitem__(self, key: Any, value: Any) -> None:  # as the SDK's proxy allows
        self._deferred.view()[key] = value


_ORIGINAL: dict[str, Any] = {}


def _deferring(step: str):
    """In a stack call: the three steps hand a deferred conversion along instead of converting."""
    def wrapper(value: Any, *args: Any, **kwargs: Any) -> Any:
        scope = getattr(_local, "scope", None)
        if scope is None or not scope.stack or args or kwargs:
            return _MEMOISED[step](value, *args, **kwargs)
        if step == "dict":
            return _Deferred(value)
        if step == "deserialize" and isinstance(value, _Deferred):
            return value
        if step == "proxy" and isinstance(value, _Deferred):
            return _LazyProps(value)
        return _MEMOISED[step](value, *args, **kwargs)
    wrapper.__wrapped__ = _ORIGINAL.get(step)  # type: ignore[attr-defined]
    return wrapper


_MEMOISED: dict[str, Any] = {}


class _JsonFormat:
    """``json_format`` as pulumi_policy.policy sees it, with ``MessageToDict`` memoised."""

    def __init__(self, module: Any):
        self._module = module
        self.MessageToDict = _deferring("dict")  # noqa: N815 (protobuf's name)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)


class _ScopedPolicies(list):
    """The servicer's policy list. Inside an ``Analyze`` call it yields only the resource
    policies that can report on the request's type; everywhere else, every policy."""

    def __init__(self, policies, resource_policy_class, stack_policy_class):
        super().__init__(policies)
        self._resource = resource_policy_class
        self._stack = stack_policy_class
        self._by_type: dict[Optional[str], list] = {}

    def _judges(self, policy: Any, type_token: str) -> bool:
        if not isinstance(policy, self._resource):
            return False
        applies = getattr(policy, "applies_to", None)
        return applies is None or bool(applies(type_token))

    def __iter__(self):
        scope = getattr(_local, "scope", None)
        if scope is None:
            return list.__iter__(self)
        key = None if scope.stack else scope.type
        selected = self._by_type.get(key)
        if selected is None:
            if scope.stack:
                selected = [p for p in list.__iter__(self) if isinstance(p, self._stack)]
            else:
                selected = [p for p in list.__iter__(self) if self._judges(p, scope.type)]
            self._by_type[key] = selected
        return iter(selected)


def _servicer_class(sdk: Any) -> Any:
    base = sdk._PolicyAnalyzerServicer

    class Servicer(base):  # type: ignore[misc, valid-type]
        __doc__ = f"{base.__name__} with per-call shared inputs and type-scoped policies (see fastpath)."

        def __init__(self, name, version, policies, *args: Any, **kwargs: Any):
            super().__init__(name, version, policies, *args, **kwargs)
            attribute = "_PolicyAnalyzerServicer__policies"
            if isinstance(getattr(self, attribute, None), list):
                setattr(self, attribute, _ScopedPolicies(getattr(self, attribute), sdk.ResourceValidationPolicy,
                                                         sdk.StackValidationPolicy))

        def _get_resource_options(self, request):
            """The request's options, built once per call rather than once per policy."""
            scope = getattr(_local, "scope", None)
            if scope is None:
                return super()._get_resource_options(request)
            key = ("options", id(request))
            hit = scope.memo.get(key)
            if hit is not None and hit[0] is request:
                return hit[1]
            options = super()._get_resource_options(request)
            scope.memo[key] = (request, options)
            return options

        def Analyze(self, request, context):  # noqa: N802 (gRPC name)
            with _CallScope(request.type):
                return super().Analyze(request, context)

        def AnalyzeStack(self, request, context):  # noqa: N802
            with _CallScope(None, stack=True), _gc_paused():
                return super().AnalyzeStack(request, context)

    Servicer.__name__ = Servicer.__qualname__ = "HardenedAnalyzerServicer"
    Servicer._fastpath_base = base
    return Servicer


def installed() -> bool:
    from pulumi_policy import policy as sdk

    return getattr(sdk._PolicyAnalyzerServicer, "_fastpath_base", None) is not None


def install() -> bool:
    """Install into pulumi_policy; True when active (idempotent)."""
    from pulumi_policy import policy as sdk
    from pulumi_policy.version import VERSION

    if installed():
        return True
    if not str(VERSION).startswith(SUPPORTED_VERSIONS):
        return False
    needed = ("json_format", "deserialize_properties", "unknown_checking_proxy", "_PolicyAnalyzerServicer",
              "ResourceValidationPolicy", "StackValidationPolicy")
    if not all(hasattr(sdk, n) for n in needed):
        return False
    _ORIGINAL.update(dict=sdk.json_format.MessageToDict, deserialize=sdk.deserialize_properties,
                     proxy=sdk.unknown_checking_proxy)
    for step, function in _ORIGINAL.items():
        _MEMOISED[step] = _memoised(function, step)
    sdk.json_format = _JsonFormat(sdk.json_format)
    sdk.deserialize_properties = _deferring("deserialize")
    sdk.unknown_checking_proxy = _deferring("proxy")
    sdk._PolicyAnalyzerServicer = _servicer_class(sdk)
    return True


def uninstall() -> None:
    """Restore pulumi_policy's own functions and servicer (tests)."""
    from pulumi_policy import policy as sdk

    if not installed():
        return
    sdk._PolicyAnalyzerServicer = sdk._PolicyAnalyzerServicer._fastpath_base
    sdk.json_format = sdk.json_format._module
    sdk.deserialize_properties = _ORIGINAL["deserialize"]
    sdk.unknown_checking_proxy = _ORIGINAL["proxy"]


def servicer(name: str, policies: list, enforcement_level: Any, **kwargs: Any) -> Any:
    """A servicer as PolicyPack would build it (with the fast path if installed), for in-process
    tests and benchmarks that call ``Analyze`` without gRPC."""
    from pulumi_policy import policy as sdk

    return sdk._PolicyAnalyzerServicer(name, "1.0.0", policies, enforcement_level, **kwargs)
