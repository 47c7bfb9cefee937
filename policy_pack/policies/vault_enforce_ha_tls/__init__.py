"""vault-enforce-ha-tls: Vault runs highly available (raft, at least three voters, an odd count)
with TLS on every listener.

Judged on what the engine really sends: a ``helm.v4.Chart`` reaches the pack with no properties
and its objects as ordinary resources (hardened/engine.py), so the verdict comes from the Vault
``StatefulSet`` (image ``hashicorp/vault*``: replicas, and the http:// addresses the chart sets
when TLS is off) and the server HCL in the ConfigMaps it mounts (``*.hcl`` keys: integrated raft
storage, no ``tls_disable``, ``tls_min_version = "tls13"``, raft joins over https://). A
``helm.sh/v3:Release`` of the ``hashicorp/vault`` chart carries its values and is judged on them
(including the HCL in ``server.ha.raft.config``). A stack policy, because the StatefulSet and its
configuration are two objects.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Iterator

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, stack_policy
from .._lib.k8s import Obj, get_bool, get_int, get_map, get_str, maps, pod_spec, wrong

#: A listener stanza that turns TLS off: ``tls_disable = true``, ``= 1`` or ``= "true"``.
_TLS_OFF = re.compile(r'\btls_disable\s*=\s*"?(true|1)"?', re.I)
_MIN_VERSION = re.compile(r'\btls_min_version\s*=\s*"?(tls1[0-3])"?', re.I)
_VAULT_IMAGE = re.compile(r"(^|/)hashicorp/vault(-enterprise)?([:@]|$)")


def _is_vault_chart(props: Mapping[str, Any]) -> bool:
    chart = get_str(props, "chart", "") or ""
    return chart == "vault" or chart.endswith("/vault")


def _replicas(count: Any, path: str, minimum: int) -> Iterator[str]:
    if count is None:
        yield (f"{path} is not set: the chart's default HA size is 3 only by accident of its version; set it "
               f"to an odd number of at least {minimum}")
    elif count < minimum:
        yield f"{path} is {count}: raft needs at least {minimum} voters to keep a quorum through a lost pod"
    elif count % 2 == 0:
        yield (f"{path} is {count}, an even number: it tolerates no more failures than {count - 1}; "
               f"use {count - 1} or {count + 1}")


def _hcl_findings(hcl: str, path: str, require_tls13: bool) -> Iterator[str]:
    if _TLS_OFF.search(hcl):
        yield f"{path} has tls_disable on a listener: Vault would serve secrets and tokens in clear text"
    if require_tls13:
        versions = [v.lower() for v in _MIN_VERSION.findall(hcl)]
        if not versions or any(v != "tls13" for v in versions):
            yield (f"{path} does not set tls_min_version = \"tls13\" on every listener "
                   f"(found {versions or 'none'})")
    if "retry_join" in hcl and re.search(r'leader_api_addr\s*=\s*"http://', hcl):
        yield f"{path} joins raft peers over http://: use https:// with leader_ca_cert_file"


def _chart(obj: Obj, config: Mapping[str, Any]) -> Iterator[str]:
    values = get_map(obj.props, "values", "")
    glob = get_map(values, "global", "values")
    if get_bool(glob, "tlsDisable", "values.global") is not False:
        yield ("values.global.tlsDisable is not false (the chart's default is true): every Vault listener "
               "and probe would run without TLS")
    server = get_map(values, "server", "values")
    ha = get_map(server, "ha", "values.server")
    if get_bool(ha, "enabled", "values.server.ha") is not True:
        yield "values.server.ha.enabled is not true: a single Vault server is a single point of failure"
        return
    raft = get_map(ha, "raft", "values.server.ha")
    if get_bool(raft, "enabled", "values.server.ha.raft") is not True:
        yield ("values.server.ha.raft.enabled is not true: use integrated storage (raft), not an external "
               "HA backend the stack does not harden")
    yield from _replicas(get_int(ha, "replicas", "values.server.ha"), "values.server.ha.replicas",
                         config["minReplicas"])
    hcl = raft.get("config")
    if hcl is None:
        yield "values.server.ha.raft.config is not set: the chart's default listener has tls_disable = 1"
    elif isinstance(hcl, str):
        yield from _hcl_findings(hcl, "values.server.ha.raft.config", config["requireTls13"])
    else:
        raise wrong("values.server.ha.raft.config", hcl, "a string of HCL")


def _mounted_hcl(obj: Obj, pod, config_maps: Mapping[tuple, Obj]) -> list[tuple[str, str]]:
    """``(where, hcl)`` for every ``*.hcl`` key of the ConfigMaps of its namespace the pod mounts."""
    out = []
    for _, volume, path in maps(pod.spec, "volumes", pod.field("volumes")):
        ref = get_map(volume, "configMap", path)
        cm = config_maps.get((obj.namespace, get_str(ref, "name", f"{path}.configMap")))
        if cm is None:
            continue
        for key, text in sorted(get_map(cm.props, "data", "data").items()):
            if key.endswith(".hcl") and isinstance(text, str):
                out.append((f"ConfigMap {cm.name} data.{key}", text))
    return out


def _statefulset(obj: Obj, config: Mapping[str, Any], config_maps: Mapping[tuple, Obj]) -> Iterator[str]:
    pod = pod_spec(obj)
    if pod is None:
        return
    # A StatefulSet running the Vault image is a Vault server (agents run as sidecars of Deployments).
    vault = [c for c in pod.containers(("containers",))
             if _VAULT_IMAGE.search(get_str(c.obj, "image", c.path) or "")]
    if not vault:
        return
    yield from _replicas(get_int(obj.spec, "replicas", "spec"), "spec.replicas", config["minReplicas"])
    for c in vault:
        for _, env, path in maps(c.obj, "env", c.path):
            name = get_str(env, "name", path)
            value = get_str(env, "value", path) or ""
            if name in ("VAULT_ADDR", "VAULT_API_ADDR", "VAULT_CLUSTER_ADDR") and value.startswith("http://"):
                yield f"{path}.value of {name} is {value!r}: Vault listens without TLS"
    hcl = _mounted_hcl(obj, pod, config_maps)
    for where, text in hcl:
        yield from _hcl_findings(text, where, config["requireTls13"])
    if hcl and not any(re.search(r'\bstorage\s+"raft"', text) for _, text in hcl):
        yield (f"the server configuration ({', '.join(w for w, _ in hcl)}) has no storage \"raft\" stanza: use "
               "integrated storage (raft), not an external HA backend the stack does not harden")


def check(objects, config: Mapping[str, Any]) -> Iterator[tuple[Obj, str]]:
    config_maps = {(o.namespace, o.name): o for o in objects if o.kind == "ConfigMap"}
    for obj in objects:
        if obj.kind == "Release":
            if _is_vault_chart(obj.props):
                for message in _chart(obj, config):
                    yield obj, message
        elif obj.kind == "StatefulSet":
            for message in _statefulset(obj, config, config_maps):
                yield obj, message


POLICY = stack_policy(
    name="vault-enforce-ha-tls",
    description="Vault runs in HA with integrated storage (an odd number of at least three raft voters) and TLS "
                "(1.3) on every listener and raft join.",
    kinds=[("helm.sh", "Release"), ("apps", "StatefulSet"), ("core", "ConfigMap")],
    severity=Severity.HIGH,
    control=nist_800_171("3.13.8"),
    tags=["nist800-171:3.13.15", "cmmc:SC.L2-3.13.8", "iec62443:SR 4.1", "iec62443:SR 7.1",
          "nist800-207:tenet-2", "seed:secrets-vault-ha"],
    remediation="""
Deploy Vault with the VaultHA component (components/vault.py), or set in the chart values:
global.tlsDisable: false; server.ha.enabled: true; server.ha.raft.enabled: true;
server.ha.replicas: 3 or 5; and in server.ha.raft.config a listener with tls_cert_file, tls_key_file
and tls_min_version = "tls13" (never tls_disable), and retry_join blocks over https:// with
leader_ca_cert_file. For a hand-written StatefulSet: replicas 3 or 5 and https:// addresses.
""",
    config={
        "minReplicas": {"type": "integer", "minimum": 3, "default": 3,
                        "description": "Fewest raft voters allowed (default 3)."},
        "requireTls13": {"type": "boolean", "default": True,
                         "description": "Require tls_min_version = \"tls13\" on every listener (default true)."},
    },
    check=check,
)
