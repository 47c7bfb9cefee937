"""container-missing-probes: every container of a golden-path workload declares the required
probes (default liveness and readiness), the twin of Gatekeeper's containers-enforce-probes.

Probes are about availability: without liveness a hung process is never restarted; without
readiness a rollout sends traffic to pods that cannot serve it (and ``maxUnavailable: 0`` proves
nothing). The rule is mandatory, but only where it belongs, as the Gatekeeper constraint is
scoped to the tenant namespaces:

- **always judged**: a workload whose pod template carries the golden-path labels
  ``app.kubernetes.io/part-of: hardened-stack`` and ``app.kubernetes.io/component: workload``
  (what HardenedWorkload stamps on every tenant Deployment);
- **also judged**: every workload in a namespace matching the ``namespaces`` setting (globs;
  default none). Set it to the stack's tenant namespaces to mirror the Gatekeeper constraint's
  ``match.namespaces``, or to ``["*"]`` (with ``advisory``) to survey everything;
- **not judged otherwise**: upstream charts (Istio's gateway and Vault ship readiness-only
  Deployments) and the stack's own system objects (a CronJob has nothing to probe).

Jobs and CronJobs are not asked for a readiness probe (their pods serve no traffic); the other
configured probes, liveness by default, still apply to them, as in the Gatekeeper template.

Only ``containers`` are judged: init containers run to completion and cannot have liveness or
readiness probes; ephemeral containers cannot declare probes. Bare Pods are not judged (neither
does the Gatekeeper constraint: the mesh injects its proxy into the Pod after the workload was
declared, and that proxy's probes are the mesh's business).
"""
from __future__ import annotations

import fnmatch

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.k8s import PodSpec, container_findings, get_map, join

PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")
#: The labels HardenedWorkload puts on every golden-path pod template (components/workload.py).
GOLDEN_PATH_LABELS = {"app.kubernetes.io/part-of": "hardened-stack", "app.kubernetes.io/component": "workload"}
#: The kinds the Gatekeeper constraint matches (components/admission.py TEMPLATE_KINDS): the
#: declared pod templates, not Pods.
KINDS = [("apps", "Deployment"), ("apps", "StatefulSet"), ("apps", "DaemonSet"), ("apps", "ReplicaSet"),
         ("batch", "Job"), ("batch", "CronJob")]
#: Batch kinds: their pods serve no traffic, so no readiness probe is required of them.
BATCH_KINDS = ("Job", "CronJob")


def _template_labels(obj, pod: PodSpec):
    """The labels of the pod template that holds *pod* (``spec.template.metadata.labels``)."""
    template_path = pod.path.rsplit(".", 1)[0]
    node = obj.props
    for key in template_path.split("."):
        node = node[key]  # PodSpec already walked this path: every step is an object
    metadata = get_map(node, "metadata", template_path)
    return get_map(metadata, "labels", join(template_path, "metadata"))


def _golden_path(labels) -> bool:
    return all(labels.get(k) == v for k, v in GOLDEN_PATH_LABELS.items())


def check(obj, config):
    pod = PodSpec(obj)
    namespace = obj.namespace or "default"
    in_scope = any(fnmatch.fnmatchcase(namespace, glob) for glob in config["namespaces"])
    if not in_scope and not _golden_path(_template_labels(obj, pod)):
        return
    required = [p for p in dict.fromkeys(config["probes"])
                if not (p == "readinessProbe" and obj.kind in BATCH_KINDS)]

    def _container(c):
        for probe in required:
            path = join(c.path, probe)
            value = get_map(c.obj, probe, c.path)
            if c.obj.get(probe) is None:
                yield (f"{c.label} has no {probe} ({path}); declare one (httpGet, tcpSocket, grpc or exec) "
                       f"so the kubelet {_why(probe)}")
            elif not any(value.get(h) is not None for h in HANDLERS):
                yield (f"{c.label} {probe} has no handler ({path} sets none of {', '.join(HANDLERS)}); "
                       "the API server would refuse it: give it one")

    yield from container_findings(pod, _container, ("containers",))


def _why(probe: str) -> str:
    return {"livenessProbe": "restarts the container when it hangs",
            "readinessProbe": "sends traffic only to pods that can serve it",
            "startupProbe": "waits for a slow start before liveness applies"}[probe]


POLICY = resource_policy(
    name="container-missing-probes",
    description="Golden-path workload containers must declare liveness and readiness probes.",
    kinds=KINDS,
    severity=Severity.LOW,
    control=nist_800_171("3.14.6"),
    tags=["cmmc:SI.L2-3.14.6", "iec62443:SR 6.2", "iec62443:SR 7.1"],
    remediation="""
Declare livenessProbe and readinessProbe (httpGet, tcpSocket, grpc or exec) on every container of
the pod template (HardenedWorkload does this from the workload's liveness and readiness paths).
The policy judges golden-path workloads (pod template labelled app.kubernetes.io/part-of:
hardened-stack and app.kubernetes.io/component: workload) and every workload in the namespaces the
`namespaces` setting lists; the probes required are the `probes` setting.""",
    config={
        "probes": {
            "type": "array", "minItems": 1, "uniqueItems": True,
            "items": {"type": "string", "enum": list(PROBES)},
            "default": ["livenessProbe", "readinessProbe"],
            "description": "Probes every judged container must declare (as admission.requiredProbes).",
        },
        "namespaces": {
            "type": "array", "uniqueItems": True, "items": {"type": "string", "minLength": 1},
            "default": [],
            "description": "Namespaces (globs) where every workload is judged, not only golden-path ones "
                           "(the tenant namespaces, as the Gatekeeper constraint's match.namespaces).",
        },
    },
    check=check,
)
