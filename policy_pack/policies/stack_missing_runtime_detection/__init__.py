"""stack-missing-runtime-detection: the stack runs Falco on the modern eBPF driver, with its
alerts forwarded off the node.

The seed's incident-response section relies on Falco rules (a shell in a platform container,
crypto mining). Judged on what the engine really sends: a ``helm.v4.Chart`` reaches the pack with
no properties and its objects as ordinary resources (hardened/engine.py), so the verdict comes from
the Falco ``DaemonSet`` (a container running the ``falcosecurity/falco`` image) and the
``falco.yaml`` it mounts from a ConfigMap: ``engine.kind: modern_ebpf`` (the CO-RE probe built into
Falco: no kernel module compiled or downloaded per kernel by a privileged loader, as ``kmod`` and
the classic ``ebpf`` probe need; an ``-o engine.kind=...`` argument overrides the file) and
``http_output`` enabled towards falcosidekick or another collector, so alerts do not stay in the
pod's log on the node an attacker controls. A ``helm.sh/v3:Release`` carries its values and is
judged on them.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Iterator, Optional

import yaml
from pulumi_policy import Severity

from .._lib.framework import finding, nist_800_171, stack_policy
from .._lib.k8s import Obj, chart_name, get_bool, get_map, get_str, maps, parse_image, pod_spec, strings

KINDS = (("apps", "DaemonSet"), ("core", "ConfigMap"), ("helm.sh", "Release"))
_FALCO_IMAGE = re.compile(r"(^|/)falco(-no-driver|-distroless)?$")


def _falco_containers(o: Obj):
    pod = pod_spec(o)
    if pod is None:
        return []
    return [c for c in pod.containers(("containers",))
            if _FALCO_IMAGE.search(parse_image(get_str(c.obj, "image", c.path) or "").repository)]


def _mounted_config(o: Obj, config_maps: Mapping[tuple, Obj]) -> Optional[tuple[Mapping[str, Any], str]]:
    """The falco.yaml the DaemonSet mounts from a ConfigMap of its namespace, parsed."""
    pod = pod_spec(o)
    for _, volume, path in maps(pod.spec, "volumes", pod.field("volumes")):
        ref = get_map(volume, "configMap", path)
        cm = config_maps.get((o.namespace, get_str(ref, "name", f"{path}.configMap")))
        if cm is None:
            continue
        text = get_map(cm.props, "data", "data").get("falco.yaml")
        if isinstance(text, str):
            try:
                doc = yaml.safe_load(text)
            except yaml.YAMLError:
                doc = None
            return (doc if isinstance(doc, Mapping) else {}), f"ConfigMap {cm.name} data.falco.yaml"
    return None


def _override(args: list[str], key: str) -> Optional[str]:
    for i, arg in enumerate(args):
        value = arg[2:].strip() if arg.startswith("-o") and len(arg) > 2 else (
            args[i + 1] if arg == "-o" and i + 1 < len(args) else None)
        if value and value.startswith(f"{key}="):
            return value.split("=", 1)[1]
    return None


def _daemonset(o: Obj, containers, config_maps) -> Iterator[str]:
    found = _mounted_config(o, config_maps)
    args = [a for c in containers for a in strings(c.obj, "args", c.path)]
    kind = _override(args, "engine.kind")
    where = "an -o engine.kind argument"
    if kind is None and found is not None:
        doc, where = found
        engine = doc.get("engine") if isinstance(doc.get("engine"), Mapping) else {}
        kind = engine.get("kind") if isinstance(engine.get("kind"), str) else None
        where = f"{where} engine.kind"
    if found is None and kind is None:
        yield finding("config-not-found", f"Falco DaemonSet {o.name!r} mounts no falco.yaml from a ConfigMap of its namespace that this "
               "input contains, so its driver and outputs cannot be verified; deploy the configuration with it")
        return
    if kind != "modern_ebpf":
        yield finding("driver", f"Falco DaemonSet {o.name!r} runs driver {kind or 'unset (the image default)'} ({where}): use "
               "engine.kind: modern_ebpf (kmod and the classic ebpf probe are built per kernel by a privileged "
               "loader)")
    doc = found[0] if found is not None else {}
    http = doc.get("http_output") if isinstance(doc.get("http_output"), Mapping) else {}
    enabled = _override(args, "http_output.enabled")
    on = (enabled == "true") if enabled is not None else http.get("enabled") is True
    if not (on and isinstance(http.get("url"), str) and http.get("url")):
        yield finding("http-output", f"Falco DaemonSet {o.name!r} forwards no alert off the node (http_output is not enabled with a url): "
               "alerts stay in the pod's log on the node an attacker controls; enable falcosidekick "
               "(runtimeDetection) or point http_output at a collector")


def _release(o: Obj) -> Iterator[str]:
    values = get_map(o.props, "values", "")
    driver = get_map(values, "driver", "values")
    kind = get_str(driver, "kind", "values.driver")
    if get_bool(driver, "enabled", "values.driver") is False:
        yield finding("driver-disabled", f"Falco release {o.name!r} sets values.driver.enabled: false: Falco sees no system call; "
               "remove it and set driver.kind: modern_ebpf")
    elif kind != "modern_ebpf":
        yield finding("driver", f"Falco release {o.name!r} has values.driver.kind {kind or 'unset (the chart default)'}: use "
               "modern_ebpf (kmod and the classic ebpf probe are built per kernel by a privileged loader)")
    sidekick = get_map(values, "falcosidekick", "values")
    if get_bool(sidekick, "enabled", "values.falcosidekick") is not True:
        yield finding("sidekick-disabled", f"Falco release {o.name!r} does not enable falcosidekick: alerts stay in the pod's log on the "
               "node an attacker controls; set falcosidekick.enabled: true with a SIEM output")


def check(objects, config):
    config_maps = {(o.namespace, o.name): o for o in objects if o.kind == "ConfigMap"}
    present = False
    for o in objects:
        if o.kind == "DaemonSet":
            containers = _falco_containers(o)
            if containers:
                present = True
                for message in _daemonset(o, containers, config_maps):
                    yield o, message
        elif o.kind == "Release" and chart_name(o) == "falco":
            present = True
            for message in _release(o):
                yield o, message
    if not present:
        missing = Obj("kubernetes:apps/v1:DaemonSet", {"metadata": {"name": "falco"}}, "falco")
        yield missing, finding("falco-missing", "the stack deploys no Falco DaemonSet: nothing watches system calls for a shell in a container "
                        "or a crypto miner; enable the runtimeDetection section (RuntimeDetection)")


POLICY = stack_policy(
    name="stack-missing-runtime-detection",
    description="The stack runs Falco with the modern eBPF driver and forwards its alerts off the node.",
    kinds=KINDS,
    severity=Severity.HIGH,
    control=nist_800_171("3.14.6"),
    tags=["cmmc:SI.L2-3.14.6", "cmmc:SI.L2-3.14.7", "iec62443:SR 6.2", "nist800-171:3.14.7",
          "nist800-207:tenet-7", "seed:falco-rules"],
    remediation="""
Enable the runtimeDetection section (components/runtime_detection.py): it deploys the falcosecurity/falco
chart with engine.kind: modern_ebpf, the stack's rules and falcosidekick forwarding to the SIEM. For Falco
deployed by hand set engine.kind: modern_ebpf in falco.yaml and enable http_output towards falcosidekick.""",
    check=check,
    presence=True,
)
