"""Issue 23.1, attacked: admission exemptions are as narrow as the pack's (one object and its
images), never a whole namespace.

The probe: a pod from a tenant image that runs privileged, shares the node's PID namespace and
mounts the node's ``/``. It is played through the stack's own admission as the prod render
configures it (tests/judges/admission.py: the Gatekeeper webhook, Config, constraints and their
Rego, with Gatekeeper's match semantics) and, where Gatekeeper never looks (its own namespace,
kube-system), through Pod Security Admission at the namespace's enforced level
(tests/judges/pss.py, written from Kubernetes' check_*.go). It must be refused in every namespace
the stack deploys, in particular in falco, spire-system and istio-system, whose Pod Security level
is ``privileged`` because of one named DaemonSet each.
"""
from __future__ import annotations

import copy

import pytest

from tests.judges import pss
from tests.judges.admission import Cluster, controller_children, meta

TENANT_IMAGE = "ghcr.io/lego-mcp/dashboard@sha256:" + "a" * 64
SYSTEM_NAMESPACES = ("falco", "spire-system", "istio-system")
#: The constraints a privileged + hostPID + hostPath probe must meet in every namespace Gatekeeper judges.
PROBE_RULES = {"K8sHardenedPrivilegedContainer/pods-disallow-privileged",
               "K8sHardenedHostNamespaces/pods-disallow-host-namespaces",
               "K8sHardenedNoHostPath/pods-disallow-host-path"}


def objects(rendered) -> list[dict]:
    return list(rendered.manifests.values())


@pytest.fixture(scope="module")
def cluster(rendered_prod) -> Cluster:
    return Cluster(objects(rendered_prod))


def probe(namespace: str, image: str = TENANT_IMAGE, name: str = "probe", kind: str = "Pod") -> dict:
    spec = {"hostPID": True,
            "containers": [{"name": "c", "image": image,
                            "securityContext": {"privileged": True, "runAsNonRoot": True, "runAsUser": 10001,
                                                "readOnlyRootFilesystem": True},
                            "resources": {"limits": {"cpu": "100m", "memory": "64Mi"}},
                            "volumeMounts": [{"name": "host", "mountPath": "/host"}]}],
            "volumes": [{"name": "host", "hostPath": {"path": "/"}}]}
    if kind == "Pod":
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace}, "spec": spec}
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name, "namespace": namespace},
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": spec}}}


def pss_refuses(rendered, pod: dict) -> list[str]:
    levels = pss.namespace_levels(objects(rendered), "latest")
    level, version = levels.get(meta(pod)["namespace"], ("privileged", "latest"))
    return [f.check for f in pss.check_pod(pod["metadata"], pod["spec"], level, version)]


def namespaces(rendered) -> list[str]:
    return sorted(o["metadata"]["name"] for o in objects(rendered) if o["kind"] == "Namespace")


@pytest.mark.parametrize("namespace", SYSTEM_NAMESPACES)
def test_the_probe_is_denied_by_gatekeeper_in_the_privileged_namespaces(cluster, namespace):
    v = cluster.admit(probe(namespace))
    assert {d.by for d in v.denials} == PROBE_RULES, v.summary()


def test_the_probe_is_denied_in_every_namespace_the_stack_deploys(rendered_prod, cluster):
    """Gatekeeper, or Pod Security where Gatekeeper's webhook never looks (its own namespace)."""
    admitted = []
    for ns in namespaces(rendered_prod):
        pod = probe(ns)
        gatekeeper = {d.by for d in cluster.admit(pod).denials}
        if not gatekeeper and not pss_refuses(rendered_prod, pod):
            admitted.append(ns)
        elif gatekeeper:
            assert gatekeeper == PROBE_RULES, (ns, gatekeeper)
    assert admitted == []
    assert {"falco", "spire-system", "istio-system", "lego-mcp-prod", "ltmc-production"} <= set(namespaces(rendered_prod))


@pytest.mark.parametrize("kind", ["DaemonSet", "Deployment"])
@pytest.mark.parametrize("namespace", SYSTEM_NAMESPACES)
def test_a_workload_and_every_pod_it_would_create_are_denied(cluster, namespace, kind):
    v = cluster.admit(probe(namespace, kind=kind))
    refused = {d.object.split()[0] for d in v.denials}
    assert refused == ({"DaemonSet", "Pod"} if kind == "DaemonSet" else {"Deployment", "ReplicaSet", "Pod"})


EXEMPT = [("falco", "DaemonSet", "falco", "docker.io/falcosecurity/falco:0.44.1"),
          ("spire-system", "DaemonSet", "spire-agent", "ghcr.io/spiffe/spire-agent:1.15.2"),
          ("istio-system", "DaemonSet", "istio-cni-node", "registry.istio.io/release/install-cni:1.30.3")]


@pytest.mark.parametrize("namespace,kind,name,image", EXEMPT, ids=[e[2] for e in EXEMPT])
def test_the_exempted_image_under_another_name_is_denied(cluster, namespace, kind, name, image):
    """The system image alone buys nothing: another object running it is judged in full."""
    assert cluster.admit(probe(namespace, image=image, name="intruder")).denials


