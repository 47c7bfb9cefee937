"""What the Pulumi engine sends, in one place: the offline model of the engine that ``render``,
``check`` and the tests share.

Under the real CLI a ``kubernetes:helm.sh/v4:Chart`` is a *remote component*: the program asks
for it, the Kubernetes provider's ``Construct`` renders the chart and registers every object as
an ordinary child resource. The facts this module reproduces, each read from the source:

- pulumi-kubernetes ``provider/pkg/provider/helm/v4/chart.go`` ``ChartProvider.Construct``:
  release name = the resource name (unless ``name`` is set), ``DisableHooks = true`` (hooks are
  dropped, not run), ``IncludeCRDs = !skipCrds``, ``ClientOnly`` template with the cluster's kube
  version where a cluster is reachable; when any input is unknown (an Output not yet known at
  preview) it only warns "Input properties have unknown values. Preview is incomplete." and
  registers **no children**.
- pulumi-kubernetes ``provider/pkg/provider/yaml/v2/yaml.go`` ``Normalize``: ``*List`` kinds are
  expanded, the ``core`` group is dropped, a namespaced kind without a namespace gets the
  chart's namespace (scope known from built-in kinds and the CRDs among the same objects; an
  unresolvable kind keeps no namespace and the provider warns); ``register``: the child's name
  is ``<resourcePrefix>:<namespace>/<name>`` (``<resourcePrefix>:<name>`` when cluster-scoped),
  its type ``kubernetes:<apiVersion>:<Kind>`` and its parent the Chart; Secret ``data`` and
  ``stringData`` are marked secret.
- pulumi-kubernetes ``provider/pkg/clients/unstructured.go`` ``Normalize`` (the provider's
  ``Check``): Secret ``stringData`` is merged into ``data`` base64-encoded, CRD ``status`` and a
  false ``preserveUnknownFields`` are removed. The engine analyses the *checked* inputs
  (pulumi ``pkg/resource/deploy/step_generator.go`` ``continueStepsFromRefresh``: ``prov.Check``,
  then ``analyzeAll`` with those inputs).
- pulumi ``step_generator.go``: every registration is analysed, components included; a component
  has no provider, so no ``Check``. The Chart component the provider registers inside
  ``Construct`` carries no input properties, so ``Analyze`` sees it with ``{}``.
  ``AnalyzeStack`` (``AnalyzeResources``) sends each resource's *outputs*; the Chart's output is
  ``resources``, the list of its children, marshalled without resource references
  (``analyzer_plugin.go``: ``KeepResources`` unset, so a reference becomes its ID).

Helm charts come from a local cache folder (``<cache>/<chart>-<version>/``, as ``helm pull
--untar`` lays them out): ``$HARDENED_CHART_CACHE``, else ``~/.cache/hardened-stack/charts``.
They are rendered in-process with the Helm v4 SDK (``helm-python-sdk``), no helm binary.
"""
from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

from .manifests import type_token  # noqa: F401 - the provider's rule, one copy (hardened/manifests.py)

#: The remote components the provider expands into child resources.
CHART_TOKEN = "kubernetes:helm.sh/v4:Chart"
CONFIG_FILE_TOKEN = "kubernetes:yaml/v2:ConfigFile"
#: Remote components: the engine analyses them with no input properties.
REMOTE_COMPONENTS = frozenset({CHART_TOKEN, CONFIG_FILE_TOKEN})
#: Environment variable naming the folder of plain manifests a ConfigFile URL resolves to offline
#: (default: ``manifests`` beside the chart cache).
MANIFEST_CACHE_ENV = "HARDENED_MANIFEST_CACHE"
#: Release URLs a ConfigFile may name, and the cache folder that holds the same objects (a
#: release's standard-install.yaml is the concatenation of the files of that folder).
MANIFEST_SOURCES = (
    (re.compile(r"^https://github\.com/kubernetes-sigs/gateway-api/releases/download/(v[0-9.]+)/standard-install\.yaml$"),
     "gateway-api-{0}"),
)
#: The Pulumi engine's marker for a value unknown during preview (a string sentinel).
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
#: The config model's default of cluster.kubernetesVersion (hardened.render uses this one).
DEFAULT_KUBE_VERSION = "1.33"
#: Environment variable naming the chart cache folder.
CACHE_ENV = "HARDENED_CHART_CACHE"
DEFAULT_CACHE = Path.home() / ".cache" / "hardened-stack" / "charts"
#: Helm's annotation that makes an object a hook (dropped by helm.v4.Chart).
HOOK_ANNOTATION = "helm.sh/hook"

