"""The offline engine: run the real Pulumi program under the SDK's mock monitor and write what it
registers.

``python -m hardened render [--stack prod] [--out DIR]`` reads ``Pulumi.<stack>.yaml``, runs
``__main__.py`` exactly as the Pulumi language host would (same config keys, same component
code), and writes:

- ``DIR/manifests/<namespace|_cluster>/<kind>-<name>.yaml``: every Kubernetes object, one per file,
  keys sorted, whole numbers as integers;
- ``DIR/resources.json``: every registered resource (URN, type token, name, parent, inputs), with
  secret values redacted.

The same configuration renders byte-identical output. Secret config values (``secure:`` entries)
cannot be decrypted offline; they, and the secrets the configuration requires but the stack file
does not set, get a marked placeholder that stays a Pulumi secret (render says which on stderr).
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import hashlib
import json
import logging
import os
import pickle
import runpy
import shutil
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Optional

import yaml

from . import engine
from .serialise import _Dumper, _FastDumper, _json, _node, dump_yaml, serve  # noqa: F401 - render's API
from .engine import ChartError, Registered
from .gcpause import without_cyclic_gc

from .stackfile import OFFLINE_SECRET_PLACEHOLDER, PROJECT, REPO_ROOT, RenderError, read_stack_config, stack_file

REDACTED = "[secret]"
SECRET_SIG = engine.SECRET_SIG
SIG_KEY = engine.SIG_KEY
UNKNOWN = engine.UNKNOWN
FAKE_ACCOUNT = "123456789012"
MOCK_REGION = "us-east-1"


# ---------------------------------------------------------------------------------------------
# Wire-format clean-up
# ---------------------------------------------------------------------------------------------

def _redact(value: Any) -> Any:
    """A secret's value as written to disk: every known leaf ``"[secret]"``; an unknown stays
    ``"[unknown]"`` (it holds no secret, and a policy must still see that it is unknown)."""
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            return _redact(value.get("value"))
        return {k: _redact(v) for k, v in value.items()} if engine.contains_unknown(value) else REDACTED
    if isinstance(value, list):
        return [_redact(v) for v in value] if engine.contains_unknown(value) else REDACTED
    return "[unknown]" if value == UNKNOWN else REDACTED


class _Marked(Exception):
    """A value :func:`_normalize_unmarked` leaves to :func:`normalize`'s general rules."""


def _normalize_unmarked(value: Any) -> Any:
    """:func:`normalize` of plain data with no signature key anywhere (a chart's objects, most
    registrations): no paths to build, strings taken as they are unless unknown. Raises
    :class:`_Marked` at anything else (a secret or other signed value, a subclass)."""
    cls = value.__class__
    if cls is dict:
        if SIG_KEY in value:
            raise _Marked
        return {k: v if v.__class__ is str and v != UNKNOWN else _normalize_unmarked(v) for k, v in value.items()}
    if cls is list:
        return [v if v.__class__ is str and v != UNKNOWN else _normalize_unmarked(v) for v in value]
    if cls is str:
        return "[unknown]" if value == UNKNOWN else value
    if cls is float:
        return int(value) if value.is_integer() else value
    if cls is int or cls is bool or value is None:
        return value
    raise _Marked


