"""Issue 21 item 2: Vault's audit device -> the audit bucket, with no manual step, no clear text
on the network, and an image that exists.

HashiCorp Vault cannot declare an audit device in its configuration file (OpenBao's ``audit``
stanza is not in Vault) and its socket device speaks plain TCP, UDP or a unix socket only. So the
shipper moved into Vault's pods: a Fluent Bit native sidecar follows the file device the bootstrap
already enables (the one post-init step Vault's init ceremony needs anyway) on the pod's own audit
volume, read-only, and writes to S3 with Vault's IRSA role. The tests follow the path through what
each program reads: Vault's bootstrap command, the chart's StatefulSet, Fluent Bit's configuration
keys (plugins/in_tail/tail.c and plugins/out_s3/s3.c config maps, 4.0.3), the webhook's variables,
IAM and KMS.
"""
from __future__ import annotations

import re

import pytest
import yaml

from components.audit import FLUENT_BIT_IMAGE, SHIPPER, VAULT_PREFIX, AuditTrailsConfig
from tests.harness import ROOT, k8s, prod_document
from tests.paths import iam
from tests.paths.upstream import allows, trusts_web_identity, upstream_text, web_identity_role, webhook_env

#: The Fluent Bit 4.0.3 keys this configuration uses (config_map of each plugin; storage.type and
#: Name/Match/Tag are generic input/output properties).
TAIL_KEYS = {"path", "db", "read_from_head", "buffer_max_size", "skip_long_lines", "refresh_interval"}
S3_KEYS = {"bucket", "region", "use_put_object", "send_content_md5", "log_key", "compression", "total_file_size",
           "upload_timeout", "store_dir", "s3_key_format"}


def _sections(text: str) -> list[tuple[str, dict[str, str]]]:
    out: list[tuple[str, dict[str, str]]] = []
    for line in text.splitlines():
        if line.startswith("["):
            out.append((line.strip("[]"), {}))
        elif line.strip():
            k, v = line.split(None, 1)
            out[-1][1][k.lower()] = v.strip()
    return out


def _pod(prod) -> dict:
    (sts,) = k8s(prod, "StatefulSet", "vault", "vault")
    return sts


def _sidecar(prod) -> dict:
    (c,) = [c for c in _pod(prod)["spec"]["template"]["spec"].get("initContainers", []) if c["name"] == SHIPPER]
    return c


def _config(prod) -> dict:
    (cm,) = k8s(prod, "ConfigMap", SHIPPER, "vault")
    return dict(_sections(cm["data"]["fluent-bit.conf"]))


def test_the_sidecar_follows_the_file_the_bootstrap_enables(prod):
    (boot,) = k8s(prod, "ConfigMap", "vault-bootstrap", "vault")
    (cmd,) = [line for line in boot["data"]["bootstrap.sh"].splitlines() if line.startswith("vault audit enable")]
    path = re.search(r"file_path=(\S+)", cmd).group(1)
    mode = int(re.search(r"mode=(\d+)", cmd).group(1), 8)
    assert _config(prod)["INPUT"]["name"] == "tail" and _config(prod)["INPUT"]["path"] == path
    # the file lies on the chart's audit volume, which the sidecar mounts read-only
    sidecar = _sidecar(prod)
    assert sidecar["restartPolicy"] == "Always"  # a native sidecar: up before Vault writes
    (mount,) = [m for m in sidecar["volumeMounts"] if path.startswith(m["mountPath"] + "/")]
    assert mount["readOnly"] is True
    claims = [t["metadata"]["name"] for t in _pod(prod)["spec"]["volumeClaimTemplates"]]
    (vault,) = [c for c in _pod(prod)["spec"]["template"]["spec"]["containers"] if c["name"] == "vault"]
    assert mount["name"] in claims and any(m["name"] == mount["name"] and path.startswith(m["mountPath"])
                                           for m in vault["volumeMounts"])
    # Vault writes it as its own user and group (pod runAsGroup); the sidecar, another UID, reads it
    # through the pod's fsGroup, a supplementary group of every container
    pod_sc = _pod(prod)["spec"]["template"]["spec"]["securityContext"]
    assert sidecar["securityContext"]["runAsUser"] != pod_sc["runAsUser"]
    assert pod_sc["fsGroup"] == pod_sc["runAsGroup"] and mode & 0o040 and not mode & 0o007
    # its configuration is the ConfigMap the stack writes
    (cfg_mount,) = [m for m in sidecar["volumeMounts"] if m["mountPath"] == "/fluent-bit/etc"]
    (vol,) = [v for v in _pod(prod)["spec"]["template"]["spec"]["volumes"] if v["name"] == cfg_mount["name"]]
    assert vol["configMap"]["name"] == SHIPPER and "--config=/fluent-bit/etc/fluent-bit.conf" in sidecar["args"]


