"""pod-enforce-seccomp-profile: every container runs under a seccomp profile.

The effective profile (the container's, else the pod's) must be ``RuntimeDefault`` or a
``Localhost`` profile; ``Unconfined`` or none leaves every system call open. An explicit pod-level
profile of another type is refused even when every container sets its own (see ``_pod_level``).
A Windows pod (``spec.os.name: windows``) is not judged: the field does not exist there (the
API server refuses it), and the Pod Security Standards exempt it.
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.pss import windows_pod
from .._lib.k8s import EMPTY, POD_KINDS, PodSpec, Unverifiable, container_findings, get_map, get_str

ALLOWED = ("RuntimeDefault", "Localhost")


def _container(c):
    profile, path = c.effective("seccompProfile", get_map)
    if profile is EMPTY or not profile:
        yield (f"{c.label} has no seccomp profile (neither {c.sc_path}.seccompProfile nor "
               f"{c.pod.sc_path}.seccompProfile is set); set seccompProfile.type: RuntimeDefault on the pod")
        return
    kind = get_str(profile, "type", path)
    if kind not in ALLOWED and path == f"{c.pod.sc_path}.seccompProfile":
        return  # inherited from the pod: reported once, for the pod
    if kind not in ALLOWED:
        yield (f"{c.label} runs with seccomp profile {kind or '(no type)'} ({path}.type); "
               "use RuntimeDefault, or a Localhost profile")
    elif kind == "Localhost" and not get_str(profile, "localhostProfile", path):
        yield f"{c.label} uses a Localhost seccomp profile without {path}.localhostProfile; name the profile file"


def _pod_level(pod):
    """An explicit pod-level profile of another type is refused even when every container
    overrides it (the Pod Security Standards' seccomp checks do the same): a container added
    later, e.g. an ephemeral debug container, inherits it."""
    profile = get_map(pod.security_context, "seccompProfile", pod.sc_path)
    if not profile:
        return
    path = f"{pod.sc_path}.seccompProfile"
    kind = get_str(profile, "type", path)
    if kind not in ALLOWED:
        yield (f"the pod sets seccomp profile {kind or '(no type)'} ({path}.type), which every container "
               "without its own profile inherits; use RuntimeDefault, or a Localhost profile")


def check(obj, config):
    pod = PodSpec(obj)
    if windows_pod(pod):
        return  # seccomp does not exist on Windows (the API server refuses the field there)
    try:
        yield from _pod_level(pod)
    except Unverifiable as e:
        yield e.message
    yield from container_findings(pod, _container)


POLICY = resource_policy(
    name="pod-enforce-seccomp-profile",
    description="Containers must run with the RuntimeDefault or a Localhost seccomp profile.",
    kinds=POD_KINDS,
    severity=Severity.MEDIUM,
    control=nist_800_171("3.4.6"),
    tags=["cmmc:CM.L2-3.4.6", "iec62443:SR 7.7", "nist800-207:tenet-5", "cis-k8s:5.7.2"],
    remediation="""
Set securityContext.seccompProfile.type: RuntimeDefault on the pod (containers inherit it), or a
Localhost profile with localhostProfile for a tighter, tested profile. Never Unconfined.""",
    check=check,
)
