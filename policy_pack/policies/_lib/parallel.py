"""An ``AnalyzeStack`` call on two cores.

While the pack judges the whole stack, the engine (or ``hardened check``) only waits: on a machine
with a second core that core is idle. For a large enough request, :func:`analyze_stack_in_two`
forks the pack: parent and child each take the next stack policy left (the heaviest first: the
number of resources it reads) until none is left, the child writes its answer to a pipe, and the
two answers become one, each diagnostic and each "not applicable" in the place the SDK's own loop
would have put it (pulumi_policy policy.py, ``AnalyzeStack``: the policies in the pack's order,
each one's reports in the order it made them; a policy's reports do not depend on which policies
ran before it).
The child shares the parent's memory as it was at the fork (the request already read, the
configuration already received) and touches nothing but the policies and the pipe; it leaves
with ``os._exit``, never returning into the gRPC server it was forked from.

It is used only where it pays and is safe: ``os.fork`` exists (not on Windows), the request has
at least :data:`MIN_RESOURCES` resources (below that a fork costs more than it saves) and at most
:data:`MAX_BYTES` of wire (the child's copy-on-write pages would add to the pack's memory, which
issue 26 bounds at 100,000 resources), and the pack has at most 255 stack policies (one byte a
policy in the pipe the two take them from). If the child fails, dies or does not answer in time,
the parent runs every policy it did not run itself: the answer is the same, only later.
"""
from __future__ import annotations

import os
import select
import signal
import time
import warnings
from collections import Counter
from typing import Any, Callable, Optional

#: Requests smaller than this run in one process (a 669-resource stack is judged in a tenth of a
#: second; a fork and a pipe cost a few hundredths).
MIN_RESOURCES = 2000
#: Requests larger than this run in one process: the child's copy-on-write pages grow with it.
MAX_BYTES = 64 * 1024 * 1024
#: How long the parent waits for the child beyond its own share's time (and at least this long).
MIN_WAIT = 60.0


def _stack_policies(servicer: Any) -> list:
    from pulumi_policy import StackValidationPolicy

    policies = getattr(servicer, "_PolicyAnalyzerServicer__policies", [])
    return [p for p in list.__iter__(policies) if isinstance(p, StackValidationPolicy)]


def heaviest_first(policies: list, resources: list) -> list[int]:
    """The positions of *policies* in the order they are taken: by the number of resources each
    reads (``HardenedStackPolicy.reads``; every resource for any other policy), most first."""
    from .framework import urn_type

    groups: Counter = Counter()
    example: dict[tuple[str, str], str] = {}
    for r in resources:
        key = (r.type, urn_type(r.parent) if r.parent else "")
        groups[key] += 1
        example.setdefault(key, r.parent)
    weights = []
    for i, p in enumerate(policies):
        reads = getattr(p, "reads", None)
        weights.append(len(resources) if reads is None else sum(
            n for key, n in groups.items() if reads(key[0], example[key])))
    return sorted(range(len(policies)), key=lambda i: -weights[i])


def _claims(fd: int, policies: list, taken: list) -> Callable[[], Any]:
    """The next policy left in the pipe *fd* (one byte, its position), recorded in *taken*."""
    def claim() -> Any:
        byte = os.read(fd, 1)
        if not byte:
            return None
        taken.append(policies[byte[0]])
        return policies[byte[0]]
    return claim


def merged(first: Any, second: Any, order: list[str]) -> Any:
    """One answer from the answers of two shares, in the order of the SDK's loop."""
    from pulumi.runtime.proto import analyzer_pb2

    index = {name: i for i, name in enumerate(order)}
    out = analyzer_pb2.AnalyzeResponse()
    out.CopyFrom(first)
    out.MergeFrom(second)
    diagnostics = sorted(out.diagnostics, key=lambda d: index.get(d.policyName, len(index)))
    not_applicable = sorted(out.not_applicable, key=lambda n: index.get(n.policy_name, len(index)))
    del out.diagnostics[:]
    del out.not_applicable[:]
    out.diagnostics.extend(diagnostics)
    out.not_applicable.extend(not_applicable)
    return out


def forked(work: Callable[[], bytes]) -> Optional[tuple[int, int]]:
    """A child process that runs *work*, writes the bytes it returns to a pipe and leaves with
    ``os._exit`` (never returning into its parent's code); to the parent, ``(pid, the pipe's read
    end)`` for :func:`answer`, or None when no child can be made (no ``os.fork``, or it failed)."""
    if not hasattr(os, "fork"):
        return None
    read_fd, write_fd = os.pipe()
    try:
        with warnings.catch_warnings():  # Python 3.12+ warns of a fork beside threads; the child runs no other
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
    except OSError:
        os.close(read_fd)
        os.close(write_fd)
        return None
    if pid == 0:
        status = 1
        try:
            os.close(read_fd)
            data = work()
            with os.fdopen(write_fd, "wb") as out:
                out.write(data)
            status = 0
        finally:
            os._exit(status)
    os.close(write_fd)
    return pid, read_fd


def answer(pid: int, fd: int, timeout: float) -> Optional[bytes]:
    """What the child *pid* of :func:`forked` wrote, or None: it failed, or gave no answer within
    *timeout* seconds (it is stopped). The child is reaped either way."""
    chunks = []
    deadline = time.monotonic() + timeout
    complete = False
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                os.kill(pid, signal.SIGKILL)
                break
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                complete = True
                break
            chunks.append(chunk)
    finally:
        os.close(fd)
        _, status = os.waitpid(pid, 0)
    if not complete or os.waitstatus_to_exitcode(status) != 0:
        return None
    return b"".join(chunks)


def analyze_stack_in_two(servicer: Any, analyze_stack: Callable[[Any, Any], Any], request: Any, context: Any,
                         scope: Any) -> Any:
    """``analyze_stack(request, context)`` (the SDK's, inside the fast path's stack scope), run in
    two processes when that pays (see the module's docstring)."""
    from pulumi.runtime.proto import analyzer_pb2

    resources = request.resources._all
    policies = _stack_policies(servicer)
    if (not hasattr(os, "fork") or len(resources) < MIN_RESOURCES or len(request.data) > MAX_BYTES
            or not 1 < len(policies) < 256):
        return analyze_stack(request, context)
    tickets_in, tickets_out = os.pipe()
    os.write(tickets_out, bytes(heaviest_first(policies, resources)))  # 255 bytes at most: never blocks
    os.close(tickets_out)

    def child_share() -> bytes:
        scope.claim = _claims(tickets_in, policies, [])
        return analyze_stack(request, context).SerializeToString()

    child = forked(child_share)
    if child is None:
        os.close(tickets_in)
        return analyze_stack(request, context)
    pid, read_fd = child
    taken: list = []
    scope.claim = _claims(tickets_in, policies, taken)
    started = time.monotonic()
    try:
        mine = analyze_stack(request, context)
    except BaseException:
        os.kill(pid, signal.SIGKILL)
        answer(pid, read_fd, 0.0)
        raise
    finally:
        scope.claim = None
        os.close(tickets_in)
    data = answer(pid, read_fd, max(MIN_WAIT, 4 * (time.monotonic() - started)))
    theirs = None if data is None else analyzer_pb2.AnalyzeResponse.FromString(data)
    if theirs is None:
        scope.share = frozenset(p.name for p in policies) - {p.name for p in taken}
        try:
            theirs = analyze_stack(request, context)
        finally:
            scope.share = None
    return merged(mine, theirs, [p.name for p in policies])
