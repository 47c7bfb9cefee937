"""Tolerant, typed access to Kubernetes objects as the policies receive them.

Inputs arrive as the Pulumi engine sends them: mappings and sequences (pulumi_policy wraps them
in proxies that raise ``UnknownValueError`` on a value unknown during preview), every number a
float. Anything may be missing, or of the wrong type. The accessors here return an empty value
for a missing field and raise :class:`Unverifiable` for a field of the wrong type, naming its
path: the framework reports that as a violation (the policy fails closed).
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from collections.abc import Mapping, Sequence
from typing import Any, Iterator, NamedTuple, Optional

from pulumi_policy import proxy as _sdk_proxy
from pulumi_policy.proxy import UnknownValueError

#: pulumi_policy's proxy classes and its unknown sentinels (proxy.py): code that walks a whole
#: value reads past the proxies (``proxy["__target"]``, the proxy's own container, where an
#: unknown is one of these strings) instead of paying a check per read.
DICT_PROXY = _sdk_proxy._DictProxy
LIST_PROXY = _sdk_proxy._ListProxy
UNKNOWN_SENTINELS = frozenset(getattr(_sdk_proxy, name) for name in dir(_sdk_proxy)
                              if name.startswith("UNKNOWN_") and name.endswith("_VALUE"))

EMPTY: Mapping[str, Any] = {}


class Unverifiable(Exception):
    """A field the policy needs is of the wrong type (or missing where it must exist)."""

    def __init__(self, path: str, problem: str, fix: str = "give the field the type Kubernetes expects"):
        super().__init__(f"{path} {problem}")
        self.path = path
        self.problem = problem
        self.message = (f"cannot verify {path}: it {problem}, so this policy fails closed; {fix}")


def describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, (int, float)):
        return f"a number ({value:g})" if isinstance(value, float) else f"a number ({value})"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"a string ({shown!r})"
    if isinstance(value, Mapping):
        return "an object"
    if is_list(value):
        return "a list"
    return f"a {type(value).__name__}"


def is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def join(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def wrong(path: str, value: Any, expected: str) -> Unverifiable:
    return Unverifiable(path, f"is {describe(value)}, expected {expected}")


# ---------------------------------------------------------------------------------------------
# Field accessors: missing or null -> empty/None; wrong type -> Unverifiable
# ---------------------------------------------------------------------------------------------

def get_map(obj: Mapping, key: str, path: str) -> Mapping:
    value = obj.get(key)
    if value is None:
        return EMPTY
    if isinstance(value, Mapping):
        return value
    raise wrong(join(path, key), value, "an object")


def get_list(obj: Mapping, key: str, path: str) -> Sequence:
    value = obj.get(key)
    if value is None:
        return ()
    if is_list(value):
        return value
    raise wrong(join(path, key), value, "a list")


def get_bool(obj: Mapping, key: str, path: str) -> Optional[bool]:
    value = obj.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise wrong(join(path, key), value, "true or false")


def get_str(obj: Mapping, key: str, path: str) -> Optional[str]:
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    raise wrong(join(path, key), value, "a string")


def get_int(obj: Mapping, key: str, path: str) -> Optional[int]:
    """An integer field; the engine sends every number as a float, so 10001.0 is 10001."""
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool):
        raise wrong(join(path, key), value, "an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise wrong(join(path, key), value, "an integer")


def strings(obj: Mapping, key: str, path: str) -> list[str]:
    """A list of strings (e.g. capabilities, verbs); any non-string item is unverifiable."""
    items = get_list(obj, key, path)
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise wrong(join(join(path, key), i), item, "a string")
        out.append(item)
    return out


def maps(obj: Mapping, key: str, path: str) -> Iterator[tuple[int, Mapping, str]]:
    """``(index, item, item_path)`` for a list of objects; a non-object item is unverifiable."""
    items = get_list(obj, key, path)
    base = join(path, key)
    for i, item in enumerate(items):
        item_path = join(base, i)
        if not isinstance(item, Mapping):
            raise wrong(item_path, item, "an object")
        yield i, item, item_path


# ---------------------------------------------------------------------------------------------
# Type tokens and objects
# ---------------------------------------------------------------------------------------------

class TypeInfo(NamedTuple):
    group: str
    version: str
    kind: str


@lru_cache(maxsize=4096)
def parse_type(token: str) -> Optional[TypeInfo]:
    """``kubernetes:apps/v1:Deployment`` -> ``("apps", "v1", "Deployment")``; core is ``core``.
    None for a token that is not a Kubernetes object (``aws:kms/key:Key``, providers)."""
    parts = token.split(":")
    if len(parts) != 3 or parts[0] != "kubernetes":
        return None
    group, _, version = parts[1].rpartition("/")
    return TypeInfo(group or "core", version, parts[2])


class Obj:
    """One resource under judgement: its type, inputs and identity."""

    __slots__ = ("type", "info", "props", "resource_name", "urn", "children", "_meta")

    def __init__(self, type_token: str, props: Mapping, resource_name: str = "", urn: Optional[str] = None):
        self.type = type_token
        self.urn = urn
        self.info = parse_type(type_token)
        if not isinstance(props, Mapping):
            raise wrong("(inputs)", props, "an object")
        self.props = props
        self.resource_name = resource_name
        #: in a stack policy built with ``children=True``: the URNs of the resources whose parent
        #: this one is (``AnalyzeStack`` sends each resource's parent URN)
        self.children: tuple[str, ...] = ()
        self._meta: Optional[Mapping] = None

    @property
    def kind(self) -> str:
        if self.info is not None:
            return self.info.kind
        return self.type.rsplit(":", 1)[-1]

    @property
    def metadata(self) -> Mapping:
        if self._meta is None:
            self._meta = get_map(self.props, "metadata", "")
        return self._meta

    @property
    def name(self) -> str:
        return get_str(self.metadata, "name", "metadata") or self.resource_name

    @property
    def namespace(self) -> Optional[str]:
        return get_str(self.metadata, "namespace", "metadata") or None

    def labels(self) -> Mapping:
        return get_map(self.metadata, "labels", "metadata")

    def annotations(self) -> Mapping:
        return get_map(self.metadata, "annotations", "metadata")

    @property
    def spec(self) -> Mapping:
        return get_map(self.props, "spec", "")


# ---------------------------------------------------------------------------------------------
# Pods: every kind that carries a pod template
# ---------------------------------------------------------------------------------------------

_TEMPLATE = ("spec", "template", "spec")
POD_SPEC_PATHS: dict[tuple[str, str], tuple[str, ...]] = {
    ("core", "Pod"): ("spec",),
    ("core", "PodTemplate"): ("template", "spec"),
    ("core", "ReplicationController"): _TEMPLATE,
    ("apps", "Deployment"): _TEMPLATE,
    ("apps", "StatefulSet"): _TEMPLATE,
    ("apps", "DaemonSet"): _TEMPLATE,
    ("apps", "ReplicaSet"): _TEMPLATE,
    ("extensions", "Deployment"): _TEMPLATE,
    ("extensions", "DaemonSet"): _TEMPLATE,
    ("extensions", "ReplicaSet"): _TEMPLATE,
    ("batch", "Job"): _TEMPLATE,
    ("batch", "CronJob"): ("spec", "jobTemplate", "spec", "template", "spec"),
}
#: Workload custom resources that embed a pod template: judged by every pod policy like a
#: Deployment's (a privileged Rollout is as privileged as a privileged Deployment).
WORKLOAD_CRD_POD_SPEC_PATHS: dict[tuple[str, str], tuple[str, ...]] = {
    ("argoproj.io", "Rollout"): _TEMPLATE,                      # Argo Rollouts
    ("apps.kruise.io", "CloneSet"): _TEMPLATE,                  # OpenKruise
    ("apps.kruise.io", "StatefulSet"): _TEMPLATE,               # OpenKruise Advanced StatefulSet
    ("apps.kruise.io", "DaemonSet"): _TEMPLATE,                 # OpenKruise Advanced DaemonSet
    ("apps.kruise.io", "BroadcastJob"): _TEMPLATE,
    ("serving.knative.dev", "Service"): _TEMPLATE,              # Knative Serving
    ("serving.knative.dev", "Configuration"): _TEMPLATE,
    ("serving.knative.dev", "Revision"): ("spec",),
    ("keda.sh", "ScaledJob"): ("spec", "jobTargetRef", "template", "spec"),  # KEDA (a JobSpec)
}
POD_SPEC_PATHS.update(WORKLOAD_CRD_POD_SPEC_PATHS)
#: Kinds that may name another workload instead of carrying a pod template (the named workload is
#: judged on its own): an Argo Rollout with ``spec.workloadRef`` runs a Deployment's template.
TEMPLATE_REFERENCES: dict[tuple[str, str], tuple[str, ...]] = {
    ("argoproj.io", "Rollout"): ("spec", "workloadRef"),
}
#: The marker a policy's ``kinds`` holds to judge, beside the kinds listed, every custom resource
#: that embeds a pod spec (found by :func:`find_pod_spec`, by its shape, not from a list of kinds).
BY_SHAPE = ("(custom resources)", "(embedding a pod spec)")
#: ``(group, kind)`` of every kind with a pod spec, and :data:`BY_SHAPE`: the pod policies judge any
#: other custom resource whose shape holds a pod spec (a ``containers`` list of images).
POD_KINDS = frozenset(POD_SPEC_PATHS) | {BY_SHAPE}
#: How deep below the object :func:`find_pod_spec` looks (a KEDA ScaledJob's pod spec is 4 deep,
#: a Kubeflow MPIJob's 5: ``spec.mpiReplicaSpecs.Worker.template.spec``).
SHAPE_DEPTH = 8


def builtin_group(group: str) -> bool:
    """Kubernetes' own API groups (``core``, ``apps``, ``*.k8s.io``...): their kinds hold a pod spec
    only where :data:`POD_SPEC_PATHS` says; every other group is a custom resource's."""
    return group in ("core", "apps", "batch", "extensions", "policy", "autoscaling") or group.endswith(".k8s.io")


