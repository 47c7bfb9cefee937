"""The Pod Security Standards, written from their definition, independently of the policy pack.

Source of every rule: Kubernetes ``staging/src/k8s.io/pod-security-admission/policy/check_*.go``
(the checks Pod Security Admission runs; each names its level, its versions and the fields it
reads), and the standard's page (kubernetes.io/docs/concepts/security/pod-security-standards).
A check applies at a policy version when its ``MinimumVersion`` is at most that version; the
newest such variant is used. A level includes every check of the levels below it (restricted =
baseline + restricted). Containers are ``containers``, ``initContainers`` and
``ephemeralContainers`` (``visitContainers``).

PSA enforces on Pods; a workload's pod template is what its controller's Pods will carry, so
the judge checks templates (the Pods a controller creates have exactly that metadata and spec).
A namespace's level and version come from its ``pod-security.kubernetes.io/enforce`` and
``enforce-version`` labels (PSA's defaults when absent: ``privileged``, ``latest``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping, Optional

LEVELS = ("privileged", "baseline", "restricted")
ENFORCE = "pod-security.kubernetes.io/enforce"
ENFORCE_VERSION = "pod-security.kubernetes.io/enforce-version"
MODES = ("enforce", "audit", "warn")
#: The newest policy version these checks know (``latest`` resolves to it).
LATEST = (1, 35)


@dataclass(frozen=True)
class Finding:
    check: str
    detail: str


def parse_version(v: Optional[str]) -> tuple[int, int]:
    """``v1.33`` -> (1, 33); ``latest`` (or nothing) -> the newest version known."""
    if not v or v == "latest":
        return LATEST
    major, minor = v.lstrip("v").split(".")[:2]
    return int(major), int(minor)


def _containers(spec: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for c in spec.get(key) or []:
            if isinstance(c, Mapping):
                yield c


def _sc(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("securityContext") or {}


def _is_windows(spec: Mapping[str, Any]) -> bool:
    return ((spec.get("os") or {}).get("name")) == "windows"


# ---------------------------------------------------------------------------------------------
# Baseline
# ---------------------------------------------------------------------------------------------

def host_process(meta, spec, version) -> list[str]:
    """check_windowsHostProcess.go (1.0): windowsOptions.hostProcess must not be true."""
    bad = []
    if ((_sc(spec).get("windowsOptions") or {}).get("hostProcess")) is True:
        bad.append("pod")
    bad += [f"container {c.get('name')}" for c in _containers(spec)
            if (_sc(c).get("windowsOptions") or {}).get("hostProcess") is True]
    return [f"{', '.join(bad)} set securityContext.windowsOptions.hostProcess=true"] if bad else []


def host_namespaces(meta, spec, version) -> list[str]:
    """check_hostNamespaces.go (1.0): hostNetwork, hostPID and hostIPC must not be true."""
    on = [f"{k}=true" for k in ("hostNetwork", "hostPID", "hostIPC") if spec.get(k) is True]
    return [", ".join(on)] if on else []


def privileged(meta, spec, version) -> list[str]:
    """check_privileged.go (1.0): securityContext.privileged must not be true."""
    bad = [c.get("name") for c in _containers(spec) if _sc(c).get("privileged") is True]
    return [f"containers {bad} set securityContext.privileged=true"] if bad else []


BASELINE_CAPABILITIES = frozenset({"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
                                   "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"})


def capabilities_baseline(meta, spec, version) -> list[str]:
    """check_capabilities_baseline.go (1.0): capabilities.add only from the runtime's default set."""
    out = []
    for c in _containers(spec):
        extra = [x for x in ((_sc(c).get("capabilities") or {}).get("add") or []) if x not in BASELINE_CAPABILITIES]
        if extra:
            out.append(f"container {c.get('name')} adds {extra} in securityContext.capabilities.add")
    return out


def host_path_volumes(meta, spec, version) -> list[str]:
    """check_hostPathVolumes.go (1.0): no hostPath volume."""
    bad = [v.get("name") for v in spec.get("volumes") or [] if "hostPath" in v]
    return [f"hostPath volumes {bad}"] if bad else []


