"""The created cluster (issue 22) as the prod render registers it: every property that makes it
hardened, read from the resources' inputs in wire form (what the AWS provider receives)."""
from __future__ import annotations

import ipaddress
import json

import pytest

from components.base import ConfigError
from components.cluster import (ACCESS_POLICIES, EKS_VERSIONS, LOG_TYPES, MANAGED, kubeconfig, preflight_findings,
                                subnet_plan)
from components.config import parse_stack_config
from tests.harness import of_type, one, prod_document

NAME = "lego-mcp-prod"


def doc(policy: str) -> dict:
    return json.loads(policy)


def tagged(records, typ: str, fragment: str) -> list:
    return [r for r in of_type(records, typ) if fragment in r.name]


# --- network --------------------------------------------------------------------------------

def test_vpc_spans_three_zones_with_private_nodes_and_public_subnets_only_for_the_alb(prod):
    records, _ = prod
    subnets = of_type(records, "aws:ec2/subnet:Subnet")
    private = [s.inputs for s in subnets if "-private-" in s.name]
    public = [s.inputs for s in subnets if "-public-" in s.name]
    assert len(private) == 3 and len(public) == 3
    assert len({s["availabilityZone"] for s in private}) == 3 == len({s["availabilityZone"] for s in public})
    assert all(s["mapPublicIpOnLaunch"] is False for s in private + public)
    assert all(s["tags"].get("kubernetes.io/role/elb") == "1" for s in public)
    vpc = ipaddress.ip_network(one(records, "aws:ec2/vpc:Vpc").inputs["cidrBlock"])
    nets = [ipaddress.ip_network(s["cidrBlock"]) for s in private + public]
    assert all(n.subnet_of(vpc) for n in nets)
    assert not any(a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1:])
    # nodes run in the private subnets only
    private_ids = {f"{s.name}-id" for s in subnets if "-private-" in s.name}
    for ng in of_type(records, "aws:eks/nodeGroup:NodeGroup"):
        assert set(ng.inputs["subnetIds"]) == private_ids
    assert set(one(records, "aws:eks/cluster:Cluster").inputs["vpcConfig"]["subnetIds"]) == private_ids


def test_private_route_tables_have_no_internet_gateway_route(prod):
    records, _ = prod
    for rt in of_type(records, "aws:ec2/routeTable:RouteTable"):
        if "-private-" in rt.name:
            assert all("gatewayId" not in r for r in rt.inputs.get("routes", [])), rt.name


def test_subnet_plan_never_overlaps_and_keeps_most_addresses_for_pods():
    plan = subnet_plan("10.0.0.0/16")
    assert plan["private"] == ["10.0.0.0/18", "10.0.64.0/18", "10.0.128.0/18"]
    assert plan["public"] == ["10.0.192.0/24", "10.0.193.0/24", "10.0.194.0/24"]
    small = subnet_plan("10.8.0.0/20")
    assert all(ipaddress.ip_network(p).subnet_of(ipaddress.ip_network("10.8.0.0/20")) for p in sum(small.values(), []))


def test_aws_apis_are_reached_through_vpc_endpoints(prod):
    records, _ = prod
    endpoints = {e.inputs["serviceName"].rsplit(".", 1)[-1] if "ecr" not in e.inputs["serviceName"]
                 else ".".join(e.inputs["serviceName"].split(".")[-2:]): e.inputs
                 for e in of_type(records, "aws:ec2/vpcEndpoint:VpcEndpoint")}
    assert {"ecr.api", "ecr.dkr", "s3", "sts", "logs", "kms"} <= set(endpoints)
    assert endpoints["s3"]["vpcEndpointType"] == "Gateway"
    for svc in ("ecr.api", "ecr.dkr", "sts", "logs", "kms"):
        assert endpoints[svc]["vpcEndpointType"] == "Interface" and endpoints[svc]["privateDnsEnabled"] is True


