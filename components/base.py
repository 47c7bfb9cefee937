"""Shared building blocks for every component: the strict config model, Kubernetes object
helpers and the validated scalar types (image references, names, quantities).

Nothing here registers a resource by itself; components call :func:`k8s_object` with a plain
Kubernetes manifest (camelCase, exactly as ``kubectl`` would read it) and get the typed Pulumi
resource for that kind, so the manifests in the code read like the manifests in the docs.
"""
from __future__ import annotations

import re
from typing import Annotated, Any, Mapping, Optional

import pulumi
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from .imagelock import DIGEST   # the one pattern of a bare digest (images.lock's too)

#: Pod Security Standards version the namespace labels pin (kept in step with the
#: supported Kubernetes minor version, so a cluster upgrade never silently changes the policy).
PSS_VERSION = "v1.33"

#: Kubernetes versions the rendered objects are validated against.
SUPPORTED_KUBERNETES_VERSIONS = ("1.32", "1.33")

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
IMAGE_DIGEST = re.compile(
    r"^(?P<repo>(?P<registry>[a-z0-9.-]+(?::[0-9]+)?)/[a-z0-9._/-]+)(?::(?P<tag>[A-Za-z0-9_.-]+))?"
    r"@sha256:(?P<digest>[a-f0-9]{64})$"
)

LABEL_NAME = "app.kubernetes.io/name"
LABEL_PART_OF = "app.kubernetes.io/part-of"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
PART_OF = "hardened-stack"


# ---------------------------------------------------------------------------------------------
# CIDR ranges: one validated type for every config field that holds one (issue 23.9)
# ---------------------------------------------------------------------------------------------

#: The largest private block of each IP family (RFC 1918's 10.0.0.0/8, RFC 4193's fc00::/7): a
#: range in the stack config names where a database, an endpoint, a VPC or the control plane
#: lives, and none of those is larger. A shorter prefix (0.0.0.0/0, ::/0, 0.0.0.0/1, 2000::/3,
#: 10.0.0.0/7 ...) means "the world", or most of it.
BROADEST_PREFIX = {4: 8, 6: 7}


def cidr_problem(entry: Any, *, place: bool = True) -> Optional[str]:
    """What is wrong with *entry* as a CIDR of the stack config, or None.

    Parsed strictly (``<address>/<prefix length>``, no spaces, no host bits). With *place* (a
    range that names where something lives, :data:`Cidr`), a range broader than
    :data:`BROADEST_PREFIX` is refused; without (exceptions carved out of an egress rule,
    :data:`CidrExcept`), any valid range is accepted, since excepting more only narrows."""
    import ipaddress

    if not isinstance(entry, str):
        return f"{entry!r} is not a CIDR string such as '10.0.0.0/16'"
    try:
        net = ipaddress.ip_network(entry.strip(), strict=True)
    except ValueError as e:
        reason = str(e)
        if "has host bits set" in reason:
            reason = f"host bits are set; did you mean '{ipaddress.ip_network(entry.strip(), strict=False)}'?"
        return f"{entry!r} is not a valid CIDR range ({reason})"
    if entry != entry.strip() or "/" not in entry:
        return f"{entry!r} must be written as '<address>/<prefix length>' with no spaces"
    if place and net.prefixlen == 0:
        return (f"{entry!r} is every address: name the range where it lives (e.g. the VPC's private range, "
                "10.0.0.0/16, or the endpoint subnets)")
    if place and net.prefixlen < BROADEST_PREFIX[net.version]:
        largest = "10.0.0.0/8" if net.version == 4 else "fc00::/7"
        return (f"{entry!r} is too broad (/{net.prefixlen} is more than the largest private block, {largest}): "
                "name the range where it lives, e.g. the VPC's CIDR")
    return None


def _cidr(value: str) -> str:
    problem = cidr_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _cidr_except(value: str) -> str:
    problem = cidr_problem(value, place=False)
    if problem:
        raise ValueError(problem)
    return value


def weakens(what: str, when: str = "differs") -> dict:
    """The ``json_schema_extra`` marker of a config field that can weaken a secure default: *what*
    it weakens, and *when* (``differs``: any value but the default; or a named predicate of
    :mod:`components.ledger`). Every marked field set that way is an opt-out on the ledger: listed by
    render and the report, and refused in a prod stack unless an ``optOuts`` entry covers it."""
    return {"weakens": what, "weakensWhen": when}


