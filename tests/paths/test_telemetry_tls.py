"""Issue 23 item 8 (telemetry): audit and alert traffic never crosses the network in clear text.

* Vault's audit device: no network hop at all (tests/paths/test_vault_audit.py).
* Falco -> falcosidekick: mutual TLS with certificates of the internal CA. Falco's http_output keys
  (falco.yaml: url, mtls, client_cert, client_key, ca_cert, insecure) and falcosidekick's TLS
  server (config.go TLSServer.* keys; main.go: tls.RequireAndVerifyClientCert against
  TLSServer.CaCertFile, NoTLSPaths served on NoTLSPort).
* Syslog to the SIEM: falcosidekick's syslog output has no TLS (outputs/syslog.go dials tcp or udp
  only), so it is refused unless explicitly accepted; prod sends through HEC over https only.
"""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import yaml

from components.config import ConfigError, parse_stack_config
from tests.harness import k8s, prod_document, reviewed
from tests.paths.upstream import upstream_text


def _falco_conf(prod) -> dict:
    (cm,) = k8s(prod, "ConfigMap", "falco", "falco")
    return yaml.safe_load(cm["data"]["falco.yaml"])


def _mounted_secret(pod: dict, container: dict, path: str) -> tuple[str, dict]:
    """The Secret and the file name behind *path* in *container* of *pod*."""
    (mount,) = [m for m in container["volumeMounts"] if path.startswith(m["mountPath"].rstrip("/") + "/")]
    (vol,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    name = path[len(mount["mountPath"].rstrip("/")) + 1:]
    key = next((i["key"] for i in vol["secret"].get("items", []) if i["path"] == name), name)
    return vol["secret"]["secretName"], {"key": key, "readOnly": mount.get("readOnly")}


def test_falco_posts_over_mutual_tls_to_the_sidekick_it_verifies(prod):
    out = _falco_conf(prod)["http_output"]
    url = urlsplit(out["url"])
    assert url.scheme == "https" and out["insecure"] is False and out["mtls"] is True
    (ds,) = k8s(prod, "DaemonSet", "falco", "falco")
    pod = ds["spec"]["template"]["spec"]
    (falco,) = [c for c in pod["containers"] if c["name"] == "falco"]
    files = {k: _mounted_secret(pod, falco, out[k]) for k in ("client_cert", "client_key", "ca_cert")}
    (secret,) = {s for s, _ in files.values()}
    assert {k: f["key"] for k, (_, f) in files.items()} == {"client_cert": "tls.crt", "client_key": "tls.key",
                                                           "ca_cert": "ca.crt"}
    (client,) = [c for c in k8s(prod, "Certificate", namespace="falco") if c["spec"]["secretName"] == secret]
    assert client["spec"]["issuerRef"]["name"] == "hardened-internal-ca" and "client auth" in client["spec"]["usages"]
    # the server: the host Falco dials is a name on falcosidekick's certificate, from the same CA
    host, port = url.hostname, url.port
    (svc,) = k8s(prod, "Service", host.split(".")[0], host.split(".")[1])
    (dep,) = k8s(prod, "Deployment", host.split(".")[0], host.split(".")[1])
    assert any(p["port"] == port for p in svc["spec"]["ports"])
    spec = dep["spec"]["template"]["spec"]
    (c,) = spec["containers"]
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["TLSSERVER_DEPLOY"] == "true" and env["TLSSERVER_MUTUALTLS"] == "true"
    server_secret = {_mounted_secret(spec, c, env[k])[0] for k in ("TLSSERVER_CERTFILE", "TLSSERVER_KEYFILE",
                                                                  "TLSSERVER_CACERTFILE")}
    (server_secret,) = server_secret
    (server,) = [x for x in k8s(prod, "Certificate", namespace="falco") if x["spec"]["secretName"] == server_secret]
    assert host in server["spec"]["dnsNames"] and "server auth" in server["spec"]["usages"]
    assert server["spec"]["issuerRef"] == client["spec"]["issuerRef"]
    # only /ping is plain HTTP, on its own port, for the kubelet's probes
    assert env["TLSSERVER_NOTLSPATHS"] == "/ping"
    probe_port = int(env["TLSSERVER_NOTLSPORT"])
    assert {c["livenessProbe"]["httpGet"]["port"], c["readinessProbe"]["httpGet"]["port"]} == {"probe"}
    assert [p["containerPort"] for p in c["ports"] if p["name"] == "probe"] == [probe_port]
    assert all(p["port"] != probe_port for p in svc["spec"]["ports"])


def test_no_syslog_in_clear_text(prod):
    (dep,) = k8s(prod, "Deployment", "falcosidekick", "falco")
    assert not [e for e in dep["spec"]["template"]["spec"]["containers"][0]["env"] if e["name"].startswith("SYSLOG_")]
    doc = prod_document()
    doc["runtimeDetection"]["siem"]["syslog"] = {"address": "siem.lego-mcp.io:514", "protocol": "tcp"}
    with pytest.raises(ConfigError) as exc:
        parse_stack_config(doc)
    assert "hardened-stack:runtimeDetection.siem.syslog" in str(exc.value) and "clear text" in str(exc.value)
    doc["runtimeDetection"]["siem"]["syslog"]["allowCleartext"] = True  # the visible opt-out
    with pytest.raises(ConfigError, match="allowCleartext"):
        parse_stack_config(doc)  # prod takes it only with a reviewed entry on the ledger of opt-outs
    parse_stack_config(reviewed(doc, whole=True))


def test_recorded_falcosidekick_tls_facts_match_its_source():
    config = upstream_text("falcosecurity/falcosidekick", "2.34.1", "config.go")
    if config is None:
        pytest.skip("no falcosidekick mirror on this machine; the recorded facts stand")
    main = upstream_text("falcosecurity/falcosidekick", "2.34.1", "main.go")
    syslog = upstream_text("falcosecurity/falcosidekick", "2.34.1", "outputs/syslog.go")
    for key in ("TLSServer.Deploy", "TLSServer.CertFile", "TLSServer.KeyFile", "TLSServer.MutualTLS",
                "TLSServer.CaCertFile", "TLSServer.NoTLSPort"):
        assert f'v.SetDefault("{key}"' in config
    assert "ClientAuth: tls.RequireAndVerifyClientCert" in main
    assert "return protocol == TCP || protocol == UDP" in syslog and "tls" not in syslog.lower()
