"""envoyfilter-disallow-security-bypass: no EnvoyFilter takes apart the mesh's security, and none is
written in a tenant namespace.

An EnvoyFilter patches the Envoy configuration istiod generates, below every Istio API: it can
remove the authorization, external authorization and JWT filters that AuthorizationPolicy and
RequestAuthentication install, or rewrite a listener's TLS. Istio warns that it is a break-glass
tool that bypasses its validation (istio.io/latest/docs/reference/config/networking/envoy-filter,
"should be used with care"; security best practices: restrict who can write networking config).
Refused:

- a ``configPatches[]`` entry with ``operation: REMOVE`` or ``REPLACE`` on a filter, or one that
  names a security filter (``envoy.filters.http.rbac``, ``envoy.filters.network.rbac``,
  ``envoy.filters.http.ext_authz``, ``envoy.filters.network.ext_authz``,
  ``envoy.filters.http.jwt_authn``, ``istio.authn``) in its match or value with any operation but
  ``INSERT_*``/``ADD`` of a new one;
- any EnvoyFilter outside the mesh's own namespaces (setting ``systemNamespaces``, default
  istio-system and istio-ingress, where the platform keeps its gateway filters): a tenant's
  EnvoyFilter reconfigures its proxies around the platform's policy.
"""
from __future__ import annotations

from collections.abc import Mapping

from pulumi_policy import Severity

from .._lib.framework import finding, nist_800_171, resource_policy
from .._lib.k8s import get_map, get_str, is_list, maps

SECURITY_FILTERS = ("envoy.filters.http.rbac", "envoy.filters.network.rbac", "envoy.filters.http.ext_authz",
                    "envoy.filters.network.ext_authz", "envoy.filters.http.jwt_authn", "istio.authn")
ADDING = ("INSERT_BEFORE", "INSERT_AFTER", "INSERT_FIRST", "ADD")


def _names(value) -> set[str]:
    """Every ``name`` string under *value*."""
    out: set[str] = set()
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, Mapping):
            for k, v in node.items():
                if k == "name" and isinstance(v, str):
                    out.add(v)
                else:
                    stack.append(v)
        elif is_list(node):
            stack.extend(node)
    return out


def check(obj, config):
    namespace = obj.namespace or ""
    if namespace not in config["systemNamespaces"]:
        yield finding("tenant-namespace", f"the EnvoyFilter is in namespace {namespace or '(none)'}, outside the "
                                          "mesh's own namespaces: it reconfigures proxies below every Istio API; use "
                                          "the Istio APIs (AuthorizationPolicy, DestinationRule, Telemetry) instead")
    for _, patch_entry, path in maps(obj.spec, "configPatches", "spec"):
        patch = get_map(patch_entry, "patch", path)
        operation = get_str(patch, "operation", f"{path}.patch") or ""
        apply_to = get_str(patch_entry, "applyTo", path) or ""
        touched = sorted((_names(get_map(patch_entry, "match", path)) | _names(patch.get("value")))
                         & set(SECURITY_FILTERS))
        if operation in ("REMOVE", "REPLACE") and apply_to in ("HTTP_FILTER", "NETWORK_FILTER", "LISTENER_FILTER",
                                                               "FILTER_CHAIN", "LISTENER"):
            yield finding("removes-filter", f"{path}.patch.operation is {operation} on {apply_to}: it can take the "
                                            "mesh's authorization or TLS out of the proxy; remove the patch")
        elif touched and operation not in ADDING:
            yield finding("patches-security-filter", f"{path} patches {', '.join(touched)} ({operation or 'MERGE'}): "
                                                     "it rewrites what AuthorizationPolicy and RequestAuthentication "
                                                     "install; express the rule with those APIs instead")


POLICY = resource_policy(
    name="envoyfilter-disallow-security-bypass",
    description="EnvoyFilters stay in the mesh's own namespaces and never remove, replace or rewrite its security "
                "filters.",
    kinds=[("networking.istio.io", "EnvoyFilter")],
    severity=Severity.HIGH,
    control=nist_800_171("3.4.6"),
    tags=["cmmc:CM.L2-3.4.6", "iec62443:SR 7.6", "nist800-207:tenet-5", "nist800-207:tenet-6"],
    remediation="""
Express the change with Istio's APIs (AuthorizationPolicy, RequestAuthentication, DestinationRule,
Telemetry, WasmPlugin under review); keep platform EnvoyFilters in istio-system or the gateway's
namespace, and never REMOVE or REPLACE a filter or patch the rbac, ext_authz or jwt_authn filters.""",
    config={"systemNamespaces": {"type": "array", "items": {"type": "string"},
                                 "default": ["istio-system", "istio-ingress"],
                                 "description": "The mesh's own namespaces, where the platform keeps its "
                                                "EnvoyFilters (default istio-system and istio-ingress)."}},
    check=check,
)