#: Built-in cluster-scoped kinds (everything else built in is namespaced); ``(group, kind)``.
CLUSTER_SCOPED = frozenset({
    ("", "Namespace"), ("", "Node"), ("", "PersistentVolume"), ("", "ComponentStatus"),
    ("rbac.authorization.k8s.io", "ClusterRole"), ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"), ("apiregistration.k8s.io", "APIService"),
    ("storage.k8s.io", "StorageClass"), ("storage.k8s.io", "CSIDriver"), ("storage.k8s.io", "CSINode"),
    ("storage.k8s.io", "VolumeAttachment"), ("storage.k8s.io", "VolumeAttributesClass"),
    ("scheduling.k8s.io", "PriorityClass"), ("node.k8s.io", "RuntimeClass"),
    ("networking.k8s.io", "IngressClass"), ("networking.k8s.io", "IPAddress"),
    ("networking.k8s.io", "ServiceCIDR"),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"),
    ("admissionregistration.k8s.io", "MutatingAdmissionPolicy"),
    ("admissionregistration.k8s.io", "MutatingAdmissionPolicyBinding"),
    ("certificates.k8s.io", "CertificateSigningRequest"), ("certificates.k8s.io", "ClusterTrustBundle"),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
    ("resource.k8s.io", "DeviceClass"),
})
#: Built-in API groups: a kind of these groups not in CLUSTER_SCOPED is namespaced.
BUILTIN_GROUPS = frozenset({
    "", "apps", "batch", "autoscaling", "policy", "networking.k8s.io", "rbac.authorization.k8s.io",
    "storage.k8s.io", "scheduling.k8s.io", "node.k8s.io", "coordination.k8s.io", "discovery.k8s.io",
    "events.k8s.io", "admissionregistration.k8s.io", "apiextensions.k8s.io", "apiregistration.k8s.io",
    "certificates.k8s.io", "flowcontrol.apiserver.k8s.io", "resource.k8s.io",
})


class ChartError(Exception):
    """A chart that cannot be found or rendered; the message names it and the fix."""


# ---------------------------------------------------------------------------------------------
# Registrations: what the engine records and what it sends to a policy pack
# ---------------------------------------------------------------------------------------------

@dataclass
class Registered:
    """One resource registration as the engine records it."""

    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    inputs: dict[str, Any]
    secret_paths: list[str] = field(default_factory=list)
    dependencies: list[str] = field(default_factory=list)
    #: a remote component's outputs (a Chart's ``resources``), as AnalyzeStack sees them
    outputs: Optional[dict[str, Any]] = None

    @property
    def is_kubernetes_object(self) -> bool:
        return (self.custom and self.type.startswith("kubernetes:")
                and not self.type.startswith("pulumi:providers:")
                and "apiVersion" in self.inputs and "kind" in self.inputs)


def analyze_properties(type_token: str, inputs: Mapping[str, Any]) -> Mapping[str, Any]:
    """The properties ``Analyze`` receives: a remote component's registration inside the
    provider's ``Construct`` carries none; everything else its (checked) inputs."""
    return {} if type_token in REMOTE_COMPONENTS else inputs


