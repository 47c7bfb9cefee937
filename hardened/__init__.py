"""hardened: the offline tooling of hardened-stack (``hardened <command>`` or ``python -m hardened <command>``).

- :mod:`hardened.manifests`: Kubernetes YAML and rendered stacks as engine resources;
- :mod:`hardened.analyzer`: the policy pack in its own process, driven over the Analyzer protocol;
- :mod:`hardened.check`: the ``check`` command and its report formats;
- :mod:`hardened.report`: the compliance evidence report.
"""

#: The tool's version: the only place it is written (pyproject.toml reads it from here), and the
#: policy pack's too (policy_pack/PulumiPolicy.yaml carries the same; tests/check/test_consistency.py).
__version__ = "1.0.0"
