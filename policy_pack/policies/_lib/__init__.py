"""Shared building blocks of the policies.

- :mod:`.exemptions`: the exemptions file (stdlib + PyYAML only; components import it too);
- :mod:`.schema`: a small JSON-schema checker for policy configuration (stdlib only);
- :mod:`.k8s`: tolerant, typed access to Kubernetes objects (pod specs, containers, images);
- :mod:`.framework`: ``resource_policy`` / ``stack_policy``, which give every policy the same
  metadata, configuration, exemptions and fail-closed handling of malformed input;
- :mod:`.wiring`: what refers to what across objects (the wiring policies and tests/wiring/), with
  the one table of what controllers create at run time;
- :mod:`.reach`: who can reach whom, a NetworkPolicy semantics evaluator over the same selectors.

Importing this package imports nothing else: the pulumi_policy-dependent modules are imported
by the policies that need them.
"""