#: A range that names where something lives: never the world (see :func:`cidr_problem`).
Cidr = Annotated[str, AfterValidator(_cidr)]
#: A range excepted from an egress rule (it only narrows): parsed strictly, any size.
CidrExcept = Annotated[str, AfterValidator(_cidr_except)]


def _digest(value: str) -> str:
    if not DIGEST.match(value):
        raise ValueError(f"imageDigest {value!r} is not a digest; use sha256:<64 lowercase hex> "
                         "(`crane digest <image>:<tag>`)")
    return value


#: An ``...imageDigest`` setting of any component: a bare digest, or the config names the field.
Digest = Annotated[str, AfterValidator(_digest)]


class StrictModel(BaseModel):
    """Base for every config and args model.

    Unknown keys are rejected (a typo in ``Pulumi.prod.yaml`` fails early), models are immutable,
    and fields are read from camelCase keys (the Pulumi config convention) or their Python names.
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        alias_generator=to_camel,
        arbitrary_types_allowed=True,
    )


# ---------------------------------------------------------------------------------------------
# Kubernetes quantities (shared by the tenant and the platform components' config)
# ---------------------------------------------------------------------------------------------

#: Suffixes of the Kubernetes quantity grammar (k8s.io/apimachinery resource.Quantity):
#: binary SI, decimal SI (``""`` is 1), and a decimal exponent (``e``/``E`` then an integer).
_BINARY_SI = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL_SI = {"n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
               "P": 1e15, "E": 1e18}
#: <quantity> ::= <signedNumber><suffix>; <number> ::= <digits> | <digits>.<digits> | <digits>. | .<digits>;
#: <suffix> ::= <binarySI> | <decimalExponent> | <decimalSI>. No spaces, one sign, one dot.
_QUANTITY = re.compile(r"^(?P<num>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
                       r"(?:(?P<exp>[eE][+-]?[0-9]+)|(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?)$")


def parse_quantity(v: object) -> Optional[float]:
    """A Kubernetes quantity as a number, parsed as the API server parses it; ``None`` when *v*
    is not one ('1.5.5', 'Mi', '1kb', ' 1Gi' and any non-string are not)."""
    if not isinstance(v, str):
        return None
    m = _QUANTITY.match(v)
    if not m:
        return None
    number = float(m.group("num"))
    if m.group("exp"):
        return number * 10.0 ** int(m.group("exp")[1:])
    suffix = m.group("suffix") or ""
    return number * (_BINARY_SI[suffix] if suffix in _BINARY_SI else _DECIMAL_SI[suffix])


def parse_cpu(v: str) -> float:
    """CPU cores of a Kubernetes quantity ('500m' -> 0.5, '2', '1e3'); -1.0 when it is not one."""
    parsed = parse_quantity(v)
    return -1.0 if parsed is None else parsed


def parse_memory(v: str) -> float:
    """Bytes of a Kubernetes quantity ('512Mi', '1G', '1e9'); -1.0 when it is not one."""
    parsed = parse_quantity(v)
    return -1.0 if parsed is None else parsed


class Quantities(StrictModel):
    cpu: str = Field(description="CPU quantity, e.g. '500m' or '2'.")
    memory: str = Field(description="Memory quantity, e.g. '512Mi'.")

    @field_validator("cpu")
    @classmethod
    def _cpu(cls, v: str) -> str:
        if not parse_cpu(v) > 0:
            raise ValueError(f"cpu {v!r} is not a positive Kubernetes CPU quantity such as '500m' or '2'")
        return v

    @field_validator("memory")
    @classmethod
    def _memory(cls, v: str) -> str:
        if not parse_memory(v) > 0:
            raise ValueError(f"memory {v!r} is not a positive Kubernetes memory quantity such as '512Mi' or '8Gi'")
        return v


class Resources(StrictModel):
    requests: Quantities = Field(default_factory=lambda: Quantities(cpu="100m", memory="128Mi"),
                                 description="Requests (default 100m / 128Mi).")
    limits: Quantities = Field(default_factory=lambda: Quantities(cpu="500m", memory="512Mi"),
                               description="Limits (default 500m / 512Mi); must not be below the requests.")

    @model_validator(mode="after")
    def _requests_within_limits(self) -> "Resources":
        if parse_cpu(self.requests.cpu) > parse_cpu(self.limits.cpu):
            raise ValueError(f"requests.cpu {self.requests.cpu} exceeds limits.cpu {self.limits.cpu}")
        if parse_memory(self.requests.memory) > parse_memory(self.limits.memory):
            raise ValueError(f"requests.memory {self.requests.memory} exceeds limits.memory {self.limits.memory}")
        return self


# ---------------------------------------------------------------------------------------------
# Configuration errors and the shared quota model (components/config.py composes the stack's
# model from every component's section; the components take these from here, so no component
# imports config.py and config.py imports no component lazily)
# ---------------------------------------------------------------------------------------------

class ConfigError(pulumi.RunError):
    """Bad stack configuration: the message names the key and the fix."""


class _LocatedError(ValueError):
    def __init__(self, loc: str, msg: str):
        super().__init__(f"{loc}: {msg}")
        self.loc = loc


class _LocatedErrors(ValueError):
    """Several located errors of one model, reported together."""

    def __init__(self, errors: list[_LocatedError]):
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


def _located(loc: str, msg: str) -> _LocatedError:
    return _LocatedError(loc, msg)


def vault_prefix(namespace: str) -> str:
    """The Vault KV path prefix a namespace may read (components.tenancy, the pack's
    externalsecret-disallow-cross-tenant-key): its own name and a '/'."""
    return f"{namespace}/"


def key_in_prefix(key: str, prefix: str) -> bool:
    """Whether a KV key ('lego-mcp-prod/hsm') lies below *prefix* with no '..' or empty segment."""
    parts = key.split("/")
    return key.startswith(prefix) and len(parts) > 1 and all(p not in ("", ".", "..") for p in parts)


class QuotaConfig(StrictModel):
    cpu: str = Field("8", description="Total CPU limits allowed in the namespace (default 8).")
    memory: str = Field("16Gi", description="Total memory limits allowed in the namespace (default 16Gi).")
    pods: int = Field(50, ge=1, description="Maximum pods in the namespace (default 50).")

    @field_validator("cpu", "memory")
    @classmethod
    def _quantity(cls, v: str, info) -> str:
        if not parse_cpu(v) > 0:
            raise ValueError(f"{info.field_name} {v!r} is not a positive Kubernetes quantity (e.g. '8', '500m', "
                             "'16Gi', '1e3')")
        return v


def image_registry(image: str) -> str:
    """The registry host of a fully qualified image reference."""
    return image.split("/", 1)[0]


def is_trusted(image: str, trusted_registries: tuple[str, ...] | list[str]) -> bool:
    """Whether a fully qualified *image* (or repository) comes from one of *trusted_registries*
    (a registry host, or a host/path prefix ending at a ``/``), as the Gatekeeper constraint judges."""
    return any(image_registry(image) == r or image.startswith(r.rstrip("/") + "/") for r in trusted_registries)


def check_image_reference(image: str, trusted_registries: tuple[str, ...] | list[str] | None = None) -> str:
    """Validate that *image* is pinned by digest (and, if given, from a trusted registry).

    Returns the image unchanged; raises ``ValueError`` with the fix otherwise.
    """
    if not IMAGE_DIGEST.match(image):
        raise ValueError(
            f"image {image!r} must be fully qualified and pinned by digest, e.g. "
            "'ghcr.io/org/app@sha256:<64 hex>' (tags such as ':latest' are mutable)"
        )
    if trusted_registries is not None:
        registry = image_registry(image)
        if not is_trusted(image, trusted_registries):
            raise ValueError(
                f"image {image!r} comes from registry {registry!r}, which is not in "
                f"trustedRegistries {list(trusted_registries)}; add it there or use a trusted mirror"
            )
    return image


def standard_labels(name: str, component: str | None = None) -> dict[str, str]:
    """The recommended Kubernetes labels every object of the stack carries."""
    labels = {LABEL_NAME: name, LABEL_PART_OF: PART_OF, LABEL_MANAGED_BY: "pulumi"}
    if component:
        labels["app.kubernetes.io/component"] = component
    return labels


class HardenedComponent(pulumi.ComponentResource):
    """Base of every component: a ``ComponentResource`` whose children also wait for what the
    component was told to wait for.

    Pulumi does not pass a component's ``depends_on`` down to the resources created inside it, so
    ``HardenedWorkload(..., depends_on=[namespace])`` would let the Deployment race its Namespace.
    :func:`child_opts` adds these dependencies to every child.
    """

    def __init__(self, t: str, name: str, props: Optional[dict] = None,
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(t, name, props, opts)
        deps = opts.depends_on if opts is not None else None
        if deps is None:
            self._inherited_depends_on: list = []
        elif isinstance(deps, (list, tuple)):
            self._inherited_depends_on = list(deps)
        else:
            self._inherited_depends_on = [deps]


def readiness(resource: pulumi.Resource) -> list[pulumi.Resource]:
    """What "wait for *resource*" means for the children of a dependent component.

    A component may set ``self.ready`` to the few resources whose completion makes it usable
    (its chart, its namespace and default-deny policy, its constraints). Depending on a whole
    component instead expands to every one of its children, and the SDK's cycle check then walks
    that graph once per edge: on the prod stack, inheriting whole components doubled render time.
    """
    ready = getattr(resource, "ready", None)
    return list(ready) if ready else [resource]


def child_opts(parent: pulumi.Resource, depends_on: Optional[list] = None, **kwargs: Any) -> pulumi.ResourceOptions:
    """Options for a child resource: parented to *parent* (so it inherits its providers), and
    depending on whatever *parent* itself depends on (see :class:`HardenedComponent`), narrowed
    to those dependencies' :func:`readiness` resources."""
    inherited = getattr(parent, "_inherited_ready", None)
    if inherited is None:  # expanded once per parent: a component may have thousands of children
        inherited = [r for dep in getattr(parent, "_inherited_depends_on", []) for r in readiness(dep)]
        if isinstance(parent, HardenedComponent):
            parent._inherited_ready = inherited
    return pulumi.ResourceOptions(parent=parent, depends_on=inherited + list(depends_on or []), **kwargs)


