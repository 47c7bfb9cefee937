"""pod-disallow-mesh-bypass: no tenant pod takes traffic around the mesh's mutual TLS.

The mesh enforces STRICT mTLS and the AuthorizationPolicies in each pod's proxy; traffic the proxy
does not intercept skips both. Judged: the pod templates of every pod-bearing kind outside
``systemNamespaces`` (default: kube-system, kube-public, kube-node-lease, istio-system, where the
mesh's own and the cluster's components run). Refused on those pods:

- any ``traffic.sidecar.istio.io/exclude*`` annotation with a value (``excludeInboundPorts``: those
  ports accept plaintext from anyone; ``excludeOutboundPorts``, ``excludeOutboundIPRanges``,
  ``excludeInterfaces``: those flows leave without mTLS and without the egress policy);
- ``traffic.sidecar.istio.io/includeInboundPorts`` or ``includeOutboundIPRanges`` other than ``*``
  (everything not listed bypasses the proxy), ``sidecar.istio.io/interceptionMode: NONE``;
- opting out of the mesh, ``sidecar.istio.io/inject: "false"`` (annotation or label) or the label
  ``istio.io/dataplane-mode: none``, in a namespace that the analysed set enrols in the mesh (a
  Namespace labelled ``istio-injection: enabled``, ``istio.io/rev`` or ``istio.io/dataplane-mode:
  ambient``). Elsewhere the opt-out changes nothing, and is not judged.

A stack policy, because enrolment is a label of the Namespace.
"""
from __future__ import annotations

from pulumi_policy import Severity
from pulumi_policy.proxy import UnknownValueError

from .._lib.framework import nist_800_171, stack_policy
from .._lib.k8s import POD_KINDS, POD_SPEC_PATHS, Unverifiable, get_map, join

DEFAULT_SYSTEM_NAMESPACES = ["kube-system", "kube-public", "kube-node-lease", "istio-system"]
EXCLUDE_PREFIX = "traffic.sidecar.istio.io/exclude"
INCLUDE_ALL = ("traffic.sidecar.istio.io/includeInboundPorts", "traffic.sidecar.istio.io/includeOutboundIPRanges")
INTERCEPTION = "sidecar.istio.io/interceptionMode"
INJECT = "sidecar.istio.io/inject"
DATAPLANE = "istio.io/dataplane-mode"


def template_metadata(obj):
    """The pod template's metadata and its path (a Pod's own metadata for a Pod)."""
    keys = POD_SPEC_PATHS[(obj.info.group, obj.info.kind)][:-1]
    node, path = obj.props, ""
    for key in keys:
        node = get_map(node, key, path)
        path = join(path, key)
    return get_map(node, "metadata", path), join(path, "metadata")


def in_mesh(namespace) -> bool:
    labels = namespace.labels()
    return (str(labels.get("istio-injection", "")) == "enabled" or bool(labels.get("istio.io/rev"))
            or str(labels.get(DATAPLANE, "")) == "ambient")


def bypasses(meta, path, enrolled: bool):
    annotations = get_map(meta, "annotations", path)
    labels = get_map(meta, "labels", path)
    for key in sorted(k for k in annotations if isinstance(k, str)):
        value = str(annotations.get(key) or "").strip()
        where = f"{path}.annotations.{key}"
        if key.startswith(EXCLUDE_PREFIX) and value:
            yield f"{where}: {value!r} takes that traffic out of the proxy, so it skips mTLS and the AuthorizationPolicies"
        elif key in INCLUDE_ALL and value != "*":
            yield f"{where}: {value!r} leaves everything it does not list outside the proxy (mTLS and policy bypassed)"
        elif key == INTERCEPTION and value.upper() == "NONE":
            yield f"{where}: NONE turns traffic interception off, so no traffic goes through mTLS"
    if not enrolled:
        return
    for where, values in (("annotations", annotations), ("labels", labels)):
        if str(values.get(INJECT, "")).strip().lower() == "false":
            yield (f"{path}.{where}.{INJECT}: \"false\" runs the pod without the mesh's proxy in a mesh namespace, "
                   "so it accepts plaintext and no AuthorizationPolicy protects it")
    if str(labels.get(DATAPLANE, "")).strip().lower() == "none":
        yield f"{path}.labels.{DATAPLANE}: none takes the pod out of the ambient mesh in a mesh namespace"


def check(objects, config):
    system = set(config["systemNamespaces"])
    pending = None
    enrolled = set()
    for ns in objects:
        if (ns.info.group, ns.info.kind) != ("core", "Namespace"):
            continue
        try:
            if in_mesh(ns):
                enrolled.add(ns.name)
        except UnknownValueError as e:
            pending = pending or e
        except Unverifiable:
            continue  # namespace-enforce-pod-security reports a malformed Namespace
    for obj in objects:
        if (obj.info.group, obj.info.kind) not in POD_KINDS:
            continue
        try:
            namespace = obj.namespace or "default"
            if namespace in system:
                continue
            meta, path = template_metadata(obj)
            found = list(bypasses(meta, path, namespace in enrolled))
        except UnknownValueError as e:
            pending = pending or e
            continue
        except Unverifiable as e:
            yield obj, e.message
            continue
        for message in found:
            yield obj, (f"the {obj.kind} {namespace}/{obj.name} bypasses the mesh: {message}; remove it (a flow that "
                        "must leave the mesh goes through an egress rule of the mesh, not around the proxy)")
    if pending is not None:
        raise pending


POLICY = stack_policy(
    name="pod-disallow-mesh-bypass",
    description="Tenant pods must not exclude traffic from the mesh proxy or opt out of the mesh in a mesh namespace.",
    kinds=[*POD_KINDS, ("core", "Namespace")],
    severity=Severity.HIGH,
    control=nist_800_171("3.13.8"),
    tags=["nist800-171:3.13.1", "cmmc:SC.L2-3.13.8", "iec62443:SR 4.1", "iec62443:SR 5.2", "nist800-207:tenet-2",
          "nist800-207:tenet-6"],
    remediation="""
Remove the traffic.sidecar.istio.io/exclude* and include* annotations, interceptionMode NONE and
sidecar.istio.io/inject: "false" from the pod template; a port that must be reached from outside the
mesh is published through the ingress gateway, and a destination outside the mesh is reached
through the mesh (ServiceEntry, egress gateway). A system component that truly cannot run in the
mesh runs in a system namespace, or gets a named exemption.""",
    config={
        "systemNamespaces": {
            "type": "array", "items": {"type": "string", "minLength": 1}, "uniqueItems": True,
            "default": DEFAULT_SYSTEM_NAMESPACES,
            "description": "Namespaces of the cluster's and the mesh's own components, not judged.",
        },
    },
    check=check,
)
