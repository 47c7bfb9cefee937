"""gateway-disallow-plaintext-http: a gateway serves external hosts over plain HTTP only to
redirect them to HTTPS.

- **Gateway API** (``gateway.networking.k8s.io`` Gateway): a listener with ``protocol: HTTP`` is
  allowed only when at least one HTTPRoute of the analysed set attaches to it and every HTTPRoute
  attached to it only redirects: each rule has a ``RequestRedirect`` filter with ``scheme: https``
  and no ``backendRefs``. A route attaches to a listener when one of its ``parentRefs`` names the
  Gateway (kind Gateway, its name, its namespace, by default the route's) and, if given, the
  listener's ``sectionName`` and ``port``; a route that the listener's ``allowedRoutes`` keeps out
  (``from: Same`` and another namespace) does not attach. An HTTP listener with no attached route
  is refused too: nothing in the set redirects it, and any route that attaches later serves
  plaintext. A stack policy, because the verdict needs the Gateway and its routes together.
- **Istio** (``networking.istio.io`` Gateway): a server on an ``HTTP``/``HTTP2``/``GRPC`` port must
  set ``tls.httpsRedirect: true``.

Hosts that are internal only (every host ending in ``.cluster.local``, ``.svc``, ``.local`` or
``.internal``) are not judged: they are not an edge.
"""
from __future__ import annotations

from pulumi_policy import Severity
from pulumi_policy.proxy import UnknownValueError

from .._lib.framework import nist_800_171, stack_policy
from .._lib.k8s import Unverifiable, get_int, get_list, get_map, get_str, maps, strings

GATEWAY_API = "gateway.networking.k8s.io"
GATEWAY = (GATEWAY_API, "Gateway")
HTTPROUTE = (GATEWAY_API, "HTTPRoute")
ISTIO_GATEWAY = ("networking.istio.io", "Gateway")
PLAIN_ISTIO = ("HTTP", "HTTP2", "GRPC")
INTERNAL_SUFFIXES = (".cluster.local", ".svc", ".local", ".internal")


def internal(hosts) -> bool:
    """Every host is cluster- or network-internal (an empty list is any host: external)."""
    names = [h.split("/", 1)[-1].strip().lower().rstrip(".") for h in hosts]
    return bool(names) and all(n.endswith(INTERNAL_SUFFIXES) for n in names)


def _attaches(route, ref, path, gw, listener, lpath) -> bool:
    group = get_str(ref, "group", path)
    kind = get_str(ref, "kind", path) or "Gateway"
    if (group not in (None, "", GATEWAY_API)) or kind != "Gateway":
        return False
    if get_str(ref, "name", path) != gw.name:
        return False
    if (get_str(ref, "namespace", path) or route.namespace or "default") != (gw.namespace or "default"):
        return False
    section = get_str(ref, "sectionName", path)
    if section is not None and section != get_str(listener, "name", lpath):
        return False
    port = get_int(ref, "port", path)
    if port is not None and port != get_int(listener, "port", lpath):
        return False
    allowed = get_map(get_map(listener, "allowedRoutes", lpath), "namespaces", f"{lpath}.allowedRoutes")
    origin = get_str(allowed, "from", f"{lpath}.allowedRoutes.namespaces") or "Same"
    return origin != "Same" or (route.namespace or "default") == (gw.namespace or "default")


def _serves_plaintext(route):
    """The paths of the route's rules that do something other than redirect to https."""
    out = []
    for _, rule, path in maps(route.spec, "rules", "spec"):
        redirects = False
        for _, f, fpath in maps(rule, "filters", path):
            if get_str(f, "type", fpath) == "RequestRedirect":
                scheme = get_str(get_map(f, "requestRedirect", fpath), "scheme", f"{fpath}.requestRedirect")
                redirects = redirects or scheme == "https"
        if not redirects or get_list(rule, "backendRefs", path):
            out.append(path)
    if not get_list(route.spec, "rules", "spec"):
        out.append("spec.rules (none: every request goes to no backend, but nothing redirects)")
    return out


