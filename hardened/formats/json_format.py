"""``--format json``: the machine-readable result (schema docs/schema/check-result.v1.json).

The document is written as it is built: each violation, exemption and suppression is encoded and
written on its own, so memory never holds the whole result twice (as objects and as text) on a
check of 100,000 resources. The bytes are those of ``json.dumps(document, indent=2,
sort_keys=True)``, which tests/check compare.
"""
from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import TextIO

NAME = "json"
SUMMARY = "machine-readable result (docs/schema/check-result.v1.json)"


def _document(report) -> dict:
    from ..check import resource_json, to_json

    document = to_json(report.analysis, report.findings, failed=bool(report.failing), lazy=True)
    document["duplicates"] = [d.as_json() for d in report.duplicates or []]
    document["suppressions"] = (
        {"policy": s.verdict.policy, "kind": s.kind, "justification": s.justification, "source": s.source,
         "message": s.verdict.message, "resource": resource_json(s.verdict.resource)}
        for s in report.suppressed)
    document["notes"] = list(report.notes)
    document["summary"]["suppressed"] = len(report.suppressed)
    return document


def _indented(value, prefix: str) -> str:
    """*value* as ``json.dumps(indent=2)`` writes it *prefix* deep (JSON text has no raw newline
    inside a string, so each line of the encoding is one line of the output)."""
    return json.dumps(value, indent=2, sort_keys=True).replace("\n", "\n" + prefix)


def write(report, fh: TextIO) -> None:
    document = _document(report)
    fh.write("{")
    for i, key in enumerate(sorted(document)):
        value = document[key]
        fh.write(("," if i else "") + "\n  " + json.dumps(key) + ": ")
        if isinstance(value, Iterator):
            first = True
            for item in value:
                fh.write(("[\n    " if first else ",\n    ") + _indented(item, "    "))
                first = False
            fh.write("[]" if first else "\n  ]")
        else:
            fh.write(_indented(value, "  "))
    fh.write("\n}\n")


def render(report) -> str:
    out = io.StringIO()
    write(report, out)
    return out.getvalue()
