"""configmap-configure-nginx-tls13-hsts: an ingress-nginx controller ConfigMap allows TLS 1.3 only,
with the AEAD suites, and sends HSTS for one year with includeSubDomains and preload.

The seed's nginx-config: ``ssl-protocols: TLSv1.3``, ``ssl-ciphers`` the three TLS 1.3 AEAD
suites, ``hsts: true``, ``hsts-max-age: 31536000``, ``hsts-include-subdomains: true``,
``hsts-preload: true``. ingress-nginx's own defaults are TLSv1.2 TLSv1.3, HSTS without preload.
Judged: ConfigMaps in an ingress-nginx namespace or named like the controller's, and any
ConfigMap that sets ``ssl-protocols`` (it can only be an nginx configuration).
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.k8s import get_map

AEAD_SUITES = ("TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256")
CONTROLLER_NAMES = ("ingress-nginx-controller", "nginx-configuration", "nginx-config")
ONE_YEAR = 31536000


def _is_nginx_config(obj, data) -> bool:
    return ("ssl-protocols" in data or obj.name in CONTROLLER_NAMES
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
        yield (f"data.ssl-protocols is {value('ssl-protocols') or 'unset (ingress-nginx default TLSv1.2 TLSv1.3)'!s}; "
               "set it to 'TLSv1.3'")
    ciphers = value("ssl-ciphers")
    if ciphers:
        bad = [c for c in ciphers.split(":") if c and c not in AEAD_SUITES]
        if bad:
            yield f"data.ssl-ciphers allows {', '.join(bad)}; use only {':'.join(AEAD_SUITES)}"
    if value("hsts") not in (None, "true"):
        yield f"data.hsts is {value('hsts')!r}; set it to 'true'"
    age = value("hsts-max-age")
    if age is None or not str(age).isdigit() or int(age) < ONE_YEAR:
        yield f"data.hsts-max-age is {age!r}; set it to '{ONE_YEAR}' (one year) or more"
    if value("hsts-include-subdomains") not in (None, "true"):
        yield f"data.hsts-include-subdomains is {value('hsts-include-subdomains')!r}; set it to 'true'"
    if value("hsts-preload") != "true":
        yield f"data.hsts-preload is {value('hsts-preload')!r}; set it to 'true'"


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
