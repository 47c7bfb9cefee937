"""Kubernetes YAML (and rendered stacks) as the resources the Pulumi engine would hand a policy pack.

:func:`load_path` reads files and directories (recursively, ``*.yaml``/``*.yml``), multi-document
streams, ``List`` kinds (flattened), and documents that describe a non-Kubernetes resource::

    pulumiType: aws:kms/key:Key
    name: vault-unseal
    inputs: {enableKeyRotation: true}

(``outputs`` may give a component's registered outputs, e.g. a Chart's ``resources``: the engine
sends outputs to ``AnalyzeStack``.)

A directory holding ``resources.json`` (the output of ``python -m hardened render``) is read
through it: every registered resource with its type, inputs, URN and parent; the manifest files
it names are not read a second time, other YAML files are.

Every resource keeps the file and line it came from, for reports. Unreadable input raises
:class:`ManifestError` naming the file and line (and column, for a YAML syntax error).
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Optional, Union

import yaml

try:  # libyaml is several times faster; the pure-Python loader behaves the same
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

PROJECT = "hardened-stack"
DEFAULT_STACK = "offline"
RESOURCES_JSON = "resources.json"
YAML_SUFFIXES = (".yaml", ".yml")
#: The Pulumi engine's marker for a value unknown during preview (a string sentinel).
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
#: How ``render`` writes an unknown value.
RENDERED_UNKNOWN = "[unknown]"

PathLike = Union[str, os.PathLike]


class ManifestError(Exception):
    """Input that cannot be read as resources; ``problems`` are ``file:line: message`` strings."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


_STR, _MAP, _SEQ = "tag:yaml.org,2002:str", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    """The safe loader, minus timestamps (Kubernetes reads YAML as JSON, so ``2027-11-30`` in a
    manifest is a string, not a date), and faster on what manifests are made of: tag resolution
    of plain scalars is cached (keys repeat across every object), and plain mappings, sequences
    and strings are built directly; anything else (numbers, booleans, merge keys, explicit tags)
    goes through the standard constructor, so the result is the same as ``yaml.safe_load``'s."""

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

    def build(self, node: yaml.Node) -> Any:
        cls, tag = node.__class__, node.tag
        if cls is yaml.ScalarNode and tag == _STR:
            return node.value
        if cls is yaml.MappingNode and tag == _MAP:
            out = {}
            for key, value in node.value:
                if key.__class__ is not yaml.ScalarNode or key.tag != _STR:
                    return self.construct_object(node, deep=True)
                out[key.value] = self.build(value)
            return out
        if cls is yaml.SequenceNode and tag == _SEQ:
            return [self.build(item) for item in node.value]
        return self.construct_object(node, deep=True)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}


@dataclass
class Resource:
    """One resource as the engine would register it, plus where it came from."""

    type: str
    name: str
    inputs: dict[str, Any]
    urn: str = ""
    parent: str = ""
    custom: bool = True
    file: Optional[str] = None
    line: Optional[int] = None
    #: a remote component's registered outputs (a Chart's ``resources``), from a render
    outputs: Optional[dict[str, Any]] = None

    @property
    def is_kubernetes(self) -> bool:
        return self.type.startswith("kubernetes:") and "kind" in self.inputs

    @property
    def analyzed(self) -> bool:
        """Whether the engine sends it to ``Analyze``: every registration, components included
        (see hardened.engine); the stack resource itself is not registered through a provider."""
        return self.type != "pulumi:pulumi:Stack"

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
# Reading
# ---------------------------------------------------------------------------------------------

def _is_list_kind(doc: dict) -> bool:
    kind = doc.get("kind")
    return isinstance(kind, str) and kind.endswith("List") and isinstance(doc.get("items"), list)


def _items_lines(node: yaml.Node) -> list[int]:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == "items" and isinstance(value, yaml.SequenceNode):
                return [item.start_mark.line + 1 for item in value.value]
    return []


def iter_documents(text: str, file: str) -> Iterable[tuple[Any, int, yaml.Node]]:
    """``(data, line, node)`` for every document of a YAML stream; ManifestError on bad syntax."""
    loader = _Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            line = node.start_mark.line + 1
            try:
                data = loader.build(node)
            except yaml.YAMLError as e:
                raise ManifestError([_yaml_problem(file, e, line)]) from None
            yield data, line, node
    except yaml.YAMLError as e:
        raise ManifestError([_yaml_problem(file, e)]) from None
    finally:
        loader.dispose()


