"""Play the Pulumi engine's part against a policy pack, offline.

:class:`PolicyPackProcess` starts the pack exactly as the Pulumi CLI does
(``python -u -m pulumi.policy 127.0.0.1:0 <pack dir>``, working directory the pack), reads the
port it prints, and speaks the Analyzer gRPC protocol: ``GetAnalyzerInfo``, ``Configure`` (from
a ``--policy-pack-config`` document, validated against each policy's schema as the CLI does),
``Analyze`` per resource (pipelined: the pack serves four calls at a time, and the SDK's server spends
about 0.3 ms on each call before any policy runs, so the client keeps calls in flight) and
``AnalyzeStack`` for the whole set::

    with PolicyPackProcess(config=cfg) as pack:
        analysis = pack.analyze(load_path("build/prod"))
    analysis.mandatory      # the violations that fail CI

Every verdict names its policy (with the metadata from ``GetAnalyzerInfo``: severity, framework,
tags, remediation, url), its enforcement level, its message and the resource (file and line).
"""
from __future__ import annotations

import base64
import collections
import copy
import datetime as _dt
import gc
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

from . import engine
from .manifests import Resource

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PACK = REPO_ROOT / "policy_pack"
#: Analyze calls kept in flight. The pack's server runs four at a time (pulumi_policy's thread pool);
#: a deeper queue keeps it from running dry between answers and lets gRPC carry several messages
#: per write: at 10,000 resources, 64 took 7.6-7.9 s and 7 % less CPU where 12 took 8.6-9.0 s
#: (three runs each, alternating). What each resource is judged on does not change.
DEFAULT_IN_FLIGHT = 64
_MAX_MESSAGE = 400 * 1024 * 1024
LEVELS = ("advisory", "mandatory", "remediate", "disabled")


class PackError(Exception):
    """The pack could not be started, configured or called; the message says why."""


