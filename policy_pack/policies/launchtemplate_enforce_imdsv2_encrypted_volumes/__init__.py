"""launchtemplate-enforce-imdsv2-encrypted-volumes: EC2 launch templates require IMDSv2 with a hop
limit of 1, declare their volumes and encrypt every one, and carry no SSH key.

IMDSv1 answers any GET, so an SSRF in a pod reads the node role's credentials; a hop limit above 1
lets a pod's packets (one more hop, through the node's network namespace) reach IMDS even with
IMDSv2. A template that declares no block device leaves the root volume to the AMI's default, which
is unencrypted unless the account's default says otherwise. Anchors: checkov CKV_AWS_79 (IMDSv2)
and CKV_AWS_341 (hop limit 1), the AWS EKS best-practices guide ("Restrict access to the instance
profile assigned to the worker node"), pulumi/compliance-policies
``vendor-aws/aws/ec2/LaunchTemplate/disallowUnencryptedBlockDevice.ts`` (``ebs.encrypted`` is the
string "true" on the wire: pulumi-aws issue 2257).
"""
from __future__ import annotations

from pulumi_policy import Severity

from .._lib.framework import nist_800_171, resource_policy
from .._lib.k8s import get_int, get_map, get_str, maps


def _true(value) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def check(obj, config):
    props = obj.props
    meta = get_map(props, "metadataOptions", "")
    if get_str(meta, "httpEndpoint", "metadataOptions") != "disabled":
        if get_str(meta, "httpTokens", "metadataOptions") != "required":
            yield ("metadataOptions.httpTokens is not 'required': IMDSv1 hands the node role's credentials to any "
                   "SSRF; set http_tokens='required'")
        hops = get_int(meta, "httpPutResponseHopLimit", "metadataOptions")
        if hops != 1:
            shown = hops if hops is not None else "unset (the AMI decides; EKS AMIs use 2)"
            yield (f"metadataOptions.httpPutResponseHopLimit is {shown}: pods can reach the node's metadata service; "
                   "set http_put_response_hop_limit=1")
    devices = list(maps(props, "blockDeviceMappings", ""))
    if not devices:
        yield ("blockDeviceMappings is empty: the root volume takes the AMI's default, unencrypted unless the account "
               "default encrypts; declare each volume with ebs.encrypted 'true' and a kmsKeyId")
    for _, device, path in devices:
        ebs = get_map(device, "ebs", path)
        if ebs and not _true(ebs.get("encrypted")):
            yield f"{path} ({device.get('deviceName', '?')}) is not encrypted; set ebs.encrypted 'true' and kms_key_id"
    if get_str(props, "keyName", ""):
        yield "keyName is set: nodes accept SSH with that key pair; remove it (use SSM or break-glass, docs/cluster.md)"


POLICY = resource_policy(
    name="launchtemplate-enforce-imdsv2-encrypted-volumes",
    description="EC2 launch templates require IMDSv2 with hop limit 1, encrypt every declared volume and set no SSH key.",
    kinds=[("aws:ec2", "LaunchTemplate")],
    severity=Severity.HIGH,
    control=nist_800_171("3.13.16"),
    tags=["checkov:CKV_AWS_79", "checkov:CKV_AWS_341", "cmmc:SC.L2-3.13.16", "cmmc:AC.L2-3.1.1",
          "eks-best-practices:restrict-imds", "iec62443:SR 4.1"],
    remediation="""
Use the stack's node groups (HardenedCluster): metadata_options http_tokens='required',
http_put_response_hop_limit=1; block_device_mappings for every volume (Bottlerocket: /dev/xvda and
/dev/xvdb) with encrypted 'true' and the storage key; no key_name.""",
    check=check,
)
