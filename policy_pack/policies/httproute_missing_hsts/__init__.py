"""httproute-missing-hsts: every HTTPRoute that serves a backend sends HSTS for one year with
includeSubDomains and preload.

Strict-Transport-Security makes browsers refuse plain HTTP to the host (and its subdomains) for
max-age seconds, so a network attacker cannot strip TLS; preload puts the host in the browsers'
built-in list, which requires max-age >= 31536000, includeSubDomains and preload. Gateway API has
no HSTS setting: the route adds the header with a ``ResponseHeaderModifier`` filter (set or add).
Rules without backends (a redirect to https) are not judged.
"""
from __future__ import annotations

import re

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.k8s import get_list, get_map, get_str, maps

ONE_YEAR = 31536000
HEADER = "strict-transport-security"


def hsts_problems(value: str, min_age: int) -> list[str]:
    """What is wrong with one Strict-Transport-Security value (empty: nothing)."""
    directives = [d.strip().lower() for d in value.split(";") if d.strip()]
    problems = []
    age = next((d.split("=", 1)[1].strip().strip('"') for d in directives if d.startswith("max-age=")), None)
    if age is None or not re.fullmatch(r"[0-9]+", age):
        problems.append("has no numeric max-age")
    elif int(age) < min_age:
        problems.append(f"max-age={age} is below {min_age}")
    if "includesubdomains" not in directives:
        problems.append("lacks includeSubDomains")
    if "preload" not in directives:
        problems.append("lacks preload")
    return problems


def _hsts_values(rule, path):
    for _, f, fpath in maps(rule, "filters", path):
        if get_str(f, "type", fpath) != "ResponseHeaderModifier":
            continue
        mod = get_map(f, "responseHeaderModifier", fpath)
        for key in ("set", "add"):
            for _, h, hpath in maps(mod, key, f"{fpath}.responseHeaderModifier"):
                if (get_str(h, "name", hpath) or "").lower() == HEADER:
                    yield get_str(h, "value", hpath) or "", hpath


def check(obj, config):
    min_age = config["minMaxAgeSeconds"]
    for i, rule, path in maps(obj.spec, "rules", "spec"):
        if not get_list(rule, "backendRefs", path):
            continue
        found = list(_hsts_values(rule, path))
        if not found:
            yield (f"{path} serves backends without a Strict-Transport-Security header; add a ResponseHeaderModifier "
                   f"filter that sets it to 'max-age={ONE_YEAR}; includeSubDomains; preload'")
            continue
        for value, hpath in found:
            problems = hsts_problems(value, min_age)
            if problems:
                yield (f"{hpath} Strict-Transport-Security {value!r} {', '.join(problems)}; use "
                       f"'max-age={ONE_YEAR}; includeSubDomains; preload'")


POLICY = resource_policy(
    name="httproute-missing-hsts",
    description="HTTPRoutes send HSTS with max-age of at least one year, includeSubDomains and preload.",
    kinds=[("gateway.networking.k8s.io", "HTTPRoute")],
    severity=Severity.MEDIUM,
    control=nist_800_171("3.13.8"),
    tags=["cmmc:SC.L2-3.13.8", "iec62443:SR 4.1", "nist800-207:tenet-2"],
    remediation="""
Add to every rule that has backendRefs a filter
  {type: ResponseHeaderModifier, responseHeaderModifier: {set: [{name: Strict-Transport-Security,
   value: "max-age=31536000; includeSubDomains; preload"}]}}
(TlsIngress does this for every external workload).""",
    config={"minMaxAgeSeconds": {"type": "integer", "minimum": ONE_YEAR, "default": ONE_YEAR,
                                 "description": "Smallest HSTS max-age accepted (default one year)."}},
    check=check,
)
