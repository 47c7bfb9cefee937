"""chart-missing-rendered-resources: every Helm chart the stack deploys registers the objects it
renders, so the pack judges them.

Under the real engine a ``kubernetes:helm.sh/v4:Chart`` (and a ``yaml/v2:ConfigFile``) is a remote
component: the Kubernetes provider renders it in ``Construct`` and registers each object as a child
resource whose parent is the Chart, which is what every other policy judges. The Chart itself
reaches the pack with no properties in ``Analyze`` and in ``AnalyzeStack`` alike: the provider
registers it with none, and nothing records outputs for it (pulumi-kubernetes
``provider/pkg/provider/helm/v4/chart.go``, ``ChartProvider.Construct``; pulumi
``pkg/resource/deploy/step_generator.go``, ``AnalyzeResources`` sends each resource's outputs).
So a Chart is judged by its children, the resources ``AnalyzeStack`` sends with the Chart's URN as
their parent (pulumi-policy ``policy.py``, ``_PolicyAnalyzerServicer.AnalyzeStack`` links them).

A Chart with no child fails closed. Either an input was unknown at preview (a chart value built
from another resource's output, such as a KMS key ARN): the provider then only warns "Input
properties have unknown values. Preview is incomplete." and registers no child at all, so a preview
would pass a chart the pack never saw; or the chart renders nothing with its values.
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import finding, nist_800_171, stack_policy

#: The remote components whose children are the objects they deploy.
KINDS = [("helm.sh", "Chart"), ("yaml", "ConfigFile")]


def check(objects, config):
    for obj in objects:
        if obj.children:
            continue
        what = "Helm chart" if obj.kind == "Chart" else "manifest file"
        yield obj, finding("no-rendered-objects", f"{what} {obj.resource_name!r} registered no objects, so no policy judged what it deploys: "
                    "either a value of it is unknown at preview (the Kubernetes provider then renders nothing and "
                    "only warns 'Preview is incomplete') or it renders no object with these values; make every "
                    "chart value known at preview (no Output of another resource in values), and check its values "
                    "and version")


POLICY = stack_policy(
    name="chart-missing-rendered-resources",
    description="Every Helm chart registers the objects it renders, so the pack judges what it deploys.",
    kinds=KINDS,
    severity=Severity.HIGH,
    control=nist_800_171("3.4.1"),
    tags=["cmmc:CM.L2-3.4.1", "nist800-171:3.4.2", "iec62443:SR 7.6", "nist800-207:tenet-5"],
    remediation="""
Make every value of the chart known at preview: no Output of another resource inside the values
(derive an ARN from names and the account id, which an invoke gives at preview, or use a name such as
a KMS alias). Then `pulumi preview` renders the chart and the pack judges each of its objects. A chart
that renders nothing with its values deploys nothing: fix its values or remove it.""",
    check=check,
    children=True,
)
