"""SPIRE attests on the rendered prod stack: read as SPIRE reads it, from the rendered objects,
never from the names our code intended.

The agent reads its configuration file (``-config``) from the ConfigMap its DaemonSet mounts there,
dials ``server_address``:``server_port`` (spiffe/spire cmd/spire-agent/cli/run/run.go, the
``ServerAddress``/``ServerPort`` fields, hcl ``server_address``/``server_port``), and presents the
projected token at ``/var/run/secrets/tokens/spire-agent`` for its k8s_psat ``cluster``
(pkg/agent/plugin/nodeattestor/k8spsat/psat.go, ``defaultTokenPath`` and ``Cluster``). The server
listens on ``bind_port`` (cmd/spire-server/cli/run/run.go, ``BindPort``) and admits the agent only
if ``<namespace>:<serviceaccount>`` of the token is in that cluster's ``service_account_allow_list``
and the token's audience is the cluster's ``audience`` (pkg/server/plugin/nodeattestor/k8spsat/psat.go,
``Attest``: ``fmt.Sprintf("%v:%v", namespace, serviceAccountName)`` against the allow list;
``defaultAudience`` ``spire-server``). The names are resolved by the same model the wiring policies
use (policy_pack/policies/_lib/wiring.py).
"""
from __future__ import annotations

import json
import posixpath

import pytest

from policy_pack.policies._lib import wiring
from policy_pack.policies._lib.k8s import parse_image

from .conftest import manifests


def _image_is(container: dict, repository: str) -> bool:
    return parse_image(container["image"]).repository == repository


def _workload(objects: list[dict], kind: str, repository: str) -> tuple[dict, dict]:
    """The one *kind* whose pod runs a container of *repository*, and that container."""
    hits = [(m, c) for m in objects if m["kind"] == kind
            for c in m["spec"]["template"]["spec"]["containers"] if _image_is(c, repository)]
    assert len(hits) == 1, [m["metadata"]["name"] for m, _ in hits]
    return hits[0]


def _config_file(objects: list[dict], workload: dict, container: dict) -> dict:
    """The configuration file the container's ``-config`` argument names, read from the ConfigMap
    the pod mounts at that directory (JSON, as the spire chart renders it)."""
    args = container["args"]
    path = args[args.index("-config") + 1]
    directory, key = posixpath.split(path)
    mount = next(m for m in container["volumeMounts"] if m["mountPath"].rstrip("/") == directory)
    volume = next(v for v in workload["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"])
    namespace = workload["metadata"]["namespace"]
    (cm,) = [m for m in objects if m["kind"] == "ConfigMap" and m["metadata"]["name"] == volume["configMap"]["name"]
             and m["metadata"]["namespace"] == namespace]
    return json.loads(cm["data"][key])


@pytest.fixture(scope="module")
def spire(prod_records):
    objects = manifests(prod_records)
    agent, agent_container = _workload(objects, "DaemonSet", "spiffe/spire-agent")
    server, server_container = _workload(objects, "StatefulSet", "spiffe/spire-server")
    return {"objects": objects, "agent": agent, "agent_container": agent_container,
            "agent_conf": _config_file(objects, agent, agent_container),
            "server": server, "server_container": server_container,
            "server_conf": _config_file(objects, server, server_container)}


def _psat_clusters(server_conf: dict) -> dict:
    (attestor,) = [a["k8s_psat"] for a in server_conf["plugins"]["NodeAttestor"] if "k8s_psat" in a]
    clusters: dict = {}
    for item in attestor["plugin_data"]["clusters"]:
        clusters.update(item)
    return clusters


def test_agent_dials_the_servers_service_and_it_reaches_the_servers_bind_port(spire):
    objects = spire["objects"]
    address = spire["agent_conf"]["agent"]["server_address"]
    port = int(spire["agent_conf"]["agent"]["server_port"])
    (name,) = list(wiring.service_names(address))
    _, service_name, namespace, whole = name
    assert whole == address  # a whole cluster name, nothing else
    (service,) = [m for m in objects if m["kind"] == "Service" and m["metadata"]["name"] == service_name
                  and m["metadata"]["namespace"] == namespace]
    (service_port,) = [p for p in service["spec"]["ports"] if p["port"] == port]
    # the Service selects the server's pods, and its target port is the port the server binds
    server = spire["server"]
    assert server["metadata"]["namespace"] == namespace
    assert wiring.map_selector_matches(service["spec"]["selector"], server["spec"]["template"]["metadata"]["labels"])
    target = service_port["targetPort"]
    number = (next(p["containerPort"] for p in spire["server_container"]["ports"] if p["name"] == target)
              if isinstance(target, str) else target)
    assert number == int(spire["server_conf"]["server"]["bind_port"])


def test_server_admits_the_agents_real_service_account_cluster_and_audience(spire):
    agent = spire["agent"]
    account = f"{agent['metadata']['namespace']}:{agent['spec']['template']['spec']['serviceAccountName']}"
    (agent_psat,) = [a["k8s_psat"] for a in spire["agent_conf"]["plugins"]["NodeAttestor"] if "k8s_psat" in a]
    cluster = agent_psat["plugin_data"]["cluster"]
    clusters = _psat_clusters(spire["server_conf"])
    assert account in clusters[cluster]["service_account_allow_list"]
    # the token the agent presents: projected at the plugin's default path, with an audience the server accepts
    token_path = agent_psat["plugin_data"].get("token_path", "/var/run/secrets/tokens/spire-agent")
    directory, file = posixpath.split(token_path)
    mount = next(m for m in spire["agent_container"]["volumeMounts"] if m["mountPath"].rstrip("/") == directory)
    volume = next(v for v in agent["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"])
    (token,) = [s["serviceAccountToken"] for s in volume["projected"]["sources"]
                if s.get("serviceAccountToken", {}).get("path") == file]
    assert token["audience"] in clusters[cluster].get("audience", ["spire-server"])


def test_the_agents_service_account_exists_where_it_runs(spire):
    agent = spire["agent"]
    namespace = agent["metadata"]["namespace"]
    name = agent["spec"]["template"]["spec"]["serviceAccountName"]
    assert [m for m in spire["objects"] if m["kind"] == "ServiceAccount" and m["metadata"]["name"] == name
            and m["metadata"]["namespace"] == namespace]


def test_the_charts_defaults_would_not_attest():
    """Without the stack's two values the chart computes names from the release, which the
    fullnameOverrides no longer match (spire 0.30.0 charts/spire-agent/templates/_helpers.tpl,
    ``spire-agent.server-address``; charts/spire-server/templates/_helpers.tpl,
    ``spire-server.serviceAccountAllowedList``): the values the fix sets are the ones the chart reads."""
    from components.spire import (AGENT_SERVICE_ACCOUNT, SERVER_FULLNAME, SERVER_NAMESPACE, SYSTEM_NAMESPACE,
                                  SpireArgs, SpireConfig, _values)

    values = _values(SpireArgs(config=SpireConfig(), cluster_name="c"))
    assert values["spire-agent"]["server"]["address"] == f"{SERVER_FULLNAME}.{SERVER_NAMESPACE}"
    assert values["spire-server"]["nodeAttestor"]["k8sPSAT"]["serviceAccountAllowList"] == [
        f"{SYSTEM_NAMESPACE}:{AGENT_SERVICE_ACCOUNT}"]
    assert values["spire-server"]["fullnameOverride"] == SERVER_FULLNAME
    assert values["spire-agent"]["serviceAccount"]["name"] == AGENT_SERVICE_ACCOUNT