def normalize(value: Any, path: str = "", secrets: Optional[list[str]] = None) -> Any:
    """Turn a recorded wire value into plain data: whole floats become ints, secrets are redacted
    (their paths collected in *secrets*; an unknown inside one stays unknown), unknowns become
    ``"[unknown]"``."""
    if not path:
        try:
            return _normalize_unmarked(value)
        except _Marked:
            pass
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            if secrets is not None:
                secrets.append(path or "/")
            return _redact(value.get("value"))
        return {k: normalize(v, f"{path}/{k}", secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize(v, f"{path}/{i}", secrets) for i, v in enumerate(value)]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if value == UNKNOWN:
        return "[unknown]"
    return value


# ---------------------------------------------------------------------------------------------
# Running the program under mocks
# ---------------------------------------------------------------------------------------------

# Services whose ARNs carry no region (IAM is global) and, for S3, no account either.
_GLOBAL_ARN_SERVICES = {"iam", "s3"}
_IAM_ARN_KINDS = {"openidconnectprovider": "oidc-provider"}


def mock_kms_key_id(name: str) -> str:
    """The key id the offline engine gives the KMS key named *name*: a UUID, as AWS's, stable per name."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"kms:{name}"))


def _aws_mock_state(args) -> dict[str, Any]:
    """Outputs the AWS provider would compute, shaped as AWS shapes them (IAM ARNs have no region,
    S3 ARNs neither region nor account, KMS keys a UUID), so components wire realistic ARNs
    together offline and judges that parse ARNs see real ones."""
    typ: str = args.typ
    service, _, kind = typ.split(":", 2)[1].partition("/")
    name = args.name
    state = dict(args.inputs)
    region = "" if service in _GLOBAL_ARN_SERVICES else MOCK_REGION
    if service == "s3":
        state.setdefault("arn", f"arn:aws:s3:::{state.get('bucket') or name}")
    elif typ == "aws:kms/key:Key":
        key_id = mock_kms_key_id(name)
        state.setdefault("keyId", key_id)
        state.setdefault("arn", f"arn:aws:kms:{region}:{FAKE_ACCOUNT}:key/{key_id}")
    else:
        resource = _IAM_ARN_KINDS.get(kind.lower(), kind.lower() or service)
        state.setdefault("arn", f"arn:aws:{service}:{region}:{FAKE_ACCOUNT}:{resource}/{name}")
    if typ == "aws:s3/bucketV2:BucketV2" or typ == "aws:s3/bucket:Bucket":
        state.setdefault("bucket", state.get("bucket") or name)
    if typ == "aws:iam/openIdConnectProvider:OpenIdConnectProvider" and isinstance(state.get("url"), str):
        # IAM names the provider after its issuer host and path (oidc.eks.<region>.amazonaws.com/id/<ID>)
        state["arn"] = f"arn:aws:iam::{FAKE_ACCOUNT}:oidc-provider/{state['url'].removeprefix('https://')}"
    elif typ == "aws:eks/cluster:Cluster":
        from components.cluster import mock_cluster_outputs

        state.update(mock_cluster_outputs(state, MOCK_REGION, FAKE_ACCOUNT))
    elif typ == "aws:ec2/launchTemplate:LaunchTemplate":
        state.setdefault("latestVersion", 1)
    return state


def offline_lookups(config: dict[str, str]) -> dict[str, dict]:
    """What ``aws.eks.get_cluster``/``get_addon`` and Cloud Control answer offline for an adopted
    cluster: ``cluster.offlineLookup`` of the stack config (components.cluster.offline_answers)."""
    from components.cluster import OfflineLookup, offline_answers

    try:
        cluster = json.loads(config.get(f"{PROJECT}:cluster", "{}"))
    except ValueError:
        cluster = {}
    cluster = cluster if isinstance(cluster, dict) else {}
    try:
        facts = OfflineLookup.model_validate(cluster.get("offlineLookup") or {})
    except Exception:  # the program reports a bad value with its key path
        facts = OfflineLookup()
    return offline_answers(str(cluster.get("name") or "cluster"), str(cluster.get("region") or MOCK_REGION),
                           str(cluster.get("accountId") or FAKE_ACCOUNT), facts)


def plain(value: Any) -> Any:
    """A recorded wire value as the provider sees it: secrets unwrapped, whole floats as ints."""
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            return plain(value.get("value"))
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


@dataclass
class ChartContext:
    """What the offline Kubernetes provider needs to expand a Chart (the stack's Kubernetes
    version, the chart cache); it collects what the provider would warn about."""

    kube_version: Optional[str] = None   # None: the stack's (run_program reads it from its config)
    cache: Optional[str] = None
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    renders: dict[str, engine.ChartRender] = field(default_factory=dict)
    #: the APIs of the CRDs the stack installs, as discovery reports them once installed: each
    #: chart sees those of the charts and manifest files registered before it (a cluster the stack
    #: was deployed to; at a first install the provider's discovery sees none of them)
    installed_apis: set[str] = field(default_factory=set)
    #: the Kubernetes provider's configuration: its default namespace (``kubernetes:namespace``,
    #: else the kubeconfig context's, ``default``) and whether it applies server-side
    provider_namespace: str = engine.PROVIDER_DEFAULT_NAMESPACE
    server_side_apply: bool = True


#: The config model's default of cluster.kubernetesVersion (one constant, in hardened.engine).
DEFAULT_KUBE_VERSION = engine.DEFAULT_KUBE_VERSION


def stack_kube_version(config: dict[str, str]) -> str:
    """The stack's ``cluster.kubernetesVersion`` (the default of the config model otherwise)."""
    try:
        cluster = json.loads(config.get(f"{PROJECT}:cluster", "{}"))
        version = cluster.get("kubernetesVersion") if isinstance(cluster, dict) else None
    except ValueError:
        version = None
    return str(version) if isinstance(version, (str, float, int)) and version else DEFAULT_KUBE_VERSION


def expand_chart(urn: str, token: str, name: str, inputs: dict[str, Any], ctx: ChartContext,
                 installed: Optional[Iterable[str]] = None) -> list[Registered]:
    """The children the Kubernetes provider's ``Construct`` registers for a Chart or a yaml/v2
    ConfigFile (see :mod:`hardened.engine`): none when an input is unknown, as the provider does.
    A chart sees the CRD APIs *installed* (default: ``ctx.installed_apis``, what was expanded
    before it)."""
    if engine.contains_unknown(inputs):
        ctx.warnings.append(f"{name}: input properties have unknown values, so the provider renders no "
                            "objects at preview and the policy pack judges none of them (make every chart "
                            "value known at preview)")
        return []
    if token == engine.CONFIG_FILE_TOKEN:
        notes: list[str] = []
        objects, unresolved = engine.read_config_file(str(inputs.get("file", "")), ctx.provider_namespace,
                                                      cache=engine.manifest_cache(charts=ctx.cache), unverified=notes,
                                                      provider_namespace=ctx.provider_namespace)
        render = engine.ChartRender(str(inputs.get("file", "")), "", name, "", objects, [], unresolved,
                                    unverified=notes[0] if notes else None)
    else:
        if inputs.get("includeHooks"):
            # chart.go, Construct: outside renderYamlToDirectory the provider ignores it and warns
            ctx.warnings.append(f"{name}: includeHooks is only supported when the provider is configured with "
                                "renderYamlToDirectory; Helm hooks will be ignored")
        render = _render_chart(inputs, name, ctx, ctx.installed_apis if installed is None else installed)
    if render.unverified and render.unverified not in ctx.warnings:
        ctx.warnings.append(render.unverified)
    for obj in render.objects:
        engine.register_normalize(obj, skip_await=bool(inputs.get("skipAwait")),
                                  server_side_apply=ctx.server_side_apply)
    ctx.renders[urn] = render
    ctx.installed_apis.update(engine.crd_api_versions(render.objects))
    return _children(urn, name, inputs, render)


def _asset_text(asset: Any) -> str:
    """The text of a Pulumi asset as the SDK sends it (``{sig, path|text}``)."""
    if isinstance(asset, dict):
        if isinstance(asset.get("text"), str):
            return asset["text"]
        if isinstance(asset.get("path"), str):
            return Path(asset["path"]).read_text(encoding="utf-8")
    raise ChartError(f"valueYamlFiles: {asset!r} is neither a file nor a string asset")


def chart_values(inputs: dict[str, Any]) -> dict[str, Any]:
    """The values a Chart renders with: every ``valueYamlFiles`` document merged in order, then
    ``values`` over them (Helm's ``values.Options.MergeValues``, which pulumi-kubernetes'
    ``ChartProvider.Construct`` fills with ``ValuesFiles`` and ``Values``)."""
    merged: dict[str, Any] = {}
    for asset in inputs.get("valueYamlFiles") or []:
        document = yaml.safe_load(_asset_text(asset)) or {}
        if not isinstance(document, dict):
            raise ChartError(f"valueYamlFiles: a values file must hold a mapping, got {type(document).__name__}")
        merged = engine.merge_values(merged, document)
    return engine.merge_values(merged, inputs.get("values") or {})


def _render_chart(inputs: dict[str, Any], name: str, ctx: ChartContext, installed: Iterable[str]) -> engine.ChartRender:
    repo = (inputs.get("repositoryOpts") or {}).get("repo", "")
    render = engine.render_chart(
        str(inputs.get("chart", "")), str(inputs.get("version", "")), release=str(inputs.get("name") or name),
        namespace=str(inputs.get("namespace") or ctx.provider_namespace), values=chart_values(inputs),
        kube_version=ctx.kube_version or DEFAULT_KUBE_VERSION, repo=repo, skip_crds=bool(inputs.get("skipCrds")),
        cache=ctx.cache, extra_api_versions=installed, provider_namespace=ctx.provider_namespace)
    post = inputs.get("postRenderer")
    if post:
        # The provider pipes the rendered manifests through the command; the only post-renderer the
        # program sets is images.lock's (components/imagelock.py), run here in-process. Any other
        # (a command with or without args) is refused: ignoring it would judge what it would change.
        from components import imagelock

        if not isinstance(post, dict):
            raise ChartError(f"{name}: postRenderer must be a mapping with command and args, got {post!r}")
        args = [str(a) for a in post.get("args") or []]
        if not args or Path(args[0]).name != "imagelock.py":
            raise ChartError(f"{name}: postRenderer {post.get('command')} {' '.join(args)} cannot run offline "
                             "(only components/imagelock.py is known)")
        lock = imagelock.load(args[1] if len(args) > 1 else None)
        for obj in render.objects:
            imagelock.apply(obj, lock)
    return render


def _children(urn: str, name: str, inputs: dict[str, Any], render: engine.ChartRender) -> list[Registered]:
    prefix = inputs.get("resourcePrefix") if isinstance(inputs.get("resourcePrefix"), str) else name
    children = []
    for obj in render.objects:
        token = engine.type_token(obj["apiVersion"], obj["kind"])
        child = engine.child_name(prefix, obj)
        secrets: list[str] = []
        if token == "kubernetes:core/v1:Secret":
            # the provider marks data/stringData secret; each value is redacted so the file stays a Secret
            for key in ("data", "stringData"):
                if isinstance(obj.get(key), dict):
                    obj[key] = {k: {SIG_KEY: SECRET_SIG, "value": v} for k, v in obj[key].items()}
        children.append(Registered(engine.child_urn(urn, token, child), token, child, urn, True,
                                   normalize(obj, "", secrets), secrets, [],
                                   wire=plain(obj) if secrets else None))
    return children


def preview_id(name: str) -> str:
    """The ID of a resource created at preview: empty. The engine calls the provider's ``Create``
    with ``Preview`` set and accepts an empty ID then only (pulumi ``pkg/resource/plugin/
    provider_plugin.go``, ``provider.Create``); the SDK resolves an empty ID as unknown (pulumi
    ``sdk/python/lib/pulumi/runtime/resource.py``, ``register_resource``: ``is_known = bool(resp.id)``)."""
    return ""


def struct_to_dict(struct: Any) -> dict[str, Any]:
    """``google.protobuf.json_format.MessageToDict`` of a ``Struct`` (the same keys in the same
    order and the same values: numbers as floats, its error for NaN or infinity), read straight
    from its fields: the generic converter looks up each value's field descriptor, a tenth of a
    registration's time (policy_pack/policies/_lib/structs.py, shared with the pack)."""
    from policy_pack.policies._lib.structs import struct_to_dict as convert

    return convert(struct)


def _options(request) -> dict[str, Any]:
    """The resource options of a registration that the engine sends the analyzer
    (``AnalyzerResourceOptions``, without the parent), only those that are set."""
    options: dict[str, Any] = {}
    if request.protect:
        options["protect"] = True
    if request.ignoreChanges:
        options["ignoreChanges"] = sorted(request.ignoreChanges)
    if request.deleteBeforeReplaceDefined:
        options["deleteBeforeReplace"] = bool(request.deleteBeforeReplace)
    if request.additionalSecretOutputs:
        options["additionalSecretOutputs"] = sorted(request.additionalSecretOutputs)
    timeouts = {k: getattr(request.customTimeouts, k) for k in ("create", "update", "delete")
                if getattr(request.customTimeouts, k)}
    if timeouts:
        options["customTimeouts"] = timeouts
    return options


#: How many Charts are expanded at once. Helm's template pass is one at a time (its Go log goes to
#: descriptor 2, captured per chart: engine._HELM_LOCK), so a second worker only decodes a chart's
#: documents while the next chart's templates render: measured back to back on prod, two workers
#: took 0.1 s more CPU for no shorter render, so one. With more, a chart may start before the CRDs
#: of the charts registered before it are known; join_charts then renders it again unless its
#: templates answer alike (_Expansion.answers_alike; tests/speed/test_render_pipeline.py shows no
#: chart of the stack asks about an API the stack's CRDs serve).
CHART_WORKERS = 1


@dataclass(eq=False)
class _Expansion:
    """One Chart (or yaml/v2 ConfigFile) registration and its expansion by a worker."""

    record: Registered
    version: str
    explicit: str                    # the provider the Chart was given, if any
    inputs: dict[str, Any]
    ctx: ChartContext                # the render's, with a warnings list of its own
    index: int                       # its place in registration order
    seen: frozenset = frozenset()    # the CRD APIs it was rendered with
    apis: Optional[frozenset] = None  # the CRD APIs its objects serve, once expanded
    future: "Optional[Future[list[Registered]]]" = None

    def expand(self, installed: frozenset) -> list[Registered]:
        self.seen = installed
        children = expand_chart(self.record.urn, self.record.type, self.record.name, self.inputs, self.ctx, installed)
        render = self.ctx.renders.get(self.record.urn)
        self.apis = frozenset(engine.crd_api_versions(render.objects) if render is not None and children else ())
        return children

    def answers_alike(self, installed: frozenset) -> bool:
        """Whether the chart renders the same with *installed* as with what it saw: none of the
        APIs in one and not the other is one its templates ask ``.Capabilities.APIVersions``
        about (:func:`hardened.engine.capability_queries`; a ConfigFile asks nothing)."""
        differ = self.seen ^ installed
        if not differ or self.record.type != engine.CHART_TOKEN or self.record.urn not in self.ctx.renders:
            return True
        asked = self.questions()
        return asked is not None and not (differ & asked)

    def questions(self) -> Optional[frozenset]:
        """The APIs the chart's templates ask about; None when they (or values rendered with
        ``tpl``) may ask about anything."""
        directory = engine.chart_dir(str(self.inputs.get("chart", "")), str(self.inputs.get("version", "")),
                                     self.ctx.cache)
        asked = engine.capability_queries(str(directory))
        return None if "Capabilities" in json.dumps(chart_values(self.inputs), default=str) else asked


def _make_mocks(records: list[Registered], charts: Optional[ChartContext] = None, preview: bool = False,
                stack: str = "", config: Optional[dict[str, str]] = None, secret_keys: Any = (),
                lookups: Optional[dict[str, dict]] = None, prepare: Optional[Callable[[Registered], None]] = None):
    from pulumi.runtime import mocks as m

    # *prepare* is given each record once it is final: when the program has ended, what it
    # registered, then each chart's children as join_charts collects them. (Handing each over at
    # its registration kept the serialiser child busy beside the program: as fast, and more CPU.)
    prepared_ids: set[int] = set()
    prepare_lock = threading.Lock()   # the order of the calls is the order the serialiser answers in

    def ready(record: Registered) -> None:
        if prepare is None:
            return
        with prepare_lock:
            if id(record) not in prepared_ids:
                prepared_ids.add(id(record))
                prepare(record)

    providers: dict[tuple[str, str], str] = {}
    providers_lock = threading.Lock()
    # A Chart's children are what the Kubernetes provider's Construct renders from the Chart's
    # inputs alone: the program sees none of them (the Chart's state has no outputs), so the
    # monitor answers the registration at once and workers render the Charts in the order they
    # were registered while the program goes on; Helm's Go code releases the GIL. Each chart
    # sees the CRDs of those registered before it (ChartContext.installed_apis): a worker starts
    # it with those of its predecessors expanded so far, and join_charts, which collects them in
    # order, renders it again with all of them unless its templates answer alike either way
    # (_Expansion.answers_alike).
    expander = ThreadPoolExecutor(max_workers=CHART_WORKERS, thread_name_prefix="hardened-charts")
    if charts is not None:  # what the worker imports, imported here: no import races with the program
        import helm_python  # noqa: F401
        from components import imagelock  # noqa: F401
        from . import lockfile

        # what every chart's render needs whatever its values, made while the program starts
        expander.submit(engine.api_versions, charts.kube_version or DEFAULT_KUBE_VERSION)
        expander.submit(lockfile.prime_chart_digests, engine.chart_cache(charts.cache))
    expansions: list[_Expansion] = []

    def speculate(expansion: _Expansion) -> list[Registered]:
        with providers_lock:
            before = [e.apis for e in expansions[:expansion.index]]
        children = expansion.expand(frozenset().union(*filter(None, before)))
        if None in before and expansion.record.type == engine.CHART_TOKEN and children:
            expansion.questions()   # join_charts will ask (some chart before was not expanded yet): ask here
        return children

    def provider_for(package: str, version: str, reference: str = "") -> str:
        """The URN of a custom resource's provider: its explicit one (a reference is
        ``<urn>::<id>``), else its package's default provider, registered (and recorded) before
        it, as the engine does."""
        if reference:
            return reference.rsplit("::", 1)[0] if reference.count("::") > 3 else reference
        key = (package, version)
        with providers_lock:   # registrations arrive on the SDK's executor threads: one default provider each
            if key not in providers:
                record = engine.default_provider(stack, PROJECT, package, version, config or {}, secret_keys or ())
                providers[key] = record.urn
                records.append(record)
                ready(record)
            return providers[key]

    class Monitor(m.MockMonitor):
        def RegisterResource(self, request):  # noqa: N802 (gRPC name)
            secrets: list[str] = []
            raw = struct_to_dict(request.object)
            if request.custom and request.type.startswith("kubernetes:") and "kind" in raw and "apiVersion" in raw:
                raw = engine.check_registered(raw)   # the provider's Check, as for a chart's objects
            inputs = normalize(raw, "", secrets)
            provider = (provider_for(request.type.split(":", 1)[0], request.version, request.provider)
                        if request.custom and not request.type.startswith("pulumi:") else "")
            response = super().RegisterResource(request)
            record = Registered(response.urn, request.type, request.name, request.parent,
                                bool(request.custom), inputs, secrets, sorted(request.dependencies),
                                wire=plain(raw) if secrets else None, provider=provider,
                                property_dependencies={k: sorted(v.urns) for k, v in
                                                       sorted(request.propertyDependencies.items()) if v.urns},
                                options=_options(request))
            records.append(record)
            if request.type in engine.REMOTE_COMPONENTS and charts is not None:
                # registered inside Construct with the Chart as parent, so under the provider the
                # Chart was given (its providers map), else the default provider
                explicit = request.providers.get("kubernetes", "") or request.provider
                with providers_lock:   # the order of submission is the order of registration
                    expansion = _Expansion(record, request.version, explicit, plain(raw),
                                           dataclasses.replace(charts, warnings=[]), len(expansions))
                    expansions.append(expansion)
                    expansion.future = expander.submit(speculate, expansion)
            return response

        def close(self) -> None:
            """Stop the worker (a program that failed leaves its Charts unexpanded)."""
            expander.shutdown(wait=True, cancel_futures=True)
            expansions.clear()

        def join_charts(self) -> None:
            """Wait for the Charts' expansions and put each one's children right after it, in
            registration order. The Chart's state gets no outputs (nothing registers them): its
            children, each naming the Chart as parent, are what the engine knows it deployed.
            Meanwhile each record is prepared once it is final: what the program registered
            first, then each Chart's children as soon as they are collected."""
            for record in list(records):
                ready(record)
            children_of: dict[int, list[Registered]] = {}
            installed: frozenset = frozenset()   # the CRD APIs of the charts before, as final
            for expansion in expansions:
                record = expansion.record
                try:
                    children = expansion.future.result()
                    if not expansion.answers_alike(installed):
                        expansion.ctx.warnings.clear()
                        children = expansion.expand(installed)
                except ChartError as e:
                    charts.errors.append(str(e))
                    children, expansion.apis = [], frozenset()
                installed |= expansion.apis or frozenset()
                unverified = getattr(charts.renders.get(record.urn), "unverified", None)
                charts.warnings.extend(w for w in expansion.ctx.warnings
                                       if not (w == unverified and w in charts.warnings))
                if children:
                    kubernetes = provider_for("kubernetes", expansion.version, expansion.explicit)
                    for child in children:
                        child.provider = kubernetes
                        ready(child)
                    children_of[id(record)] = children
            expander.shutdown(wait=True)
            expansions.clear()
            if children_of:
                spliced: list[Registered] = []
                for record in records:
                    spliced.append(record)
                    spliced.extend(children_of.get(id(record), ()))
                records[:] = spliced

    class Mocks(m.Mocks):
        def new_resource(self, args):
            # a create at preview has an empty ID, which the SDK treats as unknown (preview_id)
            resource_id = preview_id(args.name) if preview else f"{args.name}-id"
            if args.typ.startswith("aws:"):
                if preview:  # a first preview: what the provider computes is not known yet
                    state = _aws_mock_state(args)
                    return [resource_id, {k: v if k in args.inputs else UNKNOWN for k, v in state.items()}]
                return [resource_id, _aws_mock_state(args)]
            return [resource_id, dict(args.inputs)]

        def call(self, args):
            token = args.token
            if token == "aws:index/getCallerIdentity:getCallerIdentity":
                return {"accountId": FAKE_ACCOUNT, "arn": f"arn:aws:iam::{FAKE_ACCOUNT}:user/offline",
                        "userId": "OFFLINE", "id": FAKE_ACCOUNT}
            if token in ("aws:index/getRegion:getRegion", "aws:index/getRegion:getRegion"):
                return {"name": MOCK_REGION, "region": MOCK_REGION, "id": MOCK_REGION}
            if token == "aws:index/getPartition:getPartition":
                return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
            if lookups and token in lookups:
                return dict(lookups[token])
            return dict(args.args)

    mocks = Mocks()
    return mocks, Monitor(mocks)


class _ProgressHandler(logging.Handler):
    def __init__(self, sink: Callable[[str], None]):
        super().__init__(logging.INFO)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        self.sink(f"warning: {message}" if record.levelno >= logging.WARNING else message)




#: How long a thread holds the GIL while another waits for it, during a render (Python's default
#: is 5 ms). The chart workers wait for it each time Helm's Go code returns, hundreds of times,
#: while the program keeps it busy: at 5 ms the charts took twice as long next to the program.
RENDER_SWITCH_INTERVAL = 0.0005


@contextlib.contextmanager
def short_gil_turns() -> Iterator[None]:
    """:data:`RENDER_SWITCH_INTERVAL` meanwhile (``sys.setswitchinterval``), then the one before."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(min(before, RENDER_SWITCH_INTERVAL))
    try:
        yield
    finally:
        sys.setswitchinterval(before)


_SDK_DEPENDENCIES = "_direct_computed_dependencies"   # resource_cycle_breaker._DEPENDENCIES_PROPERTY


class _CycleCheck:
    """The SDK's cycle check (pulumi ``sdk/python/lib/pulumi/runtime/resource_cycle_breaker.py``,
    ``declare_dependency``: is the resource that takes a dependency already among the transitive
    dependencies of the one it depends on?), same graph and same answers, from an order of the
    resources kept with the graph: every resource after each of its dependencies (a topological
    order, kept as each edge is added by Pearce and Kelly's algorithm, "A Dynamic Topological Sort
    Algorithm for Directed Acyclic Graphs", 2006, mirrored). A path only ever goes to earlier
    resources, so a resource placed before the one sought cannot reach it: most questions,
    including every one about a resource nothing depends on yet, are answered without a walk,
    and a walk never leaves the part of the order between the two. The SDK's ``_reachable``
    walks every transitive dependency through a recursive generator per level: a third of the
    program's time in a prod render. Every edge is declared through ``_add_dep``."""

    def __init__(self, add_dep: Callable[[Any, Any], None]):
        self._add = add_dep
        #: by resource id: the resources that depend on it ({id: resource})
        self._dependents: dict[int, dict[int, Any]] = {}
        #: by resource id: its place in the order (each resource after its dependencies)
        self._position: dict[int, int] = {}
        self._resources: dict[int, Any] = {}   # what is placed stays alive: its id stays its own
        self._next = 0

    def _place(self, resource: Any) -> int:
        key = id(resource)
        position = self._position.get(key)
        if position is None:   # no edge yet: anywhere will do, after everything placed
            position = self._position[key] = self._next
            self._resources[key] = resource
            self._next += 1
        return position

    def add_dep(self, from_resource: Any, to_resource: Any) -> None:
        self._dependents.setdefault(id(to_resource), {})[id(from_resource)] = from_resource
        self._add(from_resource, to_resource)
        low, high = self._place(from_resource), self._place(to_resource)
        if high < low:
            return   # the dependency is placed before already
        # from_resource must now come after to_resource: what to_resource depends on that is
        # placed after from_resource moves before it, with to_resource, and what depends on
        # from_resource that is placed before to_resource moves after them, each set in its
        # own order, into the places the two sets held (no cycle: the SDK asked first)
        position = self._position
        before = self._walk(to_resource, lambda r: getattr(r, _SDK_DEPENDENCIES, ()), lambda p: p > low)
        after = self._walk(from_resource, lambda r: self._dependents.get(id(r), {}).values(), lambda p: p < high)
        places = sorted(position[id(r)] for r in before + after)
        moved = sorted(before, key=lambda r: position[id(r)]) + sorted(after, key=lambda r: position[id(r)])
        for resource, place in zip(moved, places):
            position[id(resource)] = place

    def _walk(self, start: Any, edges: Callable[[Any], Iterable[Any]], inside: Callable[[int], bool]) -> list[Any]:
        """*start* and what its *edges* reach through resources whose place is *inside*."""
        position = self._position
        found, seen, todo = [start], {id(start)}, [start]
        while todo:
            for resource in edges(todo.pop()):
                if id(resource) not in seen and inside(position[id(resource)]):
                    seen.add(id(resource))
                    found.append(resource)
                    todo.append(resource)
        return found

    def reachable(self, from_resource: Any, to_resource: Any) -> bool:
        if from_resource is to_resource:
            return True
        if id(to_resource) not in self._dependents:
            return False   # nothing depends on it
        position = self._position
        target = position[id(to_resource)]
        start = position.get(id(from_resource))
        if start is None or start < target:
            return False   # no dependency, or placed before it: every path goes to earlier places
        todo, seen = [from_resource], {id(from_resource)}
        while todo:
            for dependency in getattr(todo.pop(), _SDK_DEPENDENCIES, ()):
                if dependency is to_resource:
                    return True
                key = id(dependency)
                if key not in seen and position[key] > target:
                    seen.add(key)
                    todo.append(dependency)
        return False


@contextlib.contextmanager
def sdk_cycle_check() -> Iterator[None]:
    """The SDK's dependency cycle check answered by :class:`_CycleCheck` meanwhile (the same
    answers: tests/speed/test_render_pipeline.py compares them with the SDK's on random graphs)."""
    from pulumi.runtime import resource_cycle_breaker as breaker

    originals = (getattr(breaker, "_reachable", None), getattr(breaker, "_add_dep", None))
    if None in originals or getattr(breaker, "_DEPENDENCIES_PROPERTY", None) != _SDK_DEPENDENCIES:
        yield   # another SDK: its own check
        return
    check = _CycleCheck(originals[1])
    breaker._reachable, breaker._add_dep = check.reachable, check.add_dep
    try:
        yield
    finally:
        breaker._reachable, breaker._add_dep = originals


@contextlib.contextmanager
def without_source_positions() -> Iterator[None]:
    """Registrations without the stack trace the SDK walks for each one (pulumi
    ``sdk/python/lib/pulumi/runtime/resource.py``, ``_get_stack_trace``: the engine shows where a
    resource was declared). The mock monitor drops it and a render records no source position:
    what is registered is the same, a tenth of the program's time less."""
    from pulumi.runtime import resource as sdk_resource
    from pulumi.runtime.proto import source_pb2

    original = getattr(sdk_resource, "_get_stack_trace", None)
    if original is None:
        yield   # another SDK
        return
    sdk_resource._get_stack_trace = source_pb2.StackTrace
    try:
        yield
    finally:
        sdk_resource._get_stack_trace = original


def run_program(stack: str = "prod", root: Path = REPO_ROOT, overrides: Optional[dict[str, Any]] = None,
                progress: Optional[Callable[[str], None]] = None,
                program: Optional[Callable[[], Any]] = None, preview: bool = False,
                charts: Optional[ChartContext] = None, expand_charts: bool = True,
                placeholders: Optional[dict[str, str]] = None,
                prepare: Optional[Callable[[Registered], None]] = None) -> list[Registered]:
    """Run ``__main__.py`` (or *program*) under mocks with the stack's config; return what it
    registered, each Helm chart expanded into its children as the Kubernetes provider does
    (*expand_charts* False records the Chart alone: the benchmarks' baseline). *prepare* is
    given each record once it is final, while the charts still render (``PreparedOutput.add``).

    With *preview*, every output the cloud provider computes (an ARN, an ID) is unknown, as in a
    first ``pulumi preview``. *charts* (made from the stack's config when omitted) collects the
    provider's warnings. Raises ``pulumi.RunError`` (e.g. ``ConfigError``) unchanged for bad
    configuration and :class:`RenderError` for a chart that cannot be rendered.
    """
    import pulumi
    from pulumi.runtime import settings as rsettings
    from pulumi.runtime.config import set_all_config
    from pulumi.runtime.stack import run_pulumi_func

    from .sdkimport import lean_service_packages

    lean_service_packages()   # the program's AWS classes imported a module each, not a service's every one
    config, secret_keys = read_stack_config(stack, root, overrides, placeholders)
    records: list[Registered] = []
    charts = charts or ChartContext()
    if charts.kube_version is None:
        charts.kube_version = stack_kube_version(config)
    if config.get("kubernetes:namespace"):
        charts.provider_namespace = config["kubernetes:namespace"]
    if str(config.get("kubernetes:enableServerSideApply", "true")).lower() == "false":
        charts.server_side_apply = False
    mocks, monitor = _make_mocks(records, charts if expand_charts else None, preview, stack, config, secret_keys,
                                 lookups=offline_lookups(config), prepare=prepare)
    logger = logging.getLogger(f"hardened.render.{stack}")
    logger.propagate = False
    logger.handlers[:] = [_ProgressHandler(progress or (lambda _m: None))]
    logger.setLevel(logging.INFO)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    rsettings.ROOT.set(None)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=preview, logger=logger, monitor=monitor)
    set_all_config(config, secret_keys)

    main_path = str(root / "__main__.py")

    def body() -> None:
        if program is not None:
            program()
            return
        added = str(root) not in sys.path
        if added:
            sys.path.insert(0, str(root))
        try:
            runpy.run_path(main_path, run_name="__main__")
        finally:
            if added:
                sys.path.remove(str(root))

    try:
        with without_cyclic_gc(), sdk_cycle_check(), without_source_positions(), short_gil_turns():
            loop.run_until_complete(run_pulumi_func(body))
            monitor.join_charts()
    finally:
        monitor.close()
        loop.close()
        asyncio.set_event_loop(None)
    if charts.errors:
        raise RenderError("\n".join(charts.errors))
    return records