def stack_properties(type_token: str, inputs: Mapping[str, Any],
                     outputs: Optional[Mapping[str, Any]] = None) -> Mapping[str, Any]:
    """The properties ``AnalyzeStack`` receives: outputs. For a Kubernetes object the live
    object, which offline is its inputs; for a remote component its registered outputs."""
    if type_token in REMOTE_COMPONENTS:
        return dict(outputs) if outputs is not None else {}
    return inputs


def child_name(prefix: str, obj: Mapping[str, Any]) -> str:
    """``<prefix>:<namespace>/<name>``, or ``<prefix>:<name>`` for a cluster-scoped object."""
    meta = obj.get("metadata") or {}
    name = meta.get("name")
    ns = meta.get("namespace")
    local = f"{ns}/{name}" if ns else str(name)
    return f"{prefix}:{local}" if prefix else local


def child_urn(parent_urn: str, token: str, name: str) -> str:
    """A child's URN: the parent's type chain, ``$``, the child's type (pulumi ``resource.NewURN``)."""
    head, _, rest = parent_urn.partition("::")          # urn:pulumi:<stack>
    project, _, rest = rest.partition("::")
    parent_types, _, _ = rest.partition("::")
    return f"{head}::{project}::{parent_types}${token}::{name}"


def resource_id(obj: Mapping[str, Any]) -> str:
    """The provider's ID of a Kubernetes object: ``<namespace>/<name>`` or ``<name>``."""
    meta = obj.get("metadata") or {}
    ns, name = meta.get("namespace"), meta.get("name")
    return f"{ns}/{name}" if ns else str(name)


# ---------------------------------------------------------------------------------------------
# The provider's normalisation (Parse, Normalize, Check)
# ---------------------------------------------------------------------------------------------

def _group_kind(obj: Mapping[str, Any]) -> tuple[str, str]:
    api = str(obj.get("apiVersion") or "")
    group = api.split("/", 1)[0] if "/" in api else ""
    return ("" if group == "core" else group), str(obj.get("kind") or "")


def _crd_scopes(objs: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], bool]:
    scopes = {}
    for o in objs:
        if _group_kind(o) == ("apiextensions.k8s.io", "CustomResourceDefinition"):
            spec = o.get("spec") or {}
            kind = (spec.get("names") or {}).get("kind")
            if kind:
                scopes[(spec.get("group") or "", kind)] = spec.get("scope") == "Namespaced"
    return scopes


def is_namespaced(group_kind: tuple[str, str], crd_scopes: Mapping[tuple[str, str], bool]) -> Optional[bool]:
    """Whether a kind is namespaced: built-in kinds by table, custom kinds by a CRD among the
    same objects; ``None`` when neither knows (the provider then leaves the namespace unset)."""
    if group_kind in CLUSTER_SCOPED:
        return False
    if group_kind in crd_scopes:
        return crd_scopes[group_kind]
    if group_kind[0] in BUILTIN_GROUPS:
        return True
    return None


def expand_lists(objs: Iterable[dict]) -> list[dict]:
    out: list[dict] = []
    stack = list(objs)[::-1]
    while stack:
        o = stack.pop()
        kind = o.get("kind")
        if isinstance(kind, str) and kind.endswith("List") and isinstance(o.get("items"), list):
            stack.extend(reversed([i for i in o["items"] if isinstance(i, dict)]))
            continue
        out.append(o)
    return out


def normalize_objects(objs: Iterable[dict], default_namespace: str) -> tuple[list[dict], list[str]]:
    """yaml/v2 ``Normalize`` plus the provider's ``Check`` normalisation, in place (the objects
    are freshly decoded). Returns the objects and the kinds whose scope could not be resolved
    (the provider warns about those)."""
    objs = expand_lists(objs)
    scopes = _crd_scopes(objs)
    unresolved: list[str] = []
    out = []
    for o in objs:
        if str(o.get("apiVersion", "")).startswith("core/"):
            o["apiVersion"] = o["apiVersion"][len("core/"):]
        meta = o.setdefault("metadata", {})
        if not meta.get("namespace"):
            namespaced = is_namespaced(_group_kind(o), scopes)
            if namespaced is None:
                gk = "/".join(x for x in _group_kind(o) if x)
                if gk not in unresolved:
                    unresolved.append(gk)
            elif namespaced:
                meta["namespace"] = default_namespace
            else:
                meta.pop("namespace", None)
        out.append(check_normalize(o))
    return out, unresolved


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value if v is not None]
    return value