#: Groups whose objects describe other objects (policy engines' patterns and patches, a Helm
#: release's values): a ``containers`` list there is a pattern, not a workload.
DESCRIBING_GROUPS = ("helm.sh", "kyverno.io", "gatekeeper.sh", "sigstore.dev", "kubewarden.io",
                     "open-cluster-management.io")


def shape_candidate(type_token: str) -> bool:
    """Whether the pod policies look for a pod spec in an object of this type by its shape: a
    Kubernetes custom resource whose kind :data:`POD_SPEC_PATHS` does not list, outside
    :data:`DESCRIBING_GROUPS`."""
    info = parse_type(type_token)
    return (info is not None and (info.group, info.kind) not in POD_SPEC_PATHS and not builtin_group(info.group)
            and not any(info.group == g or info.group.endswith("." + g) for g in DESCRIBING_GROUPS))


#: An image reference as a container runtime takes it (no pattern characters: ``!*:latest`` or
#: ``{{ request.image }}`` in a policy engine's pattern is no image).
_IMAGE_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@-]*$")


def _looks_like_pod_spec(node: Any) -> bool:
    if not isinstance(node, Mapping) or "containers" not in node:
        return False
    containers = node.get("containers")
    return is_list(containers) and any(isinstance(c, Mapping) and isinstance(c.get("image"), str)
                                       and _IMAGE_REF.match(c.get("image")) for c in containers)


