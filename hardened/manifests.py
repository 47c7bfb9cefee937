"""Kubernetes YAML and JSON (and rendered stacks) as the resources the Pulumi engine would hand a
policy pack, read as ``kubectl apply -R -f PATH`` reads them.

:func:`load_path` reads files and directories. A directory is walked as kubectl's resource
builder walks it (k8s.io/cli-runtime ``pkg/resource/visitor.go``, ``ExpandPathsToFileVisitors``
with ``FileExtensions``): recursively, in lexical order with a subdirectory's files where its
name sorts, every file whose extension is exactly ``.json``, ``.yaml`` or ``.yml``, hidden files
and directories included, symbolic links to directories not followed. A file named on the command
line is read whatever its extension. Each file is decoded as kubectl's ``FileVisitor`` decodes it
(a UTF-8, UTF-16 LE or UTF-16 BE byte-order mark selects the encoding; anything else is UTF-8,
invalid bytes becoming U+FFFD) and split as its ``YAMLOrJSONDecoder`` splits it (a stream that
starts with ``{`` is a sequence of JSON objects, else YAML documents). ``*List`` kinds are
flattened at any depth in kubectl's order (``FlattenListVisitor``: breadth first), every item with
the file and line it was written at. Documents may also describe a non-Kubernetes resource::

    pulumiType: aws:kms/key:Key
    name: vault-unseal
    inputs: {enableKeyRotation: true}

An object defined more than once (same API group, kind, namespace and name, as written) is
applied by kubectl once per definition, so the last one is what the cluster keeps: only that one
is returned, and every such object is reported as a :class:`Duplicate`.

(``parent`` may name the URN of the component the resource belongs to, as the engine records a
Helm Chart's children: ``urn:pulumi:<stack>::hardened-stack::kubernetes:helm.sh/v4:Chart::<name>``.
A remote component itself carries no ``outputs``: the engine never records any for it.)

A directory holding ``resources.json`` (the output of ``python -m hardened render``) is read
through it: every registered resource with its type, inputs, URN and parent; the manifest files
it names are not read a second time, other manifest files are. ``policy-config.json`` at the top
of a directory is the stack's policy configuration (``check`` reads it as such), not a manifest;
``opt-outs.json`` there is render's ledger of opt-outs, not a manifest either.

Every resource keeps the file and line it came from, for reports. Unreadable input raises
:class:`ManifestError` naming the file and line (and column, for a syntax error); so does input
built to exhaust the reader: nesting deeper than :data:`MAX_DEPTH` levels, or YAML aliases that
expand a document far beyond what is written (a "billion laughs").
"""
from __future__ import annotations

import bisect
import fnmatch
import hashlib
import io
import itertools
import json
import os
import re
import stat
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable, Iterator, Optional, TextIO, Union

import yaml

try:  # libyaml is several times faster; the pure-Python loader behaves the same
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

PROJECT = "hardened-stack"
DEFAULT_STACK = "offline"
RESOURCES_JSON = "resources.json"
#: The extensions kubectl reads in a directory (k8s.io/cli-runtime pkg/resource/builder.go FileExtensions).
KUBECTL_EXTENSIONS = (".json", ".yaml", ".yml")
#: The stack policy configuration render writes next to resources.json (hardened.policyconfig.FILE_NAME).
POLICY_CONFIG = "policy-config.json"
#: The ledger of opt-outs render writes beside them (components.ledger): a report, not a manifest.
OPT_OUTS = "opt-outs.json"
#: The Pulumi engine's marker for a value unknown during preview (a string sentinel).
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
#: How ``render`` writes an unknown value.
RENDERED_UNKNOWN = "[unknown]"

PathLike = Union[str, os.PathLike]
#: Files and streams up to this size are read whole; larger YAML streams document by document.
STREAM_BYTES = 8 * 1024 * 1024
_DOCUMENT_BOUNDARY = re.compile(r"^(?:---|\.\.\.)(?:[ \t\r\n]|$)")
_DIRECTIVE = re.compile(r"^%", re.M)
#: The file that makes a directory a Helm chart.
CHART_FILE = "Chart.yaml"


class ManifestError(Exception):
    """Input that cannot be read as resources; ``problems`` are ``file:line: message`` strings."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


_STR, _MAP, _SEQ = "tag:yaml.org,2002:str", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"


class CachedScalarResolver:
    """A mixin for a PyYAML loader or dumper: the tag of a plain scalar is resolved once per (value,
    implicit) pair and class (keys and values repeat across every object of a stack), bounded."""

    _resolved: dict = {}

    def resolve(self, kind, value, implicit):  # noqa: D102 (PyYAML's hook)
        if kind is yaml.ScalarNode:
            key = (value, implicit)
            hit = self._resolved.get(key)
            if hit is None:
                if len(self._resolved) > 100_000:
                    self._resolved.clear()
                hit = self._resolved[key] = super().resolve(kind, value, implicit)
            return hit
        return super().resolve(kind, value, implicit)


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    """The safe loader, minus timestamps (Kubernetes reads YAML as JSON, so ``2027-11-30`` in a
    manifest is a string, not a date), and faster on what manifests are made of: a quoted scalar
    is a string at once, the tag of a plain one is resolved once per value (keys repeat across
    every object), and plain mappings, sequences and strings are built directly; anything else
    (numbers, booleans, merge keys, explicit tags) goes through the standard constructor, so the
    result is the same as ``yaml.safe_load``'s (tests/check/test_manifests.py compares them)."""

    _resolved: dict = {}  # plain scalar -> tag (this loader resolves no timestamps, unlike the dumper)

    def resolve(self, kind, value, implicit, _scalar=yaml.ScalarNode, _mapping=yaml.MappingNode):  # noqa: D102
        # BaseResolver.resolve, for a loader without path resolvers (asserted below), which the
        # composer calls for every node: a quoted scalar (or one tagged "!") is a string, a plain
        # one's tag depends on its value alone (cached), a collection's on its kind
        if kind is _scalar:
            if not implicit[0]:
                return _STR
            tag = self._resolved.get(value)
            if tag is None:
                if len(self._resolved) > 100_000:
                    self._resolved.clear()
                tag = self._resolved[value] = yaml.resolver.BaseResolver.resolve(self, kind, value, implicit)
            return tag
        return _MAP if kind is _mapping else _SEQ

    def descend_resolver(self, current_node, current_index):  # noqa: D102 (no path resolvers: nothing to track)
        pass

    def ascend_resolver(self):  # noqa: D102
        pass

    def build(self, node: yaml.Node, _scalar=yaml.ScalarNode) -> Any:
        cls, tag = node.__class__, node.tag
        if cls is _scalar and tag == _STR:
            return node.value
        if cls is yaml.MappingNode and tag == _MAP:
            out = {}
            for key, value in node.value:
                if key.__class__ is not _scalar or key.tag != _STR:
                    return self.construct_object(node, deep=True)
                # a string value is taken here, without a call (most values are)
                out[key.value] = value.value if value.__class__ is _scalar and value.tag == _STR else self.build(value)
            return out
        if cls is yaml.SequenceNode and tag == _SEQ:
            return [item.value if item.__class__ is _scalar and item.tag == _STR else self.build(item)
                    for item in node.value]
        return self.construct_object(node, deep=True)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}