def check_normalize(obj: dict) -> dict:
    """The provider's ``Check`` normalisation that changes what a policy reads. A built-in kind
    goes through its typed Go struct and back (``clients.Normalize``), which drops null fields
    (``initContainers: null`` as some templates render it); custom resources keep theirs."""
    group, kind = _group_kind(obj)
    if group in BUILTIN_GROUPS and kind != "CustomResourceDefinition":
        obj = _drop_nulls(obj)
    if (group, kind) == ("", "Secret"):
        string_data = obj.pop("stringData", None)
        if isinstance(string_data, Mapping) and string_data:
            data = dict(obj.get("data") or {})
            for k, v in string_data.items():
                data[k] = base64.b64encode(str(v).encode()).decode("ascii")
            obj["data"] = data
        elif isinstance(obj.get("data"), Mapping):
            obj["data"] = {k: v.strip() if isinstance(v, str) else v for k, v in obj["data"].items()}
    elif (group, kind) == ("apiextensions.k8s.io", "CustomResourceDefinition"):
        obj.pop("status", None)
        spec = obj.get("spec")
        if isinstance(spec, dict) and spec.get("preserveUnknownFields") is False:
            spec.pop("preserveUnknownFields")
    return obj


# ---------------------------------------------------------------------------------------------
# Charts
# ---------------------------------------------------------------------------------------------

def chart_cache(override: Optional[os.PathLike | str] = None) -> Path:
    """The chart cache folder: *override*, ``$HARDENED_CHART_CACHE``, or the user cache."""
    raw = override or os.environ.get(CACHE_ENV)
    return Path(raw).expanduser() if raw else DEFAULT_CACHE


def chart_dir(chart: str, version: str, cache: Optional[os.PathLike | str] = None) -> Path:
    return chart_cache(cache) / f"{chart}-{version}"


def missing_chart_message(chart: str, version: str, repo: str, cache: Path) -> str:
    return (f"Helm chart {chart} {version} is not in the chart cache {cache} (expected the folder "
            f"{cache / f'{chart}-{version}'}, as `helm pull --untar` lays it out). Fill the cache with "
            f"`python -m hardened charts pull` (needs network access to {repo or 'the chart repository'}), "
            f"or point {CACHE_ENV} at a folder that holds it")


@dataclass
class ChartRender:
    """A chart rendered as ``helm.v4.Chart`` renders it."""

    chart: str
    version: str
    release: str
    namespace: str
    objects: list[dict]
    hooks: list[str]              # "<Kind> <name> (<hook events>)", dropped as the provider drops them
    unresolved_scopes: list[str]
    helm_warnings: list[str] = field(default_factory=list)   # what Helm itself logged (value coalescing)


def _condition_enabled(condition: str, values: Mapping[str, Any]) -> Optional[bool]:
    for path in (p.strip() for p in condition.split(",")):
        node: Any = values
        for part in path.split("."):
            if not isinstance(node, Mapping) or part not in node:
                node = None
                break
            node = node[part]
        if isinstance(node, bool):
            return node
    return None


def _enabled_subcharts(metadata: Mapping[str, Any], values: Mapping[str, Any]) -> set[str]:
    """Subchart names (not aliases) whose dependency entry is enabled (Helm's
    ``ProcessDependencies``: the first condition path that resolves to a bool decides; tags
    otherwise; enabled by default)."""
    enabled: set[str] = set()
    tags = values.get("tags") if isinstance(values.get("tags"), Mapping) else {}
    for dep in metadata.get("dependencies") or []:
        on: Optional[bool] = None
        if dep.get("condition"):
            on = _condition_enabled(dep["condition"], values)
        if on is None and dep.get("tags"):
            states = [tags.get(t) for t in dep["tags"] if isinstance(tags.get(t), bool)]
            on = any(states) if states else None
        if on is not False:
            enabled.add(dep.get("name", ""))
    return enabled


