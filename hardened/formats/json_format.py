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
    """*value* as ``json.dumps(indent=2, sort_keys=True)`` writes it, *prefix* deep (JSON text has
    no raw newline inside a string, so each line of the encoding is one line of the output)."""
    try:
        return _encode(value, "\n" + prefix)
    except (_Other, RecursionError):
        return json.dumps(value, indent=2, sort_keys=True).replace("\n", "\n" + prefix)


class _Other(Exception):
    """A value :func:`_encode` leaves to :func:`json.dumps` (a key that is no string, a type JSON
    converts otherwise or refuses)."""


_STRING = json.encoder.encode_basestring_ascii  # json.dumps's own (ensure_ascii), in C where built


def _float(value: float) -> str:
    """json.encoder's ``floatstr`` (allow_nan): repr, or NaN / Infinity / -Infinity."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    return float.__repr__(value)


def _encode(value, indent: str) -> str:
    """The text ``json.dumps(value, indent=2, sort_keys=True)`` gives (json/encoder.py
    ``_make_iterencode``: separators ``,`` and ``: ``, a newline and the indent before each item and
    before the closing bracket, ``{}`` and ``[]`` when empty), each line after the first starting
    with *indent*; written directly rather than through the pure-Python iterator json.dumps uses
    whenever it indents (its C encoder does not)."""
    cls = value.__class__
    if cls is str:
        return _STRING(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if cls is int:
        return int.__repr__(value)
    if cls is float:
        return _float(value)
    if cls is dict:
        if not value:
            return "{}"
        inner = indent + "  "
        if any(key.__class__ is not str for key in value):
            raise _Other("key")
        return "{" + inner + ("," + inner).join(_STRING(key) + ": " + _encode(value[key], inner)
                                                for key in sorted(value)) + indent + "}"
    if cls is list or cls is tuple:
        if not value:
            return "[]"
        inner = indent + "  "
        return "[" + inner + ("," + inner).join(_encode(item, inner) for item in value) + indent + "]"
    raise _Other(cls.__name__)


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