#: find_pod_spec's last answers, by the identity of the properties searched: pulumi_policy hands
#: every policy of one Analyze call the same properties object (policy.py, ``Analyze``), and each
#: policy that judges pods by shape asks for the same search. (The object is kept with its answer,
#: so an id is never mistaken for a later object's.)
_POD_SPEC_MEMO: dict[int, tuple[Any, Optional[tuple[Mapping, str]]]] = {}
_POD_SPEC_MEMO_SIZE = 64


def find_pod_spec(props: Mapping) -> Optional[tuple[Mapping, str]]:
    """:func:`search_pod_spec`, remembered for the last few properties objects searched."""
    held = _POD_SPEC_MEMO.get(id(props))
    if held is not None and held[0] is props:
        return held[1]
    found = search_pod_spec(props)
    if len(_POD_SPEC_MEMO) >= _POD_SPEC_MEMO_SIZE:
        _POD_SPEC_MEMO.clear()
    _POD_SPEC_MEMO[id(props)] = (props, found)
    return found


def search_pod_spec(props: Mapping) -> Optional[tuple[Mapping, str]]:
    """The first pod spec embedded in *props* (breadth first, in document order, at most
    :data:`SHAPE_DEPTH` deep, ``metadata`` and ``status`` skipped) and its path: a mapping with a
    ``containers`` list holding at least one container with an ``image``, which is what a pod spec
    is to the kubelet (an image written as a runtime takes it, not a pattern). A branch unknown at
    preview is skipped."""
    queue: list[tuple[Any, str, int]] = [(props, "", 0)]
    while queue:
        node, path, depth = queue.pop(0)
        try:
            if depth and _looks_like_pod_spec(node):
                return node, path
            if depth >= SHAPE_DEPTH:
                continue
            if isinstance(node, Mapping):
                for key in list(node.keys()):
                    if depth == 0 and key in ("metadata", "status", "apiVersion", "kind"):
                        continue
                    queue.append((node[key], join(path, key), depth + 1))
            elif is_list(node):
                for i in range(len(node)):
                    queue.append((node[i], join(path, i), depth + 1))
        except UnknownValueError:
            continue
    return None


