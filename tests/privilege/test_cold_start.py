"""Issue 23, routes 5 and 8: the stack recovers by itself from a full outage (every node replaced,
every pod gone; the API server and its objects remain). Derived from the prod render, never from a
hand list: the graph "a pod of workload A can be created and serve only while pods of workload B
run", from

* every mutating and validating webhook with ``failurePolicy: Fail`` (the API default) that
  intercepts pod creation, matched by its ``namespaceSelector`` (with the API server's
  ``kubernetes.io/metadata.name`` label) and ``objectSelector`` against each pod template, to the
  workloads behind its Service. policy-controller's chart leaves the rules of its
  ``policy.sigstore.dev`` webhooks empty (policy-controller 0.10.6 templates/webhook/
  webhook_{mutating,validating}.yaml: namespaceSelector from ``webhook.namespaceSelector``,
  failurePolicy ``webhook.failurePolicy``); knative's reconciler fills them at run time with the
  kinds of sigstore/policy-controller v0.13.1 cmd/webhook/main.go ``types`` (Pod, ReplicaSet,
  Deployment, StatefulSet, DaemonSet, Job, CronJob). Istio's injector is the rendered istiod chart's
  templates/mutatingwebhook.yaml (four webhooks, failurePolicy Fail); Gatekeeper's is its chart's
  validating webhook (every namespace but gatekeeper-system and kube-system);
* Istio injection: a pod the injector matches gets the templates of its ``inject.istio.io/templates``
  annotation, else the injector's ``defaultTemplates`` (the rendered ``istio-sidecar-injector``
  ConfigMap). Its proxy needs istiod (the mesh config's ``discoveryAddress``); a template with the
  ``istio-validation`` init container (istiod chart files/injection-template.yaml, when
  ``pilot.cni.enabled``) needs the CNI node agent; a template with a CSI volume needs the DaemonSet
  serving that driver, and the workloads that write the host directory it serves (the SPIRE agent's
  Workload API socket);
* a ConfigMap a workload mounts naming ``server_address`` (the SPIRE agent's agent.conf) needs the
  workloads behind that Service;
* an injected pod's sidecar routes (VirtualServices bound to ``mesh`` and exported to its namespace)
  to a gateway Service: its fetches need that gateway (policy-controller verifies nothing without
  the egress gateway);
* every pod needs DNS (kube-system's CoreDNS, an EKS add-on the stack does not render).

A cycle means that after a full outage some workloads wait for each other for ever.
"""
from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field

import pytest
import yaml

from components.admission import SIGSTORE_INCLUDE_LABEL, UNVERIFIED_NAMESPACES
from components.config import parse_stack_config
from tests.harness import prod_document

KUBE_SYSTEM = "kube-system"
DNS = f"{KUBE_SYSTEM}/Deployment/coredns"
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")
#: Rules knative's webhook reconciler writes at run time into the webhooks the policy-controller
#: chart leaves without rules (cmd/webhook/main.go ``types``: Pod CREATE/UPDATE, ...).
RUNTIME_RULES = {"policy.sigstore.dev": [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"],
                                          "operations": ["CREATE", "UPDATE"]}]}


@dataclass
class Workload:
    namespace: str
    kind: str
    name: str
    labels: dict
    annotations: dict
    spec: dict

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.kind}/{self.name}"