#: API groups whose objects the provider registers under ``core`` (the legacy group ``v1``).
_CORE = "core/v1"


def type_token(api_version: str, kind: str) -> str:
    """The Kubernetes provider's type token: ``v1`` -> ``kubernetes:core/v1:<Kind>``, grouped
    versions as they are (``kubernetes:apps/v1:Deployment``), the same rule for custom resources."""
    return f"kubernetes:{_CORE if api_version == 'v1' else api_version}:{kind}"


class KubernetesObject(pulumi.CustomResource):
    """Any Kubernetes object, registered under the provider's own type token with its manifest as
    inputs: exactly what the typed ``pulumi_kubernetes`` classes send, without importing their
    (large) generated input modules, which dominated the program's start-up time. Like the typed
    ``Secret`` class, ``data``/``stringData`` of a Secret are Pulumi secrets (value by value)."""

    def __init__(self, resource_name: str, manifest: Mapping[str, Any], opts: pulumi.ResourceOptions):
        props = dict(manifest)
        extra = pulumi.ResourceOptions()
        if props.get("apiVersion") == "v1" and props.get("kind") == "Secret":
            for key in ("data", "stringData"):
                value = props.get(key)
                if isinstance(value, Mapping):
                    # each value a secret (not the whole map): a redacted manifest stays a valid Secret
                    props[key] = {k: pulumi.Output.secret(v) for k, v in value.items()}
                elif value is not None:
                    props[key] = pulumi.Output.secret(value)
            extra = pulumi.ResourceOptions(additional_secret_outputs=["data", "stringData"])
        from pulumi_kubernetes import _utilities as k8s_utilities

        opts = pulumi.ResourceOptions.merge(k8s_utilities.get_resource_opts_defaults(), opts)
        super().__init__(type_token(props["apiVersion"], props["kind"]), resource_name, props,
                         pulumi.ResourceOptions.merge(opts, extra))