#: Helm's manifest separator (``releaseutil.SplitManifests``): ``---`` may be followed by a
#: comment on the same line (``---# Source``), which a YAML stream parser would reject. The same
#: split points as ``(?:^|\s*\n)---\s*`` (a part keeps its trailing whitespace, which YAML
#: ignores) without rescanning every run of indentation: that form took 40% of a chart render.
_HELM_SEPARATOR = re.compile(r"(?:^|\n)---\s*")

def _documents(text: str, source: str) -> Iterable[dict]:
    """The objects of one rendered template, split as Helm splits a manifest and decoded by the
    Go YAML-to-JSON conversion the provider's decoder uses (sigs.k8s.io/yaml, through the SDK's
    ``values_from_yaml``): YAML 1.1 scalars read as Kubernetes reads them, and three times faster
    than libyaml on the large CRDs."""
    import helm_python

    for part in _HELM_SEPARATOR.split(text):
        if not part.strip():
            continue
        try:
            doc = helm_python.values_from_yaml(part)
        except Exception as e:  # noqa: BLE001 - HelmValuesError: name the template
            raise ChartError(f"{source}: the chart rendered invalid YAML: {e}") from None
        if isinstance(doc, dict) and doc:
            yield doc


_HELM_LOCK = threading.Lock()
_GO_LOG_PREFIX = re.compile(r"^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} ", re.M)


@contextlib.contextmanager
def _captured_stderr():
    """Helm's Go code logs value-coalescing warnings straight to file descriptor 2; take them
    (they become render warnings) instead of letting them interleave with our output."""
    sink = tempfile.TemporaryFile()
    log: list[str] = []
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (embedded): nothing to capture
        yield log
        return
    os.dup2(sink.fileno(), 2)
    try:
        yield log
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        sink.seek(0)
        log.append(sink.read().decode("utf-8", "replace"))
        sink.close()


def _helm_warnings(log: list[str]) -> list[str]:
    text = "".join(log).strip()
    if not text:
        return []
    return [" ".join(m.split()) for m in _GO_LOG_PREFIX.split(text) if m.strip()]


#: Renders of this process, by everything that decides them: a program rendered again (the tests
#: render prod under many overrides, most of which leave a chart's values alone) reuses the chart's
#: objects, kept as JSON so each caller gets its own copy.
_RENDERS: "dict[tuple, tuple[str, list[str], list[str], list[str]]]" = {}
_RENDERS_MAX = 64


def render_chart(chart: str, version: str, *, release: str, namespace: str, values: Mapping[str, Any],
                 kube_version: str, repo: str = "", skip_crds: bool = False,
                 cache: Optional[os.PathLike | str] = None) -> ChartRender:
    """Render *chart* at *version* from the cache exactly as ``helm.v4.Chart`` does: release name,
    namespace, install semantics, the stack's kube version, CRDs of the enabled (sub)charts
    unless *skip_crds*, hooks dropped (and listed), then the provider's normalisation."""
    directory = chart_dir(chart, version, cache)
    if not (directory / "Chart.yaml").is_file():
        raise ChartError(missing_chart_message(chart, version, repo, chart_cache(cache)))
    key = (str(directory.resolve()), version, release, namespace, kube_version, skip_crds,
           json.dumps(values, sort_keys=True, default=str))
    hit = _RENDERS.get(key)
    if hit is None:
        render = _render_chart(directory, chart, version, release=release, namespace=namespace, values=values,
                               kube_version=kube_version, skip_crds=skip_crds)
        if len(_RENDERS) >= _RENDERS_MAX:
            _RENDERS.clear()
        _RENDERS[key] = hit = (json.dumps(render.objects), render.hooks, render.unresolved_scopes,
                               render.helm_warnings)
    objects, hooks, unresolved, warnings = hit
    return ChartRender(chart, version, release, namespace, json.loads(objects), list(hooks), list(unresolved),
                       list(warnings))


