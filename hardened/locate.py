"""Where in a YAML file a field is: the line index behind SARIF regions, annotations and error messages.

:class:`LineIndex` composes a YAML file once into its node tree (no objects are built) and answers
"which line and column holds ``spec.template.spec.containers[0].image`` of the document that starts
at line 12": the deepest part of the path that exists (a missing field is reported at its nearest
existing parent, e.g. the container that lacks a ``livenessProbe``).

:func:`field_paths` finds the field paths a policy message names (the pack's messages name the
offending field, ``... (spec.template.spec.containers[0].securityContext.privileged: true)``).

:func:`config_location` finds a stack config key (``workloads[0].image``) in ``Pulumi.<stack>.yaml``.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Optional, Sequence, Union

import yaml

try:
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

PathPart = Union[str, int]

#: ``spec.containers[0].image``, ``rules[0].apiGroups``, ``data.hsts-max-age``: dotted or indexed
#: names. A lone word counts only when it is camelCase (``automountServiceAccountToken``), so plain
#: English in a message is never read as a field.
_PATH = re.compile(r"(?<![\w./:@-])([A-Za-z_][\w-]*(?:\[\d*\])*(?:\.[A-Za-z_][\w-]*(?:\[\d*\])*)*)")
_PART = re.compile(r"([^.\[\]]+)|\[(\d*)\]")


@dataclass(frozen=True)
class Position:
    line: int     # 1-based
    column: int   # 1-based
    depth: int    # how many parts of the path were found (0: the document itself)


def parse_path(text: str) -> list[PathPart]:
    """``spec.containers[0].image`` -> ``["spec", "containers", 0, "image"]`` (``[]`` stops the path)."""
    parts: list[PathPart] = []
    for name, index in _PART.findall(text):
        if name:
            parts.append(name)
        elif index == "":
            break
        else:
            parts.append(int(index))
    return parts


def field_paths(message: str) -> list[list[PathPart]]:
    """The field paths *message* names, longest first."""
    return [list(path) for path in _field_paths(message)]


@lru_cache(maxsize=4096)
def _field_paths(message: str) -> tuple[tuple[PathPart, ...], ...]:
    """:func:`field_paths`, once per message (a policy words the same finding alike on many objects)."""
    found = []
    for m in _PATH.finditer(message):
        token = m.group(1).rstrip(".-")
        if "." not in token and "[" not in token and not re.match(r"[a-z]+[A-Z]", token):
            continue
        parts = parse_path(token)
        if parts and parts not in found:
            found.append(parts)
    return tuple(tuple(path) for path in sorted(found, key=len, reverse=True))


def _child(node: yaml.Node, part: PathPart) -> Optional[yaml.Node]:
    if isinstance(node, yaml.MappingNode) and isinstance(part, str):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == part:
                return value
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        return node.value[part]
    return None


def _key_node(node: yaml.Node, part: PathPart) -> Optional[yaml.Node]:
    if isinstance(node, yaml.MappingNode) and isinstance(part, str):
        for key, _ in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == part:
                return key
    return None


def resolve(root: yaml.Node, path: Sequence[PathPart]) -> Position:
    """The position of the deepest existing node along *path* (a mapping entry at its key)."""
    node, mark, depth = root, root.start_mark, 0
    for part in path:
        child = _child(node, part)
        if child is None:
            break
        key = _key_node(node, part)
        mark = (key or child).start_mark
        node, depth = child, depth + 1
    return Position(mark.line + 1, mark.column + 1, depth)


class _ShapeLoader(_Loader):  # type: ignore[misc, valid-type]
    """Composes a YAML stream into nodes for their shape and positions only: a node's tag is never
    read here, so no scalar's tag is resolved (the resolver's regular expressions, a Python call per
    scalar, were most of the cost of an index)."""

    def resolve(self, kind, value, implicit):  # noqa: D102 (PyYAML's hook)
        return ""

    def descend_resolver(self, current_node, current_index):  # noqa: D102
        pass

    def ascend_resolver(self):  # noqa: D102
        pass


class LineIndex:
    """One YAML file's documents (and ``*List`` items) by the line they start on."""

    def __init__(self, text: str):
        self.roots: dict[int, yaml.Node] = {}
        try:
            for doc in yaml.compose_all(text, Loader=_ShapeLoader):
                if doc is None:
                    continue
                self.roots.setdefault(doc.start_mark.line + 1, doc)
                items = _child(doc, "items")
                kind = _child(doc, "kind")
                if isinstance(items, yaml.SequenceNode) and isinstance(kind, yaml.ScalarNode) \
                        and kind.value.endswith("List"):
                    for item in items.value:
                        self.roots.setdefault(item.start_mark.line + 1, item)
        except yaml.YAMLError:
            pass  # an unreadable file keeps the documents read so far; the reader reports the error

    @classmethod
    def of_file(cls, path: str) -> "LineIndex":
        return _index_of(os.path.abspath(path), _mtime(path))

    def root(self, line: Optional[int]) -> Optional[yaml.Node]:
        if not self.roots:
            return None
        if line in self.roots:
            return self.roots[line]
        # a document starting with comments or `---` starts a little before its first node
        after = [n for n in self.roots if line is None or n >= line]
        return self.roots[min(after)] if after else None

    def locate(self, line: Optional[int], paths: Iterable[Sequence[PathPart]]) -> Optional[Position]:
        """The best position among *paths* in the document at *line* (the deepest match; a
        ``pulumiType`` document's paths are read under its ``inputs``)."""
        root = self.root(line)
        if root is None:
            return None
        bases = [root]
        inputs = _child(root, "inputs")
        if inputs is not None and _child(root, "pulumiType") is not None:
            bases.insert(0, inputs)
        best: Optional[Position] = None
        for path in paths:
            for base in bases:
                pos = resolve(base, path)
                if pos.depth and (best is None or pos.depth > best.depth):
                    best = pos
        if best is None:
            mark = root.start_mark
            best = Position(mark.line + 1, mark.column + 1, 0)
        return best


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0


