"""The hardened-stack Pulumi program: load and validate the stack config, build (or adopt and check)
the cluster, build the Kubernetes provider from its outputs, then build the stack with it."""
import pulumi

from components import HardenedStack, load_stack_config
from components.stack import build_cluster

config, secrets = load_stack_config()
cluster, kubernetes = build_cluster(config)
stack = HardenedStack(config.cluster.name, config, secrets, cluster=cluster,
                      opts=pulumi.ResourceOptions(providers=[kubernetes]))

pulumi.export("namespaces", sorted(stack.namespaces))
pulumi.export("workloads", sorted(stack.workloads))
pulumi.export("isolated", sorted(config.isolate))
pulumi.export("cluster", {"name": config.cluster.name, "created": config.cluster.create,
                          "breakGlassRoleArn": cluster.break_glass_arn, "vpcId": cluster.vpc_id,
                          # the ALB's subnets (ingress.alb.subnetIds) when the stack created the VPC
                          "publicSubnetIds": [s.id for s in getattr(cluster, "public_subnets", [])]})
