"""cronjob-enforce-bounded-runs: a CronJob never overlaps itself, never runs unbounded and keeps a
short history.

The seed's compliance CronJob set none of this: with the default ``concurrencyPolicy: Allow`` a
scan that hangs is joined by another every schedule tick until the namespace quota or the node
runs out; without ``startingDeadlineSeconds`` a controller outage replays missed runs; without
``activeDeadlineSeconds`` a stuck Job holds its token and resources forever. Judges CronJobs:
``concurrencyPolicy`` in allowedConcurrencyPolicies (default Forbid), ``startingDeadlineSeconds``
and ``jobTemplate.spec.activeDeadlineSeconds`` set, ``backoffLimit`` and both history limits within
the configured maxima (unset history limits take Kubernetes' defaults, 3 and 1, which pass).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Iterator

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.k8s import Obj, get_int, get_map, get_str


def check(obj: Obj, config: Mapping[str, Any]) -> Iterator[str]:
    spec = obj.spec
    policy = get_str(spec, "concurrencyPolicy", "spec") or "Allow"
    if policy not in config["allowedConcurrencyPolicies"]:
        yield (f"spec.concurrencyPolicy is {policy}{' (the default)' if policy == 'Allow' else ''}: runs can pile up; "
               f"set {' or '.join(config['allowedConcurrencyPolicies'])}")
    if get_int(spec, "startingDeadlineSeconds", "spec") is None:
        yield "spec.startingDeadlineSeconds is unset: missed runs are replayed after a controller outage; set it"
    for key, default in (("successfulJobsHistoryLimit", 3), ("failedJobsHistoryLimit", 1)):
        value = get_int(spec, key, "spec")
        if (value if value is not None else default) > config["maxHistory"]:
            yield f"spec.{key} is {value}: keep at most {config['maxHistory']} finished Jobs (maxHistory)"
    job = get_map(get_map(spec, "jobTemplate", "spec"), "spec", "spec.jobTemplate")
    deadline = get_int(job, "activeDeadlineSeconds", "spec.jobTemplate.spec")
    if deadline is None:
        yield "spec.jobTemplate.spec.activeDeadlineSeconds is unset: a stuck run never ends; set it"
    elif deadline > config["maxActiveDeadlineSeconds"]:
        yield (f"spec.jobTemplate.spec.activeDeadlineSeconds is {deadline}: at most "
               f"{config['maxActiveDeadlineSeconds']} (maxActiveDeadlineSeconds)")
    backoff = get_int(job, "backoffLimit", "spec.jobTemplate.spec")
    if (backoff if backoff is not None else 6) > config["maxBackoffLimit"]:
        yield (f"spec.jobTemplate.spec.backoffLimit is {backoff if backoff is not None else 'unset (6)'}: at most "
               f"{config['maxBackoffLimit']} (maxBackoffLimit)")


POLICY = resource_policy(
    name="cronjob-enforce-bounded-runs",
    description="CronJobs forbid concurrent runs, set starting and active deadlines, and keep short history.",
    kinds=[("batch", "CronJob")],
    severity=Severity.MEDIUM,
    control=nist_800_171("3.4.2"),
    tags=["cmmc:CM.L2-3.4.2", "iec62443:SR 7.1", "iec62443:SR 7.2", "seed:compliance-cronjob"],
    remediation="""
Set spec.concurrencyPolicy: Forbid, spec.startingDeadlineSeconds, spec.successfulJobsHistoryLimit and
spec.failedJobsHistoryLimit (a few each), and in spec.jobTemplate.spec an activeDeadlineSeconds shorter
than the schedule interval and a small backoffLimit (components/compliance.py sets all of them).""",
    config={
        "allowedConcurrencyPolicies": {"type": "array", "items": {"type": "string",
                                                                  "enum": ["Allow", "Forbid", "Replace"]},
                                       "minItems": 1, "default": ["Forbid"],
                                       "description": "Concurrency policies allowed (default Forbid)."},
        "maxHistory": {"type": "integer", "minimum": 0, "default": 5,
                       "description": "Most finished Jobs kept, each of successful and failed (default 5)."},
        "maxActiveDeadlineSeconds": {"type": "integer", "minimum": 1, "default": 21600,
                                     "description": "Longest run allowed (default 21600, six hours)."},
        "maxBackoffLimit": {"type": "integer", "minimum": 0, "default": 3,
                            "description": "Most retries of a failed run (default 3)."},
    },
    check=check,
)
