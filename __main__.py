"""The hardened-stack Pulumi program: load and validate the stack config, build the stack."""
import pulumi

from components import HardenedStack, load_stack_config

config, secrets = load_stack_config()
stack = HardenedStack(config.cluster.name, config, secrets)

pulumi.export("namespaces", sorted(stack.namespaces))
pulumi.export("workloads", sorted(stack.workloads))
pulumi.export("isolated", sorted(config.isolate))
