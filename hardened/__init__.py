"""hardened: the offline tooling of hardened-stack (``python -m hardened <command>``).

- :mod:`hardened.manifests`: Kubernetes YAML and rendered stacks as engine resources;
- :mod:`hardened.analyzer`: the policy pack in its own process, driven over the Analyzer protocol;
- :mod:`hardened.check`: the ``check`` command and its text, JSON and SARIF reports.
"""
