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

``AnalyzeStack`` carries the whole stack in one message, which protobuf would hold as a tree of
objects four times the size of its wire form (about 600 MB at 100,000 resources of the
benchmark's corpus, on top of the received bytes). The fast path registers,
ahead of the SDK's handlers on the same gRPC server, a reader for that one method
(:func:`read_stack_request`) that keeps the message's bytes and indexes its resources: each is
read when a policy asks for it, its properties converted when a policy reads them, and the
conversions of one call live in a bounded cache (:data:`VIEW_BUDGET`), shared by the stack
policies. A framework stack policy is handed only the resources it reads
(``HardenedStackPolicy.reads``): its objects come from the resources whose type it judges, it
looks for the whole-stack component, and with ``children`` it lists the children of what it
judges.

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
from collections import OrderedDict
from contextlib import contextmanager
from collections.abc import Mapping
from typing import Any, Optional

from pulumi_policy.deserialize import SPECIAL_SIG_KEY

from .k8s import DICT_PROXY, LIST_PROXY
from .structs import NotJson, struct_to_dict

SUPPORTED_VERSIONS = ("1.21.",)
_local = threading.local()


#: Wire bytes of the resources whose converted properties one ``AnalyzeStack`` call keeps (a
#: converted view costs about six times its wire size: 12 MB of wire is about 75 MB of views, some
#: 8,800 resources of the benchmark's mix, benchmarks/generate.py; measured on 100,000 of them, the
#: pack's peak was 521 MB with 8 MB and 594 MB with 16 MB, against issue 26's bar of 600 MB, while
#: 12 MB instead of 8 saves a tenth of a 10,000-resource AnalyzeStack's time).
#: Within one stack policy, the first resources it reads stay kept; beyond the budget, the views of
#: the :data:`RECENT_VIEWS` most recently read resources are kept, and any other resource is
#: converted again when read again: a policy that scans its resources twice converts again only
#: the share that is not kept (least-recently-used alone would convert every one again). Views
#: kept for an earlier policy make room first, so every policy gets the whole budget.
VIEW_BUDGET = 12 * 1024 * 1024
RECENT_VIEWS = 256


class _Scope:
    __slots__ = ("type", "memo", "stack", "policy", "kept", "kept_bytes", "recent", "share", "claim")

    def __init__(self, type_token: Optional[str], stack: bool):
        self.type = type_token
        self.stack = stack
        # in a stack call run in two processes (parallel.py): the policies this one runs, named
        # (share) or taken one at a time from those left (claim: the next, or None)
        self.share: Optional[frozenset] = None
        self.claim: Optional[Any] = None
        self.memo: dict[tuple[str, Any], tuple[Any, Any]] = {}
        self.policy: Any = None  # in a stack call: the stack policy the SDK is running
        # the kept views, the least recently read first: view -> (wire size, policy that read it)
        self.kept: "OrderedDict[_Deferred, tuple[int, Any]]" = OrderedDict()
        self.kept_bytes = 0
        self.recent: "OrderedDict[_Deferred, None]" = OrderedDict()

    def keep(self, deferred: "_Deferred") -> None:
        """*deferred* was just read: keep its view within the budget (see :data:`VIEW_BUDGET`)."""
        kept, policy = self.kept, self.policy
        hit = kept.get(deferred)
        if hit is not None:
            if hit[1] is not policy:
                kept[deferred] = (hit[0], policy)
                kept.move_to_end(deferred)
            return
        recent = self.recent
        if deferred in recent:
            recent.move_to_end(deferred)
            return
        size = deferred.size()
        while self.kept_bytes + size > VIEW_BUDGET and kept:
            oldest = next(iter(kept))
            old_size, reader = kept[oldest]
            if reader is policy:
                break  # every kept view is this policy's
            del kept[oldest]
            oldest._view = None
            self.kept_bytes -= old_size
        if self.kept_bytes + size <= VIEW_BUDGET:
            kept[deferred] = (size, policy)
            self.kept_bytes += size
            return
        recent[deferred] = None
        if len(recent) > RECENT_VIEWS:
            old, _ = recent.popitem(last=False)
            old._view = None


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


def _remembered(scope: _Scope, step: str, value: Any, make) -> Any:
    """``make(value)``, once per *value* in the call of *scope*."""
    key = (step, id(value))
    hit = scope.memo.get(key)
    if hit is not None and hit[0] is value:
        return hit[1]
    result = make(value)
    scope.memo[key] = (value, result)  # holding *value* keeps its id from being reused
    return result


def _memoised(function, step: str):
    def wrapper(value: Any, *args: Any, **kwargs: Any) -> Any:
        scope = getattr(_local, "scope", None)
        if scope is None or args or kwargs:
            return function(value, *args, **kwargs)
        return _remembered(scope, step, value, function)
    wrapper.__wrapped__ = function  # type: ignore[attr-defined]
    return wrapper


class _Deferred:
    """During ``AnalyzeStack``: a message (or its wire form) whose conversion waits until a policy
    reads it; the view is kept within the call's :data:`VIEW_BUDGET`."""

    __slots__ = ("message", "_view")

    def __init__(self, message: Any):
        self.message = message
        self._view = None

    def view(self) -> Any:
        view = self._view
        if view is None:
            view = self._view = proxied_properties(self.struct())
        scope = getattr(_local, "scope", None)
        if scope is not None and scope.stack:
            scope.keep(self)
        return view

    def struct(self) -> Any:
        message = self.message
        if isinstance(message, memoryview):
            from google.protobuf import struct_pb2

            message = struct_pb2.Struct.FromString(message)
        return message

    def size(self) -> int:
        message = self.message
        return len(message) if isinstance(message, memoryview) else message.ByteSize()


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

    # Mapping's own get, __contains__ and items would each go through __getitem__ above, one
    # view() per key; the view's (the SDK's proxy, itself a Mapping) answer the same in one step.
    def get(self, key: Any, default: Any = None) -> Any:
        return self._deferred.view().get(key, default)

    def __contains__(self, key: Any) -> bool:
        return key in self._deferred.view()

    def items(self):
        return self._deferred.view().items()

    def values(self):
        return self._deferred.view().values()


_ORIGINAL: dict[str, Any] = {}
_STRUCT = "google.protobuf.Struct"


def message_to_dict(message: Any, *args: Any, **kwargs: Any) -> Any:
    """``json_format.MessageToDict`` with its default options, for the message pulumi_policy
    converts (``google.protobuf.Struct``, the properties of a resource) read field by field
    without json_format's generic descriptor walk: the same dict, keys in the same order (the
    tests compare both on random and real inputs). Anything else, and a number JSON cannot hold,
    is left to json_format itself (its result or its error)."""
    if not args and not kwargs and message.DESCRIPTOR.full_name == _STRUCT:
        return struct_to_dict(message)
    from google.protobuf import json_format

    return json_format.MessageToDict(message, *args, **kwargs)


class _NotPlain(Exception):
    pass


def _proxied_value(value: Any, path: list) -> Any:
    which = value.WhichOneof("kind")
    if which == "string_value":
        return value.string_value
    if which == "struct_value":
        return _proxied_struct(value.struct_value, path)
    if which == "list_value":
        items = value.list_value.values
        return LIST_PROXY([_proxied_value(item, [*path, str(i)]) for i, item in enumerate(items)], path)
    if which == "bool_value":
        return value.bool_value
    if which == "number_value":
        number = value.number_value
        if number - number != 0.0:
            raise NotJson
        return number
    return None


def _proxied_struct(struct: Any, path: list) -> Any:
    fields = struct.fields
    target = {}
    for key in fields:
        if key == SPECIAL_SIG_KEY:
            raise _NotPlain
        target[key] = _proxied_value(fields[key], [*path, key])
    return DICT_PROXY(target, path)


def proxied_properties(struct: Any) -> Any:
    """``unknown_checking_proxy(deserialize_properties(MessageToDict(struct)))``, the view
    pulumi_policy gives a policy of a resource's properties, built in one pass: the same proxies
    around the same containers, each with the same path (pulumi_policy proxy.py _proxy_helper).
    A value with a special signature (a secret, an asset, an archive) or a number JSON cannot hold
    is left to the three steps themselves."""
    try:
        return _proxied_struct(struct, [])
    except (_NotPlain, NotJson):
        return _ORIGINAL["proxy"](_ORIGINAL["deserialize"](_ORIGINAL["dict"](struct)))


def properties_wire(props: Any) -> Optional[bytes]:
    """The wire form of the properties whose view *props* is (a resource policy's ``args.props``
    in the ``Analyze`` call being served), or None when *props* is not such a view. Every string
    of the properties, key or value, is in it as its UTF-8 bytes: a policy that looks for text
    can rule a whole resource out with one search of these bytes."""
    scope = getattr(_local, "scope", None)
    hit = scope.memo.get(("wire", id(props))) if scope is not None else None
    if hit is None or hit[0] is not props:
        return None
    message = hit[1].message
    return bytes(message) if isinstance(message, memoryview) else message.SerializeToString()


def _deferring(step: str):
    """In a call: the three steps hand a deferred conversion along instead of converting, and the
    proxy step builds the view in one pass (:func:`proxied_properties`): in a stack call a mapping
    that converts on first read (:class:`_LazyProps`), in ``Analyze`` the view itself, one per
    message however many policies ask."""
    def wrapper(value: Any, *args: Any, **kwargs: Any) -> Any:
        scope = getattr(_local, "scope", None)
        if scope is None:
            return _MEMOISED[step](value, *args, **kwargs)
        if isinstance(value, _Deferred) and (args or kwargs):  # a use the SDK's calls never make
            return _MEMOISED[step](value.struct() if step == "dict" else
                                   _ORIGINAL["dict"](value.struct()), *args, **kwargs)
        if args or kwargs:
            return _MEMOISED[step](value, *args, **kwargs)
        if step == "dict":
            if isinstance(value, _Deferred):
                return value
            return _Deferred(value) if scope.stack else _remembered(scope, "deferred", value, _Deferred)
        if step == "deserialize" and isinstance(value, _Deferred):
            return value
        if step == "proxy" and isinstance(value, _Deferred):
            if scope.stack:
                return _LazyProps(value)
            view = value.view()
            scope.memo[("wire", id(view))] = (view, value)
            return view
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
        if scope.stack and scope.share is not None:
            selected = [p for p in selected if p.name in scope.share]
        if scope.stack and scope.claim is not None:
            return _running(scope, iter(scope.claim, None))
        return _running(scope, selected) if scope.stack else iter(selected)


def _running(scope: _Scope, policies: list):
    """The stack policies, each recorded as the one running while the SDK builds its arguments
    (which resources :class:`_StackResources` hands it) and runs it."""
    try:
        for policy in policies:
            scope.policy = policy
            yield policy
    finally:
        scope.policy = None


# ---------------------------------------------------------------------------------------------
# AnalyzeStack: the request read from its wire form, one resource at a time
# ---------------------------------------------------------------------------------------------

def _varint(data: memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: memoryview, pos: int, end: int):
    """``(field number, start of the field's tag, start of its value, end of its value)`` of each
    field of the message in ``data[pos:end]`` (protobuf's wire format: a varint tag, then a
    varint, 8 or 4 bytes, or a length-delimited value)."""
    while pos < end:
        start = pos
        tag, pos = _varint(data, pos)
        wire = tag & 7
        if wire == 0:
            value = pos
            _, pos = _varint(data, pos)
        elif wire == 2:
            size, value = _varint(data, pos)
            pos = value + size
        elif wire == 1:
            value, pos = pos, pos + 8
        elif wire == 5:
            value, pos = pos, pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        if pos > end:
            raise ValueError("truncated protobuf message")
        yield tag >> 3, start, value, pos


_EMPTY: dict = {}


class _PropertyDependencies:
    __slots__ = ("urns",)

    def __init__(self, urns: tuple):
        self.urns = urns


class _StackResource:
    """One ``AnalyzerResource`` of an ``AnalyzeStack`` request, as the SDK reads it: the strings
    decoded, the properties left in wire form (converted when a policy reads them), the options,
    provider and property dependencies parsed when asked for."""

    __slots__ = ("type", "urn", "name", "parent", "dependencies", "properties", "_options", "_provider",
                 "_property_dependencies")

    def __init__(self, data: memoryview, pos: int, end: int, strings: dict):
        self.type = self.urn = self.name = self.parent = ""
        deps: list = []
        props: list = []
        options: list = []
        provider: list = []
        property_dependencies: list = []
        for number, start, value, stop in _fields(data, pos, end):
            if number == 2:
                props.append(data[value:stop])
            elif number in (1, 3, 4, 7, 8):
                text = str(data[value:stop], "utf-8")
                if number == 1:
                    self.type = strings.setdefault(text, text)
                elif number == 3:
                    self.urn = text
                elif number == 4:
                    self.name = text
                elif number == 7:
                    self.parent = strings.setdefault(text, text)
                else:
                    deps.append(text)
            elif number == 5:
                options.append(data[value:stop])
            elif number == 6:
                provider.append(data[value:stop])
            elif number == 9:
                property_dependencies.append(data[start:stop])
        self.dependencies = tuple(deps)
        # a message field that occurs more than once is the merge of its occurrences, which is
        # what parsing their concatenation gives (the protobuf encoding guide, "Last One Wins")
        whole = props[0] if len(props) == 1 else memoryview(b"".join(props))
        self.properties = _Deferred(whole)
        key = b"".join(options) if options else None
        self._options = strings.setdefault(key, key)
        self._provider = b"".join(provider) if provider else None
        self._property_dependencies = b"".join(property_dependencies) if property_dependencies else None

    @property
    def options(self) -> Any:
        from pulumi.runtime.proto import analyzer_pb2

        return analyzer_pb2.AnalyzerResourceOptions.FromString(self._options or b"")

    @property
    def provider(self) -> Any:
        from pulumi.runtime.proto import analyzer_pb2

        return analyzer_pb2.AnalyzerProviderResource.FromString(self._provider or b"")

    @property
    def propertyDependencies(self) -> Mapping:  # noqa: N802 (protobuf's name)
        if self._property_dependencies is None:
            return _EMPTY
        from pulumi.runtime.proto import analyzer_pb2

        parsed = analyzer_pb2.AnalyzerResource.FromString(self._property_dependencies).propertyDependencies
        return {k: _PropertyDependencies(tuple(v.urns)) for k, v in parsed.items()}

    def HasField(self, name: str) -> bool:  # noqa: N802 (protobuf's name)
        if name == "provider":
            return self._provider is not None
        if name == "options":
            return self._options is not None
        raise ValueError(f"no singular message field {name!r} on AnalyzerResource")


class _StackResources:
    """``request.resources``: every resource, or, while a framework stack policy runs, those it
    reads (``HardenedStackPolicy.reads``: the others cannot change what it reports)."""

    __slots__ = ("_all",)

    def __init__(self, resources: list):
        self._all = resources

    def __len__(self) -> int:
        return len(self._all)

    def __getitem__(self, index: int) -> _StackResource:
        return self._all[index]

    def __iter__(self):
        scope = getattr(_local, "scope", None)
        reads = getattr(scope.policy, "reads", None) if scope is not None and scope.stack else None
        if reads is None:
            return iter(self._all)
        return (r for r in self._all if reads(r.type, r.parent))


class StackRequest:
    """An ``AnalyzeStackRequest`` read by :func:`read_stack_request`."""

    __slots__ = ("resources", "data")

    def __init__(self, data: bytes, resources: list):
        self.data = data
        self.resources = _StackResources(resources)


#: The fields the reader knows (pulumi's proto/pulumi/analyzer.proto, as the pinned SDK has it).
READER_FIELDS = {
    "AnalyzeStackRequest": {"resources": 1},
    "AnalyzerResource": {"type": 1, "properties": 2, "urn": 3, "name": 4, "options": 5, "provider": 6,
                         "parent": 7, "dependencies": 8, "propertyDependencies": 9},
}


def reader_supported() -> bool:
    """Whether the installed protocol is the one :func:`read_stack_request` reads (otherwise the
    SDK's own reader serves ``AnalyzeStack``)."""
    from pulumi.runtime.proto import analyzer_pb2

    return all({f.name: f.number for f in getattr(analyzer_pb2, message).DESCRIPTOR.fields} == fields
               for message, fields in READER_FIELDS.items())


def read_stack_request(data: bytes) -> StackRequest:
    """The ``AnalyzeStack`` request's reader on the pack's gRPC server: the request's bytes kept
    once, each resource indexed (``AnalyzeStackRequest`` has one field, ``resources = 1``)."""
    view = memoryview(data)
    strings: dict = {}
    resources = [_StackResource(view, value, stop, strings)
                 for number, _, value, stop in _fields(view, 0, len(view)) if number == 1]
    return StackRequest(data, resources)


class _Registration:
    """``analyzer_pb2_grpc`` as pulumi_policy.policy sees it: registering the servicer first adds
    the ``AnalyzeStack`` handler with :func:`read_stack_request` (gRPC asks its generic handlers in
    the order they were added: grpc/_server.py, ``_GenericMethod.handler``), then the SDK's own."""

    def __init__(self, module: Any):
        self._module = module

    def add_AnalyzerServicer_to_server(self, servicer: Any, server: Any) -> None:  # noqa: N802
        import grpc
        from pulumi.runtime.proto import analyzer_pb2

        if getattr(servicer, "_fastpath_base", None) is not None and reader_supported():
            handler = grpc.unary_unary_rpc_method_handler(
                servicer.AnalyzeStack, request_deserializer=read_stack_request,
                response_serializer=analyzer_pb2.AnalyzeResponse.SerializeToString)
            server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
                "pulumirpc.Analyzer", {"AnalyzeStack": handler}),))
        self._module.add_AnalyzerServicer_to_server(servicer, server)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)


