"""Judge: Pod Security Standards (tests/judges/pss.py, written from the Kubernetes checks, not
from the pack). Every pod template meets the level its namespace enforces, at the version it
pins; and each rule refuses a pod that breaks it."""
from __future__ import annotations

import copy

import pytest

from components.base import PSS_VERSION

from .pss import BASELINE, RESTRICTED, check_pod, judge, namespace_levels


def objects(rendered) -> list[dict]:
    return list(rendered.manifests.values())


@pytest.mark.selfadmission
def test_every_pod_template_meets_its_namespaces_enforced_level(rendered_prod):
    failures, judged = judge(objects(rendered_prod), PSS_VERSION)
    assert judged >= 10, "no pod templates reached the judge"
    if failures:
        pytest.fail(f"{len(failures)} Pod Security failures (pods PSA would refuse):\n" + "\n".join(failures),
                    pytrace=False)


def test_namespaces_pin_the_stacks_pod_security_version(rendered_prod):
    levels = namespace_levels(objects(rendered_prod), "latest")
    assert levels, "no Namespace in the render"
    assert {v for _, v in levels.values()} == {PSS_VERSION}
    restricted = {ns for ns, (level, _) in levels.items() if level == "restricted"}
    assert {"lego-mcp-prod", "ltmc-production"} <= restricted


def test_the_judge_fails_a_restricted_namespace_pod_that_breaks_the_standard(rendered_prod):
    objs = copy.deepcopy(objects(rendered_prod))
    d = next(o for o in objs if o["kind"] == "Deployment" and o["metadata"].get("namespace") == "lego-mcp-prod")
    d["spec"]["template"]["spec"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = True
    failures, _ = judge(objs, PSS_VERSION)
    assert failures and all("allowPrivilegeEscalation" in f and d["metadata"]["name"] in f for f in failures)


# --- one pod per rule --------------------------------------------------------------------------

def restricted_pod() -> dict:
    return {"metadata": {"name": "p"},
            "spec": {"securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                     "initContainers": [{"name": "init", "image": "x", "securityContext": {
                         "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}],
                     "containers": [{"name": "app", "image": "x", "securityContext": {
                         "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"],
                                                                             "add": ["NET_BIND_SERVICE"]}}}],
                     "volumes": [{"name": "tmp", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "c"}},
                                 {"name": "tok", "projected": {"sources": []}}, {"name": "csi", "csi": {"driver": "d"}},
                                 {"name": "data", "persistentVolumeClaim": {"claimName": "c"}}]}}


def app(pod):
    return pod["spec"]["containers"][0]


def init(pod):
    return pod["spec"]["initContainers"][0]


def _sc(c):
    return c.setdefault("securityContext", {})


def checks(pod, level="restricted", version=PSS_VERSION) -> set[str]:
    return {f.check for f in check_pod(pod["metadata"], pod["spec"], level, version)}


def test_the_compliant_pod_passes_every_level():
    for level in ("privileged", "baseline", "restricted"):
        assert checks(restricted_pod(), level) == set()