class ConfigError(PackError):
    """A policy configuration that does not fit the pack's policies or their schemas."""

    def __init__(self, problems: list[str], source: str = "policy configuration"):
        super().__init__("\n".join(f"{source}: {p}" for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class PolicyInfo:
    """A policy as the pack describes it in ``GetAnalyzerInfo``."""

    name: str
    description: str
    enforcement_level: str
    severity: str
    type: str                      # "resource" or "stack"
    framework: Mapping[str, str]   # name, version, reference (and specification)
    tags: tuple[str, ...]
    remediation: str
    url: str
    config_schema: Mapping[str, Any]

    @property
    def control(self) -> str:
        """``NIST SP 800-171 r2 3.1.5``."""
        f = self.framework
        return " ".join(x for x in (f.get("name"), f.get("version"), f.get("reference")) if x)


@dataclass(frozen=True)
class Verdict:
    """One violation: a policy's diagnostic about a resource (or the whole stack)."""

    policy: str
    enforcement_level: str
    severity: str
    message: str
    urn: str
    resource: Optional[Resource]
    stage: str = "resource"        # "resource" (Analyze) or "stack" (AnalyzeStack)

    @property
    def mandatory(self) -> bool:
        return self.enforcement_level in ("mandatory", "remediate")

    @property
    def internal_error(self) -> bool:
        """Whether the policy raised (a bug in the policy, reported fail-closed at its level) rather
        than finding a violation (policy_pack/policies/_lib/framework.py, ``INTERNAL_ERROR_PREFIX``)."""
        return self.message.startswith("internal error: ")

    def sort_key(self) -> tuple:
        r = self.resource
        return (r.file or "~" if r else "~", (r.line or 0) if r else 0, self.urn, self.policy, self.message)


@dataclass(frozen=True)
class Exempted:
    """A policy the pack did not apply to a resource because an exemption names it."""

    policy: str
    urn: str
    resource: Optional[Resource]
    reason: str


@dataclass
class Analysis:
    pack: str
    version: str
    policies: dict[str, PolicyInfo]
    resources: list[Resource]
    verdicts: list[Verdict]
    exempted: list[Exempted] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def mandatory(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.mandatory]

    @property
    def advisory(self) -> list[Verdict]:
        return [v for v in self.verdicts if not v.mandatory]

    @property
    def passed(self) -> bool:
        return not self.mandatory

    def by_policy(self, name: str) -> list[Verdict]:
        return [v for v in self.verdicts if v.policy == name]


# ---------------------------------------------------------------------------------------------
# Wire helpers
# ---------------------------------------------------------------------------------------------

def _proto():
    from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

    return analyzer_pb2, analyzer_pb2_grpc


def _jsonable(value: Any) -> Any:
    """Plain JSON values for what YAML may produce but a protobuf Struct cannot carry."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, (_dt.date, _dt.datetime, _dt.time)):
        return value.isoformat()
    return str(value)


SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


def wrap_secrets(props: Mapping[str, Any], paths: Iterable[str]) -> Mapping[str, Any]:
    """*props* with the value at each path (``/data/password``) marked secret, as the engine sends
    it (pulumi ``analyzer_plugin.go``, ``Analyze``: ``MarshalProperties`` with ``KeepSecrets``);
    pulumi-policy unwraps it again before a policy reads it. A path that is not there is skipped."""
    out = copy.deepcopy(dict(props))
    for path in paths:
        keys = [k for k in path.split("/") if k]
        node: Any = out
        for key in keys[:-1]:
            node = node.get(key) if isinstance(node, dict) else (
                node[int(key)] if isinstance(node, list) and key.isdigit() and int(key) < len(node) else None)
        last = keys[-1] if keys else None
        if isinstance(node, dict) and last in node:
            node[last] = {SECRET_SIG_KEY: SECRET_SIG, "value": node[last]}
        elif isinstance(node, list) and last is not None and last.isdigit() and int(last) < len(node):
            node[int(last)] = {SECRET_SIG_KEY: SECRET_SIG, "value": node[int(last)]}
    return out


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration_seconds(text: str) -> float:
    """A Go duration (``"5m"``, ``"1h30m"``) in seconds, as the engine converts a custom timeout
    for the analyzer (0 when it is not one)."""
    parts = _DURATION.findall(str(text or ""))
    return sum(float(n) * _SECONDS[u] for n, u in parts) if parts and "".join(n + u for n, u in parts) == text else 0.0


def resource_options(pb: Any, resource: Resource) -> Any:
    """``AnalyzerResourceOptions`` as the engine fills it (pulumi ``step_generator.go``,
    ``analyzeAll`` and ``AnalyzeResources``): the parent, and the options the program set."""
    o = resource.options or {}
    kwargs: dict[str, Any] = {"parent": resource.parent}
    if o.get("protect"):
        kwargs["protect"] = True
    if o.get("ignoreChanges"):
        kwargs["ignoreChanges"] = [str(x) for x in o["ignoreChanges"]]
    if "deleteBeforeReplace" in o:
        kwargs.update(deleteBeforeReplace=bool(o["deleteBeforeReplace"]), deleteBeforeReplaceDefined=True)
    if o.get("additionalSecretOutputs"):
        kwargs["additionalSecretOutputs"] = [str(x) for x in o["additionalSecretOutputs"]]
    timeouts = o.get("customTimeouts")
    if isinstance(timeouts, Mapping) and timeouts:
        kwargs["customTimeouts"] = pb.AnalyzerResourceOptions.CustomTimeouts(
            **{k: duration_seconds(v) for k, v in timeouts.items() if k in ("create", "update", "delete")})
    return pb.AnalyzerResourceOptions(**kwargs)


def _varint(n: int) -> bytes:
    """Protobuf's base-128 varint."""
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(tag: bytes, data: bytes) -> bytes:
    """A length-delimited field: its tag, the length, the bytes."""
    return tag + _varint(len(data)) + data


def _text_field(tag: bytes, text: str) -> bytes:
    """A proto3 ``string`` field (left out when empty, as protobuf writes it)."""
    return _field(tag, text.encode()) if text else b""


def _only_field(data: bytes) -> bytes:
    """The value of the one length-delimited field *data* holds (past its tag and length)."""
    i = 1
    while data[i] & 0x80:
        i += 1
    return data[i + 1:]


def properties_bytes(pb: Any, struct: Any) -> bytes:
    """The bytes of *struct* as a request carries it. Not ``struct.SerializeToString()``: a message
    given a Struct holds a copy, and protobuf (upb) writes a map in its hash table's order, which
    the copy does not keep; so the bytes are those of an ``AnalyzeRequest`` holding the Struct
    alone, past the field's tag and length (the same copy ``AnalyzerResource`` makes)."""
    return _only_field(pb.AnalyzeRequest(properties=struct).SerializeToString())


def provider_bytes_of(pb: Any, provider: Any) -> bytes:
    """The bytes of an ``AnalyzerProviderResource`` as a request carries it (a copy, as above)."""
    return _only_field(pb.AnalyzeRequest(provider=provider).SerializeToString())


def request_bytes(pb: Any, resource: Resource, properties: bytes, provider: Optional[bytes]) -> bytes:
    """The serialized ``AnalyzeRequest`` of *resource* (``type`` 1, ``properties`` 2, ``urn`` 3,
    ``name`` 4, ``options`` 5, ``provider`` 6, each in its field's order, as protobuf writes them),
    from its properties and provider as a request carries them (:func:`properties_bytes`,
    :func:`provider_bytes_of`): the bytes of ``pb.AnalyzeRequest(...)``, with the properties
    copied and serialized once for both requests, not once per message. ``AnalyzerResource`` begins
    with the same six fields (analyzer.proto), so this is also the head of the ``AnalyzeStack``
    entry (:func:`stack_entry_bytes`)."""
    if resource.options:
        options = resource_options(pb, resource).SerializeToString()
    else:  # the common case: AnalyzerResourceOptions with its parent (field 8) alone
        options = _text_field(b"\x42", resource.parent)
    try:
        return b"".join((_text_field(b"\x0a", resource.type), _field(b"\x12", properties),
                         _text_field(b"\x1a", resource.urn), _text_field(b"\x22", resource.name),
                         _field(b"\x2a", options), b"" if provider is None else _field(b"\x32", provider)))
    except UnicodeEncodeError:  # no valid UTF-8 (a lone surrogate): protobuf's own answer
        from google.protobuf import struct_pb2

        return pb.AnalyzeRequest(
            type=resource.type, properties=struct_pb2.Struct.FromString(properties), urn=resource.urn,
            name=resource.name, options=resource_options(pb, resource),
            provider=None if provider is None else pb.AnalyzerProviderResource.FromString(provider),
        ).SerializeToString()


def stack_entry_bytes(pb: Any, resource: Resource, head: bytes) -> bytes:
    """The serialized ``AnalyzerResource`` of *resource*: *head* (:func:`request_bytes`, fields 1
    to 6) followed by ``parent`` 7, ``dependencies`` 8 and ``propertyDependencies`` 9."""
    if not (resource.parent or resource.dependencies or resource.property_dependencies):
        return head
    return head + pb.AnalyzerResource(
        parent=resource.parent, dependencies=list(resource.dependencies),
        propertyDependencies={k: pb.AnalyzerPropertyDependencies(urns=list(v))
                              for k, v in (resource.property_dependencies or {}).items()},
    ).SerializeToString()


#: Annotations a slim resource keeps (inline suppressions, see hardened/check.py).
KEPT_ANNOTATION_PREFIX = "hardened.io/"


def slim_inputs(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """What reports read of a resource once it is judged: apiVersion, kind, and the metadata's
    name, generateName, namespace and ``hardened.io/`` annotations."""
    out: dict[str, Any] = {k: inputs[k] for k in ("apiVersion", "kind") if k in inputs}
    meta = inputs.get("metadata")
    if isinstance(meta, Mapping):
        slim_meta: dict[str, Any] = {k: meta[k] for k in ("name", "generateName", "namespace") if k in meta}
        annotations = meta.get("annotations")
        if isinstance(annotations, Mapping):
            kept = {k: v for k, v in annotations.items() if isinstance(k, str) and k.startswith(KEPT_ANNOTATION_PREFIX)}
            if kept:
                slim_meta["annotations"] = kept
        out["metadata"] = slim_meta
    elif "name" in inputs or "namespace" in inputs:  # a pulumiType resource's label
        out.update({k: inputs[k] for k in ("name", "namespace") if k in inputs})
    return out


def to_struct(value: Mapping[str, Any]):
    """A resource's inputs as the ``google.protobuf.Struct`` the engine sends."""
    from google.protobuf import struct_pb2

    struct = struct_pb2.Struct()
    try:
        _fill(struct, value)
    except (ValueError, TypeError, AttributeError, OverflowError):
        struct = struct_pb2.Struct()
        struct.update(_jsonable(value))
    return struct


def _fill(struct: Any, value: Mapping[str, Any]) -> None:
    """``struct.update(value)``: the same calls on the same messages (protobuf's
    well_known_types.py, ``Struct.update`` and ``_SetStructValue``), chosen by exact type for the
    types YAML and JSON give; any other value goes through protobuf's own code."""
    fields = struct.fields
    for key, item in value.items():
        _set_value(fields[key], item)


def _set_value(target: Any, value: Any) -> None:
    kind = type(value)
    if kind is str:
        target.string_value = value
    elif kind is dict:
        inner = target.struct_value
        inner.Clear()
        _fill(inner, value)
    elif kind is bool:
        target.bool_value = value
    elif kind is int or kind is float:
        target.number_value = value
    elif value is None:
        target.null_value = 0
    elif kind is list:
        inner = target.list_value
        inner.Clear()
        values = inner.values
        for item in value:
            _set_value(values.add(), item)
    else:
        from google.protobuf.internal.well_known_types import _SetStructValue

        _SetStructValue(target, value)


def _level_name(value: int) -> str:
    pb, _ = _proto()
    return {pb.ADVISORY: "advisory", pb.MANDATORY: "mandatory", pb.REMEDIATE: "remediate",
            pb.DISABLED: "disabled"}.get(value, "advisory")


def _level_value(name: str) -> int:
    pb, _ = _proto()
    return {"advisory": pb.ADVISORY, "mandatory": pb.MANDATORY, "remediate": pb.REMEDIATE,
            "disabled": pb.DISABLED}[name]


def _severity_name(value: int) -> str:
    pb, _ = _proto()
    return {pb.POLICY_SEVERITY_LOW: "low", pb.POLICY_SEVERITY_MEDIUM: "medium", pb.POLICY_SEVERITY_HIGH: "high",
            pb.POLICY_SEVERITY_CRITICAL: "critical"}.get(value, "")


def _policy_info(p) -> PolicyInfo:
    from google.protobuf import json_format

    pb, _ = _proto()
    framework = {k: getattr(p.framework, k) for k in ("name", "version", "reference", "specification")
                 if getattr(p.framework, k)}
    schema = {"properties": json_format.MessageToDict(p.configSchema.properties),
              "required": list(p.configSchema.required)}
    kind = "stack" if p.policy_type == pb.PolicyType.POLICY_TYPE_STACK else "resource"
    return PolicyInfo(p.name, p.description, _level_name(p.enforcementLevel), _severity_name(p.severity), kind,
                      framework, tuple(p.tags), p.remediation_steps, p.url, schema)


def _project_version(pack_dir: Path) -> Optional[str]:
    try:
        text = (pack_dir / "PulumiPolicy.yaml").read_text(encoding="utf-8")
    except OSError:
        return None
    match = re.search(r"^version:\s*['\"]?([^'\"\s#]+)", text, re.M)
    return match.group(1) if match else None


# ---------------------------------------------------------------------------------------------
# Configuration (the --policy-pack-config document)
# ---------------------------------------------------------------------------------------------

def resolve_config(document: Mapping[str, Any], policies: Mapping[str, PolicyInfo],
                   source: str = "policy configuration") -> dict[str, tuple[str, dict]]:
    """``{policy: (enforcement level, properties)}`` as the Pulumi CLI sends it to ``Configure``.

    The format is Pulumi's: ``{"all": "<level>", "<policy>": "<level>" | {"enforcementLevel":
    "<level>", "<property>": ...}}``. As the CLI does (pulumi ``pkg/resource/analyzer/config.go``:
    ``parsePolicyPackConfig``, ``ReconcilePolicyPackConfig``, ``applyConfig``,
    ``validatePolicyPackConfig``): every policy starts from its own level and the defaults of its
    schema, ``all`` sets every level, each entry then overrides; an entry naming no policy is passed
    on as it is, and a property no schema declares is accepted (the pack reports both: a mandatory
    finding naming the setting). What the CLI refuses raises :class:`ConfigError` listing every
    problem: a level that is not one, an entry that is neither a level nor an object, a value that
    breaks its property's schema.
    """
    from policy_pack.policies._lib import schema

    problems: list[str] = []
    if not isinstance(document, Mapping):
        raise ConfigError([f"expected a JSON object of policy names, got {schema.type_name(document)}"], source)

    def level_of(value: Any, where: str) -> Optional[str]:
        if value is None:
            return None
        if value not in LEVELS:
            problems.append(f"{where}: enforcementLevel must be one of {', '.join(LEVELS)}, got {value!r}")
            return None
        return value

    resolved: dict[str, tuple[str, dict]] = {}
    for name, info in policies.items():
        defaults = {k: v["default"] for k, v in (info.config_schema.get("properties") or {}).items()
                    if isinstance(v, Mapping) and "default" in v}
        resolved[name] = (info.enforcement_level, defaults)
    entries: dict[str, tuple[Optional[str], dict]] = {}
    for name in sorted(document):
        if name == "environments":  # ESC environment references, not a policy (parsePolicyPackConfig)
            continue
        value = document[name]
        if isinstance(value, Mapping):
            entries[name] = (level_of(value.get("enforcementLevel"), name),
                             {k: v for k, v in value.items() if k != "enforcementLevel"})
        elif isinstance(value, str):
            entries[name] = (level_of(value, name), {})
        else:
            problems.append(f"{name}: {value!r} is not a valid value; must be an enforcement level or an object")
    all_level = entries.get("all", (None, {}))[0]
    if all_level is not None:
        resolved = {n: (all_level, props) for n, (_, props) in resolved.items()}
    for name, (level, props) in entries.items():
        current_level, current = resolved.get(name, ("", {}))
        resolved[name] = (level or current_level, {**current, **props})
    for name, info in policies.items():
        object_schema = {"type": "object", "properties": info.config_schema.get("properties", {}),
                         "required": info.config_schema.get("required", [])}
        problems.extend(f"{name}.{e}" if not e.startswith("(value)") else f"{name}{e[7:]}"
                        for e in schema.errors(resolved[name][1], object_schema))
    if problems:
        raise ConfigError(problems, source)
    return resolved


# ---------------------------------------------------------------------------------------------
# The pack process
# ---------------------------------------------------------------------------------------------

class PolicyPackProcess:
    """A policy pack served in its own process, driven like the Pulumi engine drives it."""

    def __init__(self, pack_dir: os.PathLike | str = DEFAULT_PACK, *, config: Optional[Mapping[str, Any]] = None,
                 config_source: str = "policy configuration", python: Optional[str] = None,
                 in_flight: int = DEFAULT_IN_FLIGHT, start_timeout: float = 60.0, call_timeout: float = 300.0,
                 env: Optional[Mapping[str, str]] = None):
        self.pack_dir = Path(pack_dir).resolve()
        self.config = config
        self.config_source = config_source
        self.python = python or sys.executable
        self.in_flight = max(1, in_flight)
        self.start_timeout = start_timeout
        self.call_timeout = call_timeout
        self.env = dict(env) if env is not None else None
        self.process: Optional[subprocess.Popen] = None
        self.port: Optional[int] = None
        self.name = ""
        self.version = ""
        self.policies: dict[str, PolicyInfo] = {}
        self._stderr = None
        self._channel = None
        self._stub = None
        self._port_queue: "queue.Queue[Optional[str]]" = queue.Queue()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> "PolicyPackProcess":
        """Start the process (returns at once; :meth:`wait_ready` waits for its port)."""
        if self.process is not None:
            return self
        if not (self.pack_dir / "PulumiPolicy.yaml").is_file():
            raise PackError(f"{self.pack_dir} is not a policy pack (no PulumiPolicy.yaml)")
        self._stderr = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [self.python, "-u", "-m", "pulumi.policy", "127.0.0.1:0", str(self.pack_dir)],
            cwd=str(self.pack_dir), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._stderr,
            env=self.env)
        threading.Thread(target=self._read_stdout, name="policy-pack-stdout", daemon=True).start()
        return self

    def _read_stdout(self) -> None:
        stream = self.process.stdout
        first = True
        for raw in iter(stream.readline, b""):
            if first:
                self._port_queue.put(raw.decode("utf-8", "replace").strip())
                first = False
        if first:
            self._port_queue.put(None)

    def _stderr_text(self, limit: int = 4000) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        text = self._stderr.read().decode("utf-8", "replace").strip()
        return text[-limit:]

    def wait_ready(self) -> "PolicyPackProcess":
        """Wait for the port, connect, read the pack's description and send the configuration."""
        if self._stub is not None:
            return self
        self.start()
        try:
            line = self._port_queue.get(timeout=self.start_timeout)
        except queue.Empty:
            self.close()
            raise PackError(f"the policy pack in {self.pack_dir} printed no port within {self.start_timeout:.0f}s")
        if not line or not line.isdigit():
            if line is None:  # stdout closed: the process is exiting; let it finish writing stderr
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:  # pragma: no cover
                    pass
            detail = self._stderr_text() or (line or "(no output)")
            self.close()
            raise PackError(f"the policy pack in {self.pack_dir} failed to start:\n{detail}")
        self.port = int(line)
        import grpc
        from google.protobuf import empty_pb2

        _, pb_grpc = _proto()
        self._channel = grpc.insecure_channel(
            f"127.0.0.1:{self.port}",
            options=[("grpc.max_receive_message_length", _MAX_MESSAGE), ("grpc.max_send_message_length", _MAX_MESSAGE)])
        self._stub = pb_grpc.AnalyzerStub(self._channel)
        try:
            info = self._stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=self.start_timeout)
        except grpc.RpcError as e:
            self.close()
            raise PackError(f"GetAnalyzerInfo failed: {e.details() if hasattr(e, 'details') else e}\n"
                            f"{self._stderr_text()}") from None
        # Like the Pulumi CLI, take the pack's version from PulumiPolicy.yaml (the Python SDK reports 0.0.1).
        self.name, self.version = info.name, _project_version(self.pack_dir) or info.version
        self.policies = {p.name: _policy_info(p) for p in info.policies}
        # The CLI always configures the pack: every policy's level and schema defaults, and the
        # document's entries over them (resolve_config).
        self.configure(self.config or {}, self.config_source)
        return self

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None
            self._stub = None
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover
                pass
            if self.process.stdout:
                self.process.stdout.close()
            self.process = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def __enter__(self) -> "PolicyPackProcess":
        try:
            return self.wait_ready()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- engine calls --------------------------------------------------------------------------

    def configure(self, document: Mapping[str, Any], source: str = "policy configuration") -> None:
        """Send a ``--policy-pack-config`` document (validated first; ConfigError if it does not fit)."""
        pb, _ = _proto()
        resolved = resolve_config(document, self.policies, source)
        request = pb.ConfigureAnalyzerRequest()
        for name, (level, props) in resolved.items():
            request.policyConfig[name].enforcementLevel = _level_value(level) if level else pb.ADVISORY
            if props:
                request.policyConfig[name].properties.update(props)
        self._call("Configure", request)
        self._last_config = request  # callers that remember verdicts start afresh (tests/mutation/packclient.py)

    def _call(self, method: str, request: Any) -> Any:
        import grpc

        try:
            return getattr(self._stub, method)(request, timeout=self.call_timeout)
        except grpc.RpcError as e:
            raise PackError(f"{method} failed: {e.details() if hasattr(e, 'details') else e}\n"
                            f"{self._stderr_text()}") from None

    def analyze(self, resources: Iterable[Resource], *, stack: bool = True, dry_run: bool = True,
                slim: bool = False, send_analyze: Optional[Callable[[Resource], bool]] = None) -> Analysis:
        """Every resource through ``Analyze`` (every registration: custom resources, components,
        Helm charts, the stack root, providers), then the whole set through ``AnalyzeStack``;
        verdicts sorted by file, line, URN and policy.

        *dry_run* False plays ``pulumi up``: a mandatory ``Analyze`` verdict makes the resource
        invalid and the deployment stops before ``AnalyzeStack`` (pulumi ``step_generator.go``:
        ``analyzeAll`` reports invalid only outside a dry run, and ``continueStepsFromImport``
        bails on an invalid resource); a preview (the default) always runs ``AnalyzeStack``.

        *resources* may be a generator (``stream_resources``): requests are built and sent while
        it is read, and while the pack is still starting they are queued until its port appears.
        A resource marked ``superseded`` by the end (an object defined again later) is left out
        of the stack and of the verdicts. Each resource's ``AnalyzeStack`` entry is serialized
        once, when it is read, into a temporary file, and the request is assembled from there
        at the end, so that memory holds no second copy of every resource. With *slim*, a
        resource keeps only what reports show (kind, name, namespace, hardened.io annotations)
        once it is sent: ``check`` then holds no input in memory (issue 27, bounded memory).
        *send_analyze* (default: every resource) chooses the resources sent to ``Analyze``; the
        others are in ``AnalyzeStack`` only (a caller that already has their verdicts).
        """
        started = time.perf_counter()
        self.start()
        pb, _ = _proto()
        gc_was_enabled = gc.isenabled()
        gc.disable()  # thousands of live requests: the cyclic collector would rescan them again and again
        try:
            return self._analyze(pb, resources, stack, started, dry_run, slim, send_analyze)
        finally:
            if gc_was_enabled:
                gc.enable()

    def _analyze(self, pb: Any, resources: Iterable[Resource], stack: bool, started: float,
                 dry_run: bool = True, slim: bool = False,
                 send_analyze: Optional[Callable[[Resource], bool]] = None) -> Analysis:
        all_resources: list[Resource] = []
        providers: dict[str, Any] = {}   # provider URN -> AnalyzerProviderResource
        provider_bytes: dict[str, bytes] = {}  # the same, serialized
        spool = tempfile.TemporaryFile()   # the serialized AnalyzeStack entries, one after another
        spans: list[int] = []              # each entry's length, in the order of all_resources
        verdicts: list[Verdict] = []
        exempted: list[Exempted] = []
        by_urn: dict[str, Resource] = {}
        waiting: "collections.deque[tuple[Resource, Any]]" = collections.deque()
        pending: "collections.deque[tuple[Resource, Any]]" = collections.deque()

        def drain_one() -> None:
            resource, future = pending.popleft()
            self._collect(resource, self._result(future, "Analyze", resource), by_urn, verdicts, exempted)

        analyze_call: list = []  # Analyze on the channel, taking the request as bytes (request_bytes)

        def send(resource: Resource, request: bytes) -> None:
            if not analyze_call:
                analyze_call.append(self._channel.unary_unary(
                    "/pulumirpc.Analyzer/Analyze", request_serializer=None,
                    response_deserializer=pb.AnalyzeResponse.FromString))
            pending.append((resource, analyze_call[0].future(request, timeout=self.call_timeout)))
            if len(pending) >= self.in_flight:
                drain_one()

        def ready() -> bool:
            if self._stub is None and (not self._port_queue.empty() or self.process.poll() is not None):
                self.wait_ready()
            if self._stub is None:
                return False
            while waiting:
                send(*waiting.popleft())
            return True

        for resource in resources:
            all_resources.append(resource)
            by_urn[resource.urn] = resource  # the latest definition of an object is the one judged
            # what the engine sends (hardened.engine): a remote component (a Helm Chart) has no
            # properties in Analyze nor in AnalyzeStack; its children name it as their parent
            props = engine.analyze_properties(resource.type, resource.inputs)
            if resource.secret_paths and props:
                props = wrap_secrets(props, resource.secret_paths)
            struct = to_struct(props)
            if resource.type.startswith("pulumi:providers:"):
                # the provider a resource names, with its inputs (a render lists providers first)
                providers[resource.urn] = pb.AnalyzerProviderResource(
                    type=resource.type, properties=struct, urn=resource.urn, name=resource.name)
                provider_bytes[resource.urn] = provider_bytes_of(pb, providers[resource.urn])
            # the requests are written as bytes (request_bytes): the same bytes as the messages',
            # the properties copied and serialized once for both
            properties = properties_bytes(pb, struct)
            provider = provider_bytes.get(resource.provider) if resource.provider else None
            request = request_bytes(pb, resource, properties, provider)
            if stack:
                stack_props = engine.stack_properties(resource.type, resource.inputs)
                head = request if stack_props is resource.inputs or not stack_props else \
                    request_bytes(pb, resource, properties_bytes(pb, to_struct(stack_props)), provider)
                entry = stack_entry_bytes(pb, resource, head)
                # AnalyzeStackRequest field 1 (resources), length-delimited: the request is these
                # records one after another, so it is assembled by reading the spool back
                prefix = b"\x0a" + _varint(len(entry))
                spool.write(prefix)
                spool.write(entry)
                spans.append(len(prefix) + len(entry))
            if slim:
                resource.inputs = slim_inputs(resource.inputs)
            if not resource.analyzed or (send_analyze is not None and not send_analyze(resource)):
                continue
            if ready():
                send(resource, request)
            else:
                waiting.append((resource, request))
        self.wait_ready()
        ready()
        stack_future = None
        if stack and not dry_run:
            while pending:  # at `up` the resource verdicts come first: a mandatory one stops the run
                drain_one()
            stack = not any(v.mandatory for v in verdicts)
        if stack:
            # AnalyzeStackRequest is field 1 (resources) repeated: its wire form is each entry
            # prefixed by the field's tag and the entry's length, so it is assembled from the spool
            # and sent as bytes (the stub's serializer would need every entry as an object).
            spool.seek(0)
            if any(r.superseded for r in all_resources):
                body = b"".join(data for data, r in ((spool.read(n), r) for r, n in zip(all_resources, spans))
                                if not r.superseded)
            else:
                body = spool.read()  # one copy of the request, no more
            spool.close()
            raw = self._channel.unary_unary("/pulumirpc.Analyzer/AnalyzeStack", request_serializer=None,
                                            response_deserializer=pb.AnalyzeResponse.FromString)
            stack_future = raw.future(body, timeout=self.call_timeout)
            del body
        else:
            spool.close()
        while pending:
            drain_one()
        if stack_future is not None:
            self._collect(None, self._result(stack_future, "AnalyzeStack", None), by_urn, verdicts, exempted)
        if any(r.superseded for r in all_resources):
            all_resources = [r for r in all_resources if not r.superseded]
            verdicts = [v for v in verdicts if v.resource is None or not v.resource.superseded]
            exempted = [e for e in exempted if e.resource is None or not e.resource.superseded]
        verdicts.sort(key=Verdict.sort_key)
        exempted.sort(key=lambda e: (e.resource.file or "" if e.resource else "", e.urn, e.policy))
        return Analysis(self.name, self.version, dict(self.policies), all_resources, verdicts, exempted,
                        time.perf_counter() - started)

    def _result(self, future: Any, method: str, resource: Optional[Resource]) -> Any:
        import grpc

        try:
            return future.result()
        except grpc.RpcError as e:
            what = f" of {resource.urn}" if resource is not None else ""
            raise PackError(f"{method}{what} failed: {e.details() if hasattr(e, 'details') else e}\n"
                            f"{self._stderr_text()}") from None

    def _collect(self, resource: Optional[Resource], response: Any, by_urn: Mapping[str, Resource],
                 verdicts: list[Verdict], exempted: list[Exempted]) -> None:
        stage = "resource" if resource is not None else "stack"
        for d in response.diagnostics:
            message = d.message
            if d.description and message.startswith(d.description):
                message = message[len(d.description):].lstrip("\n") or d.description
            urn = d.urn or (resource.urn if resource is not None else "")
            # an Analyze answer is about the definition sent (an object may be defined again later)
            target = resource if resource is not None and urn == resource.urn else by_urn.get(urn, resource)
            info = self.policies.get(d.policyName)
            severity = _severity_name(d.severity) or (info.severity if info else "")
            verdicts.append(Verdict(d.policyName, _level_name(d.enforcementLevel), severity, message, urn, target,
                                    stage))
        for n in response.not_applicable:
            if resource is not None and n.reason.startswith("exempted by "):
                exempted.append(Exempted(n.policy_name, resource.urn, resource, n.reason))
            elif resource is None:
                # a stack policy: one reason line per exempted object, "exempted by ... [on <urn>]"
                # (policy_pack/policies/_lib/framework.py, HardenedStackPolicy._validate)
                from policy_pack.policies._lib.framework import STACK_EXEMPTION_URN_OPEN

                for line in n.reason.splitlines():
                    reason, sep, rest = line.rpartition(" " + STACK_EXEMPTION_URN_OPEN)
                    if sep and reason.startswith("exempted by ") and rest.endswith("]"):
                        urn = rest[:-1]
                        exempted.append(Exempted(n.policy_name, urn, by_urn.get(urn), reason))


def analyze(resources: Sequence[Resource], *, config: Optional[Mapping[str, Any]] = None,
            pack_dir: os.PathLike | str = DEFAULT_PACK) -> Analysis:
    """Start the pack, analyze *resources*, stop the pack."""
    with PolicyPackProcess(pack_dir, config=config) as pack:
        return pack.analyze(resources)
