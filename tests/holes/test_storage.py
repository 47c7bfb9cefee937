"""Issue 17, item 5: storage was not encrypted. Vault's raft volumes named a StorageClass nobody
created; now the stack creates it (EBS CSI, the stack's KMS key) and workloads can keep data."""
from __future__ import annotations

import json

import pytest

from components.config import ConfigError, parse_stack_config
from components.storage import StorageConfig, csi_key_policy, storage_class
from components.workload import HardenedWorkloadArgs, workload_manifests
from tests.harness import charts, k8s, of_type, prod_document, render_records


@pytest.fixture(scope="module")
def prod():
    return render_records()


def test_every_storage_class_a_volume_names_exists_and_is_kms_encrypted(prod):
    classes = {c["metadata"]["name"]: c for c in k8s(prod, "StorageClass")}
    (vault,) = charts(prod, "vault")
    named = {vault.inputs["values"]["server"][v]["storageClass"] for v in ("dataStorage", "auditStorage")}
    # a claim that names no class gets the cluster's default one (the chart children's, e.g. SPIRE's)
    (default,) = [n for n, c in classes.items()
                  if (c["metadata"].get("annotations") or {}).get("storageclass.kubernetes.io/is-default-class") == "true"]
    for sts in k8s(prod, "StatefulSet"):
        named |= {t["spec"].get("storageClassName") or default for t in sts["spec"].get("volumeClaimTemplates", [])}
    assert named == {"gp3-encrypted"}
    for name in named:
        assert name in classes, f"volumes name StorageClass {name!r}, which the stack never creates"
        sc = classes[name]
        assert sc["provisioner"] == "ebs.csi.aws.com"
        assert sc["parameters"]["type"] == "gp3" and sc["parameters"]["encrypted"] == "true"
        assert sc["parameters"]["kmsKeyId"].startswith("arn:aws:kms:")
        assert sc["allowVolumeExpansion"] is True and sc["volumeBindingMode"] == "WaitForFirstConsumer"
        assert sc["reclaimPolicy"] == "Retain"


def test_the_volume_key_is_the_stacks_own_rotating_key(prod):
    (sc,) = k8s(prod, "StorageClass", "gp3-encrypted")
    (key,) = [r for r in of_type(prod, "aws:kms/key:Key") if r.name.endswith("-volume-key")]
    assert key.inputs["enableKeyRotation"] is True and key.inputs["rotationPeriodInDays"] == 365
    key_id = sc["parameters"]["kmsKeyId"].rsplit("/", 1)[1]
    from hardened.render import mock_kms_key_id
    assert key_id == mock_kms_key_id(key.name)
    (policy,) = [r for r in of_type(prod, "aws:iam/policy:Policy") if r.name.endswith("-ebs-csi-kms")]
    doc = json.loads(policy.inputs["policy"])
    assert {s["Resource"] for s in doc["Statement"]} == {sc["parameters"]["kmsKeyId"]}
    grant = next(s for s in doc["Statement"] if "kms:CreateGrant" in s["Action"])
    assert grant["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}


def test_vault_waits_for_the_storage_class(prod):
    from tests.harness import render_with_dependencies
    records, deps = render_with_dependencies()
    vault = next(r for r in records if r.type == "hardened:index:VaultHA")
    sc = next(r for r in records if r.type == "kubernetes:storage.k8s.io/v1:StorageClass")
    assert sc.urn in deps[vault.urn]


def test_a_workload_with_persistent_volumes_is_a_statefulset_on_the_encrypted_class(prod):
    (sts,) = k8s(prod, "StatefulSet", "mcp-server", "lego-mcp-prod")
    assert not k8s(prod, "Deployment", "mcp-server", "lego-mcp-prod")
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    assert claim["spec"] == {"accessModes": ["ReadWriteOnce"], "storageClassName": "gp3-encrypted",
                             "resources": {"requests": {"storage": "20Gi"}}}
    pod = sts["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert {"name": claim["metadata"]["name"], "mountPath": "/var/lib/mcp/data"} in c["volumeMounts"]
    assert all("emptyDir" in v for v in pod.get("volumes", [])), "only writablePaths are emptyDirs"
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["fsGroup"] == c["securityContext"]["runAsUser"]


def test_workloads_without_persistent_volumes_stay_deployments():
    doc = prod_document()
    w = parse_stack_config(doc).workload("ltmc-production/ltmc-mcp-server")
    kinds = [m["kind"] for _, m in workload_manifests(HardenedWorkloadArgs(workload=w))]
    assert "Deployment" in kinds and "StatefulSet" not in kinds


@pytest.mark.parametrize("volume, fragment", [
    ({"path": "/tmp", "size": "1Gi"}, "declared twice"),
    ({"path": "data", "size": "1Gi"}, "absolute path"),
    ({"path": "/data", "size": "1GB"}, "not a positive Kubernetes quantity"),
])
def test_bad_persistent_volumes_are_refused(volume, fragment):
    doc = prod_document()
    doc["workloads"][1]["persistentVolumes"] = [volume]
    with pytest.raises(ConfigError) as exc:
        parse_stack_config(doc)
    assert "hardened-stack:workloads[1].persistentVolumes[0]" in str(exc.value) and fragment in str(exc.value)


def test_storage_class_options():
    sc = storage_class(StorageConfig(reclaimPolicy="Delete", defaultClass=False, iops=6000), "arn:aws:kms:k")
    assert sc["reclaimPolicy"] == "Delete" and "annotations" not in sc["metadata"]
    assert sc["parameters"]["iops"] == "6000"
    assert csi_key_policy("k")["Statement"][0]["Resource"] == "k"