def test_flow_logs_go_to_the_audit_bucket_which_admits_their_delivery(prod):
    records, _ = prod
    flow = one(records, "aws:ec2/flowLog:FlowLog").inputs
    audit = one(records, "aws:s3/bucket:Bucket", "compliance-audit-logs")
    bucket = audit.inputs["bucket"]
    assert flow["trafficType"] == "ALL" and flow["logDestinationType"] == "s3"
    assert flow["logDestination"] == f"arn:aws:s3:::{bucket}/vpc-flow-logs/"
    # the audit bucket's own policy (the edge's ALB access-log bucket has another): the one naming its id
    (audit_policy,) = [p for p in of_type(records, "aws:s3/bucketPolicy:BucketPolicy")
                       if p.inputs["bucket"] == f"{audit.name}-id"]
    policy = doc(audit_policy.inputs["policy"])
    write = next(s for s in policy["Statement"] if s["Sid"] == "FlowLogDeliveryWrite")
    assert write["Principal"] == {"Service": "delivery.logs.amazonaws.com"}
    assert write["Resource"].startswith(f"arn:aws:s3:::{bucket}/vpc-flow-logs/")
    assert write["Condition"]["StringEquals"]["aws:SourceAccount"] == "123456789012"


def test_the_default_security_group_has_no_rules(prod):
    records, _ = prod
    sg = one(records, "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup").inputs
    assert not sg.get("ingress") and not sg.get("egress")


# --- control plane -------------------------------------------------------------------------

def test_control_plane_is_private_encrypted_and_logs_everything(prod):
    records, _ = prod
    eks = one(records, "aws:eks/cluster:Cluster").inputs
    assert eks["version"] == prod_document()["cluster"]["kubernetesVersion"]
    assert eks["enabledClusterLogTypes"] == LOG_TYPES
    assert eks["vpcConfig"]["endpointPrivateAccess"] is True and eks["vpcConfig"]["endpointPublicAccess"] is False
    key = one(records, "aws:kms/key:Key", "-secrets-key")
    assert eks["encryptionConfig"]["resources"] == ["secrets"]
    from hardened.render import mock_kms_key_id
    assert eks["encryptionConfig"]["provider"]["keyArn"].endswith(f"key/{mock_kms_key_id(key.name)}")
    assert key.inputs["enableKeyRotation"] is True and key.inputs["policy"]
    assert eks["accessConfig"] == {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False}
    assert eks["bootstrapSelfManagedAddons"] is False


def test_the_control_plane_log_group_exists_before_the_cluster_and_feeds_the_audit_trail(prod):
    records, _ = prod
    group = one(records, "aws:cloudwatch/logGroup:LogGroup", "-control-plane-logs")
    eks = one(records, "aws:eks/cluster:Cluster")
    assert group.inputs["name"] == f"/aws/eks/{NAME}/cluster" and group.urn in eks.dependencies
    sub = one(records, "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter").inputs
    assert sub["logGroup"] == group.inputs["name"]
    # the audit trail no longer creates a second group of the same name
    assert len(of_type(records, "aws:cloudwatch/logGroup:LogGroup")) == 1


@pytest.mark.parametrize("cidrs, fragment", [
    (["0.0.0.0/0"], "whole internet"), (["::/0"], "whole internet"), (["203.0.113.0/24", "0.0.0.0/0"], "whole internet"),
], ids=["ipv4-any", "ipv6-any", "any-among-others"])
def test_a_world_public_endpoint_is_refused(cidrs, fragment):
    d = prod_document()
    d["cluster"]["publicAccessCidrs"] = cidrs
    with pytest.raises(ConfigError) as exc:
        parse_stack_config(d)
    assert "hardened-stack:cluster.publicAccessCidrs" in str(exc.value) and fragment in str(exc.value)


def test_an_allowlisted_public_endpoint_is_the_only_alternative(tmp_path):
    from components.cluster import ClusterFields

    f = ClusterFields(publicAccessCidrs=["203.0.113.0/24"])
    assert f.public_access_cidrs == ["203.0.113.0/24"]


