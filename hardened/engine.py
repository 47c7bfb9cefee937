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
- pulumi-kubernetes ``provider/pkg/provider/yaml/v2/yaml.go`` ``Normalize``: lists (any object
  with an ``items`` array) are expanded, the ``core`` group is dropped, a namespaced kind without
  a namespace gets the chart's namespace (scope known from built-in kinds and the CRDs among the
  same objects; an unresolvable kind keeps none there and the provider warns, then ``Check``
  gives it the provider's default namespace); ``register``: the child's name
  is ``<resourcePrefix>:<namespace>/<name>`` (``<resourcePrefix>:<name>`` when cluster-scoped),
  its type ``kubernetes:<apiVersion>:<Kind>`` and its parent the Chart; Secret ``data`` and
  ``stringData`` are marked secret.
- pulumi-kubernetes ``provider/pkg/clients/unstructured.go`` ``Normalize`` (the provider's
  ``Check``): Secret ``stringData`` is merged into ``data`` base64-encoded, CRD ``status`` and a
  false ``preserveUnknownFields`` are removed, built-in kinds lose null fields and get canonical
  quantities (the typed round trip). The engine analyses the *checked* inputs
  (pulumi ``pkg/resource/deploy/step_generator.go`` ``continueStepsFromImport``, the step every
  registration continues through: ``prov.Check``, then the ``Remediate`` pass, then
  ``analyzeAll`` with those inputs).
