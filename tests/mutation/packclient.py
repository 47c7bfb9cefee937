"""The engine's side of the Analyzer gRPC protocol, for the mutation and fuzz tests and the
benchmarks: start the policy pack as its own process (as the Pulumi CLI does), then send
``Analyze`` per resource and ``AnalyzeStack`` for the set over
``pulumi.runtime.proto.analyzer_pb2``.

The pack process is started by ``hardened.analyzer.PolicyPackProcess`` when that module exists
(the project's ``check`` path). Before it lands, the pack is started the way the Pulumi CLI's
Python policy host does it: ``python policy_pack`` (its ``__main__.py``), or, while that file is
missing, a one-line program building the ``PolicyPack`` from ``policy_pack.policies.all_policies``.
:data:`STARTED_BY` records which one ran.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterable, NamedTuple, Optional

ROOT = Path(__file__).resolve().parents[2]
FALLBACK_PROGRAM = ("from pulumi_policy import PolicyPack, EnforcementLevel;"
                    "from policy_pack.policies import all_policies;"
                    "PolicyPack('hardened-stack', all_policies(), EnforcementLevel.MANDATORY)")


class Diagnostic(NamedTuple):
    policy: str
    message: str
    mandatory: bool
    urn: str


class Resource(NamedTuple):
    type: str
    name: str
    urn: str
    props: dict


class PackClient:
    def __init__(self, port: int, owner: Any, started_by: str, start_seconds: float):
        import grpc
        from pulumi.runtime.proto import analyzer_pb2_grpc

        self.port = port
        self.owner = owner
        self.started_by = started_by
        self.start_seconds = start_seconds
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}",
                                             options=[("grpc.max_receive_message_length", 256 << 20),
                                                      ("grpc.max_send_message_length", 256 << 20)])
        self.stub = analyzer_pb2_grpc.AnalyzerStub(self.channel)

    # -- protocol ---------------------------------------------------------------------------

    @staticmethod
    def _struct(props: dict):
        from google.protobuf import struct_pb2

        s = struct_pb2.Struct()
        s.update(props)
        return s

    @staticmethod
    def _diagnostics(response) -> list[Diagnostic]:
        from pulumi.runtime.proto import analyzer_pb2

        return [Diagnostic(d.policyName, d.message, d.enforcementLevel == analyzer_pb2.MANDATORY, d.urn)
                for d in response.diagnostics]

    def info(self):
        from google.protobuf import empty_pb2

        return self.stub.GetAnalyzerInfo(empty_pb2.Empty())

    def analyze(self, res: Resource) -> list[Diagnostic]:
        from pulumi.runtime.proto import analyzer_pb2

        request = analyzer_pb2.AnalyzeRequest(type=res.type, name=res.name, urn=res.urn,
                                              properties=self._struct(res.props))
        return self._diagnostics(self.stub.Analyze(request))

    def analyze_stack(self, resources: Iterable[Resource]) -> list[Diagnostic]:
        from pulumi.runtime.proto import analyzer_pb2

        request = analyzer_pb2.AnalyzeStackRequest(resources=[
            analyzer_pb2.AnalyzerResource(type=r.type, name=r.name, urn=r.urn, properties=self._struct(r.props))
            for r in resources])
        return self._diagnostics(self.stub.AnalyzeStack(request))

    def close(self) -> None:
        self.channel.close()
        owner = self.owner
        for name in ("close", "stop", "__exit__"):
            fn = getattr(owner, name, None)
            if callable(fn) and not isinstance(owner, subprocess.Popen):
                fn(*([None, None, None] if name == "__exit__" else []))
                return
        if isinstance(owner, subprocess.Popen):
            owner.terminate()
            try:
                owner.wait(timeout=10)
            except subprocess.TimeoutExpired:
                owner.kill()
                owner.wait()

    def __enter__(self) -> "PackClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _port_of(process: Any) -> Optional[int]:
    for attr in ("port", "address", "target"):
        value = getattr(process, attr, None)
        if value is None:
            continue
        if isinstance(value, int):
            return value
        return int(str(value).rsplit(":", 1)[-1])
    return None


def start_pack(python: str = sys.executable) -> PackClient:
    """Start the pack; returns a client connected to it."""
    start = time.perf_counter()
    try:
        from hardened.analyzer import PolicyPackProcess  # the project's own engine side
    except ImportError:
        PolicyPackProcess = None
    if PolicyPackProcess is not None:
        process = PolicyPackProcess()
        enter = getattr(process, "__enter__", None)
        if callable(enter):
            process = enter() or process
        start_fn = getattr(process, "start", None)
        if _port_of(process) is None and callable(start_fn):
            start_fn()
        port = _port_of(process)
        if port is None:
            raise RuntimeError("hardened.analyzer.PolicyPackProcess exposes no port/address; update packclient")
        return PackClient(port, process, "hardened.analyzer.PolicyPackProcess", time.perf_counter() - start)

    if (ROOT / "policy_pack" / "__main__.py").exists():
        argv, started_by = [python, str(ROOT / "policy_pack")], "python policy_pack (__main__.py)"
    else:
        argv, started_by = [python, "-c", FALLBACK_PROGRAM], "PolicyPack(all_policies()) (no policy_pack/__main__.py yet)"
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    line = proc.stdout.readline().decode().strip()
    if not line.isdigit():
        proc.kill()
        _, err = proc.communicate(timeout=10)
        raise RuntimeError(f"policy pack did not print its port (got {line!r}): {err.decode()[-2000:]}")
    return PackClient(int(line), proc, started_by, time.perf_counter() - start)