def _gateway_api(gateways, routes):
    for gw in gateways:
        for _, listener, lpath in maps(gw.spec, "listeners", "spec"):
            if get_str(listener, "protocol", lpath) != "HTTP":
                continue
            hostname = get_str(listener, "hostname", lpath)
            if hostname and internal([hostname]):
                continue
            attached = [r for r in routes
                        if any(_attaches(r, ref, rpath, gw, listener, lpath)
                               for _, ref, rpath in maps(r.spec, "parentRefs", "spec"))]
            name = get_str(listener, "name", lpath) or lpath
            if not attached:
                yield gw, (f"Gateway {gw.namespace}/{gw.name} {lpath} ({name}) serves HTTP and no HTTPRoute in the set "
                           "redirects it to HTTPS; attach a route whose only rule is a RequestRedirect filter with "
                           "scheme: https (TlsIngress creates https-redirect), or remove the listener")
                continue
            for route in attached:
                bad = _serves_plaintext(route)
                if bad:
                    yield route, (f"HTTPRoute {route.namespace}/{route.name} attaches to the HTTP listener {name} of "
                                  f"Gateway {gw.namespace}/{gw.name} and serves it in plain HTTP ({', '.join(bad)}); "
                                  "attach it to the HTTPS listener (parentRefs sectionName), and let the HTTP "
                                  "listener only redirect (RequestRedirect scheme: https, no backendRefs)")


def _istio(gw):
    for _, server, path in maps(gw.spec, "servers", "spec"):
        protocol = (get_str(get_map(server, "port", path), "protocol", f"{path}.port") or "").upper()
        if protocol not in PLAIN_ISTIO:
            continue
        if internal(strings(server, "hosts", path)):
            continue
        tls = get_map(server, "tls", path)
        if tls.get("httpsRedirect") is not True:
            yield (f"Istio Gateway {gw.namespace}/{gw.name} {path} serves {protocol} without tls.httpsRedirect: true, "
                   "so its hosts answer in plain HTTP; set tls.httpsRedirect: true")


def check(objects, config):
    pending = None
    gateways, routes = [], []
    for obj in objects:
        key = (obj.info.group, obj.info.kind)
        try:
            if key == ISTIO_GATEWAY:
                for message in list(_istio(obj)):
                    yield obj, message
            elif key == GATEWAY:
                _ = (obj.name, obj.namespace)  # read the identity now: an unknown or malformed one fails here
                gateways.append(obj)
            elif key == HTTPROUTE:
                _ = (obj.name, obj.namespace)
                routes.append(obj)
        except UnknownValueError as e:
            pending = pending or e
        except Unverifiable as e:
            yield obj, e.message
    try:
        for obj, message in list(_gateway_api(gateways, routes)):
            yield obj, message
    except UnknownValueError as e:
        pending = pending or e
    if pending is not None:
        raise pending


POLICY = stack_policy(
    name="gateway-disallow-plaintext-http",
    description="Gateway HTTP listeners and Istio Gateway HTTP servers only redirect external hosts to HTTPS.",
    kinds=[GATEWAY, HTTPROUTE, ISTIO_GATEWAY],
    severity=Severity.HIGH,
    control=nist_800_171("3.13.8"),
    tags=["cmmc:SC.L2-3.13.8", "iec62443:SR 4.1", "nist800-207:tenet-2"],
    remediation="""
Gateway API: attach to each HTTP listener only an HTTPRoute whose rules have a filter
{type: RequestRedirect, requestRedirect: {scheme: https, statusCode: 301}} and no backendRefs (TlsIngress
creates `https-redirect`), and attach the application routes to the HTTPS listener by sectionName.
Istio Gateway: give each HTTP server tls: {httpsRedirect: true}.""",
    check=check,
)