class NotJudged(Exception):
    """The object carries nothing the policy judges (a Rollout that references a Deployment
    through ``spec.workloadRef`` instead of holding a pod template): no verdict at all."""


CONTAINER_LISTS = (("containers", "container"), ("initContainers", "init container"),
                   ("ephemeralContainers", "ephemeral container"))


class Container:
    """One container of a pod spec, with the pod-level defaults it inherits."""

    __slots__ = ("obj", "path", "role", "index", "pod")

    def __init__(self, obj: Mapping, path: str, role: str, index: int, pod: "PodSpec"):
        self.obj = obj
        self.path = path
        self.role = role
        self.index = index
        self.pod = pod

    @property
    def name(self) -> str:
        name = self.obj.get("name")
        return name if isinstance(name, str) and name else f"#{self.index}"

    @property
    def label(self) -> str:
        return f'{self.role} "{self.name}"'

    @property
    def security_context(self) -> Mapping:
        return get_map(self.obj, "securityContext", self.path)

    @property
    def sc_path(self) -> str:
        return join(self.path, "securityContext")

    def effective(self, key: str, getter=get_map) -> tuple[Any, str]:
        """A field both securityContexts carry (runAsNonRoot, runAsUser, seccompProfile):
        the container's value if set, else the pod's; with the path it came from."""
        value = getter(self.security_context, key, self.sc_path)
        if value is not None and value is not EMPTY:
            return value, join(self.sc_path, key)
        pod_value = getter(self.pod.security_context, key, self.pod.sc_path)
        return pod_value, join(self.pod.sc_path, key)


