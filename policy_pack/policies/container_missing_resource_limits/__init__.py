"""container-missing-resource-limits: every container requests and limits CPU and memory, and
its limits stay within the configured maxima (default 4 CPUs and 8Gi, the seed's sizing).

Without limits one container can starve its node (a denial of service on its neighbours); the
maxima keep a single container from claiming a whole node.
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.k8s import (POD_KINDS, RESOURCE_CONTAINERS, PodSpec, container_findings, get_map, join,
                        parse_quantity)

_QUANTITY = r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$"
RESOURCES = ("cpu", "memory")


def check(obj, config):
    maxima = {"cpu": config["maxCpu"], "memory": config["maxMemory"]}
    limits_max = {r: parse_quantity(maxima[r], f"policy configuration max{r.title()}") for r in RESOURCES}

    def _container(c):
        res_path = join(c.path, "resources")
        resources = get_map(c.obj, "resources", c.path)
        for section in ("requests", "limits"):
            values = get_map(resources, section, res_path)
            section_path = join(res_path, section)
            for r in RESOURCES:
                value = values.get(r)
                if value is None:
                    bound = f" (at most {maxima[r]})" if section == "limits" else ""
                    yield f"{c.label} has no {r} {section[:-1]}: set {section_path}.{r}{bound}"
                    continue
                amount = parse_quantity(value, join(section_path, r))
                if section == "limits" and amount > limits_max[r]:
                    yield (f"{c.label} {r} limit {value} exceeds the maximum {maxima[r]} ({section_path}.{r}); "
                           f"lower it, or raise max{r.title()} in the policy configuration")

    yield from container_findings(PodSpec(obj), _container, RESOURCE_CONTAINERS)


POLICY = resource_policy(
    name="container-missing-resource-limits",
    description="Containers must request and limit CPU and memory, with limits within the configured maxima.",
    kinds=POD_KINDS,
    severity=Severity.MEDIUM,
    control=nist_800_171("3.4.2"),
    tags=["cmmc:CM.L2-3.4.2", "iec62443:SR 7.1", "iec62443:SR 7.2"],
    remediation="""
Set resources.requests and resources.limits for cpu and memory on every container (and init
container), with limits at most maxCpu (default 4) and maxMemory (default 8Gi).""",
    config={
        "maxCpu": {"type": ["string", "number"], "pattern": _QUANTITY, "default": "4",
                   "description": "Largest CPU limit a container may declare (a Kubernetes quantity)."},
        "maxMemory": {"type": ["string", "number"], "pattern": _QUANTITY, "default": "8Gi",
                      "description": "Largest memory limit a container may declare (a Kubernetes quantity)."},
    },
    check=check,
)