def test_the_sidecar_holds_no_kubernetes_api_token(prod):
    """Vault's pods mount their API token (exemption vault-server); the ServiceAccount admission
    plugin (plugin/pkg/admission/serviceaccount) skips a container that already mounts its path."""
    mounts = {m["mountPath"]: m for m in _sidecar(prod)["volumeMounts"]}
    token = mounts["/var/run/secrets/kubernetes.io/serviceaccount"]
    (vol,) = [v for v in _pod(prod)["spec"]["template"]["spec"]["volumes"] if v["name"] == token["name"]]
    assert "emptyDir" in vol
    assert not any(p.startswith("/var/run/secrets/eks.amazonaws.com") for p in mounts)  # IRSA's path stays free


def test_no_audit_record_crosses_the_network_in_clear_text(prod):
    (boot,) = k8s(prod, "ConfigMap", "vault-bootstrap", "vault")
    assert "socket" not in boot["data"]["bootstrap.sh"]
    assert not k8s(prod, "Service", SHIPPER, "vault") and not k8s(prod, "Deployment", SHIPPER, "vault")
    assert [p["containerPort"] for p in _sidecar(prod)["ports"]] == [2020]  # health only
    assert not k8s(prod, "ConfigMap", "vault-audit", "vault")  # no manual enable script any more


def test_what_it_writes_lands_under_its_prefix_allowed_encrypted_and_locked(prod):
    out = _config(prod)["OUTPUT"]
    bucket_arn = iam.audit_bucket_arn(prod)
    assert out["name"] == "s3" and f"arn:aws:s3:::{out['bucket']}" == bucket_arn
    # Object Lock buckets refuse a PutObject without an integrity header: PutObject with Content-MD5
    assert out["use_put_object"] == "On" and out["send_content_md5"] == "true"
    key = out["s3_key_format"].lstrip("/").replace("%Y/%m/%d/%H%M%S-$UUID", "2026/12/04/230000-u")
    assert key.startswith(VAULT_PREFIX)
    (sa,) = k8s(prod, "ServiceAccount", _pod(prod)["spec"]["template"]["spec"]["serviceAccountName"], "vault")
    env = {**{e["name"]: e["value"] for e in _sidecar(prod)["env"]}, **webhook_env(sa)}
    role = iam.role_by_arn(prod, web_identity_role(env))
    assert trusts_web_identity(iam.trust(role), iam.issuer_host(prod), "vault", "vault")
    policy = iam.merged(prod, role)
    assert allows(policy, "s3:PutObject", f"{bucket_arn}/{key}")
    assert not allows(policy, "s3:PutObject", f"{bucket_arn}/falco/x")
    assert not allows(policy, "s3:GetObject", f"{bucket_arn}/{key}")
    key_arn = iam.audit_sse(prod)["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"]
    assert allows(policy, "kms:GenerateDataKey", key_arn, iam.s3_put_context(prod, key_arn))
    lock = iam.object_lock(prod, f"{iam.audit_bucket(prod).name}-id")
    assert lock["rule"]["defaultRetention"] == {"mode": "COMPLIANCE", "days": 2555}


def test_the_configuration_uses_keys_fluent_bit_parses(prod):
    cfg = _config(prod)
    assert set(cfg["INPUT"]) - {"name", "tag", "storage.type"} == TAIL_KEYS
    assert set(cfg["OUTPUT"]) - {"name", "match"} == S3_KEYS
    tail = upstream_text("fluent/fluent-bit", "v4.0.3", "plugins/in_tail/tail.c")
    s3 = upstream_text("fluent/fluent-bit", "v4.0.3", "plugins/out_s3/s3.c")
    sts = upstream_text("fluent/fluent-bit", "v4.0.3", "src/aws/flb_aws_credentials_sts.c")
    if tail is None:
        pytest.skip("no fluent-bit mirror on this machine; the recorded keys stand")
    for key in TAIL_KEYS:
        assert f'"{key}"' in tail, key
    for key in S3_KEYS:
        assert f'"{key}"' in s3, key
    assert '"AWS_WEB_IDENTITY_TOKEN_FILE"' in sts and '"AWS_ROLE_ARN"' in sts


def test_the_image_is_pullable_and_named_by_the_exemption(prod):
    image = _sidecar(prod)["image"]
    assert image == FLUENT_BIT_IMAGE == "ghcr.io/fluent/fluent-bit:4.0.3"
    assert not re.search(r"sha256:0{64}", image)
    doc = yaml.safe_load((ROOT / "policy_pack" / "exemptions.yaml").read_text())
    (entry,) = [e for e in doc["exemptions"] if e["id"] == "vault-server"]
    assert "ghcr.io/fluent/fluent-bit" in entry["images"]
    with pytest.raises(ValueError, match="placeholder digest"):
        AuditTrailsConfig(shipper_image="ghcr.io/fluent/fluent-bit:4.0.3@sha256:" + "0" * 64)
    with pytest.raises(ValueError, match="never :latest"):
        AuditTrailsConfig(shipper_image="ghcr.io/fluent/fluent-bit:latest")


def test_vault_reaches_aws_through_the_vpc_endpoints_only(prod):
    (np,) = k8s(prod, "NetworkPolicy", "allow-egress-aws-kms-sts", "vault")
    peers = [p["ipBlock"]["cidr"] for rule in np["spec"]["egress"] for p in rule["to"]]
    assert peers == prod_document()["awsEndpointCidrs"]