def _render_chart(directory: Path, chart: str, version: str, *, release: str, namespace: str,
                  values: Mapping[str, Any], kube_version: str, skip_crds: bool) -> ChartRender:
    try:
        import helm_python
    except ImportError:  # pragma: no cover - pinned in requirements.txt
        raise ChartError("the Helm SDK is not installed: pip install -r requirements.txt (helm-python-sdk)") from None
    options = {"name": release, "namespace": namespace, "is_install": True,
               "kube_version": kube_semver(kube_version), "api_versions": api_versions(kube_version)}
    with _HELM_LOCK, _captured_stderr() as helm_log:
        try:
            from helm_python import _native

            with helm_python.Chart.load(str(directory)) as loaded:
                metadata = loaded.metadata
                if str(metadata.get("version")) != version:
                    raise ChartError(f"{directory} holds {metadata.get('name')} {metadata.get('version')}, "
                                     f"not {chart} {version}; refill the cache")
                merged = loaded.merge_values(dict(values))
                # Chart.render() takes no kube version; the native call it wraps does
                # (helm-c-sdk render options: kube_version, api_versions).
                rendered = json.loads(_native.call_string("helm_render", loaded._raw(), json.dumps(dict(values)),
                                                          json.dumps(options)))
                crds = [] if skip_crds else loaded.crds
        except ChartError:
            raise
        except Exception as e:  # helm_python.HelmError and its kin: name the chart and the cause
            raise ChartError(f"Helm chart {chart} {version} (release {release}) failed to render: {e}") from None
    enabled = _enabled_subcharts(metadata, merged)
    objects: list[dict] = []
    for crd in crds:
        path = crd.get("filename") or crd.get("name") or ""
        parts = path.split("/")
        # <chart>/crds/x.yaml, or <chart>/charts/<subchart>/crds/x.yaml (only an enabled subchart's)
        if len(parts) > 3 and parts[1] == "charts" and parts[2] not in enabled:
            continue
        objects.extend(_documents(crd.get("data") or "", path))
    hooks: list[str] = []
    for path in sorted(rendered):
        if not path.endswith((".yaml", ".yml", ".json")):
            continue  # NOTES.txt and other text is not installed
        for doc in _documents(rendered[path], path):
            annotations = (doc.get("metadata") or {}).get("annotations") or {}
            if HOOK_ANNOTATION in annotations:
                hooks.append(f"{doc.get('kind')} {(doc.get('metadata') or {}).get('name')} "
                             f"({annotations[HOOK_ANNOTATION]})")
                continue
            objects.append(doc)
    normalized, unresolved = normalize_objects(objects, namespace)
    return ChartRender(chart, version, release, namespace, normalized, hooks, unresolved, _helm_warnings(helm_log))


def render_local_chart(directory: os.PathLike | str, *, values: Optional[Mapping[str, Any]] = None,
                       release: Optional[str] = None, namespace: str = "default",
                       kube_version: Optional[str] = None) -> ChartRender:
    """A chart in a folder of its own (``hardened check CHART_DIR``), rendered as ``helm template
    CHART_DIR`` renders it: the release named after the chart, its default values merged with
    *values*, then the same normalisation as a stack's charts (:func:`render_chart`)."""
    directory = Path(directory)
    try:
        meta = helm_chart_metadata(directory)
    except (OSError, ValueError) as e:
        raise ChartError(f"{directory / 'Chart.yaml'} cannot be read: {e}") from None
    name, version = str(meta.get("name") or directory.name), str(meta.get("version") or "")
    return _render_chart(directory, name, version, release=release or name, namespace=namespace,
                         values=dict(values or {}), kube_version=kube_version or DEFAULT_KUBE_VERSION,
                         skip_crds=False)