def to_resources(records: list[Registered]) -> "list[Resource]":
    """The registrations as the engine sends them to a policy pack, in memory: secret values as
    they are (the engine sends them marked secret and pulumi-policy unwraps them before any policy
    reads them: pulumi-policy ``deserialize.py``, ``_deserialize_property``), unknowns as the
    engine's marker. What ``write_output`` puts on disk stays redacted."""
    from .manifests import RENDERED_UNKNOWN, UNKNOWN as WIRE_UNKNOWN, Resource

    def restore(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: restore(v) for k, v in value.items()}
        if isinstance(value, list):
            return [restore(v) for v in value]
        return WIRE_UNKNOWN if value == RENDERED_UNKNOWN else value

    return [Resource(r.type, r.name, r.wire if r.wire is not None else restore(r.inputs), r.urn, r.parent, r.custom,
                     provider=r.provider, dependencies=tuple(r.dependencies),
                     property_dependencies=dict(r.property_dependencies), options=dict(r.options))
            for r in records]


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------

def manifest_path(inputs: dict[str, Any]) -> str:
    meta = inputs.get("metadata") or {}
    namespace = meta.get("namespace") or "_cluster"
    group = inputs["apiVersion"].split("/")[0] if "/" in inputs["apiVersion"] else "core"
    kind = inputs["kind"].lower()
    prefix = kind if group in ("core", "apps", "batch", "policy") else f"{kind}.{group}"
    # RBAC names may hold ':' (cert-manager-controller-approve:cert-manager-io), which is no portable
    # file name and which checkov skips without a word; no Kubernetes name holds '_'.
    name = str(meta.get("name", "unnamed")).replace(":", "_")
    return f"manifests/{namespace}/{prefix}-{name}.yaml"


