"""How render writes a record: a manifest's YAML (byte for byte what PyYAML's ``yaml.dump`` with
libyaml writes) and the JSON of its inputs; and :func:`serve`, the child process that does it
while a render runs (``hardened.render.PreparedOutput``), which imports only this module.
"""
from __future__ import annotations

import gc
import json
import pickle
import sys
from typing import Any, Optional

import yaml

from .manifests import CachedScalarResolver

try:  # libyaml: chart CRDs are large; the pure-Python emitter took most of a render
    from yaml import CSafeDumper as _Dumper
except ImportError:  # pragma: no cover
    from yaml import SafeDumper as _Dumper  # type: ignore[assignment]


_TAGS = {str: "tag:yaml.org,2002:str", int: "tag:yaml.org,2002:int", bool: "tag:yaml.org,2002:bool",
         type(None): "tag:yaml.org,2002:null"}
_MAP_TAG, _SEQ_TAG = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"


class _Shared(Exception):
    """A container met twice: PyYAML would write an anchor and an alias; its representer does it."""


def _node(value: Any, seen: set[int]) -> yaml.Node:
    """*value* as the node PyYAML's SafeRepresenter builds with ``sort_keys=True`` and
    ``default_flow_style=False`` (block style, plain scalars resolved by the emitter), without
    its per-value dispatch and alias bookkeeping: the representer took a third of a render."""
    cls = value.__class__
    if cls is str:
        return yaml.ScalarNode(_TAGS[str], value)
    if cls is dict:
        if id(value) in seen:
            raise _Shared
        seen.add(id(value))
        items = sorted(value.items()) if all(k.__class__ is str for k in value) else None
        if items is None:
            raise _Shared  # non-string keys: the representer's own ordering rules
        return yaml.MappingNode(_MAP_TAG, [(yaml.ScalarNode(_TAGS[str], k), _node(v, seen)) for k, v in items],
                                flow_style=False)
    if cls is list:
        if id(value) in seen:
            raise _Shared
        seen.add(id(value))
        return yaml.SequenceNode(_SEQ_TAG, [_node(v, seen) for v in value], flow_style=False)
    if cls is bool:
        return yaml.ScalarNode(_TAGS[bool], "true" if value else "false")
    if cls is int:
        return yaml.ScalarNode(_TAGS[int], str(value))
    if value is None:
        return yaml.ScalarNode(_TAGS[type(None)], "null")
    raise _Shared  # floats and anything else: the representer's rules


def dump_yaml(obj: Any) -> str:
    """*obj* as YAML, byte for byte what ``yaml.dump(obj, Dumper=CSafeDumper, sort_keys=True,
    default_flow_style=False, allow_unicode=True, width=120)`` writes (tests/speed check it on
    every rendered manifest), through a direct node builder and the C emitter."""
    try:
        node = _node(obj, set())
    except _Shared:
        return yaml.dump(obj, Dumper=_Dumper, sort_keys=True, default_flow_style=False, allow_unicode=True,
                         width=120)
    return yaml.serialize(node, Dumper=_FastDumper, allow_unicode=True, width=120)


class _FastDumper(CachedScalarResolver, _Dumper):  # type: ignore[misc, valid-type]
    """The emitter asks the resolver twice per scalar whether its plain form reads back as the
    same tag: the answers are cached (keys and values repeat across objects), and the path
    resolvers, which this dumper has none of, are skipped."""

    _resolved: dict = {}  # its own cache: a dumper's implicit flags are not a loader's

    def descend_resolver(self, current_node, current_index):  # noqa: D102
        return None

    def ascend_resolver(self):  # noqa: D102
        return None


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def serve(source: Optional[Any] = None, sink: Optional[Any] = None) -> int:
    """The child of ``render._Serialiser``: for each ``(key, inputs, is a manifest)`` read from
    *source* (stdin), ``(key, YAML text or None, JSON of the inputs)`` to *sink* (stdout), until
    the input ends."""
    gc.disable()
    source = source or sys.stdin.buffer
    sink = sink or sys.stdout.buffer
    while True:
        head = source.read(8)
        if len(head) < 8:
            return 0
        key, inputs, manifest = pickle.loads(source.read(int.from_bytes(head, "little")))
        blob = pickle.dumps((key, dump_yaml(inputs) if manifest else None, _json(inputs)),
                            protocol=pickle.HIGHEST_PROTOCOL)
        sink.write(len(blob).to_bytes(8, "little") + blob)
        sink.flush()
