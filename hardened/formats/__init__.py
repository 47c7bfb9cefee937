"""The output formats of ``hardened check``: one module per format, one small interface.

A format module defines ``NAME``, ``SUMMARY`` (one line for ``--help``) and
``render(report: Report) -> str``; a format may also define ``write(report, fh)`` to write its
text as it is built (json: a large result is never held whole as text). The command (hardened/check.py) reads the inputs, runs the
pack and builds one :class:`Report`; each ``--format`` asks its module for the text. Adding a
format touches this package only: write the module and list it in :data:`MODULES`.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Optional

#: format name -> module of this package (in the order ``--help`` lists them).
MODULES: dict[str, str] = {
    "text": "text",
    "compact": "compact",
    "json": "json_format",
    "sarif": "sarif",
    "junit": "junit",
    "github": "github",
}
FORMATS = tuple(MODULES)


@dataclass
class Suppression:
    """A finding the run accepts: an inline ``hardened.io/skip-<policy>`` annotation on the
    object (kind ``inSource``) or an entry of the ``--baseline`` file (kind ``external``)."""

    verdict: Any                    # hardened.analyzer.Verdict
    kind: str                       # "inSource" (annotation) or "external" (baseline)
    justification: str
    source: str                     # "annotation hardened.io/skip-<policy>" or "baseline <file>"


@dataclass
class Report:
    """Everything a format may show about one run of ``check``."""

    analysis: Any                   # hardened.analyzer.Analysis (verdicts exclude suppressions)
    findings: Any                   # hardened.check.Findings (where each verdict points)
    failing: list = field(default_factory=list)
    duplicates: list = field(default_factory=list)
    suppressed: list[Suppression] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)   # inputs skipped, with why
    color: bool = False
    root: Optional[str] = None      # paths in reports are relative to it (the git top level)
    show_exemptions: bool = False   # text: every exempted object, not the one summary line


def module(name: str) -> ModuleType:
    """The module of format *name* (KeyError for an unknown one)."""
    return importlib.import_module(f"{__package__}.{MODULES[name]}")


def render(name: str, report: Report) -> str:
    return module(name).render(report)


def write(name: str, report: Report, fh) -> None:
    """Write format *name* to the text stream *fh*: as it is built where the format can."""
    mod = module(name)
    if hasattr(mod, "write"):
        mod.write(report, fh)
    else:
        fh.write(mod.render(report))