def _yaml_problem(file: str, error: yaml.YAMLError, fallback_line: Optional[int] = None) -> str:
    mark = getattr(error, "problem_mark", None)
    context_mark = getattr(error, "context_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    context = getattr(error, "context", None)
    detail = f"{context}: {problem}" if context else problem
    mark = mark or context_mark
    if mark is None:
        return f"{file}:{fallback_line or 1}: YAML error: {detail}"
    if context_mark is not None and context_mark.line != mark.line:
        what = context.split(" ", 2)[-1] if context and context.startswith("while ") else "it"
        detail += f" ({what} began at line {context_mark.line + 1})"
    return f"{file}:{mark.line + 1}:{mark.column + 1}: YAML syntax error: {detail}"


class _Collector:
    def __init__(self, stack: str, project: str):
        self.stack = stack
        self.project = project
        self.resources: list[Resource] = []
        self.problems: list[str] = []
        self.cwd = os.getcwd()
        self._urns: dict[str, int] = {}

    def take(self) -> list[Resource]:
        out, self.resources = self.resources, []
        return out

    def unique_urn(self, urn: str) -> str:
        n = self._urns.get(urn, 0) + 1
        self._urns[urn] = n
        return urn if n == 1 else f"{urn}#{n}"

    def add_object(self, doc: Any, file: str, line: int) -> None:
        if not isinstance(doc, dict):
            self.problems.append(f"{file}:{line}: expected a Kubernetes object (a mapping with apiVersion and kind), "
                                 f"got {_kind_of(doc)}")
            return
        if "pulumiType" in doc:
            self._add_pulumi(doc, file, line)
            return
        api_version, kind = doc.get("apiVersion"), doc.get("kind")
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
        urn = self.unique_urn(make_urn(self.stack, token, resource_name, self.project))
        self.resources.append(Resource(token, resource_name, doc, urn, "", True, file, line))

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
        unknown = sorted(set(doc) - {"pulumiType", "name", "inputs", "outputs", "custom", "parent"})
        if unknown:
            self.problems.append(f"{file}:{line}: unknown key(s) {', '.join(unknown)} in a pulumiType document "
                                 "(allowed: pulumiType, name, inputs, outputs, custom, parent)")
            return
        outputs = doc.get("outputs")
        if outputs is not None and not isinstance(outputs, dict):
            self.problems.append(f"{file}:{line}: outputs of {token} {name} must be a mapping")
            return
        urn = self.unique_urn(make_urn(self.stack, token, name, self.project))
        self.resources.append(Resource(token, name, inputs, urn, str(doc.get("parent") or ""),
                                       bool(doc.get("custom", True)), file, line, outputs))

    def read_yaml(self, path: PathLike) -> None:
        file = display_path(path, self.cwd)
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except (OSError, UnicodeDecodeError) as e:
            self.problems.append(f"{file}: cannot read: {e}")
            return
        self.read_stream(text, file)

    def read_stream(self, text: str, file: str) -> None:
        try:
            for doc, line, node in iter_documents(text, file):
                if doc is None:
                    continue
                if isinstance(doc, dict) and _is_list_kind(doc):
                    lines = _items_lines(node)
                    for i, item in enumerate(doc["items"]):
                        self.add_object(item, file, lines[i] if i < len(lines) else line)
                else:
                    self.add_object(doc, file, line)
        except ManifestError as e:
            self.problems.extend(e.problems)

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
            outputs = entry.get("outputs") if isinstance(entry.get("outputs"), dict) else None
            self.resources.append(Resource(token, name, inputs, self.unique_urn(urn), str(entry.get("parent") or ""),
                                           bool(entry.get("custom", True)), res_file, res_line, outputs))
        return covered


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


def _kind_of(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    return type(value).__name__


def _walk(directory: str) -> Iterator[str]:
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.endswith(YAML_SUFFIXES) and not name.startswith("."):
                yield os.path.join(root, name)


def iter_resources(paths: Union[PathLike, Iterable[PathLike]], *, stack: str = DEFAULT_STACK,
                   project: str = PROJECT) -> Iterator[Resource]:
    """The resources of *paths* (files or directories), file by file, in a deterministic order,
    so a consumer can work on the first while the rest are read. After the last one, raises
    :class:`ManifestError` listing every unreadable file or document (``file:line: why``)."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    collector = _Collector(stack, project)
    seen: set[str] = set()
    for raw in paths:
        absolute = os.path.abspath(raw)
        if not os.path.exists(absolute):
            collector.problems.append(f"{os.fspath(raw)}: no such file or directory")
            continue
        if os.path.isdir(absolute):
            covered: set[str] = set()
            render = os.path.join(absolute, RESOURCES_JSON)
            if os.path.isfile(render):
                covered = collector.read_render(render)
                yield from collector.take()
            for file in _walk(absolute):
                if file in covered or file in seen:
                    continue
                seen.add(file)
                collector.read_yaml(file)
                yield from collector.take()
        elif absolute not in seen:
            seen.add(absolute)
            if os.path.basename(absolute) == RESOURCES_JSON:
                collector.read_render(absolute)
            else:
                collector.read_yaml(absolute)
            yield from collector.take()
    if collector.problems:
        raise ManifestError(collector.problems)


def load_path(paths: Union[PathLike, Iterable[PathLike]], *, stack: str = DEFAULT_STACK,
              project: str = PROJECT) -> list[Resource]:
    """Every resource in *paths* (files or directories), in a deterministic order.

    Raises :class:`ManifestError` listing every unreadable file or document (file:line: why).
    """
    return list(iter_resources(paths, stack=stack, project=project))


def load_text(text: str, file: str = "<text>", *, stack: str = DEFAULT_STACK) -> list[Resource]:
    """The resources of one YAML stream (tests, samples held in memory)."""
    collector = _Collector(stack, PROJECT)
    collector.read_stream(text, file)
    if collector.problems:
        raise ManifestError(collector.problems)
    return collector.resources