class _OptionsOf:
    __slots__ = ("options",)

    def __init__(self, options: Any):
        self.options = options


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
            """The request's options, built once per call rather than once per policy (in a
            stack call, once per distinct options message: resources that share a parent share
            one, which policies only read)."""
            scope = getattr(_local, "scope", None)
            if isinstance(request, _StackResource):
                if scope is None:
                    return super()._get_resource_options(_OptionsOf(request.options))
                key = ("options", request._options)
                hit = scope.memo.get(key)
                if hit is None:
                    hit = scope.memo[key] = (None, super()._get_resource_options(_OptionsOf(request.options)))
                return hit[1]
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
            if not isinstance(request, StackRequest) and reader_supported():  # in-process, with a message
                request = read_stack_request(request.SerializeToString())
            analyze_stack = super().AnalyzeStack
            with _CallScope(None, stack=True) as scope, _gc_paused():
                if isinstance(request, StackRequest):
                    from .parallel import analyze_stack_in_two

                    return analyze_stack_in_two(self, analyze_stack, request, context, scope)
                return analyze_stack(request, context)

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
    needed = ("json_format", "analyzer_pb2_grpc", "deserialize_properties", "unknown_checking_proxy",
              "_PolicyAnalyzerServicer", "ResourceValidationPolicy", "StackValidationPolicy")
    if not all(hasattr(sdk, n) for n in needed):
        return False
    _ORIGINAL.update(dict=message_to_dict, deserialize=sdk.deserialize_properties,
                     proxy=sdk.unknown_checking_proxy)
    for step in ("dict", "deserialize", "proxy"):
        _MEMOISED[step] = _memoised(_ORIGINAL[step], step)
    sdk.json_format = _JsonFormat(sdk.json_format)
    sdk.analyzer_pb2_grpc = _Registration(sdk.analyzer_pb2_grpc)
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
    sdk.analyzer_pb2_grpc = sdk.analyzer_pb2_grpc._module
    sdk.deserialize_properties = _ORIGINAL["deserialize"]
    sdk.unknown_checking_proxy = _ORIGINAL["proxy"]


def servicer(name: str, policies: list, enforcement_level: Any, **kwargs: Any) -> Any:
    """A servicer as PolicyPack would build it (with the fast path if installed), for in-process
    tests and benchmarks that call ``Analyze`` without gRPC."""
    from pulumi_policy import policy as sdk

    return sdk._PolicyAnalyzerServicer(name, "1.0.0", policies, enforcement_level, **kwargs)