def resources_json(document: dict[str, Any], lines: Optional[list[str]] = None) -> str:
    """resources.json: one resource a line, keys sorted (the C encoder: an indented dump of the
    charts' CRDs took seconds), so a resource's line is still where its URN is. *lines*: each
    resource's line, when the caller has them already."""
    head = {k: v for k, v in document.items() if k != "resources"}
    if lines is None:
        lines = [_json(entry) for entry in document["resources"]]
    body = ",\n".join(f"    {line}" for line in lines)
    return (json.dumps(head, sort_keys=True, ensure_ascii=False)[:-1] + ', "resources": [\n' + body + "\n]}\n")


class PreparedOutput:
    """What :func:`write_output` writes for a record (its manifest's text and the JSON of its
    inputs), made ahead of the write: ``render`` makes it while the charts still render
    (``run_program(prepare=...)``), which keeps the serialisation off the end of the render.

    With *process*, a child process serialises (:class:`_Serialiser`): the YAML emitter is the
    render's largest piece of Python after the program, and another process runs it on another
    core, without this one's GIL. When the write comes, this process serialises from the last
    record back what the child has not answered yet, and stops the child where they meet (so a
    busy machine, where the child gets no core of its own, costs no more than serialising here)."""

    def __init__(self, process: bool = False) -> None:
        self._by_id: dict[int, tuple[Registered, Optional[str], Optional[str]]] = {}
        self._child = _Serialiser.start() if process else None

    def add(self, record: Registered) -> None:
        """Serialise *record* (now, or in the child): its inputs are final (nothing changes a
        record once registered)."""
        if self._child is not None:
            self._by_id[id(record)] = (record, None, None)
            self._child.submit(id(record), record)
            return
        self._by_id[id(record)] = (record, *self._serialised(record))

    def get(self, record: Registered) -> Optional[tuple[Optional[str], str]]:
        if self._child is not None:
            self._collect()
        hit = self._by_id.get(id(record))
        if hit is None or hit[0] is not record or hit[2] is None:
            return None
        return hit[1], hit[2]

    def close(self) -> None:
        """Stop the child, if any (a render that failed)."""
        if self._child is not None:
            self._child.stop()
            self._child = None

    @staticmethod
    def _serialised(record: Registered) -> tuple[Optional[str], str]:
        return (dump_yaml(record.inputs) if record.is_kubernetes_object else None), _json(record.inputs)

    def _collect(self) -> None:
        child, self._child = self._child, None
        answers = child.answers   # filled by the child in the order the records were sent
        for key in reversed(child.sent):
            if key in answers:   # the child got this far: it answered every record before it
                break
            record = self._by_id[key][0]
            self._by_id[key] = (record, *self._serialised(record))
        for key, (text, inputs_json) in child.stop().items():
            hit = self._by_id.get(key)
            if hit is not None and hit[2] is None:
                self._by_id[key] = (hit[0], text, inputs_json)