@dataclass
class Graph:
    workloads: dict[str, Workload]
    needs: dict[str, dict[str, str]] = field(default_factory=dict)  # key -> {needed key: reason}

    def add(self, a: str, b: str, reason: str) -> None:
        self.needs.setdefault(a, {}).setdefault(b, reason)

    def closure(self, start: str) -> dict[str, str]:
        """Every workload *start* needs, directly or not, with the reason of the first edge found."""
        seen: dict[str, str] = {}
        todo = [start]
        while todo:
            for b, why in self.needs.get(todo.pop(), {}).items():
                if b not in seen:
                    seen[b] = why
                    todo.append(b)
        return seen

    def cold_start(self) -> tuple[list[str], set[str]]:
        """Start, from nothing, every workload whose needs all run; returns (order, stuck)."""
        running: list[str] = [DNS]
        pending = set(self.workloads) - {DNS}
        progress = True
        while pending and progress:
            progress = False
            for k in sorted(pending):
                if all(b in running for b in self.needs.get(k, {})):
                    running.append(k)
                    pending.discard(k)
                    progress = True
        return running, pending

    def cycle(self, among: set[str]) -> list[str]:
        """One cycle among *among* (the stuck workloads), as a path."""
        for start in sorted(among):
            path, node = [start], start
            while True:
                nxt = sorted(b for b in self.needs.get(node, {}) if b in among)
                if not nxt:
                    break
                node = nxt[0]
                if node in path:
                    return path[path.index(node):] + [node]
                path.append(node)
        return []

    def explain(self, path: list[str]) -> str:
        return "\n".join(f"  {a} needs {b}: {self.needs[a][b]}" for a, b in zip(path, path[1:]))


def _selects(selector, labels: dict) -> bool:
    """A label selector; a missing or empty one selects everything (admissionregistration/v1)."""
    selector = selector or {}
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for e in selector.get("matchExpressions") or []:
        key, op, values = e["key"], e["operator"], e.get("values") or []
        if (op == "In" and labels.get(key) not in values) or (op == "NotIn" and key in labels and labels[key] in values) \
                or (op == "Exists" and key not in labels) or (op == "DoesNotExist" and key in labels):
            return False
    return True


def _pod_template(o: dict) -> dict:
    if o["kind"] == "CronJob":
        return o["spec"]["jobTemplate"]["spec"]["template"]
    return o["spec"]["template"]


def _intercepts_pod_creation(hook: dict) -> bool:
    rules = hook.get("rules") or RUNTIME_RULES.get(hook["name"], [])
    return any(set(r.get("apiGroups", [])) & {"", "*"} and set(r.get("resources", [])) & {"pods", "*"}
               and set(r.get("operations", [])) & {"CREATE", "*"} for r in rules)


def namespace_labels(objs: list[dict]) -> dict[str, dict]:
    out = {KUBE_SYSTEM: {"kubernetes.io/metadata.name": KUBE_SYSTEM}}
    for o in objs:
        if o["kind"] == "Namespace":
            # the API server sets kubernetes.io/metadata.name on every namespace
            out[o["metadata"]["name"]] = {**(o["metadata"].get("labels") or {}),
                                          "kubernetes.io/metadata.name": o["metadata"]["name"]}
    return out


