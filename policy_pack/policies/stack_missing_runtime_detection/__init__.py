"""stack-missing-runtime-detection: the stack runs Falco on the modern eBPF driver, with
falcosidekick forwarding its alerts off the node.

The seed's incident-response section relies on Falco rules (a shell in a platform container,
crypto mining). A stack policy over the Helm charts (``kubernetes:helm.sh/v4:Chart`` and
``v3:Release``): at least one ``falco`` chart, each with ``driver.kind: modern_ebpf`` (the CO-RE
probe built into Falco: no kernel module compiled or downloaded per kernel by a privileged
loader, as ``kmod``/``module`` and the classic ``ebpf`` probe need), the driver not disabled, and
``falcosidekick.enabled`` so alerts reach the SIEM instead of staying in the pod's log.
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, stack_policy
from .._lib.k8s import HELM_CHART_KINDS, Obj, chart_name, get_bool, get_map, get_str

def check(objects, config):
    falcos = [o for o in objects if chart_name(o) == "falco"]
    if not falcos:
        missing = Obj("kubernetes:helm.sh/v4:Chart", {"metadata": {"name": "falco"}}, "falco")
        yield missing, ("the stack deploys no Falco chart: nothing watches system calls for a shell in a container or "
                        "a crypto miner; enable the runtimeDetection section (RuntimeDetection)")
        return
    for o in falcos:
        values = get_map(o.props, "values", "")
        driver = get_map(values, "driver", "values")
        kind = get_str(driver, "kind", "values.driver")
        if get_bool(driver, "enabled", "values.driver") is False:
            yield o, (f"Falco chart {o.name!r} sets values.driver.enabled: false: Falco sees no system call; "
                      "remove it and set driver.kind: modern_ebpf")
        elif kind != "modern_ebpf":
            yield o, (f"Falco chart {o.name!r} has values.driver.kind {kind or 'unset (the chart default)'}: use "
                      "modern_ebpf (kmod and the classic ebpf probe are built per kernel by a privileged loader)")
        sidekick = get_map(values, "falcosidekick", "values")
        if get_bool(sidekick, "enabled", "values.falcosidekick") is not True:
            yield o, (f"Falco chart {o.name!r} does not enable falcosidekick: alerts stay in the pod's log on the "
                      "node an attacker controls; set falcosidekick.enabled: true with a SIEM output")


POLICY = stack_policy(
    name="stack-missing-runtime-detection",
    description="The stack deploys Falco with the modern eBPF driver and falcosidekick forwarding its alerts.",
    kinds=HELM_CHART_KINDS,
    severity=Severity.HIGH,
    control=nist_800_171("3.14.6"),
    tags=["cmmc:SI.L2-3.14.6", "cmmc:SI.L2-3.14.7", "iec62443:SR 6.2", "nist800-171:3.14.7",
          "nist800-207:tenet-7", "seed:falco-rules"],
    remediation="""
Enable the runtimeDetection section (components/runtime_detection.py): it deploys the falcosecurity/falco
chart with driver.kind: modern_ebpf, the stack's rules and falcosidekick forwarding to the SIEM. For a
chart deployed by hand set driver.kind: modern_ebpf and falcosidekick.enabled: true with an output.""",
    check=check,
    presence=True,
)