#: What the child of :class:`_Serialiser` runs.
_SERIALISER = "import sys; from hardened.serialise import serve; sys.exit(serve())"


class _Serialiser:
    """A child process (``python -c _SERIALISER``) that answers each record sent to it, in
    length-prefixed pickles over its stdin and stdout, with the YAML of its manifest and the JSON
    of its inputs (:func:`hardened.serialise.serve`), in the order they were sent. A thread here
    sends (the render never waits on the pipe) and another reads the answers as they come."""

    def __init__(self, proc: "subprocess.Popen[bytes]"):
        import queue

        self._proc = proc
        self.sent: list[int] = []                       # keys, in the order they were submitted
        self.answers: dict[int, tuple[Optional[str], str]] = {}
        self._outbox: "queue.SimpleQueue[Optional[tuple[int, Registered]]]" = queue.SimpleQueue()
        self._stopped = False
        self._sender = threading.Thread(target=self._send, name="hardened-serialiser-send", daemon=True)
        self._reader = threading.Thread(target=self._read, name="hardened-serialiser-read", daemon=True)
        self._sender.start()
        self._reader.start()

    @classmethod
    def start(cls) -> "Optional[_Serialiser]":
        if not sys.executable:
            return None
        package_root = str(Path(__file__).resolve().parent.parent)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
        try:
            proc = subprocess.Popen([sys.executable, "-c", _SERIALISER], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, env=env)
        except OSError:
            return None
        return cls(proc)

    def submit(self, key: int, record: Registered) -> None:
        self.sent.append(key)
        self._outbox.put((key, record))

    def stop(self) -> dict[int, tuple[Optional[str], str]]:
        """Stop the child (what it has not answered is left to the caller); its answers."""
        self._stopped = True
        self._outbox.put(None)
        self._proc.kill()
        self._proc.wait()
        self._sender.join()
        self._reader.join()
        return self.answers

    def _send(self) -> None:
        pipe = self._proc.stdin
        try:
            while not self._stopped:
                item = self._outbox.get()
                if item is None:
                    return
                key, record = item
                blob = pickle.dumps((key, record.inputs, record.is_kubernetes_object),
                                    protocol=pickle.HIGHEST_PROTOCOL)
                pipe.write(len(blob).to_bytes(8, "little") + blob)
                pipe.flush()
        except (OSError, ValueError):   # the child is gone: what it did not answer is serialised here
            return
        finally:
            with contextlib.suppress(OSError, ValueError):
                pipe.close()

    def _read(self) -> None:
        out = self._proc.stdout
        try:
            while True:
                head = out.read(8)
                if len(head) < 8:
                    return
                size = int.from_bytes(head, "little")
                blob = out.read(size)
                if len(blob) < size:
                    return
                key, text, inputs_json = pickle.loads(blob)
                self.answers[key] = (text, inputs_json)
        except (OSError, ValueError, pickle.UnpicklingError):   # an answer cut short: serialised here
            return
        finally:
            out.close()