def build_graph(objs: list[dict]) -> Graph:
    ns_labels = namespace_labels(objs)
    wls = {DNS: Workload(KUBE_SYSTEM, "Deployment", "coredns", {"k8s-app": "kube-dns"}, {}, {})}
    for o in objs:
        if o["kind"] in WORKLOAD_KINDS:
            t = _pod_template(o)
            w = Workload(o["metadata"]["namespace"], o["kind"], o["metadata"]["name"],
                         t["metadata"].get("labels") or {}, t["metadata"].get("annotations") or {}, t["spec"])
            wls[w.key] = w
    gateway_api = []
    for o in objs:
        if o["kind"] == "Gateway" and o["apiVersion"].startswith("gateway.networking.k8s.io/") \
                and o["spec"].get("gatewayClassName") == "istio":
            w = Workload(o["metadata"]["namespace"], "Deployment", f"{o['metadata']['name']}-istio",
                         {"gateway.networking.k8s.io/gateway-name": o["metadata"]["name"],
                          "sidecar.istio.io/inject": "false"}, {}, {})
            wls[w.key] = w
            gateway_api.append((o, w))
    g = Graph(wls)
    services = {(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in objs if o["kind"] == "Service"}
    configmaps = {(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in objs if o["kind"] == "ConfigMap"}

    def behind(namespace: str, name: str) -> list[Workload]:
        svc = services.get((namespace, name))
        assert svc is not None, f"Service {namespace}/{name} is named but not rendered"
        sel = svc["spec"].get("selector") or {}
        found = [w for w in wls.values() if w.namespace == namespace and sel and _selects({"matchLabels": sel}, w.labels)]
        assert found, f"Service {namespace}/{name} selects no rendered workload"
        return found

    tenants = [w for w in wls.values() if w.key != DNS]
    for w in tenants:
        g.add(w.key, DNS, "every pod resolves names through kube-dns")

    csi_drivers = {o["metadata"]["name"] for o in objs if o["kind"] == "CSIDriver"}
    d_ns = d_name = None

    # 1. fail-closed webhooks that intercept pod creation
    injector_hooks = []
    for o in objs:
        if o["kind"] not in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
            continue
        for hook in o.get("webhooks") or []:
            if hook["name"].endswith("sidecar-injector.istio.io"):
                injector_hooks.append(hook)
            if hook.get("failurePolicy", "Fail") != "Fail" or not _intercepts_pod_creation(hook):
                continue
            svc = hook["clientConfig"].get("service")
            if svc is None:
                continue
            for w in tenants:
                if _selects(hook.get("namespaceSelector"), ns_labels.get(w.namespace, {})) \
                        and _selects(hook.get("objectSelector"), w.labels):
                    for b in behind(svc["namespace"], svc["name"]):
                        g.add(w.key, b.key, f"{o['kind']} {o['metadata']['name']} webhook {hook['name']} "
                                            f"(failurePolicy Fail) admits its pods")

    # 2. Istio injection and what the injected proxy needs
    injector_cms = [o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "istio-sidecar-injector"]
    if injector_cms:
        (cm,) = injector_cms
        config = yaml.safe_load(cm["data"]["config"])
        values = json.loads(cm["data"]["values"])
        (mesh_cm,) = [o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "istio"
                      and o["metadata"]["namespace"] == cm["metadata"]["namespace"]]
        discovery = yaml.safe_load(mesh_cm["data"]["mesh"])["defaultConfig"]["discoveryAddress"]
        d_name, d_ns = discovery.split(":")[0].split(".")[:2]
        cni = [w for w in wls.values() if w.kind == "DaemonSet"
               and any("/install-cni" in c["image"] for c in w.spec.get("containers", []))]
        for w in tenants:
            if not any(_selects(h.get("namespaceSelector"), ns_labels.get(w.namespace, {}))
                       and _selects(h.get("objectSelector"), w.labels) for h in injector_hooks):
                continue
            templates = (w.annotations.get("inject.istio.io/templates", "").split(",")
                         if w.annotations.get("inject.istio.io/templates") else config["defaultTemplates"])
            for b in behind(d_ns, d_name):
                g.add(w.key, b.key, f"its injected proxy gets its configuration from {discovery} "
                                    "(holdApplicationUntilProxyStarts: the app waits for it)")
            for t in templates:
                text = config["templates"][t]
                if "istio-validation" in text and values["pilot"]["cni"]["enabled"]:
                    for b in cni:
                        g.add(w.key, b.key, f"the injector's {t!r} template adds the istio-validation init "
                                            "container, which fails until the CNI node agent set up redirection")
                # the templates are Go templates: only drivers the stack installs (a CSIDriver) count
                for driver in sorted(d for d in csi_drivers if re.search(rf"driver:\s*\"?{re.escape(d)}\"?", text)):
                    servers = [s for s in wls.values() if s.kind == "DaemonSet" and any(
                        driver in c.get("args", []) for c in s.spec.get("containers", []))]
                    assert servers, f"the {t!r} template mounts CSI driver {driver}, which no DaemonSet serves"
                    for s in servers:
                        g.add(w.key, s.key, f"the injector's {t!r} template mounts a {driver} CSI volume")
                        dirs = {v["hostPath"]["path"] for v in s.spec.get("volumes", []) if "hostPath" in v}
                        for other in wls.values():
                            if other is not s and other.kind == "DaemonSet" and dirs & {
                                    v["hostPath"]["path"] for v in other.spec.get("volumes", []) if "hostPath" in v
                                    and not v["hostPath"]["path"].startswith("/var/lib/kubelet")}:
                                g.add(s.key, other.key, "it serves the socket this DaemonSet writes into a shared "
                                                        "host directory")
            # 4. the sidecar's routes to a gateway (a gateway's own proxy does not apply mesh routes)
            for vs in objs if "sidecar" in templates else ():
                if vs["kind"] != "VirtualService" or "mesh" not in (vs["spec"].get("gateways") or ["mesh"]):
                    continue
                export = vs["spec"].get("exportTo") or ["*"]
                if "*" not in export and w.namespace not in export and not (
                        "." in export and vs["metadata"]["namespace"] == w.namespace):
                    continue
                for kind in ("tls", "tcp", "http"):
                    for route in vs["spec"].get(kind) or []:
                        if any("mesh" not in (m.get("gateways") or ["mesh"]) for m in route.get("match") or [{}]):
                            continue
                        for r in route.get("route", []):
                            host = r["destination"]["host"]
                            if host.endswith(".svc.cluster.local"):
                                name, ns = host.split(".")[:2]
                                for b in behind(ns, name):
                                    g.add(w.key, b.key, f"its sidecar sends {', '.join(vs['spec']['hosts'])} "
                                                        f"through {host} (VirtualService {vs['metadata']['name']})")

    # 2b. Gateway API gateways: istiod's deployment controller writes their Deployment (named
    # <gateway>-<class>, labelled gateway.networking.k8s.io/gateway-name, from its kube-gateway
    # template, not injected by the webhook), patched by the infrastructure ConfigMap's ``deployment``
    for gw, w in gateway_api:
        for b in behind(d_ns, d_name):
            g.add(w.key, b.key, "istiod's gateway deployment controller creates and configures its pods")
        ref = (gw["spec"].get("infrastructure") or {}).get("parametersRef") or {}
        patch = (configmaps.get((w.namespace, ref.get("name"))) or {}).get("data", {}).get("deployment", "")
        for driver in sorted(d for d in csi_drivers if d in patch):
            for s in wls.values():
                if s.kind == "DaemonSet" and any(driver in c.get("args", []) for c in s.spec.get("containers", [])):
                    g.add(w.key, s.key, f"its infrastructure ConfigMap mounts a {driver} CSI volume")

    # 3. agents that name their server in a mounted ConfigMap
    for w in tenants:
        for v in w.spec.get("volumes", []):
            cm = configmaps.get((w.namespace, (v.get("configMap") or {}).get("name")))
            for text in (cm or {}).get("data", {}).values():
                for name, ns in re.findall(r'"?server_address"?\s*[:=]\s*"([a-z0-9-]+)\.([a-z0-9-]+)', text):
                    for b in behind(ns, name):
                        g.add(w.key, b.key, f"its ConfigMap {cm['metadata']['name']} names its server "
                                            f"{name}.{ns} (attestation, SVIDs)")
    return g


def objects(rendered) -> list[dict]:
    return list(rendered.manifests.values())


def policy_controller(g: Graph) -> str:
    (key,) = [k for k, w in g.workloads.items() if w.labels.get("control-plane") == "policy-controller-webhook"]
    return key


def gatekeeper(g: Graph) -> str:
    (key,) = [k for k, w in g.workloads.items() if w.kind == "Deployment"
              and w.labels.get("control-plane") == "controller-manager" and w.namespace == "gatekeeper-system"]
    return key


def labelled(objs: list[dict], namespaces) -> list[dict]:
    """A copy of the render with *namespaces* labelled for signature verification."""
    out = copy.deepcopy(objs)
    for o in out:
        if o["kind"] == "Namespace" and o["metadata"]["name"] in namespaces:
            o["metadata"].setdefault("labels", {})[SIGSTORE_INCLUDE_LABEL] = "true"
    return out


@pytest.fixture(scope="module")
def graph(rendered_prod) -> Graph:
    return build_graph(objects(rendered_prod))


@pytest.fixture(scope="module")
def start_path():
    from components.stack import start_path_namespaces

    return start_path_namespaces(parse_stack_config(prod_document()))


def test_the_prod_stack_cold_starts_from_nothing(graph):
    order, stuck = graph.cold_start()
    assert not stuck, "after a full outage these wait for each other for ever:\n" + graph.explain(graph.cycle(stuck))
    assert order.index(gatekeeper(graph)) < order.index(policy_controller(graph))


def test_the_graph_sees_policy_controllers_real_needs(graph):
    """Each edge of the start path, derived from the render (a derivation that finds none fails)."""
    needs = graph.needs[policy_controller(graph)]
    assert {k.split("/", 1)[0] + "/" + k.rsplit("/", 1)[1] for k in needs} >= {
        "gatekeeper-system/gatekeeper-controller-manager",  # Gatekeeper judges cosign-system
        "istio-system/istiod",                              # the injector, failurePolicy Fail; xDS
        "istio-system/istio-cni-node",                      # istio-validation init container
        "spire-system/spiffe-csi-driver",                   # the spire template's CSI volume
        "istio-egress/egress-gateway",                      # every signature fetch
        "kube-system/coredns"}
    assert "spire-system/DaemonSet/spire-agent" in graph.closure(policy_controller(graph))
    assert "spire-server/StatefulSet/spire-server" in graph.closure(policy_controller(graph))
    assert "injector" in needs["istio-system/Deployment/istiod"] or "webhook" in needs["istio-system/Deployment/istiod"]


def test_policy_controllers_start_path_is_exactly_what_stays_unverified(rendered_prod, graph, start_path):
    """The namespaces of everything policy-controller's pods need (transitively) are out of
    signature verification, each with its reason; every other platform namespace is verified."""
    pc = policy_controller(graph)
    needed = {k.split("/")[0] for k in graph.closure(pc)} - {"cosign-system"}
    assert needed == set(start_path) | {"gatekeeper-system", KUBE_SYSTEM}
    assert all(len(why) > 40 for why in start_path.values())
    labels = namespace_labels(objects(rendered_prod))
    unverified = {n for n, l in labels.items() if l.get(SIGSTORE_INCLUDE_LABEL) != "true"}
    tenants = {n.name for n in parse_stack_config(prod_document()).namespaces}
    assert unverified == needed | {"cosign-system"}
    assert set(labels) - unverified - tenants == {"falco", "vault", "cert-manager", "external-secrets",
                                                   "compliance", "istio-ingress"}
    assert set(UNVERIFIED_NAMESPACES) | set(start_path) == unverified


def test_mains_labelling_deadlocks_and_the_graph_says_so(rendered_prod, start_path):
    """The labelling before this change (every platform namespace but cosign-system, gatekeeper-system
    and kube-system): policy-controller and its start path wait for each other."""
    g = build_graph(labelled(objects(rendered_prod), start_path))
    _, stuck = g.cold_start()
    assert policy_controller(g) in stuck
    cycle = g.cycle(stuck)
    assert cycle and policy_controller(g) in cycle
    assert "policy.sigstore.dev" in g.explain(cycle)


@pytest.mark.parametrize("namespace", ["istio-system", "spire-system", "spire-server", "istio-egress",
                                       "cosign-system", "gatekeeper-system"])
def test_verifying_any_one_start_path_namespace_deadlocks(rendered_prod, namespace):
    g = build_graph(labelled(objects(rendered_prod), [namespace]))
    _, stuck = g.cold_start()
    assert policy_controller(g) in stuck, namespace
    assert any(k.startswith(f"{namespace}/") for k in stuck)


@pytest.mark.parametrize("namespace", ["falco", "vault", "cert-manager", "external-secrets", "istio-ingress",
                                       "lego-mcp-prod"])
def test_verified_namespaces_off_the_start_path_start_after_policy_controller(graph, namespace):
    order, _ = graph.cold_start()
    pc = order.index(policy_controller(graph))
    mine = [order.index(k) for k in order if k.startswith(f"{namespace}/")]
    assert mine and all(i > pc for i in mine)


def test_gatekeeper_needs_nothing_but_dns(graph):
    """Gatekeeper judges cosign-system and the start path; it must need none of them."""
    assert set(graph.closure(gatekeeper(graph))) == {DNS}


def test_without_the_mesh_every_platform_namespace_stays_verified():
    from components.stack import start_path_namespaces

    doc = prod_document()
    doc["cluster"]["environment"] = "staging"
    doc["mesh"]["enabled"] = False
    assert start_path_namespaces(parse_stack_config(doc)) == {}


def test_falcosidekick_with_its_sidecar_is_off_the_start_path(graph):
    """falcosidekick's sidecar (its SIEM traffic through the egress gateway) makes it need istiod,
    SPIRE and the gateway, but nothing on policy-controller's start path needs falco: no new cycle."""
    (sk,) = [k for k in graph.workloads if k == "falco/Deployment/falcosidekick"]
    needs = {k.rsplit("/", 1)[1] for k in graph.needs[sk]}
    assert {"istiod", "istio-cni-node", "spiffe-csi-driver", "egress-gateway", "policy-controller-webhook"} <= needs
    assert not any(k.startswith("falco/") for k in graph.closure(policy_controller(graph)))
    order, stuck = graph.cold_start()
    assert not stuck and order.index(sk) > order.index(policy_controller(graph))


# --- the upstream facts the graph rests on --------------------------------------------------------
#: (repository, tag, file, what must be in it, the fact): checked against the mirror when present.
UPSTREAM_FACTS = [
    ("sigstore/policy-controller", "v0.13.1", "cmd/webhook/main.go",
     ['corev1.SchemeGroupVersion.WithKind("Pod"): &crdEphemeralContainers',
      'appsv1.SchemeGroupVersion.WithKind("DaemonSet")'],
     "the kinds knative writes into policy.sigstore.dev's rules at run time (the chart leaves them empty)"),
    ("istio/istio", "1.30.3", "manifests/charts/istio-control/istio-discovery/templates/mutatingwebhook.yaml",
     ["failurePolicy: Fail"], "the sidecar injector fails closed"),
    ("istio/istio", "1.30.3", "manifests/charts/istio-control/istio-discovery/files/injection-template.yaml",
     ["{{ if .Values.pilot.cni.enabled -}}\n  - name: istio-validation"],
     "with the CNI, the sidecar template's init container only validates the redirection the node agent set up"),
]


@pytest.mark.parametrize("repo, tag, path, needles, fact", UPSTREAM_FACTS, ids=[f[2].rsplit("/", 1)[1] for f in UPSTREAM_FACTS])
def test_the_upstream_facts_hold_at_the_pinned_tags(repo, tag, path, needles, fact):
    from tests.paths.upstream import assert_upstream_fact
    assert_upstream_fact(repo, tag, path, needles, fact)


def test_policy_controllers_chart_selects_namespaces_by_the_include_label_and_fails_closed():
    """policy-controller 0.10.6 (the pinned chart): the webhooks' namespaceSelector defaults to
    policy.sigstore.dev/include In [true] (templates/_helpers.tpl) and failurePolicy to Fail
    (values.yaml webhook.failurePolicy): the selector the graph matches, as rendered."""
    import os
    from pathlib import Path
    chart = Path(os.environ.get("HARDENED_CHART_CACHE", "")) / "policy-controller-0.10.6"
    if not chart.is_dir():
        pytest.skip("no chart cache here")
    helpers = (chart / "templates" / "_helpers.tpl").read_text()
    assert "key: policy.sigstore.dev/include\n    operator: In" in helpers
    assert yaml.safe_load((chart / "values.yaml").read_text())["webhook"]["failurePolicy"] == "Fail"
