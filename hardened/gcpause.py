"""The cyclic garbage collector paused while a command builds many long-lived objects."""
from __future__ import annotations

import contextlib
import gc
from typing import Iterator


@contextlib.contextmanager
def without_cyclic_gc() -> Iterator[None]:
    """The cyclic garbage collector off meanwhile (reference counting still frees the rest). A
    render allocates many long-lived objects (the program's resources, outputs and futures, the
    records, the charts' objects), ``check`` the analysis it reports on (every resource and
    verdict): each pass of the collector would rescan them all, again and again, for nothing to
    collect (it made large stacks superlinear, and took a tenth of a prod render while the
    manifests were written)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