def _entry_line(entry: dict[str, Any], inputs_json: str) -> str:
    """``json.dumps(entry, sort_keys=True, ensure_ascii=False)`` with the JSON of its inputs made
    before: the encoder writes a mapping as its sorted ``key: value`` pairs, each value alike."""
    return "{" + ", ".join(f"{_json(k)}: {inputs_json if k == 'inputs' else _json(v)}"
                           for k, v in sorted(entry.items())) + "}"


def write_output(records: list[Registered], out: Path, stack: str,
                 prepared: Optional[PreparedOutput] = None) -> dict[str, Any]:
    """Write manifests and resources.json into *out* (replacing what a previous render left);
    *prepared* holds what was serialised already."""
    with without_cyclic_gc():
        return _write_output(records, out, stack, prepared or PreparedOutput())


def _write_output(records: list[Registered], out: Path, stack: str, prepared: PreparedOutput) -> dict[str, Any]:
    if (out / "manifests").exists():
        shutil.rmtree(out / "manifests")
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    lines = []
    written: dict[str, str] = {}
    folders: set[Path] = set()
    # providers first: the engine registers a default provider before the resources that use it
    for rec in sorted(records, key=lambda r: (not r.type.startswith("pulumi:providers:"), r.urn)):
        entry: dict[str, Any] = {"urn": rec.urn, "type": rec.type, "name": rec.name, "parent": rec.parent,
                                 "custom": rec.custom, "inputs": rec.inputs}
        if rec.secret_paths:
            entry["secretPaths"] = sorted(rec.secret_paths)
        if rec.provider:
            entry["provider"] = rec.provider
        if rec.dependencies:
            entry["dependencies"] = sorted(rec.dependencies)
        if rec.property_dependencies:
            entry["propertyDependencies"] = rec.property_dependencies
        if rec.options:
            entry["options"] = rec.options
        made = prepared.get(rec)
        if rec.is_kubernetes_object:
            rel = manifest_path(rec.inputs)
            if rel in written:
                raise RenderError(f"two resources render to {rel}: {written[rel]} and {rec.urn}")
            written[rel] = rec.urn
            target = out / rel
            if target.parent not in folders:
                target.parent.mkdir(parents=True, exist_ok=True)
                folders.add(target.parent)
            text = made[0] if made is not None and made[0] is not None else dump_yaml(rec.inputs)
            target.write_text(text)
            entry["manifest"] = rel
            # check compares it with the file, and says so when the manifest was edited after render
            entry["manifestSha256"] = hashlib.sha256(text.encode("utf-8")).hexdigest()
        entries.append(entry)
        lines.append(_entry_line(entry, made[1]) if made is not None else _json(entry))
    document = {"project": PROJECT, "stack": stack, "resources": entries}
    (out / "resources.json").write_text(resources_json(document, lines))
    return {"resources": len(entries), "manifests": len(written)}


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------