VIOLATIONS = [
    ("hostProcess", lambda p: _sc(app(p)).setdefault("windowsOptions", {}).update(hostProcess=True)),
    ("hostNamespaces", lambda p: p["spec"].update(hostNetwork=True)),
    ("hostNamespaces", lambda p: p["spec"].update(hostPID=True)),
    ("hostNamespaces", lambda p: p["spec"].update(hostIPC=True)),
    ("privileged", lambda p: _sc(init(p)).update(privileged=True)),
    ("capabilities_baseline", lambda p: _sc(app(p))["capabilities"].update(add=["SYS_ADMIN"])),
    ("hostPathVolumes", lambda p: p["spec"]["volumes"].append({"name": "h", "hostPath": {"path": "/"}})),
    ("hostPorts", lambda p: app(p).update(ports=[{"containerPort": 80, "hostPort": 80}])),
    ("appArmorProfile", lambda p: p["metadata"].update(
        annotations={"container.apparmor.security.beta.kubernetes.io/app": "unconfined"})),
    ("appArmorProfile", lambda p: _sc(app(p)).update(appArmorProfile={"type": "Unconfined"})),
    ("seLinuxOptions", lambda p: p["spec"]["securityContext"].update(seLinuxOptions={"type": "spc_t"})),
    ("seLinuxOptions", lambda p: _sc(app(p)).update(seLinuxOptions={"user": "root"})),
    ("procMount", lambda p: _sc(app(p)).update(procMount="Unmasked")),
    ("seccompProfile_baseline", lambda p: _sc(app(p)).update(seccompProfile={"type": "Unconfined"})),
    ("sysctls", lambda p: p["spec"]["securityContext"].update(sysctls=[{"name": "kernel.msgmax", "value": "1"}])),
    ("restrictedVolumes", lambda p: p["spec"]["volumes"].append({"name": "n", "nfs": {"server": "s", "path": "/"}})),
    ("allowPrivilegeEscalation", lambda p: _sc(init(p)).pop("allowPrivilegeEscalation")),
    ("runAsNonRoot", lambda p: p["spec"]["securityContext"].pop("runAsNonRoot")),
    ("runAsNonRoot", lambda p: _sc(app(p)).update(runAsNonRoot=False)),
    ("runAsUser", lambda p: _sc(app(p)).update(runAsUser=0)),
    ("seccompProfile_restricted", lambda p: p["spec"]["securityContext"].pop("seccompProfile")),
    ("capabilities_restricted", lambda p: _sc(init(p)).pop("capabilities")),
    ("capabilities_restricted", lambda p: _sc(app(p))["capabilities"].update(add=["CHOWN"])),
]

#: Some breaks trip a second rule by definition (an Unconfined seccomp profile is also not
#: RuntimeDefault; a hostPath volume is also a restricted volume type).
ALSO = {"seccompProfile_baseline": {"seccompProfile_restricted"}, "hostPathVolumes": {"restrictedVolumes"},
        "capabilities_baseline": {"capabilities_restricted"}}


@pytest.mark.parametrize("check,breaker", VIOLATIONS, ids=[f"{c}-{i}" for i, (c, _) in enumerate(VIOLATIONS)])
def test_each_rule_refuses_a_pod_that_breaks_it(check, breaker):
    pod = restricted_pod()
    breaker(pod)
    assert checks(pod) == {check} | ALSO.get(check, set())
    level = "baseline" if check in BASELINE else "restricted"
    assert check in checks(pod, level)
    if check in RESTRICTED:
        assert checks(pod, "baseline") == set(), "a restricted-only rule fired at baseline"
    assert checks(pod, "privileged") == set()


def test_the_rule_tables_cover_the_standard():
    assert set(BASELINE) | set(RESTRICTED) <= {c for c, _ in VIOLATIONS} | {"hostProbesAndHostLifecycle"}


# --- versions ------------------------------------------------------------------------------------

def test_newer_safe_sysctls_only_from_their_version():
    pod = restricted_pod()
    pod["spec"]["securityContext"]["sysctls"] = [{"name": "net.ipv4.tcp_rmem", "value": "4096 131072 6291456"}]
    assert checks(pod, version="v1.32") == set()
    assert checks(pod, version="v1.31") == {"sysctls"}


def test_container_engine_t_is_allowed_from_1_31():
    pod = restricted_pod()
    pod["spec"]["securityContext"]["seLinuxOptions"] = {"type": "container_engine_t"}
    assert checks(pod, version="v1.31") == set()
    assert checks(pod, version="v1.30") == {"seLinuxOptions"}


def test_probe_hosts_are_refused_from_1_34_only():
    pod = restricted_pod()
    app(pod)["livenessProbe"] = {"httpGet": {"host": "10.0.0.1", "port": 80}}
    assert checks(pod, version=PSS_VERSION) == set()
    assert checks(pod, version="v1.34") == {"hostProbesAndHostLifecycle"}


def test_run_as_user_zero_is_refused_from_1_23():
    pod = restricted_pod()
    app(pod)["securityContext"]["runAsUser"] = 0
    assert checks(pod, version="v1.22") == set()
    assert checks(pod, version="v1.23") == {"runAsUser"}


def test_windows_pods_are_exempt_from_the_linux_only_rules():
    pod = restricted_pod()
    pod["spec"]["os"] = {"name": "windows"}
    del pod["spec"]["securityContext"]["seccompProfile"]
    for c in (app(pod), init(pod)):
        c["securityContext"] = {}
    assert checks(pod) == set()