def host_ports(meta, spec, version) -> list[str]:
    """check_hostPorts.go (1.0): containers[*].ports[*].hostPort must be unset or 0."""
    out = []
    for c in _containers(spec):
        ports = [p.get("hostPort") for p in c.get("ports") or [] if p.get("hostPort")]
        if ports:
            out.append(f"container {c.get('name')} uses hostPort {ports}")
    return out


APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"


def app_armor(meta, spec, version) -> list[str]:
    """check_appArmorProfile.go: annotations (1.0) may only say ``runtime/default`` or
    ``localhost/*``; from 1.30 the ``appArmorProfile`` fields (pod and containers) may only be
    ``RuntimeDefault`` or ``Localhost``."""
    out = []
    for key, value in ((meta or {}).get("annotations") or {}).items():
        allowed = value == "runtime/default" or str(value).startswith("localhost/")
        if key.startswith(APPARMOR_ANNOTATION) and not allowed:
            out.append(f"annotation {key}={value}")
    if version >= (1, 30):
        for who, sc in [("pod", _sc(spec))] + [(f"container {c.get('name')}", _sc(c)) for c in _containers(spec)]:
            t = (sc.get("appArmorProfile") or {}).get("type")
            if t is not None and t not in ("RuntimeDefault", "Localhost"):
                out.append(f"{who} sets appArmorProfile.type={t}")
    return out


def se_linux(meta, spec, version) -> list[str]:
    """check_seLinuxOptions.go: type empty, container_t, container_init_t, container_kvm_t
    (container_engine_t from 1.31); user and role unset."""
    allowed = {"", "container_t", "container_init_t", "container_kvm_t"}
    if version >= (1, 31):
        allowed.add("container_engine_t")
    out = []
    for who, sc in [("pod", _sc(spec))] + [(f"container {c.get('name')}", _sc(c)) for c in _containers(spec)]:
        opts = sc.get("seLinuxOptions")
        if not isinstance(opts, Mapping):
            continue
        if (opts.get("type") or "") not in allowed:
            out.append(f"{who} sets seLinuxOptions.type={opts.get('type')}")
        for field in ("user", "role"):
            if opts.get(field):
                out.append(f"{who} sets seLinuxOptions.{field}")
    return out


def proc_mount(meta, spec, version) -> list[str]:
    """check_procMount_baseline.go: ``procMount`` unset or ``Default`` (before 1.35 the pod's
    user namespace does not relax this)."""
    if version >= (1, 35) and spec.get("hostUsers") is False:
        return []
    return [f"container {c.get('name')} sets procMount={_sc(c).get('procMount')}" for c in _containers(spec)
            if _sc(c).get("procMount") not in (None, "Default")]


def seccomp_baseline(meta, spec, version) -> list[str]:
    """check_seccompProfile_baseline.go (1.19): seccompProfile.type must not be Unconfined."""
    out = []
    for who, sc in [("pod", _sc(spec))] + [(f"container {c.get('name')}", _sc(c)) for c in _containers(spec)]:
        if (sc.get("seccompProfile") or {}).get("type") == "Unconfined":
            out.append(f"{who} sets seccompProfile.type=Unconfined")
    return out


SYSCTLS = {
    (1, 0): {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
             "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start"},
    (1, 27): {"net.ipv4.ip_local_reserved_ports"},
    (1, 29): {"net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
              "net.ipv4.tcp_keepalive_probes"},
    (1, 32): {"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"},
}


def sysctls(meta, spec, version) -> list[str]:
    """check_sysctls.go: only the safe, namespaced sysctls of that version."""
    allowed = set().union(*(names for since, names in SYSCTLS.items() if since <= version))
    bad = [s.get("name") for s in _sc(spec).get("sysctls") or [] if s.get("name") not in allowed]
    return [f"forbidden sysctls {bad}"] if bad else []