@lru_cache(maxsize=256)
def _index_of(path: str, _mtime_key: float) -> LineIndex:
    try:
        with open(path, encoding="utf-8") as f:
            return LineIndex(f.read())
    except (OSError, UnicodeDecodeError):
        return LineIndex("")


# ---------------------------------------------------------------------------------------------
# Stack configuration files
# ---------------------------------------------------------------------------------------------

def config_location(stack_file: str, key_path: Union[str, Sequence[PathPart]],
                    project: str = "hardened-stack") -> Optional[Position]:
    """Where ``<project>:<key path>`` is set in a ``Pulumi.<stack>.yaml`` (the deepest part of the
    path that is written there), or None when the file or the top-level key is not there."""
    parts = parse_path(key_path) if isinstance(key_path, str) else list(key_path)
    if not parts:
        return None
    index = LineIndex.of_file(stack_file)
    root = index.root(1)
    config = _child(root, "config") if root is not None else None
    if config is None:
        return None
    head, rest = parts[0], parts[1:]
    for top in (f"{project}:{head}", head):
        if _child(config, top) is not None:
            pos = resolve(config, [top, *rest])
            return pos
    return None


_CONFIG_KEY = re.compile(r"(?P<project>[\w-]+):(?P<path>[A-Za-z_][\w-]*(?:\[\d+\]|\.[A-Za-z_][\w-]*)*)")


def annotate_config_message(message: str, stack_file: str, project: str = "hardened-stack") -> str:
    """Prefix ``Pulumi.prod.yaml:9:5:`` to every line of a config error naming ``<project>:<key>``
    that is written in *stack_file* (the deepest part of the key path written there)."""
    name = os.path.basename(stack_file)
    out = []
    for line in message.splitlines():
        m = _CONFIG_KEY.search(line)
        if m and m.group("project") == project:
            pos = config_location(stack_file, m.group("path"), project)
            if pos is not None:
                indent = line[:len(line) - len(line.lstrip())]
                line = f"{indent}{name}:{pos.line}:{pos.column}: {line.lstrip()}"
        out.append(line)
    return "\n".join(out)