assert not _Loader.yaml_path_resolvers, "_Loader.resolve assumes no path resolvers"


class NumberProblem(ValueError):
    """A number YAML allows but JSON and protobuf cannot carry; ``line`` is 0-based in its text."""

    def __init__(self, message: str, line: int):
        super().__init__(message)
        self.line = line


#: The largest magnitude a protobuf double (google.protobuf.Value.number_value) holds.
_MAX_DOUBLE = 1.7976931348623157e308


def _construct_float(loader: _Loader, node: yaml.ScalarNode) -> float:
    value = yaml.constructor.SafeConstructor.construct_yaml_float(loader, node)
    if value != value or value in (float("inf"), float("-inf")):
        raise NumberProblem(f"{node.value!r} is {'NaN' if value != value else 'an infinity'}, which YAML allows but "
                            "JSON cannot carry (Kubernetes reads manifests as JSON, and the API server refuses it): "
                            "write a finite number, or quote it to make it a string", node.start_mark.line)
    return value


def _construct_int(loader: _Loader, node: yaml.ScalarNode) -> int:
    try:
        value = yaml.constructor.SafeConstructor.construct_yaml_int(loader, node)
    except ValueError:  # Python's int-str conversion limit (sys.get_int_max_str_digits)
        raise NumberProblem(f"an integer of {len(node.value):,} characters is beyond what any Kubernetes field "
                            "holds (and beyond Python's integer conversion limit): write the intended value, or "
                            "quote it to make it a string", node.start_mark.line) from None
    if abs(value) > _MAX_DOUBLE:
        raise NumberProblem(f"the integer {node.value[:20]}... ({len(node.value):,} digits) is too large for a JSON "
                            "number or a protobuf double: write the intended value, or quote it to make it a "
                            "string", node.start_mark.line)
    return value


_Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)
_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)


@dataclass(slots=True)
class Resource:
    """One resource as the engine would register it, plus where it came from (slots: ``check``
    holds one per document of a stream)."""

    type: str
    name: str
    inputs: dict[str, Any]
    urn: str = ""
    parent: str = ""
    custom: bool = True
    file: Optional[str] = None
    line: Optional[int] = None
    #: paths (``/data/password``) of values the engine holds as secrets (a render's ``secretPaths``)
    secret_paths: tuple[str, ...] = ()
    #: what else a render records and the engine sends the analyzer: the provider's URN, the
    #: dependencies (all, and per input property) and the resource options
    provider: str = ""
    dependencies: tuple[str, ...] = ()
    property_dependencies: Optional[dict[str, list[str]]] = None
    options: Optional[dict[str, Any]] = None
    #: a remote component's registered outputs (a Chart's ``resources``), from a render
    outputs: Optional[dict[str, Any]] = None
    #: set once a later definition of the same object is read (:func:`stream_resources`): that
    #: later one is what kubectl leaves in the cluster, and this one is not judged
    superseded: bool = False

    @property
    def is_kubernetes(self) -> bool:
        return self.type.startswith("kubernetes:") and "kind" in self.inputs

    @property
    def analyzed(self) -> bool:
        """Whether the engine sends it to ``Analyze``: every registration, components, the
        ``pulumi:pulumi:Stack`` root and default providers included (see hardened.engine)."""
        return True

    @property
    def kind(self) -> str:
        kind = self.inputs.get("kind") if self.is_kubernetes else None
        return kind if isinstance(kind, str) else self.type.rsplit(":", 1)[-1]

    @property
    def metadata(self) -> dict:
        meta = self.inputs.get("metadata")
        return meta if isinstance(meta, dict) else {}

    @property
    def namespace(self) -> Optional[str]:
        ns = self.metadata.get("namespace") if self.is_kubernetes else self.inputs.get("namespace")
        return ns if isinstance(ns, str) and ns else None

    @property
    def object_name(self) -> str:
        name = self.metadata.get("name") if self.is_kubernetes else None
        return name if isinstance(name, str) and name else self.name

    @property
    def label(self) -> str:
        """``Deployment lego-mcp-prod/dashboard``, ``Key vault-unseal``."""
        ns = f"{self.namespace}/" if self.is_kubernetes and self.namespace else ""
        return f"{self.kind} {ns}{self.object_name}"

    @property
    def location(self) -> str:
        if self.file is None:
            return "(stack)"
        return f"{self.file}:{self.line}" if self.line else self.file


# ---------------------------------------------------------------------------------------------
# Type tokens and URNs
# ---------------------------------------------------------------------------------------------

def type_token(api_version: str, kind: str) -> str:
    """The Pulumi type token of a Kubernetes object: ``v1`` -> ``kubernetes:core/v1:<Kind>``;
    grouped versions as they are (``kubernetes:apps/v1:Deployment``), custom resources too
    (``kubernetes:cert-manager.io/v1:Certificate``)."""
    api_version = api_version.strip()
    group_version = api_version if "/" in api_version else f"core/{api_version}"
    return f"kubernetes:{group_version}:{kind}"


def make_urn(stack: str, type_: str, name: str, project: str = PROJECT) -> str:
    return f"urn:pulumi:{stack}::{project}::{type_}::{name}"


def display_path(path: PathLike, cwd: Optional[str] = None) -> str:
    """*path* relative to the working directory when it lies under it (as CI annotations and
    SARIF want it), else absolute; forward slashes either way."""
    absolute = os.path.abspath(path)
    base = cwd or os.getcwd()
    if absolute.startswith(base.rstrip(os.sep) + os.sep):
        absolute = absolute[len(base.rstrip(os.sep)) + 1:]
    return absolute.replace(os.sep, "/")


# ---------------------------------------------------------------------------------------------
# Decoding and exhaustion guards
# ---------------------------------------------------------------------------------------------

