"""container-enforce-drop-all-capabilities: every container drops ALL Linux capabilities and
adds back none but the configured few (default: NET_BIND_SERVICE).
A Windows pod (``spec.os.name: windows``) is not judged: the field does not exist there (the
API server refuses it), and the Pod Security Standards exempt it."""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.pss import windows_pod
from .._lib.k8s import POD_KINDS, PodSpec, container_findings, get_map, join, strings

DEFAULT_ALLOWED = ["NET_BIND_SERVICE"]


def _norm(cap: str) -> str:
    cap = cap.strip().upper()
    return cap[4:] if cap.startswith("CAP_") else cap


def check(obj, config):
    allowed = {_norm(c) for c in config["allowedCapabilities"]}

    def _container(c):
        caps_path = join(c.sc_path, "capabilities")
        caps = get_map(c.security_context, "capabilities", c.sc_path)
        drop = strings(caps, "drop", caps_path)
        if "ALL" not in drop:
            hint = " (capability names are case-sensitive: write ALL)" if any(d.upper() == "ALL" for d in drop) else ""
            yield (f"{c.label} keeps the runtime's default capabilities ({caps_path}.drop does not contain ALL)"
                   f"{hint}; set capabilities.drop: [ALL]")
        added = [a for a in strings(caps, "add", caps_path) if _norm(a) not in allowed]
        if added:
            yield (f"{c.label} adds {', '.join(added)} ({caps_path}.add); only "
                   f"{', '.join(sorted(allowed)) or 'no capability'} may be added back")

    pod = PodSpec(obj)
    if windows_pod(pod):
        return  # Linux capabilities do not exist on Windows (the API server refuses the field there)
    yield from container_findings(pod, _container)


POLICY = resource_policy(
    name="container-enforce-drop-all-capabilities",
    description="Containers must drop ALL capabilities and add back only allowed ones (default NET_BIND_SERVICE).",
    kinds=POD_KINDS,
    severity=Severity.HIGH,
    control=nist_800_171("3.1.5"),
    tags=["cmmc:AC.L2-3.1.5", "iec62443:SR 2.1", "iec62443:SR 7.7",
          "cis-k8s:5.2.8", "cis-k8s:5.2.9", "cis-k8s:5.2.10"],
    remediation="""
Set securityContext.capabilities.drop: [ALL] on every container and remove capabilities.add,
except NET_BIND_SERVICE for a process that must bind a port below 1024 (better: listen on a high
port). The allowed list is the policy's `allowedCapabilities` setting.""",
    config={
        "allowedCapabilities": {
            "type": "array", "items": {"type": "string", "pattern": r"^[A-Za-z_]+$"}, "uniqueItems": True,
            "default": DEFAULT_ALLOWED,
            "description": "Capabilities a container may add back after dropping ALL.",
        },
    },
    check=check,
)