- pulumi ``step_generator.go``: every registration is analysed, components included; a component
  has no provider, so no ``Check``. A remote component (the Chart, the yaml/v2 ConfigFile) is
  registered by the provider inside ``Construct`` with no input properties, and nothing ever
  calls ``RegisterResourceOutputs`` for it (``Construct`` returns its state to the program
  only), so its state has no outputs either: ``Analyze`` sees ``{}`` and so does
  ``AnalyzeStack`` (``AnalyzeResources`` sends each resource's *outputs*). What a Chart
  deployed is known from its children, whose ``parent`` is the Chart's URN.

Where this model still differs from the real engine, and why, is the table of docs/engine.md.

Helm charts come from a local cache folder (``<cache>/<chart>-<version>/``, as ``helm pull
--untar`` lays them out): ``$HARDENED_CHART_CACHE``, else ``~/.cache/hardened-stack/charts``.
They are rendered in-process with the Helm v4 SDK (``helm-python-sdk``), no helm binary.
"""
from __future__ import annotations

import base64
import contextlib
import functools
import json
import os
import re
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
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
    #: the inputs as the engine sends them when they differ from ``inputs`` (which are redacted for
    #: disk): secret values in the clear, kept in memory only
    wire: Optional[dict[str, Any]] = None
    #: the URN of the provider resource (a default provider: :func:`default_provider`)
    provider: str = ""
    #: the inputs each dependency flows into: ``{property: [urn, ...]}``
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    #: the resource options the engine sends (``AnalyzerResourceOptions`` without the parent)
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def is_kubernetes_object(self) -> bool:
        return (self.custom and self.type.startswith("kubernetes:")
                and not self.type.startswith("pulumi:providers:")
                and "apiVersion" in self.inputs and "kind" in self.inputs)


def default_provider_name(version: str) -> str:
    """``default_4_34_2`` for ``4.34.2`` (pulumi ``pkg/resource/deploy/providers/provider.go``,
    ``ProviderRequest.DefaultName``: prerelease and build parts each appended after ``_``)."""
    match = re.match(r"^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+([0-9A-Za-z.-]+))?$", version or "")
    if not match:
        return "default"
    name = "default_{}_{}_{}".format(*match.groups()[:3])
    for part in (match.group(4), match.group(5)):
        if part:
            name += "".join(f"_{p}" for p in part.split("."))
    return name


def default_provider(stack: str, project: str, package: str, version: str,
                     config: Mapping[str, str], secret_keys: Iterable[str] = ()) -> Registered:
    """The default provider the engine registers for *package* before the first resource that
    needs one (pulumi ``pkg/resource/deploy/default_providers.go``,
    ``newRegisterDefaultProviderEvent``): type ``pulumi:providers:<package>``, the package's
    stack configuration plus ``version`` as its inputs, no parent; it is analysed like any
    registration."""
    token = f"pulumi:providers:{package}"
    name = default_provider_name(version)
    inputs = {key.split(":", 1)[1]: value for key, value in sorted(config.items())
              if key.startswith(f"{package}:")}
    secrets = sorted(f"/{key.split(':', 1)[1]}" for key in secret_keys if key.startswith(f"{package}:"))
    for path in secrets:  # a secret setting is never written out (render redacts it)
        inputs[path[1:]] = "[secret]"
    if version:
        inputs["version"] = version
    return Registered(f"urn:pulumi:{stack}::{project}::{token}::{name}", token, name, "", True, inputs, secrets)


def analyze_properties(type_token: str, inputs: Mapping[str, Any]) -> Mapping[str, Any]:
    """The properties ``Analyze`` receives: a remote component's registration inside the
    provider's ``Construct`` carries none; everything else its (checked) inputs."""
    return {} if type_token in REMOTE_COMPONENTS else inputs


def stack_properties(type_token: str, inputs: Mapping[str, Any]) -> Mapping[str, Any]:
    """The properties ``AnalyzeStack`` receives: outputs. For a Kubernetes object the live
    object, which offline is its inputs; a remote component has none (nothing registers them)."""
    return {} if type_token in REMOTE_COMPONENTS else inputs


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
    """Every object with an ``items`` array is a list whose items are registered instead, whatever
    its kind (pulumi-kubernetes ``yaml/v2/yaml.go``, ``expand``: ``obj.IsList()``, which
    apimachinery's ``Unstructured.IsList`` answers from an ``items`` array alone)."""
    out: list[dict] = []
    stack = list(objs)[::-1]
    while stack:
        o = stack.pop()
        if isinstance(o.get("items"), list):
            stack.extend(reversed([i for i in o["items"] if isinstance(i, dict)]))
            continue
        out.append(o)
    return out


#: The namespace the provider's ``Check`` gives a namespaced object without one: the kubeconfig
#: context's namespace, which client-go reports as ``default`` when the context names none.
PROVIDER_DEFAULT_NAMESPACE = "default"


def normalize_objects(objs: Iterable[dict], default_namespace: str,
                      provider_namespace: str = PROVIDER_DEFAULT_NAMESPACE) -> tuple[list[dict], list[str]]:
    """yaml/v2 ``Normalize`` plus the provider's ``Check`` normalisation, in place (the objects
    are freshly decoded). Returns the objects and the kinds whose scope could not be resolved
    (the provider warns about those).

    A kind whose scope ``Normalize`` cannot resolve (neither built in nor declared by a CRD among
    the objects; offline, discovery answers nothing) keeps no namespace there
    (pulumi-kubernetes ``provider/pkg/provider/yaml/v2/yaml.go``, ``Normalize``), but the
    provider's ``Check`` then assumes it is namespaced and sets the provider's default namespace,
    *provider_namespace*, not the chart's (``provider/pkg/provider/provider.go``, ``Check``: "assume
    it is namespaced, and correct if required during the Create step")."""
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
                if provider_namespace:
                    meta["namespace"] = provider_namespace
            elif namespaced:
                meta["namespace"] = default_namespace
            else:
                meta.pop("namespace", None)
        out.append(check_normalize(o))
    return out, unresolved


#: The annotation ``skipAwait`` sets on every object, and the label a client-side apply sets.
SKIP_AWAIT_ANNOTATION = "pulumi.com/skipAwait"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"


def register_normalize(obj: dict, *, skip_await: bool = False, server_side_apply: bool = True) -> dict:
    """What registration and ``Check`` add to a chart's object, in place: with ``skipAwait`` the
    annotation ``pulumi.com/skipAwait: "true"`` (pulumi-kubernetes ``yaml/v2/yaml.go``,
    ``register``); with ``enableServerSideApply: false`` the label
    ``app.kubernetes.io/managed-by: pulumi`` on a create (``provider/pkg/provider/provider.go``,
    ``Check``: ``metadata.TrySetManagedByLabel`` unless in server-side apply mode)."""
    meta = obj.setdefault("metadata", {})
    if skip_await:
        if not isinstance(meta.get("annotations"), dict):
            meta["annotations"] = {}
        meta["annotations"][SKIP_AWAIT_ANNOTATION] = "true"
    if not server_side_apply:
        if not isinstance(meta.get("labels"), dict):
            meta["labels"] = {}
        meta["labels"][MANAGED_BY_LABEL] = "pulumi"
    return obj


def merge_values(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's merge of values files (``pkg/cli/values/options.go``, ``mergeMaps``): maps merge
    key by key, anything else in *override* replaces."""
    out = dict(base)
    for k, v in override.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = merge_values(out[k], v)
        else:
            out[k] = v
    return out


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value if v is not None]
    return value


# Quantities: k8s.io/apimachinery pkg/api/resource/quantity.go (ParseQuantity, CanonicalizeBytes)
_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(?:(Ki|Mi|Gi|Ti|Pi|Ei)|(n|u|m|k|M|G|T|P|E)|[eE]([+-]?\d+))?$")
_DECIMAL_EXPONENTS = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DECIMAL_SUFFIXES = {v: k for k, v in _DECIMAL_EXPONENTS.items()}
_BINARY_SUFFIXES = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]


def canonical_quantity(value: Any) -> Any:
    """A Kubernetes quantity as the API types write it back (``Quantity.String``, which
    ``CanonicalizeBytes``): ``1000m`` -> ``1``, ``0.5`` -> ``500m``, ``2048Mi`` -> ``2Gi``,
    ``1.5Gi`` -> ``1536Mi``, ``1e3`` stays ``1e3``; a number becomes its string. Anything that is
    no quantity is returned unchanged (the provider's Check would reject it)."""
    from decimal import ROUND_CEILING, Decimal, InvalidOperation

    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return value
    text = str(value) if not isinstance(value, float) else repr(value)
    match = _QUANTITY.match(text.strip()) if isinstance(value, str) else _QUANTITY.match(text)
    if not match:
        return value
    number, binary, decimal_suffix, exponent = match.groups()
    try:
        amount = Decimal(number)
    except InvalidOperation:
        return value
    if binary:
        fmt, amount = "binary", amount * (1024 ** _BINARY_SUFFIXES.index(binary))
    elif exponent is not None:
        fmt, amount = "exponent", amount.scaleb(int(exponent))
    else:
        fmt, amount = "decimal", amount.scaleb(_DECIMAL_EXPONENTS[decimal_suffix or ""])
    # values are kept to nano precision, rounded up (quantity.go: ParseQuantity, "round up")
    amount = amount.quantize(Decimal("1e-9"), rounding=ROUND_CEILING) if amount.as_tuple().exponent < -9 else amount
    if amount == 0:
        return "0"
    if fmt == "binary":
        if -1024 < amount < 1024 or amount != amount.to_integral_value():
            fmt = "decimal"
        else:
            whole, power = int(amount), 0
            while whole % 1024 == 0 and power < len(_BINARY_SUFFIXES) - 1:
                whole //= 1024
                power += 1
            return f"{whole}{_BINARY_SUFFIXES[power]}"
    # AsCanonicalBytes: an integer mantissa and an exponent that is a multiple of 3, the largest such
    sign, digits, exp = amount.normalize().as_tuple()
    mantissa = int("".join(map(str, digits)) or "0")
    while exp % 3:
        mantissa, exp = mantissa * 10, exp - 1
    while mantissa % 1000 == 0 and mantissa and exp < 18:
        mantissa, exp = mantissa // 1000, exp + 3
    mantissa_text = ("-" if sign else "") + str(mantissa)
    if fmt == "exponent":
        return mantissa_text + (f"e{exp}" if exp else "")
    if exp > 18:
        mantissa_text, exp = mantissa_text + "0" * (exp - 18), 18
    return mantissa_text + _DECIMAL_SUFFIXES[exp]


def _canonical_map(value: Any) -> Any:
    return {k: canonical_quantity(v) for k, v in value.items()} if isinstance(value, dict) else value


def _canonical_resources(resources: Any) -> None:
    if isinstance(resources, dict):
        for key in ("limits", "requests"):
            if key in resources:
                resources[key] = _canonical_map(resources[key])


def _canonical_pod_spec(spec: Any) -> None:
    if not isinstance(spec, dict):
        return
    for key in ("containers", "initContainers", "ephemeralContainers"):
        for c in spec.get(key) or []:
            if isinstance(c, dict):
                _canonical_resources(c.get("resources"))
    _canonical_resources(spec.get("resources"))
    if "overhead" in spec:
        spec["overhead"] = _canonical_map(spec["overhead"])
    for volume in spec.get("volumes") or []:
        if isinstance(volume, dict):
            if isinstance(volume.get("emptyDir"), dict) and "sizeLimit" in volume["emptyDir"]:
                volume["emptyDir"]["sizeLimit"] = canonical_quantity(volume["emptyDir"]["sizeLimit"])
            template = ((volume.get("ephemeral") or {}).get("volumeClaimTemplate") or {}).get("spec")
            if isinstance(template, dict):
                _canonical_resources(template.get("resources"))


def canonicalize_quantities(obj: dict) -> dict:
    """The quantities of a built-in object as its typed round trip writes them (in place): the
    resources of every container and pod, emptyDir size limits, claim templates, PVC requests,
    PV capacity, ResourceQuota and LimitRange values."""
    group, kind = _group_kind(obj)
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return obj
    if kind == "Pod":
        _canonical_pod_spec(spec)
    template = (spec.get("jobTemplate") or {}).get("spec", {}).get("template") if kind == "CronJob" else spec.get("template")
    if isinstance(template, dict):
        _canonical_pod_spec(template.get("spec"))
    for claim in spec.get("volumeClaimTemplates") or []:
        if isinstance(claim, dict):
            _canonical_resources((claim.get("spec") or {}).get("resources"))
    if kind == "PersistentVolumeClaim":
        _canonical_resources(spec.get("resources"))
    elif kind == "PersistentVolume" and "capacity" in spec:
        spec["capacity"] = _canonical_map(spec["capacity"])
    elif kind == "ResourceQuota" and "hard" in spec:
        spec["hard"] = _canonical_map(spec["hard"])
    elif kind == "LimitRange":
        for limit in spec.get("limits") or []:
            if isinstance(limit, dict):
                for key in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio"):
                    if key in limit:
                        limit[key] = _canonical_map(limit[key])
    return obj


#: The wire form of a secret value: ``{SIG_KEY: SECRET_SIG, "value": ...}`` (pulumi ``properties.go``).
SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


def _unwrap_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            return _unwrap_secrets(value.get("value"))
        return {k: _unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap_secrets(v) for v in value]
    return value


def check_registered(raw: dict) -> dict:
    """The provider's ``Check`` of an object the program registers itself (a wire value: secrets
    still marked). Built-in kinds lose null fields and get canonical quantities; a Secret's
    ``stringData`` becomes base64 ``data``, every value marked secret as the provider marks it
    (``provider.go``, ``Check``: ``annotateSecrets``)."""
    group, kind = _group_kind(raw)
    if group not in BUILTIN_GROUPS or kind == "CustomResourceDefinition":
        return raw
    if (group, kind) == ("", "Secret") and isinstance(raw.get("stringData"), Mapping):
        checked = check_normalize(_unwrap_secrets(raw))
        checked["data"] = {k: {SIG_KEY: SECRET_SIG, "value": v} for k, v in (checked.get("data") or {}).items()}
        return checked
    return canonicalize_quantities(_drop_nulls(raw))


def check_normalize(obj: dict) -> dict:
    """The provider's ``Check`` normalisation that changes what a policy reads. A built-in kind
    goes through its typed Go struct and back (``clients.Normalize``), which drops null fields
    (``initContainers: null`` as some templates render it); custom resources keep theirs."""
    group, kind = _group_kind(obj)
    if group in BUILTIN_GROUPS and kind != "CustomResourceDefinition":
        obj = canonicalize_quantities(_drop_nulls(obj))
    if (group, kind) == ("", "Secret"):
        string_data = obj.pop("stringData", None)
        if isinstance(string_data, Mapping) and string_data:
            data = dict(obj.get("data") or {})
            for k, v in string_data.items():
                data[k] = UNKNOWN if v == UNKNOWN else base64.b64encode(str(v).encode()).decode("ascii")
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
            f"`python -m hardened charts pull` (needs network access to {repo or 'the chart repository'}, or a "
            f"mirror in HARDENED_CHART_MIRROR), "
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
    #: why the files were not verified against charts.lock (the lock does not name them), or None
    unverified: Optional[str] = None


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
#: That is ``(?:^|\n)---\s*``, kept here as a pattern with a literal head (the regex engine finds
#: it by a fast scan instead of trying the alternation at every character) and its form at the start.
_HELM_SEPARATOR = re.compile(r"\n---\s*")
_HELM_SEPARATOR_AT_START = re.compile(r"---\s*")


def split_manifests(text: str) -> list[str]:
    """*text* split as ``re.split(r"(?:^|\n)---\s*", text)`` splits it: the same parts (tests/speed
    compare the two), ten times faster on a chart's CRDs."""
    head = _HELM_SEPARATOR_AT_START.match(text)
    if head is None:
        return _HELM_SEPARATOR.split(text)
    return ["", *_HELM_SEPARATOR.split(text[head.end():])]


try:  # the C-speed JSON codec (pinned in requirements.txt); the standard library's otherwise
    import orjson as _orjson
except ImportError:  # pragma: no cover
    _orjson = None  # type: ignore[assignment]


#: Nineteen ASCII digits in a row: perhaps an integer orjson decodes as a float (beyond an unsigned
#: 64-bit one, 20 digits, or below a signed one, -9223372036854775809). Found in the text's bytes
#: with every digit made "0" and everything else " ": ten times faster than a regular expression.
_LONG_NUMBER = b"0" * 19
_DIGITS_ONLY = bytes(0x30 if 0x30 <= i <= 0x39 else 0x20 for i in range(256))


def json_loads(text: str) -> Any:
    """``json.loads(text)``: the same objects, decoded by orjson where it decodes them alike (not
    an integer beyond 64 bits; what it refuses, a lone surrogate escape, goes to ``json`` too)."""
    if _orjson is not None and _LONG_NUMBER not in text.encode("utf-8", "surrogatepass").translate(_DIGITS_ONLY):
        try:
            return _orjson.loads(text)
        except _orjson.JSONDecodeError:
            pass
    return json.loads(text)


def _frozen(objects: Any) -> tuple[str, bytes | str]:
    """*objects* as JSON for :func:`_thawed`: a copy that later changes to *objects* leave alone."""
    if _orjson is not None:
        try:
            return "orjson", _orjson.dumps(objects)
        except TypeError:  # a key that is no string, an integer beyond 64 bits: json keeps them
            pass
    return "json", json.dumps(objects)


def _thawed(frozen: tuple[str, bytes | str]) -> Any:
    return _orjson.loads(frozen[1]) if frozen[0] == "orjson" else json.loads(frozen[1])


def _decode(part: str, source: str) -> Any:
    """One document as ``helm_python.values_from_yaml`` decodes it (the SDK's YAML-to-JSON)."""
    from helm_python import _native

    try:
        return json_loads(_native.call_string("helm_values_from_yaml", part))
    except Exception as e:  # noqa: BLE001 - HelmValuesError: name the template
        raise ChartError(f"{source}: the chart rendered invalid YAML: {e}") from None


def _documents(text: str, source: str) -> Iterable[dict]:
    """The objects of one rendered template, split as Helm splits a manifest and decoded by the
    Go YAML-to-JSON conversion the provider's decoder uses (sigs.k8s.io/yaml, through the SDK's
    ``values_from_yaml``): YAML 1.1 scalars read as Kubernetes reads them, and three times faster
    than libyaml on the large CRDs."""
    for part in split_manifests(text):
        if not part.strip():
            continue
        doc = _decode(part, source)
        if isinstance(doc, dict) and doc:
            yield doc


_DECODERS: Optional[ThreadPoolExecutor] = None
_DECODERS_LOCK = threading.Lock()


def _documents_of(texts: list[tuple[str, str]]) -> list[list[dict]]:
    """:func:`_documents` of each ``(text, source)``, the documents decoded two at a time (the
    Go decoder releases the GIL; a chart's CRDs are most of a render's time): the same objects
    in the same order, and the first invalid document in that order raises."""
    global _DECODERS
    parts = [(i, part, source) for i, (text, source) in enumerate(texts)
             for part in split_manifests(text) if part.strip()]
    if len(parts) < 4:
        docs: Iterable[Any] = (_decode(part, source) for _, part, source in parts)
    else:
        with _DECODERS_LOCK:
            if _DECODERS is None:
                _DECODERS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="hardened-decode")
        docs = _DECODERS.map(_decode, [part for _, part, _ in parts], [source for _, _, source in parts])
    out: list[list[dict]] = [[] for _ in texts]
    for (i, _, _), doc in zip(parts, docs):
        if isinstance(doc, dict) and doc:
            out[i].append(doc)
    return out


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
    # Python's own writes to sys.stderr go on to the terminal meanwhile: the program runs on while
    # a worker renders its charts (render._make_mocks), and its warnings are no Helm output.
    python_stderr, terminal = sys.stderr, None
    try:
        if python_stderr is not None and python_stderr.fileno() == 2:
            terminal = open(saved, "w", buffering=1, encoding=python_stderr.encoding,  # noqa: SIM115
                            errors=python_stderr.errors, closefd=False)
            python_stderr.flush()
            sys.stderr = terminal
    except (AttributeError, OSError, ValueError):  # a stand-in without a file (pytest's capture)
        terminal = None
    os.dup2(sink.fileno(), 2)
    try:
        yield log
    finally:
        os.dup2(saved, 2)
        if terminal is not None:
            if sys.stderr is terminal:
                sys.stderr = python_stderr
            terminal.close()
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
_RENDERS: "dict[tuple, tuple[tuple[str, bytes | str], list[str], list[str], list[str]]]" = {}
_RENDERS_MAX = 64


def render_chart(chart: str, version: str, *, release: str, namespace: str, values: Mapping[str, Any],
                 kube_version: str, repo: str = "", skip_crds: bool = False,
                 cache: Optional[os.PathLike | str] = None, extra_api_versions: Iterable[str] = (),
                 provider_namespace: str = PROVIDER_DEFAULT_NAMESPACE) -> ChartRender:
    """Render *chart* at *version* from the cache exactly as ``helm.v4.Chart`` does: release name,
    namespace, install semantics, the stack's kube version, CRDs of the enabled (sub)charts
    unless *skip_crds*, hooks dropped (and listed), then the provider's normalisation."""
    directory = chart_dir(chart, version, cache)
    if not (directory / "Chart.yaml").is_file():
        raise ChartError(missing_chart_message(chart, version, repo, chart_cache(cache)))
    from .lockfile import LockError, verify_chart

    try:  # charts.lock: a chart whose files changed is refused, naming it
        unverified = verify_chart(chart, version, directory)
    except LockError as e:
        raise ChartError(str(e)) from None
    extra = tuple(sorted(set(extra_api_versions)))
    key = (str(directory.resolve()), version, release, namespace, kube_version, skip_crds, extra, provider_namespace,
           json.dumps(values, sort_keys=True, default=str))
    hit = _RENDERS.get(key)
    if hit is None:
        render = _render_chart(directory, chart, version, release=release, namespace=namespace, values=values,
                               kube_version=kube_version, skip_crds=skip_crds, extra_api_versions=extra,
                               provider_namespace=provider_namespace)
        if len(_RENDERS) >= _RENDERS_MAX:
            _RENDERS.clear()
        _RENDERS[key] = (_frozen(render.objects), list(render.hooks), list(render.unresolved_scopes),
                         list(render.helm_warnings))
        # the first caller takes the objects as decoded (nothing else holds them: the cache has its
        # own copy), later callers a copy of the cache's
        render.unverified = unverified
        return render
    objects, hooks, unresolved, warnings = hit
    return ChartRender(chart, version, release, namespace, _thawed(objects), list(hooks), list(unresolved),
                       list(warnings), unverified)


def _render_chart(directory: Path, chart: str, version: str, *, release: str, namespace: str,
                  values: Mapping[str, Any], kube_version: str, skip_crds: bool,
                  extra_api_versions: Iterable[str] = (),
                  provider_namespace: str = PROVIDER_DEFAULT_NAMESPACE) -> ChartRender:
    try:
        import helm_python
    except ImportError:  # pragma: no cover - pinned in requirements.txt
        raise ChartError("the Helm SDK is not installed: pip install -r requirements.txt (helm-python-sdk)") from None
    options = {"name": release, "namespace": namespace, "is_install": True,
               "kube_version": kube_semver(kube_version),
               "api_versions": sorted(set(api_versions(kube_version)) | set(extra_api_versions))}
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
                rendered = json_loads(_native.call_string("helm_render", loaded._raw(), json.dumps(dict(values)),
                                                          json.dumps(options)))
                crds = [] if skip_crds or not has_crd_folder(directory) else loaded.crds
        except ChartError:
            raise
        except Exception as e:  # helm_python.HelmError and its kin: name the chart and the cause
            raise ChartError(f"Helm chart {chart} {version} (release {release}) failed to render: {e}") from None
    enabled = _enabled_subcharts(metadata, merged)
    texts: list[tuple[str, str]] = []
    for crd in crds:
        path = crd.get("filename") or crd.get("name") or ""
        parts = path.split("/")
        # <chart>/crds/x.yaml, or <chart>/charts/<subchart>/crds/x.yaml (only an enabled subchart's)
        if len(parts) > 3 and parts[1] == "charts" and parts[2] not in enabled:
            continue
        texts.append((crd.get("data") or "", path))
    crd_texts = len(texts)
    templates = [path for path in sorted(rendered) if is_manifest_template(path)]
    texts.extend((rendered[path], path) for path in templates)
    decoded = _documents_of(texts)
    objects: list[dict] = [doc for docs in decoded[:crd_texts] for doc in docs]
    hooks: list[str] = []
    for docs in decoded[crd_texts:]:
        for doc in docs:
            annotations = (doc.get("metadata") or {}).get("annotations") or {}
            if HOOK_ANNOTATION in annotations:
                hooks.append(f"{doc.get('kind')} {(doc.get('metadata') or {}).get('name')} "
                             f"({annotations[HOOK_ANNOTATION]})")
                continue
            objects.append(doc)
    normalized, unresolved = normalize_objects(objects, namespace, provider_namespace)
    return ChartRender(chart, version, release, namespace, normalized, hooks, unresolved, _helm_warnings(helm_log))


@functools.lru_cache(maxsize=64)
def has_crd_folder(directory: Path) -> bool:
    """Whether the chart in *directory* or a subchart under its ``charts/`` has a ``crds/`` folder
    (or a packed subchart, which may): where Helm's ``Chart.CRDObjects`` finds CRDs (files whose
    name starts with ``crds/``). Without one the SDK's ``crds`` is empty, and asking it costs a
    copy of the whole chart across the library boundary."""
    if (directory / "crds").is_dir():
        return True
    subcharts = directory / "charts"
    if not subcharts.is_dir():
        return False
    return any(sub.suffix == ".tgz" or (sub.is_dir() and has_crd_folder(sub)) for sub in subcharts.iterdir())


#: The notes file Helm shows after an install instead of applying it.
NOTES_SUFFIX = "NOTES.txt"


def is_manifest_template(path: str) -> bool:
    """Whether Helm applies what the template at *path* renders: every template but the notes
    (helm v3 ``pkg/action/action.go``, ``renderResources``: a path ending in ``NOTES.txt`` is
    taken out) and partials (``pkg/releaseutil/manifest_sorter.go``, ``SortManifests``: a base
    name starting with ``_`` is skipped), whatever its extension (a ``.tpl`` or ``.txt`` that
    renders an object is installed)."""
    return not path.endswith(NOTES_SUFFIX) and not path.rsplit("/", 1)[-1].startswith("_")


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
    """``1.33`` -> ``v1.33.0`` (Helm's ``.Capabilities.KubeVersion``); a server's own version
    string, such as EKS's ``v1.33.5-eks-3025e55``, is kept whole, as discovery reports it."""
    v = kube_version if kube_version.startswith("v") else f"v{kube_version}"
    return v + ".0" if v.count(".") == 1 else v


def kube_release(kube_version: str) -> str:
    """``v1.33.5-eks-3025e55`` -> ``v1.33.0``: the release whose built-in APIs the server serves."""
    match = re.match(r"^v?(\d+)\.(\d+)", kube_version)
    return f"v{match.group(1)}.{match.group(2)}.0" if match else kube_semver(kube_version)


def crd_api_versions(objects: Iterable[Mapping[str, Any]]) -> list[str]:
    """What discovery reports for the CRDs among *objects* once installed: ``group/version`` and
    ``group/version/Kind`` of every served version."""
    found: set[str] = set()
    for o in objects:
        if _group_kind(o) != ("apiextensions.k8s.io", "CustomResourceDefinition"):
            continue
        spec = o.get("spec") or {}
        group, kind = spec.get("group"), (spec.get("names") or {}).get("kind")
        for v in spec.get("versions") or []:
            if isinstance(v, Mapping) and v.get("served", True) and group and kind and v.get("name"):
                found.update((f"{group}/{v['name']}", f"{group}/{v['name']}/{kind}"))
    return sorted(found)


#: Where a template can reach Helm's ``.Capabilities`` (a field of the root, ``.Capabilities`` or
#: ``$.Capabilities``, or a quoted key, ``index . "Capabilities"``); the word inside another word
#: (``allowedCapabilities``) or as YAML text (``name: Capabilities``) is no template reference.
_CAPABILITIES = re.compile(r"""(?<=[.'"`])Capabilities(?![A-Za-z0-9_])""")
#: The uses whose answer only depends on whether one literal API is served (Helm's chartutil
#: ``VersionSet.Has``, and sprig's ``has "x" .Capabilities.APIVersions``), and the parts that are
#: the same for every chart of a render (the kube and Helm versions).
_ASKS_HAS = re.compile(r'Capabilities\.APIVersions\.Has\s+"([^"\\]*)"')
_HAS_ASKS = re.compile(r'\bhas\s+"([^"\\]*)"\s+\(?[$\w.]*\.$')   # what precedes Capabilities.APIVersions
_APIVERSIONS_ALONE = re.compile(r"Capabilities\.APIVersions(?![\w.])")
_SAME_FOR_EVERY_CHART = re.compile(r"Capabilities\.(?:KubeVersion|HelmVersion)\b")


def _capability_question(text: str, at: int) -> tuple[bool, Optional[str]]:
    """The use of ``.Capabilities`` at *at*: (whether it is understood, the API it asks about)."""
    if _SAME_FOR_EVERY_CHART.match(text, at):
        return True, None
    asked = _ASKS_HAS.match(text, at)
    if asked:
        return True, asked.group(1)
    if _APIVERSIONS_ALONE.match(text, at):
        has = _HAS_ASKS.search(text[max(0, at - 300):at])
        if has:
            return True, has.group(1)
    return False, None


@functools.lru_cache(maxsize=64)
def capability_queries(directory: str) -> Optional[frozenset[str]]:
    """The API versions the chart in *directory* (its subcharts and files included: any file may
    be rendered with ``tpl``) asks ``.Capabilities.APIVersions`` about, when every question names
    its API literally; None when some use of ``.Capabilities`` is anything else (then any API may
    change what it renders), or a subchart is packed. Two sets of installed APIs that differ in
    none of these render the chart alike."""
    asked: set[str] = set()
    for path in sorted(Path(directory).rglob("*")):
        if path.suffix == ".tgz":
            return None
        if not path.is_file():
            continue
        data = path.read_bytes()
        if not any(quote + b"Capabilities" in data for quote in (b".", b'"', b"'", b"`")):
            continue
        text = data.decode("utf-8", "replace")
        for use in _CAPABILITIES.finditer(text):
            understood, api = _capability_question(text, use.start())
            if not understood:
                return None
            if api is not None:
                asked.add(api)
    return frozenset(asked)


_API_VERSIONS: dict[str, list[str]] = {}


def api_versions(kube_version: str) -> list[str]:
    """What a cluster's discovery reports to Helm (``action.GetVersionSet``): every served
    ``group/version`` and ``group/version/Kind``. Offline: the generally available built-in APIs
    of that Kubernetes version, read from the schemas kubernetes-validate ships (alpha and beta
    APIs are off by default in a cluster, custom resources are not installed yet)."""
    key = kube_release(kube_version)
    hit = _API_VERSIONS.get(key)
    if hit is not None:
        return hit
    found: set[str] = set()
    try:  # its folder only: importing the package would import jsonschema, which this does not use
        from importlib.util import find_spec

        spec = find_spec("kubernetes_validate")
        if spec is None or not spec.submodule_search_locations:
            raise ImportError("kubernetes_validate")
        schemas = Path(list(spec.submodule_search_locations)[0]) / "kubernetes-json-schema" / f"{key}-local-strict"
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


def manifest_cache(override: Optional[os.PathLike | str] = None,
                   charts: Optional[os.PathLike | str] = None) -> Path:
    """The manifest cache: *override*, ``$HARDENED_MANIFEST_CACHE``, or ``manifests`` beside the chart
    cache (*charts*, a ``--chart-cache`` override, else the default one)."""
    raw = override or os.environ.get(MANIFEST_CACHE_ENV)
    return Path(raw).expanduser() if raw else chart_cache(charts).parent / "manifests"


def read_config_file(file: str, namespace: str = "default",
                     cache: Optional[os.PathLike | str] = None,
                     unverified: Optional[list[str]] = None,
                     provider_namespace: str = PROVIDER_DEFAULT_NAMESPACE) -> tuple[list[dict], list[str]]:
    """The objects of a ``yaml/v2:ConfigFile`` (``Parse`` then ``Normalize``): a local path as
    it is, a release URL from the manifest cache (no network here), verified against charts.lock
    (why it could not be verified is appended to *unverified*)."""
    def decode(files: list[Path]) -> dict[str, list[dict]]:
        texts = []
        for path in files:
            try:
                texts.append((path.read_text(encoding="utf-8"), str(path)))
            except OSError as e:
                raise ChartError(f"{file}: cannot read {path}: {e.strerror or e}") from None
        return dict(zip((source for _, source in texts), _documents_of(texts)))

    for pattern, folder in MANIFEST_SOURCES:
        match = pattern.match(file)
        if match:
            directory = manifest_cache(cache) / folder.format(*match.groups())
            files = sorted(directory.glob("*.yaml"))
            if not files:
                raise ChartError(f"{file} is not in the manifest cache {manifest_cache(cache)} (expected the "
                                 f"folder {directory}); fill it with `python -m hardened charts pull`, or point "
                                 f"{MANIFEST_CACHE_ENV} at a folder that holds it")
            from .lockfile import LockError, verify_manifests

            decoded = decode(files)   # decoded once: the lock's digest hashes these same objects
            try:
                note = verify_manifests(directory.name, directory,
                                        lambda text, source: decoded[source] if source in decoded
                                        else _documents(text, source))
            except LockError as e:
                raise ChartError(str(e)) from None
            if note and unverified is not None:
                unverified.append(note)
            break
    else:
        if "://" in file:
            raise ChartError(f"{file}: no offline copy is known for this URL (known: "
                             f"{', '.join(p.pattern for p, _ in MANIFEST_SOURCES)})")
        decoded = decode([Path(file)])
    objects = [o for docs in decoded.values() for o in docs]
    return normalize_objects(objects, namespace, provider_namespace)


def contains_unknown(value: Any) -> bool:
    """Whether a wire value holds the engine's unknown sentinel anywhere."""
    if isinstance(value, Mapping):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_unknown(v) for v in value)
    return value == UNKNOWN