@pytest.mark.parametrize("mutate, path, fragment", [
    (lambda c: c.update(kubernetesVersion="1.29"), "cluster.kubernetesVersion", "1.33"),
    (lambda c: c.pop("deployerRoleArn"), "cluster.deployerRoleArn", "required with create"),
    (lambda c: c.update(oidcIssuerUrl="https://oidc.example.com/id/X"), "cluster.oidcIssuerUrl", "brings its own"),
    (lambda c: c.update(keyAdmins=["arn:aws:iam::123456789012:root"]), "cluster.keyAdmins", "account root"),
    (lambda c: c.update(vpcCidr="8.8.0.0/16"), "cluster.vpcCidr", "private range"),
    (lambda c: c.update(availabilityZones=["us-east-1a", "us-east-1a", "us-east-1b"]), "cluster.availabilityZones",
     "three different"),
    (lambda c: c["breakGlass"].update(maxSessionSeconds=43200), "cluster.breakGlass.maxSessionSeconds", "3600"),
    (lambda c: c["access"][0].update(namespaces=[]), "cluster.access[0].namespaces", "at least 1"),
    (lambda c: c["access"][0].update(policy="cluster-admin"), "cluster.access[0].policy", "view"),
], ids=["version-outside-window", "no-deployer", "oidc-with-create", "root-key-admin", "public-vpc", "zones",
        "long-break-glass", "cluster-wide-access", "cluster-admin-access"])
def test_bad_cluster_input_names_the_field(mutate, path, fragment):
    d = prod_document()
    mutate(d["cluster"])
    with pytest.raises(ConfigError) as exc:
        parse_stack_config(d)
    assert f"hardened-stack:{path}" in str(exc.value) and fragment in str(exc.value), str(exc.value)


def test_the_supported_window_is_the_stacks_validated_versions():
    from components.base import SUPPORTED_KUBERNETES_VERSIONS

    assert sorted(EKS_VERSIONS) == sorted(SUPPORTED_KUBERNETES_VERSIONS)
    for pins in EKS_VERSIONS.values():
        assert set(pins) == {"vpc-cni", "aws-ebs-csi-driver", "coredns", "kube-proxy"}
        assert all(v.startswith("v") and "eksbuild" in v for v in pins.values())


# --- access ------------------------------------------------------------------------------------

def test_break_glass_requires_mfa_and_short_sessions(prod):
    records, _ = prod
    role = one(records, "aws:iam/role:Role", "-break-glass")
    assert role.inputs["name"] == f"{NAME}-break-glass" and role.inputs["maxSessionDuration"] <= 3600
    (stmt,) = doc(role.inputs["assumeRolePolicy"])["Statement"]
    assert stmt["Condition"]["Bool"] == {"aws:MultiFactorAuthPresent": "true"}
    assert int(stmt["Condition"]["NumericLessThan"]["aws:MultiFactorAuthAge"]) <= 3600
    assert stmt["Principal"]["AWS"] == prod_document()["cluster"]["breakGlass"]["trustedPrincipals"]


