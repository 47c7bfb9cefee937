"""The policy pack for the mutation and fuzz tests (and the benchmarks), through the project's
own engine side: :class:`hardened.analyzer.PolicyPackProcess` starts the pack as its own process
exactly as the Pulumi CLI does and drives it over the Analyzer gRPC protocol (``Analyze`` per
resource, ``AnalyzeStack`` for the set). Nothing here talks gRPC itself."""
from __future__ import annotations

import json
import time
from typing import Iterable, NamedTuple

from hardened.analyzer import PackError, PolicyPackProcess
from hardened.manifests import Resource as PackResource

__all__ = ["Diagnostic", "PackClient", "PackError", "Resource", "start_pack"]


class Diagnostic(NamedTuple):
    policy: str
    message: str
    mandatory: bool
    urn: str
    internal_error: bool = False


class Resource(NamedTuple):
    type: str
    name: str
    urn: str
    props: dict
    custom: bool = True
    parent: str = ""   # the URN of the component it belongs to: a Chart is judged by its children

    def to_pack(self) -> PackResource:
        return PackResource(self.type, self.name, self.props, urn=self.urn, custom=self.custom, parent=self.parent)


class PackClient:
    def __init__(self, process: PolicyPackProcess, start_seconds: float):
        self.process = process
        self.started_by = "hardened.analyzer.PolicyPackProcess"
        self.start_seconds = start_seconds
        self._memo: dict[tuple, list[Diagnostic]] = {}
        self._configured_with = None

    @staticmethod
    def _diagnostics(analysis) -> list[Diagnostic]:
        return [Diagnostic(v.policy, v.message, v.mandatory, v.urn, v.internal_error) for v in analysis.verdicts]

    def policies(self) -> list[str]:
        return sorted(self.process.policies)

    def analyze(self, res: Resource) -> list[Diagnostic]:
        """One resource through ``Analyze`` only."""
        return self._diagnostics(self.process.analyze([res.to_pack()], stack=False))

    def analyze_all(self, resources: Iterable[Resource], stack: bool = True) -> list[Diagnostic]:
        """Every resource through ``Analyze`` (pipelined), then the set through ``AnalyzeStack``.

        ``Analyze`` judges one resource alone, so its answer for a resource already sent (same
        type, name, URN and properties, compared as canonical JSON) is remembered: a mutated
        stack sends only its changed resources through ``Analyze``, and every resource through
        ``AnalyzeStack`` (issue 26: the mutation suite re-judged ~400 unchanged resources per
        mutant). The memo is dropped whenever the pack is configured."""
        resources = list(resources)
        if self._configured_with is not getattr(self.process, "_last_config", None):
            self._memo.clear()
            self._configured_with = getattr(self.process, "_last_config", None)
        keys = [(r.type, r.name, r.urn, r.custom, json.dumps(r.props, sort_keys=True, default=str)) for r in resources]
        packed = [r.to_pack() for r in resources]
        fresh = {id(p) for p, k in zip(packed, keys) if k not in self._memo}
        analysis = self.process.analyze(packed, stack=stack, send_analyze=lambda p: id(p) in fresh)
        out = [Diagnostic(v.policy, v.message, v.mandatory, v.urn) for v in analysis.verdicts if v.stage == "stack"]
        by_resource: dict[int, list[Diagnostic]] = {}
        for v in analysis.verdicts:
            if v.stage != "stack" and v.resource is not None:
                by_resource.setdefault(id(v.resource), []).append(Diagnostic(v.policy, v.message, v.mandatory, v.urn))
        for p, key in zip(packed, keys):
            if id(p) in fresh:
                self._memo[key] = by_resource.get(id(p), [])
            out.extend(self._memo[key])
        return out

    def close(self) -> None:
        self.process.close()

    def __enter__(self) -> "PackClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def start_pack() -> PackClient:
    """Start the pack process and wait for its port and description."""
    start = time.perf_counter()
    process = PolicyPackProcess()
    try:
        process.wait_ready()
    except BaseException:
        process.close()
        raise
    return PackClient(process, time.perf_counter() - start)
