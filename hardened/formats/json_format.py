"""``--format json``: the machine-readable result (schema docs/schema/check-result.v1.json)."""
from __future__ import annotations

import json

NAME = "json"
SUMMARY = "machine-readable result (docs/schema/check-result.v1.json)"


def render(report) -> str:
    from ..check import resource_json, to_json

    document = to_json(report.analysis, report.findings, failed=bool(report.failing))
    document["duplicates"] = [d.as_json() for d in report.duplicates or []]
    document["suppressions"] = [
        {"policy": s.verdict.policy, "kind": s.kind, "justification": s.justification, "source": s.source,
         "message": s.verdict.message, "resource": resource_json(s.verdict.resource)}
        for s in report.suppressed]
    document["notes"] = list(report.notes)
    document["summary"]["suppressed"] = len(report.suppressed)
    return json.dumps(document, indent=2, sort_keys=True) + "\n"
