"""Session-wide test setup: where the Helm charts come from, and the run's shared render cache
(tests/rendercache.py).

``render`` expands every ``helm.v4.Chart`` from a local chart cache (hardened.engine). The tests
use ``$HARDENED_CHART_CACHE`` when it is set, else the shared offline cache beside the checkout
(``../shared/charts``, as ``.ci/run`` and the Makefile set it). Without either, the tests that
render fail with the engine's message naming the missing chart and how to fill the cache.
"""
import os
import uuid
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