class PodSpec:
    """The pod spec of a pod-bearing object (a Pod, a workload controller or a CronJob)."""

    __slots__ = ("obj", "spec", "path", "_sc")

    def __init__(self, obj: Obj):
        self.obj = obj
        self._sc: Optional[Mapping] = None
        kind = (obj.info.group, obj.info.kind)
        if kind not in POD_SPEC_PATHS:
            found = find_pod_spec(obj.props)
            if found is None:
                raise NotJudged("(no pod spec)")
            self.spec, self.path = found
            return
        keys = POD_SPEC_PATHS[kind]
        node: Any = obj.props
        path = ""
        for key in keys:
            value = node.get(key)
            path = join(path, key)
            if value is None:
                if kind in TEMPLATE_REFERENCES and _present(obj.props, TEMPLATE_REFERENCES[kind]):
                    raise NotJudged(path)
                raise Unverifiable(path, "is missing", f"add the pod template at {path}")
            if not isinstance(value, Mapping):
                raise wrong(path, value, "an object")
            node = value
        self.spec: Mapping = node
        self.path = path
        self._sc: Optional[Mapping] = None

    @property
    def security_context(self) -> Mapping:
        if self._sc is None:
            self._sc = get_map(self.spec, "securityContext", self.path)
        return self._sc

    @property
    def sc_path(self) -> str:
        return join(self.path, "securityContext")

    def field(self, key: str) -> str:
        return join(self.path, key)

    def containers(self, lists: Sequence[str] = ("containers", "initContainers", "ephemeralContainers")
                   ) -> Iterator[Container]:
        for key, role in CONTAINER_LISTS:
            if key not in lists:
                continue
            for i, item, item_path in maps(self.spec, key, self.path):
                yield Container(item, item_path, role, i, self)


def _present(props: Mapping, keys: Sequence[str]) -> bool:
    node: Any = props
    for key in keys:
        node = node.get(key) if isinstance(node, Mapping) else None
    return node is not None


def pod_spec(obj: Obj) -> Optional[PodSpec]:
    """The pod spec of *obj*, or None when its kind carries none (or it names another workload); a
    custom resource's is found by its shape (:func:`find_pod_spec`)."""
    if obj.info is None:
        return None
    if (obj.info.group, obj.info.kind) not in POD_SPEC_PATHS and not shape_candidate(obj.type):
        return None
    try:
        return PodSpec(obj)
    except NotJudged:
        return None


# ---------------------------------------------------------------------------------------------
# Images
# ---------------------------------------------------------------------------------------------

class ImageRef(NamedTuple):
    registry: str
    repository: str      # path within the registry, e.g. "library/nginx"
    tag: Optional[str]
    digest: Optional[str]

    @property
    def full_name(self) -> str:
        return f"{self.registry}/{self.repository}"


_DOCKER_HUB = {"docker.io", "index.docker.io", "registry-1.docker.io"}
DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")


def _is_host(component: str) -> bool:
    return "." in component or ":" in component or component == "localhost"


@lru_cache(maxsize=4096)
def parse_image(ref: str) -> ImageRef:
    """Split an image reference the way container runtimes do: no registry host means Docker
    Hub, and a single-component name there lives under ``library/``."""
    name, _, digest = ref.partition("@")
    tag = None
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1:]
    first, sep, rest = name.partition("/")
    if sep and _is_host(first):
        registry, path = first.lower(), rest
    else:
        registry, path = "docker.io", name
    if registry in _DOCKER_HUB:
        registry = "docker.io"
        if "/" not in path:
            path = f"library/{path}"
    return ImageRef(registry, path, tag, digest or None)


# The reference grammar of github.com/distribution/reference (regexp.go: domain, path components,
# tag, digest; reference.go: NameTotalLengthMax = 255) and the digest rules of
# github.com/opencontainers/go-digest (algorithm.go: sha256 is 64, sha384 96, sha512 128
# lowercase hex digits). Runtimes refuse a reference that breaks it, so the messages below say
# which part is wrong instead of judging a reference that cannot be pulled at all.
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(rf"^(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$")
_PATH_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[_.]|__|[-]+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST_ALGORITHM = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*$")
DIGEST_HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
NAME_TOTAL_LENGTH_MAX = 255