def helm_chart_metadata(directory: Path) -> dict:
    import yaml

    doc = yaml.safe_load((Path(directory) / "Chart.yaml").read_text(encoding="utf-8"))
    if not isinstance(doc, dict):
        raise ValueError("not a mapping")
    return doc


def kube_semver(kube_version: str) -> str:
    """``1.33`` -> ``v1.33.0`` (Helm's ``.Capabilities.KubeVersion``)."""
    v = kube_version if kube_version.startswith("v") else f"v{kube_version}"
    return v + ".0" if v.count(".") == 1 else v


_API_VERSIONS: dict[str, list[str]] = {}


def api_versions(kube_version: str) -> list[str]:
    """What a cluster's discovery reports to Helm (``action.GetVersionSet``): every served
    ``group/version`` and ``group/version/Kind``. Offline: the generally available built-in APIs
    of that Kubernetes version, read from the schemas kubernetes-validate ships (alpha and beta
    APIs are off by default in a cluster, custom resources are not installed yet)."""
    key = kube_semver(kube_version)
    hit = _API_VERSIONS.get(key)
    if hit is not None:
        return hit
    found: set[str] = set()
    try:
        import kubernetes_validate

        schemas = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / f"{key}-local-strict"
        defs = json.loads((schemas / "_definitions.json").read_text())
        defs = defs.get("$defs") or defs.get("definitions") or {}
    except (ImportError, OSError, ValueError):
        defs = {}
    for definition in defs.values():
        if not isinstance(definition, dict) or "metadata" not in (definition.get("properties") or {}):
            continue
        for gvk in definition.get("x-kubernetes-group-version-kind") or []:
            version, kind = gvk.get("version", ""), gvk.get("kind", "")
            if "alpha" in version or "beta" in version or kind.endswith("List"):
                continue
            gv = f"{gvk['group']}/{version}" if gvk.get("group") else version
            found.update((gv, f"{gv}/{kind}"))
    _API_VERSIONS[key] = hit = sorted(found)
    return hit


def manifest_cache(override: Optional[os.PathLike | str] = None) -> Path:
    raw = override or os.environ.get(MANIFEST_CACHE_ENV)
    return Path(raw).expanduser() if raw else chart_cache().parent / "manifests"


def read_config_file(file: str, namespace: str = "default",
                     cache: Optional[os.PathLike | str] = None) -> tuple[list[dict], list[str]]:
    """The objects of a ``yaml/v2:ConfigFile`` (``Parse`` then ``Normalize``): a local path as
    it is, a release URL from the manifest cache (no network here)."""
    files: list[Path]
    for pattern, folder in MANIFEST_SOURCES:
        match = pattern.match(file)
        if match:
            directory = manifest_cache(cache) / folder.format(*match.groups())
            files = sorted(directory.glob("*.yaml"))
            if not files:
                raise ChartError(f"{file} is not in the manifest cache {manifest_cache(cache)} (expected the "
                                 f"folder {directory}); point {MANIFEST_CACHE_ENV} at a folder that holds it")
            break
    else:
        if "://" in file:
            raise ChartError(f"{file}: no offline copy is known for this URL (known: "
                             f"{', '.join(p.pattern for p, _ in MANIFEST_SOURCES)})")
        files = [Path(file)]
    objects: list[dict] = []
    for path in files:
        try:
            objects.extend(_documents(path.read_text(encoding="utf-8"), str(path)))
        except OSError as e:
            raise ChartError(f"{file}: cannot read {path}: {e.strerror or e}") from None
    return normalize_objects(objects, namespace)


def contains_unknown(value: Any) -> bool:
    """Whether a wire value holds the engine's unknown sentinel anywhere."""
    if isinstance(value, Mapping):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_unknown(v) for v in value)
    return value == UNKNOWN
