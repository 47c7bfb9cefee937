"""Session-wide test setup: where the Helm charts come from, and the run's shared render cache
(tests/rendercache.py).

``render`` expands every ``helm.v4.Chart`` from a local chart cache (hardened.engine). The tests
use ``$HARDENED_CHART_CACHE`` when it is set, else the shared offline cache beside the checkout
(``../shared/charts``, as ``.ci/run`` and the Makefile set it). Without either, the tests that
render fail with the engine's message naming the missing chart and how to fill the cache.
"""
import os
import uuid

import pytest
from pathlib import Path

from hardened import engine

_SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "charts"

if not os.environ.get(engine.CACHE_ENV) and _SHARED.is_dir():
    os.environ[engine.CACHE_ENV] = str(_SHARED)


def pytest_configure(config):
    """The controlling process names the run, so that its pytest-xdist workers share one render
    cache (tests/rendercache.py)."""
    from tests import rendercache

    if not hasattr(config, "workerinput"):
        os.environ.setdefault(rendercache.RUN_ENV, uuid.uuid4().hex)


def pytest_unconfigure(config):
    from tests import rendercache

    if not hasattr(config, "workerinput"):
        rendercache.cleanup()


#: Tests slower than 20 s, and why (issue 26: none without a stated reason). A test may also carry
#: ``@pytest.mark.slow(reason=...)`` itself; this table names the ones whose files other work owns.
SLOW = {
    "tests/mutation/test_mutation.py": "hundreds of mutated whole stacks, each judged by the pack over gRPC "
                                       "(AnalyzeStack per mutant)",
    "tests/judges/test_value_keys.py::test_every_chart_value_changes_the_render_or_is_listed_inert":
        "renders every chart once per top-level value key",
    "tests/judges/test_kubernetes_validate.py": "validates every built-in object against the OpenAPI schemas of "
                                                "two Kubernetes versions",
    "tests/judges/test_checkov.py": "checkov (its own virtualenv) scans the whole rendered stack",
    "tests/fuzz/test_config_fuzz.py::test_whole_program_with_a_mutated_config_runs_or_fails_naming_the_field":
        "hypothesis runs the whole program under mocks for each generated config",
    "tests/fuzz/test_render_determinism.py": "renders each stack twice to compare the bytes",
    "tests/foundation/test_render.py::test_render_is_byte_identical_across_runs": "two full renders",
    "tests/judges/test_strict_schemas.py": "validates every chart object against its CRD's schema",
    "tests/judges/test_self_admission.py": "admits every rendered object through the stack's own constraints",
    "tests/judges/test_custom_resources.py": "renders prod and validates every custom resource",
    "tests/check/test_cli_conventions.py::test_render_and_report_label_the_programs_warnings_and_quiet_keeps_them":
        "runs render and report as subprocesses (two whole renders)",
    "tests/foundation/test_render.py": "whole renders of the program (each ~10 s on an idle 2-core machine)",
    "tests/check/test_cli.py::test_the_rendered_prod_stack_passes_its_own_pack": "a whole render, then check",
}
SLOW_SECONDS = 20.0


def pytest_collection_modifyitems(config, items):
    import pytest

    for item in items:
        reason = next((why for prefix, why in SLOW.items()
                       if item.nodeid == prefix or item.nodeid.startswith(prefix + "::")
                       or (prefix.endswith(".py") and item.nodeid.startswith(prefix))), None)
        if reason and item.get_closest_marker("slow") is None:
            item.add_marker(pytest.mark.slow(reason=reason))


_DURATIONS: dict[str, float] = {}


_MARKED_SLOW: set[str] = set()


def pytest_runtest_logreport(report):
    """Setup, call and teardown of each test (pytest-xdist sends its workers' reports here too)."""
    _DURATIONS[report.nodeid] = _DURATIONS.get(report.nodeid, 0.0) + report.duration
    if "slow" in getattr(report, "keywords", {}):
        _MARKED_SLOW.add(report.nodeid)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Tests over SLOW_SECONDS that state no reason (setup, call and teardown together)."""
    slow = _DURATIONS
    unmarked = sorted((d, n) for n, d in slow.items() if d > SLOW_SECONDS and n not in _MARKED_SLOW and not any(
        n == p or n.startswith(p + "::") or (p.endswith(".py") and n.startswith(p)) for p in SLOW))
    if unmarked:
        terminalreporter.section(f"slower than {SLOW_SECONDS:.0f} s without a stated reason (tests/conftest.py SLOW)")
        for d, n in reversed(unmarked):
            terminalreporter.write_line(f"{d:7.1f}s {n}")


@pytest.fixture
def counted_forks(monkeypatch):
    """``os.fork`` as it is, each child made recorded (its pid, in the parent): the code that runs
    work on two cores (policy_pack/policies/_lib/parallel.py, hardened.check) forks through it."""
    forks: list[int] = []
    real_fork = os.fork

    def fork():
        pid = real_fork()
        if pid:
            forks.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", fork)
    return forks