def rendered_objects(records: Iterable[Registered]) -> Iterator[tuple[str, Optional[str], str, list[str]]]:
    """``(kind, namespace, name, images)`` of every Kubernetes object of a render, as the policies
    see them (images of every container list of a pod-bearing object)."""
    from policy_pack.policies._lib import k8s

    for r in records:
        if not r.is_kubernetes_object:
            continue
        try:
            obj = k8s.Obj(r.type, r.inputs, r.name)
            pod = k8s.pod_spec(obj)
            images = [c.obj.get("image") for c in pod.containers()] if pod is not None else []
            yield obj.kind, obj.namespace, obj.name, [i for i in images if isinstance(i, str)]
        except k8s.Unverifiable:
            continue


def stack_sections(stack: str, root: Path = REPO_ROOT) -> dict[str, Any]:
    """The stack's settings by section (``{"vault": {...}}``), as the exemptions' ``when`` reads them."""
    config, _ = read_stack_config(stack, root)
    prefix = f"{PROJECT}:"
    out = {}
    for key, value in config.items():
        if key.startswith(prefix):
            try:
                out[key[len(prefix):]] = json.loads(value) if isinstance(value, str) else value
            except ValueError:
                out[key[len(prefix):]] = value
    return out


def unused_exemptions(records: Iterable[Registered], stack: str = "prod", root: Path = REPO_ROOT,
                      path: Optional[Path] = None) -> list[Any]:
    """The entries of the exemptions file that name no object of this render (entries whose
    ``when`` does not hold for the stack are dormant, not unused)."""
    from policy_pack.policies._lib import exemptions as ex

    return ex.unused(ex.load_exemptions(path), list(rendered_objects(records)), stack_sections(stack, root))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", default="prod", help="stack name: reads Pulumi.<stack>.yaml (default prod)")
    parser.add_argument("--out", default=None, help="output directory (default build/<stack>)")
    parser.add_argument("--root", default=str(REPO_ROOT), help=argparse.SUPPRESS)
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress lines (warnings are still shown)")
    parser.add_argument("--chart-cache", metavar="DIR", default=None,
                        help=f"folder of unpacked Helm charts, <chart>-<version>/ (default ${engine.CACHE_ENV}, "
                             f"else {engine.DEFAULT_CACHE})")
    parser.add_argument("--kube-version", metavar="VERSION", default=None,
                        help="the version string the cluster reports to Helm charts (default: the stack's "
                             "cluster.kubernetesVersion, as v1.33.0); e.g. an EKS server's v1.33.5-eks-3025e55")
    parser.add_argument("--no-charts", action="store_true", help=argparse.SUPPRESS)  # benchmarks' baseline
    parser.add_argument("--preview", action="store_true",
                        help="render as a first `pulumi preview` does: every output a cloud provider computes "
                             "is unknown (a Helm chart with an unknown value renders no objects)")