@lru_cache(maxsize=4096)
def reference_problem(ref: str) -> Optional[str]:
    """What makes *ref* an invalid image reference (None when it is valid), in words: an
    uppercase repository path, a digest of the wrong length, a tag too long, ..."""
    if ref != ref.strip() or any(ch.isspace() for ch in ref):
        return "it contains whitespace"
    name, at, digest = ref.partition("@")
    tag = None
    slash, colon = name.rfind("/"), name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1:]
    first, sep, rest = name.partition("/")
    domain, path = (first, rest) if sep and _is_host(first) else ("", name)
    if not path:
        return "it names no repository"
    if domain and not _DOMAIN.match(domain):
        return f"the registry host {domain!r} is not a valid host[:port]"
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        return f"the name is {len(name)} characters long; at most {NAME_TOTAL_LENGTH_MAX} are allowed"
    for component in path.split("/"):
        if _PATH_COMPONENT.match(component):
            continue
        if component.lower() != component and _PATH_COMPONENT.match(component.lower()):
            return (f"the repository path {path!r} has uppercase letters; repository names must be lowercase "
                    f"({path.lower()!r})")
        if not component:
            return f"the repository path {path!r} has an empty component (a doubled or trailing '/')"
        return (f"the path component {component!r} is not valid: lowercase letters and digits, separated by "
                "'.', '_', '__' or dashes")
    if tag is not None and not _TAG.match(tag):
        if not tag:
            return "the tag after ':' is empty"
        if len(tag) > 128:
            return f"the tag is {len(tag)} characters long; at most 128 are allowed"
        return (f"the tag {tag!r} is not valid: letters, digits, '_', '.' and '-', not starting with '.' or '-'")
    if at:
        algorithm, colon_, hexpart = digest.partition(":")
        if not colon_ or not algorithm:
            return f"the digest {digest!r} is not <algorithm>:<hex>, e.g. sha256:<64 hex digits>"
        if not _DIGEST_ALGORITHM.match(algorithm):
            return f"the digest algorithm {algorithm!r} is not valid"
        want = DIGEST_HEX_LENGTHS.get(algorithm)
        if want is None:
            return f"the digest algorithm {algorithm!r} is not one runtimes verify (sha256, sha384, sha512)"
        if not re.fullmatch(r"[0-9a-fA-F]*", hexpart):
            return f"the {algorithm} digest has characters other than hex digits"
        if len(hexpart) != want:
            return f"the {algorithm} digest has {len(hexpart)} hex digits; it must have exactly {want}"
        if hexpart != hexpart.lower():
            return f"the {algorithm} digest has uppercase hex digits; digests are lowercase"
    return None


def registry_prefix(entry: str) -> str:
    """A trusted-registry entry as an image-name prefix: ``openpolicyagent`` (a Docker Hub
    namespace) is ``docker.io/openpolicyagent``; ``ghcr.io`` stays a whole registry."""
    entry = entry.strip().rstrip("/")
    first = entry.split("/", 1)[0]
    if not _is_host(first):
        return f"docker.io/{entry}"
    if first.lower() in _DOCKER_HUB:
        return "docker.io" + entry[len(first):]
    return entry


def trusted(image: ImageRef, prefixes: Sequence[str]) -> bool:
    full = image.full_name
    return any(full == p or full.startswith(p + "/") for p in prefixes)


# ---------------------------------------------------------------------------------------------
# Quantities
# ---------------------------------------------------------------------------------------------

_SUFFIX = {
    "Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "Pi": 2 ** 50, "Ei": 2 ** 60,
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": 1,
    "k": 10 ** 3, "M": 10 ** 6, "G": 10 ** 9, "T": 10 ** 12, "P": 10 ** 15, "E": 10 ** 18,
}
_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?)$")