def test_cluster_admin_is_only_break_glass_and_the_deployer(prod):
    records, _ = prod
    admins = [a.inputs["principalArn"] for a in of_type(records, "aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
              if a.inputs["policyArn"] == ACCESS_POLICIES["cluster-admin"]]
    deployer = prod_document()["cluster"]["deployerRoleArn"]
    assert len(admins) == 2 and deployer in admins and any(a.endswith("-break-glass") for a in admins)
    for a in of_type(records, "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"):
        if a.inputs["policyArn"] != ACCESS_POLICIES["cluster-admin"]:
            assert a.inputs["accessScope"]["type"] == "namespace" and a.inputs["accessScope"]["namespaces"]


def test_day_to_day_roles_get_namespaced_policies(prod):
    records, _ = prod
    wanted = {(a["principalArn"], ACCESS_POLICIES[a["policy"]], tuple(a["namespaces"]))
              for a in prod_document()["cluster"]["access"]}
    got = {(a.inputs["principalArn"], a.inputs["policyArn"], tuple(a.inputs["accessScope"].get("namespaces") or ()))
           for a in of_type(records, "aws:eks/accessPolicyAssociation:AccessPolicyAssociation")}
    assert wanted <= got


# --- add-ons and IRSA ---------------------------------------------------------------------------

def test_addons_are_pinned_and_the_cni_enforces_network_policy_with_its_own_role(prod):
    records, _ = prod
    addons = {a.inputs["addonName"]: a.inputs for a in of_type(records, "aws:eks/addon:Addon")}
    pins = EKS_VERSIONS[prod_document()["cluster"]["kubernetesVersion"]]
    assert {k: v["addonVersion"] for k, v in addons.items()} == pins
    assert json.loads(addons["vpc-cni"]["configurationValues"])["enableNetworkPolicy"] == "true"
    cni_role = one(records, "aws:iam/role:Role", "-cluster-vpc-cni")
    assert addons["vpc-cni"]["serviceAccountRoleArn"].endswith(cni_role.name)
    ebs_role = one(records, "aws:iam/role:Role", "-cluster-ebs-csi")
    assert addons["aws-ebs-csi-driver"]["serviceAccountRoleArn"].endswith(ebs_role.name)


@pytest.mark.parametrize("suffix, sa", [("-cluster-vpc-cni", "kube-system:aws-node"),
                                        ("-cluster-ebs-csi", "kube-system:ebs-csi-controller-sa")])
def test_irsa_roles_trust_exactly_their_service_account(prod, suffix, sa):
    records, _ = prod
    (stmt,) = doc(one(records, "aws:iam/role:Role", suffix).inputs["assumeRolePolicy"])["Statement"]
    provider = one(records, "aws:iam/openIdConnectProvider:OpenIdConnectProvider").inputs["url"]
    issuer = provider.removeprefix("https://")
    assert stmt["Condition"]["StringEquals"] == {f"{issuer}:sub": f"system:serviceaccount:{sa}",
                                                 f"{issuer}:aud": "sts.amazonaws.com"}


def test_cni_policy_is_on_the_cni_role_never_the_nodes_and_the_storage_policy_is_attached(prod):
    records, _ = prod
    attachments = [(a.inputs["role"], a.inputs["policyArn"])
                   for a in of_type(records, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")]
    node_role = one(records, "aws:iam/role:Role", "-node-role").inputs["name"]
    assert sorted(p for r, p in attachments if r == node_role) == sorted([MANAGED["worker"], MANAGED["ecr"]])
    assert (f"{NAME}-vpc-cni", MANAGED["cni"]) in attachments
    storage_policy = one(records, "aws:iam/policy:Policy", "-ebs-csi-kms")
    assert (f"{NAME}-ebs-csi", f"arn:aws:iam::123456789012:policy/{storage_policy.name}") in attachments


def test_the_stacks_irsa_consumers_use_the_created_provider(prod):
    records, _ = prod
    provider = one(records, "aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    arn = f"arn:aws:iam::123456789012:oidc-provider/{provider.inputs['url'].removeprefix('https://')}"
    for role in of_type(records, "aws:iam/role:Role"):
        trust = doc(role.inputs["assumeRolePolicy"])
        for stmt in trust["Statement"]:
            federated = (stmt.get("Principal") or {}).get("Federated")
            if federated:
                assert federated == arn, role.name


# --- nodes ---------------------------------------------------------------------------------------

def test_launch_templates_require_imdsv2_hop_1_and_encrypt_every_volume_with_the_storage_key(prod):
    records, _ = prod
    from hardened.render import mock_kms_key_id

    key = one(records, "aws:kms/key:Key", "-cluster-volume-key")
    sc_key = [r for r in records if r.is_kubernetes_object and r.inputs["kind"] == "StorageClass"][0]
    assert sc_key.inputs["parameters"]["kmsKeyId"].endswith(mock_kms_key_id(key.name))
    lts = of_type(records, "aws:ec2/launchTemplate:LaunchTemplate")
    assert len(lts) == len(prod_document()["cluster"]["nodeGroups"])
    for lt in lts:
        m = lt.inputs["metadataOptions"]
        assert m["httpTokens"] == "required" and m["httpPutResponseHopLimit"] == 1 and m["httpEndpoint"] == "enabled"
        assert "keyName" not in lt.inputs
        devices = lt.inputs["blockDeviceMappings"]
        assert {d["deviceName"] for d in devices} == {"/dev/xvda", "/dev/xvdb"}  # Bottlerocket: OS and data
        for d in devices:
            assert d["ebs"]["encrypted"] == "true" and d["ebs"]["kmsKeyId"].endswith(mock_kms_key_id(key.name))


def test_node_groups_are_bottlerocket_with_no_remote_access(prod):
    records, _ = prod
    for ng in of_type(records, "aws:eks/nodeGroup:NodeGroup"):
        assert ng.inputs["amiType"].startswith("BOTTLEROCKET_")
        assert "remoteAccess" not in ng.inputs and ng.inputs["launchTemplate"]["id"]


def test_node_security_group_admits_only_the_control_plane_and_the_nodes(prod):
    records, _ = prod
    node_sg = one(records, "aws:ec2/securityGroup:SecurityGroup", "-node-sg")
    cp_sg = one(records, "aws:ec2/securityGroup:SecurityGroup", "-control-plane-sg")
    assert not node_sg.inputs.get("ingress")
    rules = [r.inputs for r in of_type(records, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
             if r.inputs["securityGroupId"] == f"{node_sg.name}-id"]
    by_group = [r for r in rules if "referencedSecurityGroupId" in r]
    assert by_group and {r["referencedSecurityGroupId"] for r in by_group} == {f"{node_sg.name}-id", f"{cp_sg.name}-id"}
    # the one exception: the ALB's ip targets (the gateway pods), from the public subnets only, on 443 and 15021
    by_cidr = [r for r in rules if "referencedSecurityGroupId" not in r]
    public = {s.inputs["cidrBlock"] for s in of_type(records, "aws:ec2/subnet:Subnet") if "-public-" in s.name}
    assert {r["cidrIpv4"] for r in by_cidr} == public and {r["fromPort"] for r in by_cidr} == {443, 15021}
    assert all(r["fromPort"] == r["toPort"] and "cidrIpv6" not in r for r in by_cidr)


# --- one `pulumi up`: the provider from the cluster's outputs -----------------------------------

def test_every_kubernetes_object_uses_the_provider_built_from_the_cluster(prod):
    records, providers = prod
    provider = one(records, "pulumi:providers:kubernetes")
    assert provider.inputs["kubeconfig"] == "[secret]"  # never printed
    for dep in ("aws:eks/cluster:Cluster", "aws:eks/nodeGroup:NodeGroup", "aws:eks/addon:Addon"):
        assert any(r.urn in provider.dependencies for r in of_type(records, dep)), dep
    k8s_objects = [r for r in records if r.type.startswith("kubernetes:") and r.parent
                   and (r.type, r.name) in providers]
    assert k8s_objects
    for r in k8s_objects:
        assert providers[(r.type, r.name)].startswith(provider.urn), r.name


def test_kubeconfig_uses_endpoint_ca_and_aws_eks_get_token():
    cfg = json.loads(kubeconfig("c", "https://x.eks.amazonaws.com", "Q0E=", "us-east-1",
                                "arn:aws:iam::123456789012:role/deployer"))
    assert cfg["clusters"][0]["cluster"] == {"server": "https://x.eks.amazonaws.com", "certificate-authority-data": "Q0E="}
    user = cfg["users"][0]["user"]
    assert set(user) == {"exec"} and user["exec"]["command"] == "aws"
    assert user["exec"]["args"][:2] == ["eks", "get-token"] and "--role-arn" in user["exec"]["args"]


# --- pure pieces -----------------------------------------------------------------------------------

def test_al2023_nodes_encrypt_their_single_root_volume():
    from components.cluster import launch_template_devices

    (root,) = launch_template_devices("al2023", "arn:aws:kms:us-east-1:123456789012:key/k", 80)
    assert root["device_name"] == "/dev/xvda" and root["ebs"]["encrypted"] == "true" and root["ebs"]["volume_size"] == 80


def test_break_glass_trust_defaults_to_the_account_and_always_needs_mfa():
    from components.cluster import break_glass_trust

    (stmt,) = break_glass_trust("123456789012", [], 900)["Statement"]
    assert stmt["Principal"]["AWS"] == ["arn:aws:iam::123456789012:root"]
    assert stmt["Condition"]["Bool"] == {"aws:MultiFactorAuthPresent": "true"}
    assert stmt["Condition"]["NumericLessThan"] == {"aws:MultiFactorAuthAge": "900"}


def test_the_break_glass_role_holds_the_key_lifeline_only_with_mfa(prod):
    records, _ = prod
    (policy,) = [r for r in of_type(records, "aws:iam/rolePolicy:RolePolicy") if r.name.endswith("-break-glass-kms")]
    (stmt,) = doc(policy.inputs["policy"])["Statement"]
    assert set(stmt["Action"]) == {"kms:DisableKey", "kms:DisableKeyRotation", "kms:PutKeyPolicy",
                                   "kms:ScheduleKeyDeletion", "kms:DescribeKey", "kms:GetKeyPolicy"}
    assert stmt["Condition"] == {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    assert stmt["Resource"] == "arn:aws:kms:us-east-1:123456789012:key/*"
