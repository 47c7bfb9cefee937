"""hardened-stack components: one module per concern, composed by :class:`HardenedStack`."""
from .config import ConfigError, Secrets, StackConfig, load_stack_config, parse_stack_config
from .namespace import HardenedNamespace, HardenedNamespaceArgs
from .stack import HardenedStack
from .workload import HardenedWorkload, HardenedWorkloadArgs

__all__ = [
    "ConfigError", "HardenedNamespace", "HardenedNamespaceArgs", "HardenedStack", "HardenedWorkload",
    "HardenedWorkloadArgs", "Secrets", "StackConfig", "load_stack_config", "parse_stack_config",
]
