"""chart-missing-rendered-resources: every Helm chart the stack deploys registers the objects it
renders, so the pack judges them.

Under the real engine a ``kubernetes:helm.sh/v4:Chart`` is a remote component: the Kubernetes
provider renders it in ``Construct`` and registers each object as a child resource, which is what
every other policy judges. When an input is unknown at preview (a chart value built from another
resource's output, such as a KMS key ARN), the provider only warns "Input properties have unknown
values. Preview is incomplete." and registers no child at all (pulumi-kubernetes
``provider/pkg/provider/helm/v4/chart.go``, ``Construct``), so a preview would pass a chart the pack
never saw. ``AnalyzeStack`` receives the Chart's outputs: its ``resources`` list (the children's
IDs, unknown at preview but present). An absent, unknown or empty list fails closed.
"""
from __future__ import annotations

from typing import Any

from pulumi_policy import Severity
from pulumi_policy.proxy import UnknownValueError

from .._lib.framework import nist_800_171, stack_policy
from .._lib.k8s import Obj


def _resources(obj: Obj) -> Any:
    try:
        return obj.props.get("resources")
    except UnknownValueError:
        return UnknownValueError


def check(objects, config):
    for obj in objects:
        if obj.kind != "Chart":
            continue
        resources = _resources(obj)
        if resources is UnknownValueError or resources is None:
            state = "unknown" if resources is UnknownValueError else "absent"
            yield obj, (f"cannot verify Helm chart {obj.name!r} at preview: it registered no objects (its resources "
                        f"output is {state}), because the provider renders nothing when a chart input is unknown, so "
                        "no policy judged what it deploys; make every chart value known at preview (no Output of "
                        "another resource in values)")
        elif not isinstance(resources, (str, bytes)) and hasattr(resources, "__len__") and len(resources) == 0:
            yield obj, (f"Helm chart {obj.name!r} rendered no objects: nothing under it was judged; check its values "
                        "and version, or remove it")


POLICY = stack_policy(
    name="chart-missing-rendered-resources",
    description="Every Helm chart registers the objects it renders, so the pack judges what it deploys.",
    kinds=[("helm.sh", "Chart")],
    severity=Severity.HIGH,
    control=nist_800_171("3.4.1"),
    tags=["cmmc:CM.L2-3.4.1", "nist800-171:3.4.2", "iec62443:SR 7.6", "nist800-207:tenet-5"],
    remediation="""
Make every value of the chart known at preview: no Output of another resource inside the values
(derive an ARN from names and the account id, which an invoke gives at preview, or use a name such as
a KMS alias). Then `pulumi preview` renders the chart and the pack judges each of its objects.""",
    check=check,
)
