"""configmap-configure-nginx-tls13-hsts: an ingress-nginx controller ConfigMap allows TLS 1.3 only,
with the AEAD suites, and sends HSTS for one year with includeSubDomains and preload.

The seed's nginx-config: ``ssl-protocols: TLSv1.3``, ``ssl-ciphers`` the three TLS 1.3 AEAD
suites, ``hsts: true``, ``hsts-max-age: 31536000``, ``hsts-include-subdomains: true``,
``hsts-preload: true``. ingress-nginx's own defaults are TLSv1.2 TLSv1.3, HSTS without preload.
The controller reads the ConfigMap its ``--configmap`` flag names, so the name proves nothing.
Judged: a ConfigMap recognised by its content or its labels, under any name and in any namespace:
it sets one of ingress-nginx's TLS keys (:data:`NGINX_TLS_KEYS`: ``ssl-protocols``, ``ssl-ciphers``,
``hsts-*``, ``ssl-redirect``, ``force-ssl-redirect``...), or carries ingress-nginx's labels
(``app.kubernetes.io/name`` or ``app.kubernetes.io/part-of: ingress-nginx``); and, as before, the
controller's usual names and any ConfigMap in an ``ingress-nginx*`` namespace. Besides TLS 1.3 and
HSTS, ``ssl-redirect: "false"`` (plain HTTP served next to HTTPS) is refused unless
``force-ssl-redirect`` is ``"true"``.
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import finding, nist_800_171, resource_policy
from .._lib.k8s import get_map, go_bool

AEAD_SUITES = ("TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256")
CONTROLLER_NAMES = ("ingress-nginx-controller", "nginx-configuration", "nginx-config")
ONE_YEAR = 31536000


#: Keys only an ingress-nginx controller configuration uses.
NGINX_TLS_KEYS = ("ssl-protocols", "ssl-ciphers", "hsts-max-age", "hsts-include-subdomains", "hsts-preload",
                  "ssl-redirect", "force-ssl-redirect", "ssl-prefer-server-ciphers", "ssl-session-tickets",
                  "ssl-ecdh-curve", "ssl-dh-param", "ssl-early-data")
NGINX_LABELS = ("app.kubernetes.io/name", "app.kubernetes.io/part-of", "app", "app.kubernetes.io/instance")


def _is_nginx_config(obj, data) -> bool:
    labels = obj.labels()
    return (any(k in data for k in NGINX_TLS_KEYS) or obj.name in CONTROLLER_NAMES
            or any(labels.get(k) == "ingress-nginx" for k in NGINX_LABELS)
            or (obj.namespace or "").startswith("ingress-nginx"))


def check(obj, config):
    data = get_map(obj.props, "data", "")
    if not _is_nginx_config(obj, data):
        return

    def value(key):
        v = data.get(key)
        return v.strip() if isinstance(v, str) else v

    protocols = (value("ssl-protocols") or "").split()
    if protocols != ["TLSv1.3"]:
        yield finding("ssl-protocols", f"data.ssl-protocols is {value('ssl-protocols') or 'unset (ingress-nginx default TLSv1.2 TLSv1.3)'!s}; "
               "set it to 'TLSv1.3'")
    ciphers = value("ssl-ciphers")
    if ciphers:
        bad = [c for c in ciphers.split(":") if c and c not in AEAD_SUITES]
        if bad:
            yield finding("ssl-ciphers", f"data.ssl-ciphers allows {', '.join(bad)}; use only {':'.join(AEAD_SUITES)}")
    # The controller reads these with Go's strconv.ParseBool (k8s.go_bool): "True" and "1" are true,
    # "False", "0" and "" false; a spelling it refuses leaves its default (hsts on, preload off,
    # ssl-redirect on, force-ssl-redirect off).
    if go_bool(value("hsts"), True, empty=False) is not True:
        yield finding("hsts", f"data.hsts is {value('hsts')!r}; set it to 'true'")
    age = value("hsts-max-age")
    if age is None or not str(age).isdigit() or int(age) < ONE_YEAR:
        yield finding("hsts-max-age", f"data.hsts-max-age is {age!r}; set it to '{ONE_YEAR}' (one year) or more")
    if go_bool(value("hsts-include-subdomains"), True, empty=False) is not True:
        yield finding("hsts-include-subdomains",
                      f"data.hsts-include-subdomains is {value('hsts-include-subdomains')!r}; set it to 'true'")
    if go_bool(value("hsts-preload"), False, empty=False) is not True:
        yield finding("hsts-preload", f"data.hsts-preload is {value('hsts-preload')!r}; set it to 'true'")
    if (go_bool(value("ssl-redirect"), True, empty=False) is False
            and go_bool(value("force-ssl-redirect"), False, empty=False) is not True):
        yield finding("ssl-redirect",
                      f"data.ssl-redirect is {value('ssl-redirect')!r}: every Ingress with TLS also serves its hosts "
                      "over plain HTTP; remove it (the default redirects to HTTPS) or set force-ssl-redirect: 'true'")


POLICY = resource_policy(
    name="configmap-configure-nginx-tls13-hsts",
    description="ingress-nginx controller configuration: TLS 1.3 only, AEAD suites, HSTS one year with preload.",
    kinds=[("core", "ConfigMap")],
    severity=Severity.HIGH,
    control=nist_800_171("3.13.8"),
    tags=["cmmc:SC.L2-3.13.8", "iec62443:SR 4.1", "nist800-207:tenet-2"],
    remediation="""
In the ingress-nginx controller ConfigMap set ssl-protocols: "TLSv1.3", ssl-ciphers:
"TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256", hsts: "true",
hsts-max-age: "31536000", hsts-include-subdomains: "true", hsts-preload: "true"
(TlsIngress with ingress.controller: nginx writes exactly this). Better: move to the Gateway API.""",
    check=check,
)
