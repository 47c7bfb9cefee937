"""pod-disallow-unconfined-apparmor: no pod or container leaves or overrides the runtime's AppArmor profile.

The Pod Security Standards' ``appArmorProfile`` check (baseline, so restricted too): the
``securityContext.appArmorProfile.type`` of the pod and of every container (init and ephemeral
too) is unset, ``RuntimeDefault`` or ``Localhost`` (with its ``localhostProfile``), and every
``container.apparmor.security.beta.kubernetes.io/<container>`` annotation of the pod (a
controller's pod template) is ``runtime/default`` or ``localhost/<profile>``. ``Unconfined`` (or
``unconfined`` in the annotation) removes the mandatory access control the node applies by default.
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.k8s import POD_KINDS, PodSpec, get_map, get_str, join, wrong
from .._lib.pss import APPARMOR_ANNOTATION_PREFIX, APPARMOR_TYPES, pod_and_containers, pod_annotations


def _context(label, sc, sc_path):
    profile = get_map(sc, "appArmorProfile", sc_path)
    if not profile:
        return
    path = join(sc_path, "appArmorProfile")
    kind = get_str(profile, "type", path)
    if kind not in APPARMOR_TYPES:
        yield (f"{label} sets AppArmor profile {kind or '(no type)'} ({path}.type); remove it (the runtime's "
               "default applies) or use RuntimeDefault, or a Localhost profile")
    elif kind == "Localhost" and not get_str(profile, "localhostProfile", path):
        yield f"{label} uses a Localhost AppArmor profile without {path}.localhostProfile; name the profile"


def _annotations(pod):
    annotations, path = pod_annotations(pod)
    for key in annotations:
        if not isinstance(key, str) or not key.startswith(APPARMOR_ANNOTATION_PREFIX):
            continue
        value = annotations[key]
        where = f"{path}['{key}']"
        if not isinstance(value, str):
            raise wrong(where, value, "a string such as 'runtime/default'")
        if value and value != "runtime/default" and not (value.startswith("localhost/") and len(value) > 10):
            container = key[len(APPARMOR_ANNOTATION_PREFIX):]
            yield (f'container "{container}" runs under AppArmor profile {value!r} ({where}); use '
                   "runtime/default or localhost/<profile>, or set securityContext.appArmorProfile.type: "
                   "RuntimeDefault")


def check(obj, config):
    pod = PodSpec(obj)
    yield from _annotations(pod)
    yield from pod_and_containers(pod, _context)


POLICY = resource_policy(
    name="pod-disallow-unconfined-apparmor",
    description="Pods and containers must not run Unconfined or with an AppArmor profile other than RuntimeDefault or Localhost.",
    kinds=POD_KINDS,
    severity=Severity.HIGH,
    control=nist_800_171("3.4.6"),
    tags=["cmmc:CM.L2-3.4.6", "iec62443:SR 7.7", "nist800-207:tenet-5", "cis-k8s:5.2.1", "pss:appArmorProfile"],
    remediation="""
Remove securityContext.appArmorProfile (the node's default profile applies) or set its type to
RuntimeDefault, or to Localhost with localhostProfile naming a profile loaded on every node. Remove
container.apparmor.security.beta.kubernetes.io/<container> annotations whose value is not
runtime/default or localhost/<profile>.""",
    check=check,
)