def host_probes(meta, spec, version) -> list[str]:
    """check_hostProbesAndhostLifecycle.go (1.34): probes and lifecycle handlers must not set host."""
    if version < (1, 34):
        return []
    out = []
    for c in _containers(spec):
        handlers = [c.get(p) for p in ("livenessProbe", "readinessProbe", "startupProbe")]
        handlers += [(c.get("lifecycle") or {}).get(h) for h in ("postStart", "preStop")]
        for h in handlers:
            for action in ("httpGet", "tcpSocket"):
                if isinstance(h, Mapping) and (h.get(action) or {}).get("host"):
                    out.append(f"container {c.get('name')} {action}.host={h[action]['host']}")
    return out


# ---------------------------------------------------------------------------------------------
# Restricted
# ---------------------------------------------------------------------------------------------

RESTRICTED_VOLUME_OK = ("configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                        "projected", "secret")


def restricted_volumes(meta, spec, version) -> list[str]:
    """check_restrictedVolumes.go (1.0): only configMap, csi, downwardAPI, emptyDir, ephemeral,
    persistentVolumeClaim, projected and secret volumes."""
    bad = [v.get("name") for v in spec.get("volumes") or [] if not any(k in v for k in RESTRICTED_VOLUME_OK)]
    return [f"volumes {bad} have restricted types"] if bad else []


def allow_privilege_escalation(meta, spec, version) -> list[str]:
    """check_allowPrivilegeEscalation.go (1.8; Windows pods exempt from 1.25): every container
    sets allowPrivilegeEscalation=false."""
    if version >= (1, 25) and _is_windows(spec):
        return []
    bad = [c.get("name") for c in _containers(spec) if _sc(c).get("allowPrivilegeEscalation") is not False]
    return [f"containers {bad} must set securityContext.allowPrivilegeEscalation=false"] if bad else []


def run_as_non_root(meta, spec, version) -> list[str]:
    """check_runAsNonRoot.go (1.0): runAsNonRoot true at pod level or on every container, and
    never false on either."""
    out = []
    pod = _sc(spec).get("runAsNonRoot")
    if pod is False:
        out.append("pod sets runAsNonRoot=false")
    explicit_false = [c.get("name") for c in _containers(spec) if _sc(c).get("runAsNonRoot") is False]
    implicit = [c.get("name") for c in _containers(spec) if _sc(c).get("runAsNonRoot") is None and pod is not True]
    if explicit_false:
        out.append(f"containers {explicit_false} set runAsNonRoot=false")
    if implicit:
        out.append(f"pod or containers {implicit} must set securityContext.runAsNonRoot=true")
    return out


def run_as_user(meta, spec, version) -> list[str]:
    """check_runAsUser.go (1.23): runAsUser must not be 0 (pod or container)."""
    if version < (1, 23):
        return []
    who = ["pod"] if _sc(spec).get("runAsUser") == 0 else []
    who += [f"container {c.get('name')}" for c in _containers(spec) if _sc(c).get("runAsUser") == 0]
    return [f"{', '.join(who)} set runAsUser=0"] if who else []


def seccomp_restricted(meta, spec, version) -> list[str]:
    """check_seccompProfile_restricted.go (1.19; Windows pods exempt from 1.25): the pod sets
    RuntimeDefault or Localhost, or every container does; no container sets another type."""
    if version < (1, 19) or (version >= (1, 25) and _is_windows(spec)):
        return []
    ok = ("RuntimeDefault", "Localhost")
    out = []
    pod = (_sc(spec).get("seccompProfile") or {}).get("type")
    if pod is not None and pod not in ok:
        out.append(f"pod sets seccompProfile.type={pod}")
    bad = [c.get("name") for c in _containers(spec)
           if (_sc(c).get("seccompProfile") or {}).get("type") not in (None,) + ok]
    unset = [c.get("name") for c in _containers(spec) if (_sc(c).get("seccompProfile") or {}).get("type") is None]
    if bad:
        out.append(f"containers {bad} set a seccompProfile.type other than RuntimeDefault or Localhost")
    if unset and pod not in ok:
        out.append(f"pod or containers {unset} must set securityContext.seccompProfile.type to RuntimeDefault "
                   "or Localhost")
    return out


def capabilities_restricted(meta, spec, version) -> list[str]:
    """check_capabilities_restricted.go (1.22; Windows pods exempt from 1.25): every container
    drops ALL and adds nothing but NET_BIND_SERVICE."""
    if version < (1, 22) or (version >= (1, 25) and _is_windows(spec)):
        return []
    out = []
    for c in _containers(spec):
        caps = _sc(c).get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            out.append(f"container {c.get('name')} must set securityContext.capabilities.drop=[\"ALL\"]")
        extra = [x for x in caps.get("add") or [] if x != "NET_BIND_SERVICE"]
        if extra:
            out.append(f"container {c.get('name')} must not add {extra}")
    return out


BASELINE = {"hostProcess": host_process, "hostNamespaces": host_namespaces, "privileged": privileged,
            "capabilities_baseline": capabilities_baseline, "hostPathVolumes": host_path_volumes,
            "hostPorts": host_ports, "appArmorProfile": app_armor, "seLinuxOptions": se_linux,
            "procMount": proc_mount, "seccompProfile_baseline": seccomp_baseline, "sysctls": sysctls,
            "hostProbesAndHostLifecycle": host_probes}
RESTRICTED = {"restrictedVolumes": restricted_volumes, "allowPrivilegeEscalation": allow_privilege_escalation,
              "runAsNonRoot": run_as_non_root, "runAsUser": run_as_user,
              "seccompProfile_restricted": seccomp_restricted, "capabilities_restricted": capabilities_restricted}


def check_pod(meta: Mapping[str, Any], spec: Mapping[str, Any], level: str, version: str = "latest") -> list[Finding]:
    """Every check of *level* (and the levels below it) at *version*, on a pod's metadata and spec."""
    if level not in LEVELS:
        raise ValueError(f"unknown Pod Security level {level!r} (one of {', '.join(LEVELS)})")
    v = parse_version(version)
    checks = {} if level == "privileged" else dict(BASELINE)
    if level == "restricted":
        checks.update(RESTRICTED)
    return [Finding(name, detail) for name, check in checks.items() for detail in check(meta or {}, spec or {}, v)]


# ---------------------------------------------------------------------------------------------
# Over a render
# ---------------------------------------------------------------------------------------------

TEMPLATE_KINDS = {"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "ReplicationController", "PodTemplate"}


def pod_template(obj: Mapping[str, Any]) -> Optional[Mapping[str, Any]]:
    """The pod (``{metadata, spec}``) an object's controller will create, or None."""
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    if kind == "Pod":
        return {"metadata": obj.get("metadata") or {}, "spec": spec}
    if kind == "PodTemplate":
        return obj.get("template")
    if kind in TEMPLATE_KINDS:
        return spec.get("template")
    if kind == "CronJob":
        return ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template")
    return None


def namespace_levels(objects: Iterable[Mapping[str, Any]], default_version: str,
                     mode: str = "enforce") -> dict[str, tuple[str, str]]:
    """Namespace -> (level, version) of *mode* (enforce, audit or warn) from the rendered
    Namespace labels."""
    out = {}
    for o in objects:
        if o.get("kind") == "Namespace" and o.get("apiVersion") == "v1":
            labels = (o.get("metadata") or {}).get("labels") or {}
            out[o["metadata"]["name"]] = (labels.get(f"pod-security.kubernetes.io/{mode}", "privileged"),
                                          labels.get(f"pod-security.kubernetes.io/{mode}-version", default_version))
    return out


def judge(objects: Iterable[Mapping[str, Any]], default_version: str = "latest",
          mode: str = "enforce") -> tuple[list[str], int]:
    """Failures (one line per object and check) and how many pod templates were judged, at the
    level each namespace sets for *mode* (``enforce`` refuses pods; ``warn``/``audit`` report)."""
    objects = list(objects)
    levels = namespace_levels(objects, default_version, mode)
    failures, judged = [], 0
    for o in objects:
        tpl = pod_template(o)
        if tpl is None:
            continue
        ns = (o.get("metadata") or {}).get("namespace") or "default"
        level, version = levels.get(ns, ("privileged", default_version))
        judged += 1
        for f in check_pod(tpl.get("metadata") or {}, tpl.get("spec") or {}, level, version):
            failures.append(f"{o['kind']} {ns}/{o['metadata'].get('name')} ({mode} {level} {version}): "
                            f"{f.check}: {f.detail}")
    return failures, judged