def k8s_object(resource_name: str, manifest: Mapping[str, Any], opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
    """Register one Kubernetes object given as a plain manifest (camelCase, as kubectl reads it).

    ``resource_name`` is the Pulumi resource name (stable: renaming it replaces the live object);
    the manifest's ``metadata.name`` is the Kubernetes name.
    """
    if "apiVersion" not in manifest or "kind" not in manifest:
        raise ValueError(f"{resource_name}: a manifest needs apiVersion and kind")
    return KubernetesObject(resource_name, manifest,
                            own_namespace_only((manifest.get("metadata") or {}).get("namespace"), opts))


def own_namespace_only(namespace: Optional[str], opts: pulumi.ResourceOptions) -> pulumi.ResourceOptions:
    """Options for something that lives in *namespace*: it waits for its own namespace, not for
    every namespace its component waits for (the readiness resources of a HardenedNamespace carry
    ``_hardened_namespace``; other dependencies are kept). A component spanning N namespaces would
    otherwise give each of its N objects N namespaces to wait for, and the SDK's cycle check walks
    every such edge: quadratic renders. Cluster-scoped objects (*namespace* None) keep them all."""
    deps = opts.depends_on
    if not namespace or not isinstance(deps, (list, tuple)):
        return opts
    kept = [d for d in deps if getattr(d, "_hardened_namespace", namespace) == namespace]
    if len(kept) == len(deps):
        return opts
    narrowed = pulumi.ResourceOptions.merge(pulumi.ResourceOptions(), opts)
    narrowed.depends_on = kept
    return narrowed


def helm_chart(resource_name: str, *, chart: str, version: str, repo: str, namespace: str,
               values: Mapping[str, Any], opts: pulumi.ResourceOptions) -> pulumi.Resource:
    """An upstream Helm chart at a pinned version (``helm.v4.Chart``).

    Values are key-sorted by the caller's pure ``_values()``; chart hooks are dropped by
    ``helm.v4.Chart``, so components replace the hooks that matter with explicit resources.
    """
    from pulumi_kubernetes.helm.v4 import Chart, PostRendererArgs, RepositoryOptsArgs

    from .imagelock import post_renderer_args

    # images.lock, once filled, pins the chart's images by digest: the provider runs the
    # post-renderer over the rendered manifests (components/imagelock.py). No lock, no change.
    post = post_renderer_args()
    return Chart(
        resource_name,
        chart=chart,
        version=version,
        namespace=namespace,
        repository_opts=RepositoryOptsArgs(repo=repo),
        values=dict(values),
        post_renderer=PostRendererArgs(**post) if post else None,
        opts=own_namespace_only(namespace, opts),
    )


def manifest_file(resource_name: str, *, file: str, opts: pulumi.ResourceOptions) -> pulumi.Resource:
    """Upstream plain manifests at a pinned release URL (``yaml.v2.ConfigFile``): the provider
    fetches and registers each object, as it does for a chart's."""
    from pulumi_kubernetes.yaml.v2 import ConfigFile

    return ConfigFile(resource_name, file=file, opts=opts)


def deep_merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """Merge *extra* into a copy of *base* (dicts merge recursively, everything else replaces).

    Used for the ``extraValues`` escape hatch of Helm-backed components: merged last, so the
    policy pack remains the backstop for anything it weakens.
    """
    out: dict[str, Any] = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


class AwsResource(pulumi.CustomResource):
    """An AWS resource registered under its provider type token with wire-format (camelCase) inputs.

    Used only where a typed ``pulumi_aws`` class costs too much to import at start-up (the WAFv2
    module takes about 0.6 s, a fifth of a render): the registration is the same as the typed
    class's. ``outputs`` names the provider outputs the component reads (e.g. ``arn``).
    """

    def __init__(self, type_token: str, resource_name: str, inputs: Mapping[str, Any],
                 opts: pulumi.ResourceOptions, outputs: tuple[str, ...] = ("arn",)):
        from pulumi_aws import _utilities as aws_utilities

        props: dict[str, Any] = {k: v for k, v in inputs.items() if v is not None}
        for name in outputs:
            props.setdefault(name, None)
        super().__init__(type_token, resource_name, props,
                         pulumi.ResourceOptions.merge(aws_utilities.get_resource_opts_defaults(), opts))