@lru_cache(maxsize=4096)
def _parse_quantity_text(text: str) -> Optional[Decimal]:
    m = _QUANTITY.match(text.strip())
    if not m:
        return None
    try:
        number = Decimal(m.group(1))
        if m.group(2):
            return number * (Decimal(10) ** int(m.group(2)[1:]))
        return number * Decimal(_SUFFIX[m.group(3) or ""])
    except (InvalidOperation, ValueError):
        return None


def parse_quantity(value: Any, path: str) -> Decimal:
    """A Kubernetes quantity ("500m", "2", 2, "8Gi", "1e3") as a number; else unverifiable."""
    if isinstance(value, bool):
        raise wrong(path, value, "a quantity such as '500m' or '1Gi'")
    if isinstance(value, (int, float)):
        return Decimal(str(value))
    if isinstance(value, str):
        parsed = _parse_quantity_text(value)
        if parsed is not None:
            return parsed
    raise wrong(path, value, "a quantity such as '500m' or '1Gi'")


def quantity_ok(value: Any) -> bool:
    try:
        parse_quantity(value, "")
        return True
    except Unverifiable:
        return False


ALL_CONTAINERS = ("containers", "initContainers", "ephemeralContainers")
#: Containers that declare resources (ephemeral containers cannot).
RESOURCE_CONTAINERS = ("containers", "initContainers")


def container_findings(pod: PodSpec, check, lists: Sequence[str] = ALL_CONTAINERS) -> Iterator[str]:
    """Run ``check(container)`` (a generator of messages) on every container of *pod*.

    Each container is judged on its own: a malformed container (or container list) is reported
    as unverifiable and the others are still checked.
    """
    for key, role in CONTAINER_LISTS:
        if key not in lists:
            continue
        try:
            items = get_list(pod.spec, key, pod.path)
        except Unverifiable as e:
            yield e.message
            continue
        base = join(pod.path, key)
        for i, item in enumerate(items):
            path = join(base, i)
            if not isinstance(item, Mapping):
                yield wrong(path, item, f"an object (a {role})").message
                continue
            try:
                yield from check(Container(item, path, role, i, pod))
            except Unverifiable as e:
                yield e.message


def selector_is_empty(selector: Mapping, path: str) -> bool:
    """A label selector that selects everything (no labels, no expressions)."""
    return not get_map(selector, "matchLabels", path) and not get_list(selector, "matchExpressions", path)


#: The Helm chart resource kinds (``kubernetes:helm.sh/v4:Chart``, ``v3:Release``).
HELM_CHART_KINDS = (("helm.sh", "Chart"), ("helm.sh", "Release"))


def chart_name(obj: "Obj") -> str:
    """The chart a Helm resource installs (``oci://.../falco`` and ``repo/falco`` both give ``falco``)."""
    name = get_str(obj.props, "chart", "") or ""
    return name.rstrip("/").rsplit("/", 1)[-1]


#: What Go's ``strconv.ParseBool`` accepts, and how it reads it. ingress-nginx reads every boolean
#: annotation with it (internal/ingress/annotations/parser/main.go, ``ingAnnotations.parseBool``;
#: a value it refuses is an invalid annotation and the default applies), and its ConfigMap through
#: mapstructure with ``WeaklyTypedInput`` (internal/ingress/controller/template/configmap.go,
#: ``ReadConfig``), which reads strings with ``strconv.ParseBool`` too and the empty string as false.
GO_BOOLS = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
            "0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}


def go_bool(value: Any, default: Optional[bool], empty: Optional[bool] = None) -> Optional[bool]:
    """*value* (a string from an annotation or a ConfigMap) as Go's ``strconv.ParseBool`` reads it;
    *default* when it is absent or a spelling Go refuses (``"yes"``, ``" true"``); *empty* for ``""``
    (mapstructure's weak decoding: false) when given."""
    if isinstance(value, bool):
        return value
    if not isinstance(value, str):
        return default
    if value == "" and empty is not None:
        return empty
    return GO_BOOLS.get(value, default)