@pytest.mark.parametrize("namespace,kind,name,image", EXEMPT, ids=[e[2] for e in EXEMPT])
def test_the_exempted_name_with_a_tenant_image_is_denied(cluster, namespace, kind, name, image):
    """Recreating the exempted DaemonSet with another image: every pod it would create is refused."""
    v = cluster.admit(probe(namespace, name=name, kind=kind))
    assert {d.object.split()[0] for d in v.denials} >= {"Pod"}, v.summary()


@pytest.mark.parametrize("namespace,kind,name,image", EXEMPT, ids=[e[2] for e in EXEMPT])
def test_a_pod_claiming_the_exempted_owner_is_denied_unless_its_controller_creates_it(
        rendered_prod, cluster, namespace, kind, name, image):
    """An owner reference is anyone's to write: a pod that claims the DaemonSet as its controller,
    with its very image, is refused when a user creates it, and admitted only as the DaemonSet
    controller's request (what the real DaemonSet does, and what the render's pods prove)."""
    real = next(o for o in objects(rendered_prod) if o["kind"] == kind and meta(o).get("name") == name
                and meta(o).get("namespace") == namespace)
    (pod,) = controller_children(real)
    assert cluster.review(pod, created_by=f"{kind} {namespace}/{name}").denials == []
    forged = copy.deepcopy(pod)
    assert cluster.review(forged).denials  # the same pod, created by a user


def test_pod_security_stays_at_the_strictest_level_the_exempted_objects_allow(rendered_prod):
    """Each namespace enforces the strictest Pod Security level that admits every pod the stack
    runs there (judged by the independent PSS checker, not by the exemption file's own claim)."""
    objs = objects(rendered_prod)
    levels = pss.namespace_levels(objs, "latest")
    needed: dict[str, str] = {}
    for o in objs:
        tpl = pss.pod_template(o)
        if tpl is None or not meta(o).get("namespace"):
            continue
        ns = meta(o)["namespace"]
        _, version = levels.get(ns, ("privileged", "latest"))
        level = next(lv for lv in reversed(pss.LEVELS)
                     if not pss.check_pod(tpl.get("metadata") or {}, tpl.get("spec") or {}, lv, version))
        current = needed.get(ns, "restricted")
        needed[ns] = min(current, level, key=pss.LEVELS.index)
    wrong = {ns: (levels[ns][0], needed.get(ns, "restricted")) for ns in levels
             if levels[ns][0] != needed.get(ns, "restricted")}
    assert wrong == {}, "namespace: (enforced, strictest that admits the stack's pods)"
    assert {ns for ns, (lv, _) in levels.items() if lv != "restricted"} == set(SYSTEM_NAMESPACES)


# --- every entry of the exemptions file, in admission: it widens nothing beyond its object -------

def _entries():
    from components.admission import TEMPLATES, TENANT_ONLY, exempt_objects

    out = []
    for t in TEMPLATES:
        if t.constraint in TENANT_ONLY:  # judged in tenant namespaces only: no platform entry applies
            continue
        for e in exempt_objects(t):
            out.append((t, e))
    return out


ENTRIES = _entries()


@pytest.mark.parametrize("template,entry", ENTRIES, ids=[f"{e['id']}-{t.constraint}" for t, e in ENTRIES])
def test_an_exemption_lifts_its_object_only(rendered_prod, cluster, template, entry):
    """The named object passes the constraint the entry lifts (when it needs the lift); the same
    object renamed, moved to another namespace, or running one more image from elsewhere does not."""
    real = next((o for o in objects(rendered_prod) if o["kind"] == entry["kind"]
                 and meta(o).get("name") == entry["name"] and meta(o).get("namespace") == entry["namespace"]), None)
    if real is None:
        pytest.skip(f"{entry['kind']} {entry['namespace']}/{entry['name']} is not in the prod render")
    by = f"{template.kind}/{template.constraint}"
    if not [d for d in _stripped(rendered_prod).admit(real).denials if d.by == by]:
        pytest.skip(f"{entry['id']}: the object meets {template.constraint} without the entry")
    assert not [d for d in cluster.admit(real).denials if d.by == by]
    renamed = copy.deepcopy(real)
    renamed["metadata"]["name"] = entry["name"] + "-copy"
    moved = copy.deepcopy(real)
    moved["metadata"]["namespace"] = "lego-mcp-prod"
    extra = copy.deepcopy(real)
    spec = pss.pod_template(extra)["spec"]
    spec["containers"] = list(spec["containers"]) + [{"name": "extra", "image": TENANT_IMAGE}]
    for variant in (renamed, moved, extra):
        assert [d for d in cluster.admit(variant).denials if d.by == by], (entry["id"], describe_variant(variant))


_STRIPPED: dict = {}


def _stripped(rendered) -> Cluster:
    """The prod cluster with every constraint's exemptions removed (built once)."""
    if "cluster" not in _STRIPPED:
        objs = []
        for o in objects(rendered):
            if str(o.get("apiVersion", "")).startswith("constraints.gatekeeper.sh/"):
                o = copy.deepcopy(o)
                (o.get("spec", {}).get("parameters") or {}).pop("exemptions", None)
            objs.append(o)
        _STRIPPED["cluster"] = Cluster(objs)
    return _STRIPPED["cluster"]


def describe_variant(obj: dict) -> str:
    return f"{obj['kind']} {meta(obj).get('namespace')}/{meta(obj).get('name')}"