def run(args: argparse.Namespace) -> int:
    with without_cyclic_gc():  # the whole command: the program's modules load in it too
        prepared = PreparedOutput(process=True)   # its child starts while this one reads the stack
        try:
            return _run(args, prepared)
        finally:
            prepared.close()


def _run(args: argparse.Namespace, prepared: PreparedOutput) -> int:
    from . import policyconfig

    root = Path(args.root)
    out = Path(args.out) if args.out else root / "build" / args.stack
    def say(message: str) -> None:  # warnings (pulumi.log.warn) are labelled and shown even with --quiet
        if message.startswith("warning: "):
            print(f"render: {message}", file=sys.stderr)
        elif not args.quiet:
            print(f"  {message}", file=sys.stderr)

    start = time.perf_counter()
    if not args.quiet:
        print(f"render: stack {args.stack} from {stack_file(args.stack, root).name} (offline, SDK mocks)",
              file=sys.stderr)
    # An expired exemption would deploy its component half-exempted (policy_pack/exemptions.yaml).
    from policy_pack.policies._lib.exemptions import preflight

    if not preflight("render", fail_on_expired=True):
        return 2
    placeholders: dict[str, str] = {}
    charts = ChartContext(cache=getattr(args, "chart_cache", None), kube_version=getattr(args, "kube_version", None))
    # Errors (RenderError, a chart that cannot be rendered, a config error naming the key, an
    # unwritable --out) reach the CLI's one handler: `render: error: ...`, exit 2.
    records = run_program(args.stack, root, progress=say, preview=getattr(args, "preview", False),
                          charts=charts, expand_charts=not getattr(args, "no_charts", False),
                          placeholders=placeholders, prepare=prepared.add)
    counts = write_output(records, out, args.stack, prepared)
    policyconfig.write(out, policyconfig.stack_policy_config(args.stack, root))
    # The ledger of opt-outs (issue 27.2): every setting that weakens a secure default, shown always.
    from .ledger import ledger_json, ledger_lines, stack_ledger

    ledger = stack_ledger(args.stack, root)
    (out / "opt-outs.json").write_text(ledger_json(ledger))
    for line in ledger_lines(ledger):
        print(f"render: opt-out: {line}", file=sys.stderr)
    say(f"{len(ledger)} opt-out(s) of secure defaults (the ledger: {out / 'opt-outs.json'})")
    for warning in charts.warnings:
        print(f"render: warning: {warning}", file=sys.stderr)
    # Entries naming no rendered object apply to nothing: a warning while new, then an error. Only a
    # render with every chart object can say so (--no-charts and --preview leave chart objects out).
    stale = [] if getattr(args, "no_charts", False) or getattr(args, "preview", False) else \
        unused_exemptions(records, args.stack, root)
    from policy_pack.policies._lib import exemptions as ex

    for e in stale:
        level = "error" if ex.unused_overdue(e) else "warning"
        print(f"render: {level}: {ex.unused_message(e)}", file=sys.stderr)
    if any(ex.unused_overdue(e) for e in stale):
        return 2
    hooks = sum(len(r.hooks) for r in charts.renders.values())
    chart_objects = sum(len(r.objects) for r in charts.renders.values())
    helm = sum(1 for r in charts.renders.values() if r.version)
    files = len(charts.renders) - helm
    say(f"{helm} Helm charts rendered from {engine.chart_cache(charts.cache)} (Kubernetes {charts.kube_version})"
        f"{f' and {files} manifest file(s) read from {engine.manifest_cache(charts=charts.cache)}' if files else ''}: "
        f"{chart_objects} objects; {hooks} hooks dropped, as helm.v4.Chart drops them")
    from .secret_placeholders import notice

    for line in notice(placeholders):
        print(line, file=sys.stderr)
    secrets = sum(1 for r in records if r.secret_paths)
    print(f"render: wrote {counts['manifests']} manifests and {counts['resources']} resources "
          f"({secrets} with redacted secrets) and the pack's {policyconfig.FILE_NAME} to {out} "
          f"in {time.perf_counter() - start:.2f}s", file=sys.stderr)
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hardened render", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    gc.disable()   # as ``python -m hardened render`` (hardened/__main__.py)
    status = main()
    gc.freeze()
    sys.exit(status)
