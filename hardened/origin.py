"""Where a finding comes from, for SARIF regions and CI annotations.

Two rules, applied to each verdict:

1. **The offending field.** The pack's messages name the field they judge
   (``spec.template.spec.containers[0].securityContext.privileged``). The field's line and column
   in the resource's YAML file come from :class:`hardened.locate.LineIndex`; a field that is
   missing is placed at its nearest existing parent (the container that lacks a probe), and a
   message naming no field at the document's first line.

2. **The stack configuration that produced it** (rendered stacks only). A resource that
   ``render`` registered carries its parent chain in ``resources.json``; walking it up to the first
   component listed in :data:`COMPONENT_KEYS` gives the ``Pulumi.<stack>.yaml`` key whose value
   made the resource:

   ====================================  ============================================================
   component (type token)                stack config key
   ====================================  ============================================================
   ``hardened:index:HardenedWorkload``   ``workloads[i]`` (the entry with that namespace and name);
                                         a message about the container's ``image``, ``resources``,
                                         probes, ``runAsUser``, ``env``, ``command``/``args``,
                                         ports or the Deployment's ``replicas`` points at that key
   ``hardened:index:HardenedNamespace``  ``namespaces[i]`` for a tenant namespace (a direct child of
                                         the stack); a namespace a platform component creates
                                         belongs to that component's section
   platform components                   their section: ``admission``, ``compliance``, ``ingress``
                                         (``ingress.waf`` for ``EdgeProtection``), ``mesh``,
                                         ``runtimeDetection``, ``secrets``, ``spire``, ``vault``;
                                         a Helm chart and its objects belong to the component that
                                         declared the chart
   ====================================  ============================================================

   A presence policy's finding about a component the stack lacks (no resource) points at the
   section that would deploy it (:data:`ABSENT_COMPONENT_KEYS`).

   The finding's primary location is then that key's line in the stack file (so code scanning
   annotates the line a pull request changes), and the rendered manifest's field is a related
   location. When the key is not written in the stack file (a section left at its defaults), the
   location falls back to the rendered file. Resources the table does not cover (the stack
   component's own children) keep their rendered location.

This is a table, not a trace of values: it names the section or entry that produced a resource,
not which of its keys produced a given field, except for the workload fields listed above.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

import yaml

from .locate import LineIndex, Position, config_location, field_paths

#: Component type token -> stack config key (see the module docstring).
COMPONENT_KEYS: dict[str, str] = {
    "hardened:index:AdmissionControl": "admission",
    "hardened:index:Compliance": "compliance",
    "hardened:index:EdgeProtection": "ingress.waf",
    "hardened:index:RuntimeDetection": "runtimeDetection",
    "hardened:index:SecretDelivery": "secrets",
    "hardened:index:Spire": "spire",
    "hardened:index:TlsIngress": "ingress",
    "hardened:index:VaultHA": "vault",
    "hardened:index:ZeroTrustMesh": "mesh",
}
WORKLOAD = "hardened:index:HardenedWorkload"
NAMESPACE = "hardened:index:HardenedNamespace"
STACK = "hardened:index:HardenedStack"

#: A presence policy's finding about a component the stack does not deploy (no resource) -> the
#: section that deploys it (``runtimeDetection: {enabled: false}`` is the line a reviewer must see).
ABSENT_COMPONENT_KEYS: dict[str, str] = {
    "stack-missing-runtime-detection": "runtimeDetection.enabled",
    "stack-missing-gatekeeper-fail-closed": "admission.enabled",
}

#: A workload's rendered field (the last matching part of the message's path) -> its config key.
WORKLOAD_FIELDS: dict[str, str] = {
    "image": "image", "resources": "resources", "limits": "resources", "requests": "resources",
    "livenessProbe": "liveness", "readinessProbe": "readiness", "runAsUser": "runAsUser",
    "env": "env", "command": "command", "args": "args", "ports": "port", "replicas": "replicas",
}


@dataclass
class Place:
    file: Optional[str]
    line: int = 1
    column: Optional[int] = None


@dataclass
class Origin:
    """The primary location of a finding and, for a rendered stack, where the manifest shows it."""

    primary: Place
    related: list[Place] = field(default_factory=list)
    config_key: Optional[str] = None   # ``workloads[0].image`` when mapped to the stack file


def _urn_stack(urn: str) -> Optional[str]:
    m = re.match(r"urn:pulumi:([^:]+)::", urn or "")
    return m.group(1) if m else None


@lru_cache(maxsize=16)
def _stack_doc(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f) or {}
        return doc.get("config") or {}
    except (OSError, yaml.YAMLError, AttributeError):
        return {}


def find_stack_file(stack: str, search: Iterable[str]) -> Optional[str]:
    for base in search:
        if base:
            candidate = Path(base) / f"Pulumi.{stack}.yaml"
            if candidate.is_file():
                return str(candidate)
    return None


class Locator:
    """Origins for the verdicts of one analysis."""

    def __init__(self, resources: Iterable[Any], *, stack_file: Optional[str] = None,
                 search: Iterable[str] = (), project: str = "hardened-stack",
                 texts: Optional[Mapping[str, str]] = None):
        #: the text of inputs that are no file (standard input), by the name resources give them
        self.texts = dict(texts or {})
        self._text_indexes: dict[str, LineIndex] = {}
        self._last_index: Optional[tuple[str, Optional[LineIndex]]] = None
        self.by_urn: dict[str, Any] = {}
        for r in resources:
            self.by_urn.setdefault(r.urn, r)
        self.stack_file = stack_file
        self.search = list(search)
        self.project = project

    # -- rule 2: the stack configuration ----------------------------------------------------------

    def _stack_file_for(self, urn: str) -> Optional[str]:
        if self.stack_file:
            return self.stack_file
        stack = _urn_stack(urn)
        return find_stack_file(stack, self.search) if stack else None

    def _entry_index(self, stack_file: str, key: str, component_name: str, suffix) -> Optional[int]:
        entries = _stack_doc(stack_file).get(f"{self.project}:{key}") or []
        if not isinstance(entries, list):
            return None
        for i, entry in enumerate(entries):
            if isinstance(entry, dict) and component_name.endswith(suffix(entry)):
                return i
        return None

    def config_key(self, resource: Any, message: str) -> tuple[Optional[str], Optional[str]]:
        """``(stack file, config key path)`` for a rendered resource, or ``(None, None)``."""
        chain = []
        r = resource
        while r is not None and len(chain) < 32:
            chain.append(r)
            r = self.by_urn.get(r.parent) if r.parent else None
        stack_file = self._stack_file_for(resource.urn)
        if not stack_file:
            return None, None
        for i, c in enumerate(chain):
            parent_type = chain[i + 1].type if i + 1 < len(chain) else ""
            if c.type == WORKLOAD:
                index = self._entry_index(stack_file, "workloads", c.name,
                                          lambda e: f"-wl-{e.get('namespace')}-{e.get('name')}")
                if index is None:
                    continue
                key = f"workloads[{index}]"
                for path in field_paths(message):
                    named = [p for p in path if isinstance(p, str) and p in WORKLOAD_FIELDS]
                    if named:
                        return stack_file, f"{key}.{WORKLOAD_FIELDS[named[-1]]}"
                return stack_file, key
            if c.type == NAMESPACE and parent_type == STACK:
                index = self._entry_index(stack_file, "namespaces", c.name, lambda e: f"-ns-{e.get('name')}")
                if index is not None:
                    return stack_file, f"namespaces[{index}]"
            if c.type in COMPONENT_KEYS:
                return stack_file, COMPONENT_KEYS[c.type]
        return None, None

    # -- both rules ---------------------------------------------------------------------------------

    def field_place(self, resource: Any, message: str) -> Place:
        file, line = resource.file, resource.line or 1
        if file in self.texts:
            index = self._text_indexes.get(file)
            if index is None:
                index = self._text_indexes[file] = LineIndex(self.texts[file])
            pos = index.locate(line, field_paths(message))
            if pos is not None:
                return Place(file, pos.line, pos.column)
        if file and not file.startswith("<") and file.endswith((".yaml", ".yml")):
            index = self._file_index(file)
            pos: Optional[Position] = index.locate(line, field_paths(message)) if index is not None else None
            if pos is not None:
                return Place(file, pos.line, pos.column)
        return Place(file, line)

    def _file_index(self, file: str) -> Optional[LineIndex]:
        """The index of the file *file* (None when it is no file), kept for the file asked last:
        verdicts come sorted by file, so each file is looked up and indexed once in a row."""
        if self._last_index is not None and self._last_index[0] == file:
            return self._last_index[1]
        index = LineIndex.of_file(file) if os.path.isfile(file) else None
        self._last_index = (file, index)
        return index

    def _stack_urn(self) -> Optional[str]:
        return next((urn for urn, r in self.by_urn.items() if r.type == STACK), None)

    def origin(self, resource: Optional[Any], message: str, fallback_file: Optional[str] = None,
               policy: str = "") -> Origin:
        if resource is None:
            # A component the stack lacks (a presence policy): the section that would deploy it.
            stack_urn = self._stack_urn() if policy in ABSENT_COMPONENT_KEYS else None
            stack_file = self._stack_file_for(stack_urn) if stack_urn else None
            if stack_file:
                key = ABSENT_COMPONENT_KEYS[policy]
                pos = config_location(stack_file, key, self.project)
                if pos is not None:
                    return Origin(Place(stack_file, pos.line, pos.column), [Place(fallback_file)], key)
            return Origin(Place(fallback_file))
        rendered = self.field_place(resource, message)
        stack_file, key = self.config_key(resource, message) if resource.parent else (None, None)
        if stack_file and key:
            pos = config_location(stack_file, key, self.project)
            if pos is not None:
                return Origin(Place(stack_file, pos.line, pos.column), [rendered], key)
        return Origin(rendered)