#: Nesting (mappings and sequences inside each other) the reader accepts. No Kubernetes object
#: comes near it (a CRD's schema is the deepest, well under 100); beyond it the YAML composer and
#: the protocol's Struct conversion would run out of stack.
MAX_DEPTH = 256
#: A document whose aliases expand it to more values than this (and than ALIAS_RATIO times the
#: values written) is refused: kubectl's YAML decoder refuses "excessive aliasing" too.
MAX_EXPANDED = 200_000
ALIAS_RATIO = 10

_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xfe\xff", "utf-16-be"), (b"\xff\xfe", "utf-16-le"))


def decode(data: bytes) -> str:
    """Bytes as kubectl's ``FileVisitor`` reads them: ``unicode.BOMOverride(unicode.UTF8.NewDecoder())``
    from golang.org/x/text: a UTF-8, UTF-16 BE or UTF-16 LE byte-order mark picks the encoding (and
    is dropped); without one the bytes are UTF-8, and an invalid sequence becomes U+FFFD."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom):].decode(encoding, "replace")
    return data.decode("utf-8", "replace")


_ALIAS = re.compile(r"(?:^|[\s\[\]{},])\*[^\s\[\]{},]")


_OTHER_BREAKS = re.compile(r"\r\n?|[\x85\u2028\u2029]")


@lru_cache(maxsize=None)
def _deep_line(column: int) -> "re.Pattern[str]":
    return re.compile(r"\n[ \t?:-]{%d}" % column)


def _within_depth(text: str) -> bool:
    """Whether every YAML document of *text* surely nests at most MAX_DEPTH levels, from a few
    string scans. Flow collections need a ``[`` or ``{`` each. Block collections nest only at
    strictly greater columns (save a sequence at its mapping's column), and one starts after
    nothing but indentation and the indicators of its enclosing entries (``- - x``, ``- k: v``,
    ``? - x``), so a path through them holds at most twice as many as that prefix is long."""
    if "\r" in text or "\x85" in text or "\u2028" in text or "\u2029" in text:
        text = _OTHER_BREAKS.sub("\n", text)
    parts = text.split("\n---")
    chunks = [parts[0]]
    for part in parts[1:]:  # a document starts at "---" followed by a space or the line's end
        if part[:1] in ("", " ", "\t", "\n"):
            chunks.append(part)
        else:
            chunks[-1] = "\n---".join((chunks[-1], part))
    for chunk in chunks:
        budget = MAX_DEPTH - chunk.count("[") - chunk.count("{")
        if budget < 2 or _deep_line(budget // 2).search("\n" + chunk[:budget]) or _deep_line(budget // 2).search(chunk):
            return False
    return True


def _check_yaml_depth(text: str, file: str, line_offset: int) -> None:
    """Refuse YAML nested deeper than MAX_DEPTH before the composer recurses into it (libyaml's
    composer is recursive C: a deep enough document would crash the process)."""
    if _within_depth(text):
        return
    loader = _Loader(text)
    depth = 0
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    raise ManifestError([_too_deep(file, event.start_mark.line + 1 + line_offset)])
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
    except yaml.YAMLError:
        pass  # the composer reports it, never deeper than this scan went
    finally:
        loader.dispose()


def _too_deep(file: str, line: int) -> str:
    return (f"{file}:{line}: mappings and lists nested more than {MAX_DEPTH} levels deep; no Kubernetes object "
            "needs that many (is the file generated by mistake, or built to exhaust the reader?): flatten it")


def _check_aliases(node: yaml.Node, file: str, line: int) -> None:
    """Refuse a document whose aliases expand it beyond MAX_EXPANDED values and ALIAS_RATIO times
    what is written (the composer shares aliased nodes; building the data would copy them)."""
    sizes: dict[int, int] = {}
    open_: set[int] = set()  # collections whose children are being sized
    stack: list[tuple[yaml.Node, bool]] = [(node, False)]
    while stack:
        current, expanded = stack.pop()
        key = id(current)
        if key in sizes:
            continue
        if isinstance(current, yaml.ScalarNode):
            sizes[key] = 1
            continue
        children = ([v for pair in current.value for v in pair] if isinstance(current, yaml.MappingNode)
                    else list(current.value))
        if not expanded:
            if key in open_:
                continue
            open_.add(key)
            stack.append((current, True))
            for child in children:
                if id(child) in open_:
                    at = line - node.start_mark.line + child.start_mark.line
                    raise ManifestError([f"{file}:{at}: the collection anchored here holds an alias to itself (an "
                                         "infinite value); a Kubernetes object cannot be recursive: drop the alias"])
                if id(child) not in sizes:
                    stack.append((child, False))
            continue
        sizes[key] = min(1 + sum(sizes[id(child)] for child in children), 10 ** 12)
    total, written = sizes[id(node)], len(sizes)
    if total > MAX_EXPANDED and total > ALIAS_RATIO * written:
        raise ManifestError([f"{file}:{line}: YAML aliases expand this document to more than {MAX_EXPANDED:,} values "
                             f"from {written:,} written ones (a \"billion laughs\"); kubectl refuses such "
                             "excessive aliasing too: write the repeated values out or drop the aliases"])


def _depth_of(value: Any) -> int:
    """The nesting depth of JSON data, without recursion."""
    deepest = 0
    stack = [(value, 0)]
    while stack:
        current, depth = stack.pop()
        if isinstance(current, dict):
            current = list(current.values())
        elif not isinstance(current, list):
            continue
        depth += 1
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, depth) for child in current if isinstance(child, (dict, list)))
    return deepest


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------

def _is_list_kind(doc: dict) -> bool:
    kind = doc.get("kind")
    return isinstance(kind, str) and kind.endswith("List") and isinstance(doc.get("items"), list)


def _items_nodes(node: Optional[yaml.Node]) -> list[yaml.Node]:
    items: list[yaml.Node] = []
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:  # the last "items" wins, as in the data
            if isinstance(key, yaml.ScalarNode) and key.value == "items":
                items = value.value if isinstance(value, yaml.SequenceNode) else []
    return items


def flatten(doc: Any, where: Any, children, line_of) -> list[tuple[Any, int]]:
    """The objects a document stands for, in the order kubectl applies them, each with its line.

    A top-level ``*List`` kind, and within it any item holding an ``items`` list, is replaced by
    its items, breadth first: FlattenListVisitor (k8s.io/cli-runtime pkg/resource/visitor.go)
    appends a nested list's items to the end of the queue it is walking, so ``List[a, List[b],
    c]`` applies a, c, b. *where* locates the document (a YAML node, a JSON offset);
    ``children(where)`` locates its items and ``line_of(where)`` gives a location's line.
    """
    if not (isinstance(doc, dict) and _is_list_kind(doc)):
        return [(doc, line_of(where))]
    out: list[tuple[Any, int]] = []
    queue = [(doc, where, line_of(where))]
    i = 0
    while i < len(queue):
        data, at, line = queue[i]
        i += 1
        if i > 1 and not (isinstance(data, dict) and isinstance(data.get("items"), list)):
            out.append((data, line))
            continue
        located = children(at) if at is not None else []
        for j, item in enumerate(data["items"]):
            child = located[j] if j < len(located) else None
            queue.append((item, child, line_of(child) if child is not None else line))
    return out


def iter_documents(text: str, file: str, line_offset: int = 0) -> Iterable[tuple[Any, int, yaml.Node]]:
    """``(data, line, node)`` for every document of a YAML stream; ManifestError on bad syntax, on
    nesting deeper than MAX_DEPTH and on an alias bomb. *line_offset* is added to every line."""
    _check_yaml_depth(text, file, line_offset)
    aliases = "*" in text and _ALIAS.search(text) is not None
    loader = _Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            line = node.start_mark.line + 1 + line_offset
            if aliases:
                _check_aliases(node, file, line)
            try:
                data = loader.build(node)
            except NumberProblem as e:
                raise ManifestError([f"{file}:{e.line + 1 + line_offset}: {e}"]) from None
            except yaml.YAMLError as e:
                raise ManifestError([_yaml_problem(file, e, line, line_offset)]) from None
            except RecursionError:  # merge keys and tags recurse deeper per level than plain nodes
                raise ManifestError([_too_deep(file, line)]) from None
            yield data, line, node
    except yaml.YAMLError as e:
        raise ManifestError([_yaml_problem(file, e, None, line_offset)]) from None
    finally:
        loader.dispose()


def _yaml_problem(file: str, error: yaml.YAMLError, fallback_line: Optional[int] = None,
                  line_offset: int = 0) -> str:
    mark = getattr(error, "problem_mark", None)
    context_mark = getattr(error, "context_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    context = getattr(error, "context", None)
    detail = f"{context}: {problem}" if context else problem
    mark = mark or context_mark
    if mark is None:
        return f"{file}:{fallback_line or 1 + line_offset}: YAML error: {detail}"
    if context_mark is not None and context_mark.line != mark.line:
        what = context.split(" ", 2)[-1] if context and context.startswith("while ") else "it"
        detail += f" ({what} began at line {context_mark.line + 1 + line_offset})"
    return f"{file}:{mark.line + 1 + line_offset}:{mark.column + 1}: YAML syntax error: {detail}"


_JSON_SPACE = re.compile(r"[ \t\n\r]*")


def _json_constant(name: str) -> Any:
    raise NumberProblem(f"{name} is not JSON (Python's reader accepts it; Go's, kubectl's, does not) and no "
                        "Kubernetes field can hold it: write a finite number, or quote it to make it a string", -1)


def _json_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise NumberProblem(f"an integer of {len(text):,} digits is beyond what any Kubernetes field holds (and "
                            "beyond Python's integer conversion limit): write the intended value", -1) from None
    if abs(value) > _MAX_DOUBLE:
        raise NumberProblem(f"the integer {text[:20]}... ({len(text):,} digits) is too large for a JSON number or "
                            "a protobuf double: write the intended value", -1)
    return value


_JSON = json.JSONDecoder(parse_constant=_json_constant, parse_int=_json_int)
#: A \u escape of a UTF-16 surrogate: Python's reader keeps one that pairs with nothing as a lone
#: surrogate, which no UTF-8 text (and no protobuf string) can hold.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _without_lone_surrogates(value: Any) -> Any:
    """*value* with each lone surrogate replaced by U+FFFD, as Go's encoding/json (kubectl's JSON
    reader) decodes one: ``unquote`` in encoding/json/decode.go takes an escaped surrogate that does
    not pair with the next escape as ``unicode.ReplacementChar``."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_without_lone_surrogates(k): _without_lone_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_lone_surrogates(v) for v in value]
    return value


_JSON_BAD_NUMBER = re.compile(r"(?<![\w.\"])(?:-?Infinity|NaN|-?\d{300,})(?![\w\"])")


def _json_items_offsets(text: str, start: int) -> list[int]:
    """Offsets of the elements of the ``items`` array of the (valid) JSON object at *start*."""
    try:
        i = _JSON_SPACE.match(text, start).end()
        if text[i] != "{":
            return []
        items: list[int] = []
        i = _JSON_SPACE.match(text, i + 1).end()
        while text[i] != "}":
            key, i = json.decoder.scanstring(text, i + 1)
            i = _JSON_SPACE.match(text, _JSON_SPACE.match(text, i).end() + 1).end()  # past ':'
            if key == "items" and text[i] == "[":
                items = []
                i = _JSON_SPACE.match(text, i + 1).end()
                while text[i] != "]":
                    items.append(i)
                    _, i = _JSON.raw_decode(text, i)
                    i = _JSON_SPACE.match(text, i).end()
                    if text[i] == ",":
                        i = _JSON_SPACE.match(text, i + 1).end()
                i += 1
            else:
                _, i = _JSON.raw_decode(text, i)
            i = _JSON_SPACE.match(text, i).end()
            if text[i] == ",":
                i = _JSON_SPACE.match(text, i + 1).end()
        return items
    except (IndexError, ValueError, RecursionError):
        return []


class _Lines:
    """Line numbers of offsets into a text."""

    def __init__(self, text: str):
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def __call__(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset)


@dataclass(frozen=True)
class Duplicate:
    """An object defined more than once: kubectl applies every definition in turn, so the last
    one (``locations[-1]``) is what the cluster keeps, and the only one judged."""

    label: str
    locations: tuple[str, ...]

    @property
    def message(self) -> str:
        return (f"{self.label} is defined {len(self.locations)} times ({', '.join(self.locations)}): kubectl applies "
                f"them in this order, so the cluster keeps the last one ({self.locations[-1]}), which alone is "
                "judged; delete the other definitions")

    def as_json(self) -> dict:
        return {"resource": self.label, "locations": list(self.locations), "judged": self.locations[-1],
                "message": self.message}


def _identity(doc: dict, api_version: str, kind: str) -> Optional[tuple[str, str, str, str]]:
    """What makes two definitions the same object, as written: API group (not version), kind,
    namespace and name. None without a literal name (generateName makes a new object each time)."""
    meta = doc.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    name, namespace = meta.get("name"), meta.get("namespace")
    if not isinstance(name, str) or not name:
        return None
    group = api_version.strip().rpartition("/")[0]
    return group, kind, namespace if isinstance(namespace, str) else "", name


#: Kinds that are build inputs, not cluster objects (kustomize's own files).
_BUILD_INPUT_GROUPS = ("kustomize.config.k8s.io",)


class _Collector:
    def __init__(self, stack: str, project: str):
        self.stack = stack
        self.project = project
        self.resources: list[Resource] = []   # read since the last drain()
        self.problems: list[str] = []
        self.notes: list[str] = []           # inputs skipped, with why (not errors)
        self.warnings: list[str] = []        # inputs read, but not as a person may expect
        self.texts: dict[str, str] = {}      # standard input's text (up to STREAM_BYTES), by its name
        self.duplicates: list[Duplicate] = []
        self.cwd = os.getcwd()
        self._urns: dict[str, int] = {}
        self._identities: dict[int, tuple[str, str, str, str]] = {}
        #: identity -> its latest definition; the locations of every definition of an object
        #: defined more than once (the rest need none: memory holds one entry per object)
        self._seen: dict[tuple[str, str, str, str], Resource] = {}
        self._repeated: dict[tuple[str, str, str, str], list[str]] = {}
        self._skipped: dict[str, list[int]] = {}  # file -> lines of documents that are no objects

    def drain(self) -> list[Resource]:
        """The resources read since the last call, in order. An object defined again marks its
        earlier definition ``superseded`` (already handed out: the caller drops it at the end);
        objects without a literal name get a URN unique in the set."""
        out, self.resources = self.resources, []
        for resource in out:
            identity = self._identities.pop(id(resource), None)
            if identity is None:
                resource.urn = self.unique_urn(resource.urn)
                continue
            earlier = self._seen.get(identity)
            if earlier is not None:
                earlier.superseded = True
                self._repeated.setdefault(identity, [earlier.location]).append(resource.location)
            self._seen[identity] = resource
        return out

    def finish_stream(self) -> None:
        """After the last drain: duplicates recorded, notes for skipped documents written."""
        for identity, locations in self._repeated.items():
            self.duplicates.append(Duplicate(self._seen[identity].label, tuple(locations)))
        self._seen, self._repeated = {}, {}
        for file, lines in self._skipped.items():
            what = (f"line {lines[0]}" if len(lines) == 1 else
                    f"{plural_documents(len(lines))} (lines {', '.join(map(str, lines[:5]))}"
                    f"{', ...' if len(lines) > 5 else ''})")
            self.notes.append(f"{file}: skipped {what}: not a Kubernetes object (no apiVersion and kind: a Helm "
                              "values file, a kustomization, a CI workflow, ...); --skip-path GLOB silences this")
        self._skipped = {}

    def finish(self) -> list[Resource]:
        """Every resource read, the earlier definitions of a duplicated object dropped (and
        recorded in ``duplicates``), each with a URN unique in the set."""
        out = [r for r in self.drain()]
        self.finish_stream()
        return [r for r in out if not r.superseded]

    def unique_urn(self, urn: str) -> str:
        n = self._urns.get(urn, 0) + 1
        self._urns[urn] = n
        return urn if n == 1 else f"{urn}#{n}"

    def add_object(self, doc: Any, file: str, line: int) -> None:
        if not isinstance(doc, dict):
            if isinstance(doc, list):  # an Ansible play, a list of values: YAML, but no object
                self._skipped.setdefault(file, []).append(line)
                return
            self.problems.append(f"{file}:{line}: expected a Kubernetes object (a mapping with apiVersion and kind), "
                                 f"got {_kind_of(doc)}")
            return
        if "pulumiType" in doc:
            self._add_pulumi(doc, file, line)
            return
        api_version, kind = doc.get("apiVersion"), doc.get("kind")
        if kind is None and "metadata" not in doc:
            # values.yaml, a workflow, Chart.yaml (apiVersion but no kind): not an object kubectl applies
            self._skipped.setdefault(file, []).append(line)
            return
        if isinstance(api_version, str) and api_version.partition("/")[0] in _BUILD_INPUT_GROUPS:
            self.notes.append(f"{file}:{line}: skipped {kind or 'a'} {api_version} file: kustomize reads it, the "
                              "cluster never sees it (check the output of `kustomize build` instead)")
            return
        missing = [k for k, v in (("apiVersion", api_version), ("kind", kind)) if not isinstance(v, str) or not v]
        if missing:
            self.problems.append(f"{file}:{line}: document has no {' and no '.join(missing)}; every Kubernetes object "
                                 "needs apiVersion and kind (or use pulumiType/name/inputs for another resource)")
            return
        meta = doc.get("metadata")
        meta = meta if isinstance(meta, dict) else {}
        name = meta.get("name") if isinstance(meta.get("name"), str) and meta.get("name") else None
        if name is None:
            generate = meta.get("generateName")
            name = f"{generate}*" if isinstance(generate, str) and generate else f"{kind.lower()}@{file}:{line}"
        namespace = meta.get("namespace")
        resource_name = f"{namespace}/{name}" if isinstance(namespace, str) and namespace else name
        token = type_token(api_version, kind)
        resource = Resource(token, resource_name, doc, make_urn(self.stack, token, resource_name, self.project), "",
                            True, file, line)
        self.resources.append(resource)
        identity = _identity(doc, api_version, kind)
        if identity is not None:
            self._identities[id(resource)] = identity

    def _add_pulumi(self, doc: dict, file: str, line: int) -> None:
        token, name, inputs = doc.get("pulumiType"), doc.get("name"), doc.get("inputs", {})
        if not isinstance(token, str) or token.count(":") != 2:
            self.problems.append(f"{file}:{line}: pulumiType must be a type token like aws:kms/key:Key, got {token!r}")
            return
        if not isinstance(name, str) or not name:
            self.problems.append(f"{file}:{line}: a pulumiType document needs a name")
            return
        if not isinstance(inputs, dict):
            self.problems.append(f"{file}:{line}: inputs of {token} {name} must be a mapping")
            return
        # a YAML key may be a bool or a number (`yes:`, `1:`): named as written, sorted as text
        unknown = sorted((str(k) for k in set(doc) - {"pulumiType", "name", "inputs", "custom", "parent"}))
        if unknown:
            self.problems.append(f"{file}:{line}: unknown key(s) {', '.join(unknown)} in a pulumiType document "
                                 "(allowed: pulumiType, name, inputs, custom, parent)")
            return
        self.resources.append(Resource(token, name, inputs, make_urn(self.stack, token, name, self.project),
                                       str(doc.get("parent") or ""), bool(doc.get("custom", True)), file, line))

    def read_file(self, path: PathLike) -> None:
        for _ in self.read_file_parts(path):
            pass

    def read_file_parts(self, path: PathLike) -> Iterator[None]:
        """Read *path*, pausing (yielding) after each part: a file up to :data:`STREAM_BYTES` is
        one part; a larger YAML stream is read document by document (:meth:`read_io_parts`), so
        memory holds one document's text at a time, not the file's."""
        file = display_path(path, self.cwd)
        try:
            f = open(path, "rb")
        except OSError as e:
            self.problems.append(f"{file}: cannot read: {e.strerror or e}")
            return
        with f:
            try:
                head = _read_head(f, STREAM_BYTES + 1)
            except OSError as e:
                self.problems.append(f"{file}: cannot read: {e.strerror or e}")
                return
            if len(head) <= STREAM_BYTES:
                self.read_stream(decode(head), file)
                yield None
                return
            encoding, skip = "utf-8", 0
            for bom, name in _BOMS:
                if head.startswith(bom):
                    encoding, skip = name, len(bom)
                    break
            f.seek(skip)
            text = io.TextIOWrapper(f, encoding=encoding, errors="replace", newline="")
            yield from self.read_io_parts(text, file)

    def read_io_parts(self, stream: TextIO, file: str) -> Iterator[None]:
        """A YAML or JSON stream read from a file object, pausing after each part. Up to
        :data:`STREAM_BYTES` it is read whole (:meth:`read_stream`); beyond, a YAML stream is cut
        into its documents at the lines that start with ``---`` or ``...`` (YAML 1.2 section 9.1:
        such a line always ends the document before it, whatever it holds) and each document is
        read with its own line numbers; a JSON stream is read whole."""
        head = stream.read(STREAM_BYTES)
        rest = stream.read(1)
        if not rest:
            self.texts[file] = head  # a stream has no file to re-read: reports locate fields in this copy
            self.read_stream(head, file)
            yield None
            return
        if head.lstrip().startswith("{") or _DIRECTIVE.search(head):
            self.read_stream(head + rest + stream.read(), file)  # JSON, or YAML directives: whole
            yield None
            return
        chunk: list[str] = []
        start = 1          # the line the current chunk starts at
        number = 0
        lines = itertools.chain(io.StringIO(head + rest + stream.readline()), stream)
        for line in lines:
            number += 1
            if line.startswith("...") and _DOCUMENT_BOUNDARY.match(line):  # ends the document it follows
                chunk.append(line)
                self._read_chunk("".join(chunk), file, start)
                chunk, start = [], number + 1
                yield None
                continue
            if _DOCUMENT_BOUNDARY.match(line) and chunk:  # "---" starts the next document
                self._read_chunk("".join(chunk), file, start)
                chunk, start = [], number
                yield None
            chunk.append(line)
        if chunk:
            self._read_chunk("".join(chunk), file, start)
        yield None

    def _read_chunk(self, text: str, file: str, start: int) -> None:
        try:
            self._read_yaml(text, file, start - 1)
        except ManifestError as e:
            self.problems.extend(e.problems)

    def read_stream(self, text: str, file: str) -> None:
        """A YAML or JSON stream, told apart as kubectl's YAMLOrJSONDecoder does (k8s.io/apimachinery
        pkg/util/yaml/decoder.go): a stream whose first non-space character is ``{`` is read as
        JSON objects one after another, else as YAML documents."""
        try:
            if text.lstrip().startswith("{"):
                self._read_json(text, file)
            else:
                self._read_yaml(text, file)
        except ManifestError as e:
            self.problems.extend(e.problems)

    def _read_yaml(self, text: str, file: str, line_offset: int = 0) -> None:
        def line_of(node: yaml.Node) -> int:
            return node.start_mark.line + 1 + line_offset

        for doc, _, node in iter_documents(text, file, line_offset):
            if doc is None:
                continue
            for item, line in flatten(doc, node, _items_nodes, line_of):
                self.add_object(item, file, line)

    def _read_json(self, text: str, file: str) -> None:
        lines = _Lines(text)
        i, count = _JSON_SPACE.match(text).end(), 0
        while i < len(text):
            try:
                doc, end = _JSON.raw_decode(text, i)
            except json.JSONDecodeError as e:
                problem = f"{file}:{e.lineno}:{e.colno}: JSON syntax error: {e.msg}"
                if count > 1:
                    raise ManifestError([problem]) from None
                self._json_then_yaml(text, file, 0 if count == 0 else i, lines, problem)
                return
            except RecursionError:
                raise ManifestError([_too_deep(file, lines(i))]) from None
            except NumberProblem as e:
                bad = _JSON_BAD_NUMBER.search(text, i)
                raise ManifestError([f"{file}:{lines(bad.start() if bad else i)}: {e}"]) from None
            if _depth_of(doc) > MAX_DEPTH:
                raise ManifestError([_too_deep(file, lines(i))])
            if _SURROGATE_ESCAPE.search(text, i, end) is not None:
                doc = _without_lone_surrogates(doc)
            count += 1
            if doc is not None:
                for item, line in flatten(doc, i, lambda at: _json_items_offsets(text, at), lines):
                    self.add_object(item, file, line)
            i = _JSON_SPACE.match(text, end).end()

    def _json_then_yaml(self, text: str, file: str, start: int, lines: "_Lines", json_problem: str) -> None:
        """kubectl's decoder, having read at most one JSON object, reads the rest of the stream as
        YAML (``{a: b}`` is a YAML flow mapping). If that fails too, a ``.json`` file is reported
        with the JSON error, any other with the YAML one."""
        if start:  # past the first object: spaces up to and including the line's end
            m = re.compile(r"[^\S\n]*\n?").match(text, start)
            start = m.end() if m else start
        before = len(self.resources)
        try:
            self._read_yaml(text[start:], file, lines(start) - 1)
        except ManifestError:
            if not file.endswith(".json"):
                raise
            del self.resources[before:]
            raise ManifestError([json_problem]) from None

    def _compare_manifest(self, target: str, digest: Any, render_file: str) -> None:
        """A render's manifest edited (or deleted) after render: check judges resources.json's
        object, so it says the edit is not what it judged."""
        if not isinstance(digest, str):
            return
        actual = _manifest_digest(target)
        shown = display_path(target, self.cwd)
        if actual is None:
            self.warnings.append(f"{shown} is gone, but {render_file} still registers its object: check judges the "
                                 "rendered object; render again to make them agree")
        elif actual != digest:
            self.warnings.append(f"{shown} was edited after render (it differs from what {render_file} records): "
                                 f"check judges the rendered object, not the edit; render again, or check the edited "
                                 f"file itself (hardened check {shown})")

    def read_render(self, path: PathLike) -> set[str]:
        """Read a render's resources.json; returns the (absolute) manifest files it covers."""
        file = display_path(path, self.cwd)
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
            doc = json.loads(text)
        except (OSError, UnicodeDecodeError) as e:
            self.problems.append(f"{file}: cannot read: {e}")
            return set()
        except json.JSONDecodeError as e:
            self.problems.append(f"{file}:{e.lineno}:{e.colno}: JSON syntax error: {e.msg}")
            return set()
        except RecursionError:
            self.problems.append(_too_deep(file, 1))
            return set()
        if not isinstance(doc, dict) or not isinstance(doc.get("resources"), list):
            self.problems.append(f"{file}:1: expected {{project, stack, resources: [...]}} as written by "
                                 "`python -m hardened render`")
            return set()
        if f'"{RENDERED_UNKNOWN}"' in text:
            doc = _restore_unknowns(doc)
        lines = _urn_lines(text)
        covered: set[str] = set()
        base = os.path.dirname(os.path.abspath(path))
        for i, entry in enumerate(doc["resources"]):
            if not isinstance(entry, dict):
                self.problems.append(f"{file}:1: resources[{i}] is not an object")
                continue
            urn, token, name = entry.get("urn"), entry.get("type"), entry.get("name")
            where = f"{file}:{lines.get(urn, 1)}"
            inputs = entry.get("inputs") if isinstance(entry.get("inputs"), dict) else {}
            if not all(isinstance(v, str) and v for v in (urn, token, name)):
                self.problems.append(f"{where}: resources[{i}] needs urn, type and name")
                continue
            manifest = entry.get("manifest")
            res_file, res_line = file, lines.get(urn, 1)
            if isinstance(manifest, str) and manifest:
                target = os.path.normpath(os.path.join(base, manifest))
                covered.add(target)
                res_file, res_line = display_path(target, self.cwd), 1
                self._compare_manifest(target, entry.get("manifestSha256"), file)
            paths = entry.get("secretPaths")
            paths = tuple(p for p in paths if isinstance(p, str)) if isinstance(paths, list) else ()
            deps = entry.get("dependencies")
            deps = tuple(d for d in deps if isinstance(d, str)) if isinstance(deps, list) else ()
            prop_deps = entry.get("propertyDependencies")
            prop_deps = ({k: [u for u in v if isinstance(u, str)] for k, v in prop_deps.items() if isinstance(v, list)}
                         if isinstance(prop_deps, dict) else None)
            options = entry.get("options") if isinstance(entry.get("options"), dict) else None
            provider = entry.get("provider") if isinstance(entry.get("provider"), str) else ""
            self.resources.append(Resource(token, name, inputs, urn, str(entry.get("parent") or ""),
                                           bool(entry.get("custom", True)), res_file, res_line, paths,
                                           provider, deps, prop_deps, options))
        return covered


def _read_head(f: io.BufferedReader, limit: int) -> bytes:
    """``f.read(limit)``, without a buffer of *limit* bytes for a smaller regular file: read up to
    its size (plus one byte, to see the end), and on only if it grew meanwhile."""
    try:
        st = os.fstat(f.fileno())
        first = min(st.st_size + 1, limit) if stat.S_ISREG(st.st_mode) else limit
    except (OSError, AttributeError, io.UnsupportedOperation):
        first = limit
    head = f.read(first)
    if len(head) == first < limit:
        head += f.read(limit - first)
    return head


def _manifest_digest(path: str) -> Optional[str]:
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except OSError:
        return None


def _urn_lines(text: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        m = re.search(r'"urn": "((?:[^"\\]|\\.)*)"', line)
        if m:
            out.setdefault(m.group(1), number)
    return out


def _restore_unknowns(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _restore_unknowns(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_restore_unknowns(v) for v in value]
    return UNKNOWN if value == RENDERED_UNKNOWN else value


def plural_documents(n: int) -> str:
    return "1 document" if n == 1 else f"{n:,} documents"


def _kind_of(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    return type(value).__name__


def _extension(name: str) -> str:
    """Go's ``filepath.Ext``: from the last dot of the name (``.yaml`` of a file named ``.yaml`` too)."""
    dot = name.rfind(".")
    return name[dot:] if dot >= 0 else ""


def skipped_by(path: str, globs: Iterable[str], base: Optional[str] = None) -> Optional[str]:
    """The first of *globs* (``--skip-path``) that matches *path*: its path relative to *base*
    (the directory given on the command line), its display path or its name, in ``fnmatch``'s
    syntax (``*`` also crosses ``/``): ``values*.yaml``, ``.github/*``, ``charts/*/ci/*``."""
    candidates = {os.path.basename(path.rstrip("/")), display_path(path)}
    if base is not None:
        candidates.add(os.path.relpath(path, base).replace(os.sep, "/"))
    for glob in globs:
        pattern = glob.rstrip("/")
        if any(fnmatch.fnmatchcase(c, pattern) for c in candidates):
            return glob
    return None


def walk(directory: str, problems: Optional[list[str]] = None, *, skip: Iterable[str] = (),
         notes: Optional[list[str]] = None, charts: bool = False) -> Iterator[str]:
    """The files ``kubectl apply -R -f DIRECTORY`` reads, in its order: ExpandPathsToFileVisitors
    (k8s.io/cli-runtime pkg/resource/visitor.go) walks with ``filepath.Walk``, which visits the
    entries of a directory in lexical order, descending into a subdirectory where its name sorts,
    does not follow symbolic links, and skips no hidden name; a file is read when its extension is
    one of ``FileExtensions`` (pkg/resource/builder.go: .json, .yaml, .yml, matched exactly).

    Unlike kubectl, an entry that is no regular file (a FIFO, a socket, a device) is skipped with
    a note instead of opened (opening a FIFO would wait for a writer forever); paths matching a
    *skip* glob are left out (a directory with all it holds); with *charts*, a directory holding
    ``Chart.yaml`` is yielded itself (with a trailing ``/``), for its chart to be rendered."""
    pending: list[Iterator[os.DirEntry]] = []
    skip = list(skip)

    def enter(path: str) -> None:
        try:
            with os.scandir(path) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:
            if problems is not None:
                problems.append(f"{display_path(path)}: cannot read the directory: {e.strerror or e}")
            return
        pending.append(iter(entries))

    if charts and os.path.isfile(os.path.join(directory, CHART_FILE)):
        yield directory.rstrip("/") + "/"
        return
    enter(directory)
    while pending:
        entry = next(pending[-1], None)
        if entry is None:
            pending.pop()
            continue
        if skip and skipped_by(entry.path, skip, directory):
            continue
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
        except OSError:
            is_dir = False
        if is_dir:
            if charts and os.path.isfile(os.path.join(entry.path, CHART_FILE)):
                yield entry.path.rstrip("/") + "/"
                continue
            enter(entry.path)
        elif _extension(entry.name) in KUBECTL_EXTENSIONS:
            try:
                mode = os.stat(entry.path).st_mode
            except OSError:
                yield entry.path  # a dangling link: reading it reports why
                continue
            if not stat.S_ISREG(mode):
                if notes is not None:
                    what = ("a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else
                            "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file")
                    notes.append(f"{display_path(entry.path)}: skipped: {what}, not a file (reading it could wait "
                                 "forever); name it on the command line to read it")
                continue
            yield entry.path


def stream_resources(paths: Union[PathLike, Iterable[PathLike]], *, stack: str = DEFAULT_STACK,
                     project: str = PROJECT, duplicates: Optional[list[Duplicate]] = None,
                     notes: Optional[list[str]] = None, skip: Iterable[str] = (),
                     chart_values: Optional[dict] = None, stdin: Optional[TextIO] = None,
                     stdin_name: str = "<stdin>", warnings: Optional[list[str]] = None,
                     texts: Optional[dict[str, str]] = None) -> Iterator[Resource]:
    """The resources of *paths* as they are read (``-`` is *stdin*), in kubectl's order, memory
    holding one document at a time; every definition of an object is yielded, and an earlier one
    is marked ``superseded`` once a later one is read (the caller drops superseded resources at
    the end; :func:`iter_resources` does it for you). A directory holding ``Chart.yaml`` is a Helm
    chart: rendered with its default values (merged with *chart_values*, ``--values``), as
    ``helm template`` would, by the engine ``render`` uses (hardened/engine.py). After the last
    resource, *duplicates* and *notes* (inputs skipped, with why) are filled and
    :class:`ManifestError` lists every unreadable file or document (``file:line: why``)."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    collector = _Collector(stack, project)
    seen: set[str] = set()
    skip = list(skip)
    for raw in paths:
        if os.fspath(raw) == "-" and stdin is not None:
            for _ in collector.read_io_parts(stdin, stdin_name):
                yield from collector.drain()
            if texts is not None:
                texts.update(collector.texts)
            continue
        absolute = os.path.abspath(raw)
        if not os.path.exists(absolute):
            collector.problems.append(f"{os.fspath(raw)}: no such file or directory")
            continue
        if skip and skipped_by(absolute, skip):
            continue
        if os.path.isdir(absolute):
            skip_files = {os.path.join(absolute, POLICY_CONFIG), os.path.join(absolute, OPT_OUTS)}
            render = os.path.join(absolute, RESOURCES_JSON)
            if os.path.isfile(render):
                skip_files.add(render)
                if render not in seen:
                    seen.add(render)
                    skip_files |= collector.read_render(render)
                    yield from collector.drain()
            for file in walk(absolute, collector.problems, skip=skip, notes=collector.notes, charts=True):
                if file.endswith("/"):
                    _read_chart(collector, file.rstrip("/"), chart_values)
                    yield from collector.drain()
                    continue
                if file in skip_files or file in seen:
                    continue
                seen.add(file)
                for _ in collector.read_file_parts(file):
                    yield from collector.drain()
        elif absolute not in seen:
            seen.add(absolute)
            if os.path.basename(absolute) == RESOURCES_JSON:
                collector.read_render(absolute)
            else:
                for _ in collector.read_file_parts(absolute):
                    yield from collector.drain()
        yield from collector.drain()
    yield from collector.drain()
    collector.finish_stream()
    if duplicates is not None:
        duplicates.extend(collector.duplicates)
    if notes is not None:
        notes.extend(collector.notes)
    if warnings is not None:
        warnings.extend(collector.warnings)
    if collector.problems:
        raise ManifestError(collector.problems)


def _read_chart(collector: "_Collector", directory: str, values: Optional[dict]) -> None:
    """A Helm chart directory's objects, rendered as ``helm template <dir>`` renders them (release
    named after the chart, namespace ``default``, the chart's default values merged with
    *values*) by :func:`hardened.engine.render_local_chart`; each object is located at the
    chart's ``Chart.yaml``."""
    from . import engine

    file = display_path(os.path.join(directory, CHART_FILE), collector.cwd)
    try:
        render = engine.render_local_chart(directory, values=values or {})
    except engine.ChartError as e:
        collector.problems.append(f"{file}: {e}")
        return
    collector.notes.append(f"{display_path(directory, collector.cwd)}: Helm chart {render.chart} {render.version} "
                           f"rendered with its default values{' and --values' if values else ''} "
                           f"({len(render.objects)} objects{f', {len(render.hooks)} hooks dropped' if render.hooks else ''})")
    for obj in render.objects:
        collector.add_object(obj, file, 1)


def iter_resources(paths: Union[PathLike, Iterable[PathLike]], *, stack: str = DEFAULT_STACK,
                   project: str = PROJECT, duplicates: Optional[list[Duplicate]] = None) -> Iterator[Resource]:
    """The resources of *paths* (files or directories) in a deterministic order (kubectl's), each
    object once: the last of its definitions (the earlier ones are appended to *duplicates*, when
    given, as :class:`Duplicate`). After the last resource, raises :class:`ManifestError` listing
    every unreadable file or document (``file:line: why``)."""
    resources: list[Resource] = []
    try:
        for resource in stream_resources(paths, stack=stack, project=project, duplicates=duplicates):
            resources.append(resource)
    except ManifestError:
        yield from (r for r in resources if not r.superseded)
        raise
    yield from (r for r in resources if not r.superseded)


def load_path(paths: Union[PathLike, Iterable[PathLike]], *, stack: str = DEFAULT_STACK,
              project: str = PROJECT, duplicates: Optional[list[Duplicate]] = None) -> list[Resource]:
    """Every resource in *paths* (files or directories), in a deterministic order.

    Raises :class:`ManifestError` listing every unreadable file or document (file:line: why).
    """
    return list(iter_resources(paths, stack=stack, project=project, duplicates=duplicates))


def load_text(text: str, file: str = "<text>", *, stack: str = DEFAULT_STACK,
              duplicates: Optional[list[Duplicate]] = None) -> list[Resource]:
    """The resources of one YAML or JSON stream (tests, samples held in memory)."""
    collector = _Collector(stack, PROJECT)
    collector.read_stream(text, file)
    resources = collector.finish()
    if duplicates is not None:
        duplicates.extend(collector.duplicates)
    if collector.problems:
        raise ManifestError(collector.problems)
    return resources
