"""ingress-missing-tls: every host an Ingress routes is covered by its ``tls`` section, and
plain HTTP is redirected.

An Ingress without ``tls`` (or with a rule host that no ``tls.hosts`` entry covers) serves that
host in plain HTTP: credentials and session cookies cross the network in the clear. With ``tls``,
ingress-nginx redirects HTTP to HTTPS unless an annotation ending in ``/ssl-redirect``
(``nginx.ingress.kubernetes.io/ssl-redirect``, the older ``ingress.kubernetes.io/ssl-redirect``)
is ``"false"`` and no ``.../force-ssl-redirect: "true"`` puts it back: then the hosts are served
in plain HTTP as well, and that is refused. The same holds for GCE's controller, which serves
HTTP next to HTTPS unless ``kubernetes.io/ingress.allow-http`` is ``"false"``: that annotation set
to ``"true"`` is refused on any Ingress, and left unset on an Ingress of class ``gce`` or
``gce-internal`` (``spec.ingressClassName`` or the ``kubernetes.io/ingress.class`` annotation).
"""
from __future__ import annotations

import fnmatch

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.k8s import go_bool, get_str, maps, strings


ALLOW_HTTP = "kubernetes.io/ingress.allow-http"
CLASS_ANNOTATION = "kubernetes.io/ingress.class"
GCE_CLASSES = ("gce", "gce-internal")


def _plaintext_annotation(obj):
    annotations = obj.annotations()
    # ingress-nginx reads both with Go's strconv.ParseBool ("False", "0" and "f" are false too; a
    # spelling it refuses leaves the default: redirect on, force off).
    off = [k for k in sorted(annotations, key=str) if isinstance(k, str) and k.endswith("/ssl-redirect")
           and go_bool(annotations.get(k), True) is False]
    forced = any(isinstance(k, str) and k.endswith("/force-ssl-redirect")
                 and go_bool(annotations.get(k), False) is True for k in annotations)
    if off and not forced:
        return off[0]
    allow_http = str(annotations.get(ALLOW_HTTP, "")).strip().lower()
    if allow_http == "true":
        return ALLOW_HTTP
    ingress_class = get_str(obj.spec, "ingressClassName", "spec") or annotations.get(CLASS_ANNOTATION)
    if ingress_class in GCE_CLASSES and allow_http != "false":
        return f"{ALLOW_HTTP} (unset on a {ingress_class} Ingress)"
    return None


def check(obj, config):
    off = _plaintext_annotation(obj)
    if off:
        if off.startswith(ALLOW_HTTP):
            yield (f"metadata.annotations.{off}: the controller serves the hosts over plain HTTP next to HTTPS; set "
                   f"{ALLOW_HTTP}: 'false'")
        else:
            yield (f"metadata.annotations.{off} is 'false': the Ingress serves its hosts over plain HTTP next to "
                   "HTTPS; remove the annotation (the controller redirects to HTTPS by default)")
    covered: list[str] = []
    has_tls = False
    for _, tls, path in maps(obj.spec, "tls", "spec"):
        has_tls = True
        covered.extend(strings(tls, "hosts", path))
        if not get_str(tls, "secretName", path):
            yield f"{path} has no secretName; reference the certificate Secret (cert-manager Certificate)"
    if not has_tls:
        yield ("spec.tls is missing: the Ingress serves plain HTTP; add spec.tls with the hosts and a certificate "
               "Secret")
        return
    for _, rule, path in maps(obj.spec, "rules", "spec"):
        host = get_str(rule, "host", path)
        if host is None:
            yield f"{path} has no host, so no certificate covers it; name the host and list it under spec.tls"
        elif not any(host == h or fnmatch.fnmatchcase(host, h) for h in covered):
            yield f"{path}.host {host!r} is not listed in any spec.tls[].hosts; add it there"


POLICY = resource_policy(
    name="ingress-missing-tls",
    description="Ingress objects terminate TLS for every host they route.",
    kinds=[("networking.k8s.io", "Ingress")],
    severity=Severity.HIGH,
    control=nist_800_171("3.13.8"),
    tags=["cmmc:SC.L2-3.13.8", "iec62443:SR 4.1", "nist800-207:tenet-2", "cis-k8s:5.7"],
    remediation="""
Add spec.tls: [{hosts: [<every rule host>], secretName: <host>-tls}] with a cert-manager Certificate
for the Secret (TlsIngress with ingress.controller: nginx does this for every external workload).""",
    check=check,
)
