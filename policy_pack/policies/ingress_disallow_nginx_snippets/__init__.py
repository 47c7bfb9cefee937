"""ingress-disallow-nginx-snippets: no Ingress carries an ingress-nginx snippet annotation.

ingress-nginx copies a snippet annotation's text into nginx.conf unvalidated: its own annotation
table rates ``configuration-snippet``, ``server-snippet``, ``stream-snippet``, ``auth-snippet`` and
``modsecurity-snippet`` ``AnnotationRiskCritical`` with ``parser.ValidateNull`` ("this annotation is
not validated at all and allows arbitrary configurations": internal/ingress/annotations/snippet,
serversnippet, streamsnippet, authreq and modsecurity, ``main.go``). Whoever may write an Ingress
then writes the controller's configuration: read its service account token and every Secret it can
reach (CVE-2021-25742, CVE-2025-1974's family), or switch TLS and authentication off for other
hosts. Judged: every annotation whose name ends in ``/<snippet>``, under any prefix (the controller's
``--annotations-prefix`` is configurable), with a non-empty value. The controller ConfigMap's
``allow-snippet-annotations`` is the cluster-wide switch; this policy refuses the annotation itself,
so it holds whatever that switch says.
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import finding, nist_800_171, resource_policy

#: ingress-nginx's snippet annotations (risk Critical, no validation).
SNIPPETS = ("configuration-snippet", "server-snippet", "stream-snippet", "auth-snippet", "modsecurity-snippet")


def check(obj, config):
    annotations = obj.annotations()
    for key in sorted(annotations, key=str):
        if not isinstance(key, str) or "/" not in key:
            continue
        name = key.rsplit("/", 1)[1]
        if name not in SNIPPETS:
            continue  # read no other annotation's value (one unknown at preview is none of ours)
        value = annotations.get(key)
        if value is not None and not (isinstance(value, str) and not value.strip()):
            yield finding(name, f"metadata.annotations.{key} puts unvalidated text into the ingress controller's "
                                "nginx.conf (ingress-nginx rates it Critical): whoever writes this Ingress configures "
                                "the controller for every host; remove it and use the validated annotations or a "
                                "Gateway API filter instead")


POLICY = resource_policy(
    name="ingress-disallow-nginx-snippets",
    description="Ingresses carry no ingress-nginx snippet annotation (unvalidated nginx configuration).",
    kinds=[("networking.k8s.io", "Ingress"), ("extensions", "Ingress")],
    severity=Severity.HIGH,
    control=nist_800_171("3.4.6"),
    tags=["cmmc:CM.L2-3.4.6", "iec62443:SR 7.6", "nist800-207:tenet-5"],
    remediation="""
Remove the *-snippet annotation (configuration-snippet, server-snippet, stream-snippet,
auth-snippet, modsecurity-snippet). Use the controller's validated annotations (or an HTTPRoute
filter on the Gateway API); keep allow-snippet-annotations: "false" in the controller ConfigMap.""",
    check=check,
)
