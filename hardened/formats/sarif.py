"""``--format sarif``: SARIF 2.1.0 for GitHub code scanning; exemptions and suppressed findings
are results with ``suppressions`` (``external`` for exemptions and the baseline, ``inSource``
for an inline annotation)."""
from __future__ import annotations

import hashlib
import json

NAME = "sarif"
SUMMARY = "SARIF 2.1.0 (GitHub code scanning)"


def render(report) -> str:
    from ..check import _sarif_level, _sarif_location, to_sarif

    document = to_sarif(report.analysis, findings=report.findings, root=report.root)
    run = document["runs"][0]
    index = {rule["id"]: i for i, rule in enumerate(run["tool"]["driver"]["rules"])}
    root = run["originalUriBaseIds"]["%SRCROOT%"]["uri"].removeprefix("file://")
    for s in report.suppressed:
        v = s.verdict
        label = v.resource.label if v.resource else "stack"
        result = {
            "ruleId": v.policy,
            "level": _sarif_level(v.enforcement_level),
            "message": {"text": f"{label}: {v.message}"},
            "locations": [_sarif_location(report.findings.origin(v).primary, root.rstrip("/") or "/", label, v.urn)],
            "partialFingerprints": {"hardenedCheck/v1": hashlib.sha256(
                f"{v.policy}\0{v.urn}\0{v.message}".encode()).hexdigest()},
            "suppressions": [{"kind": s.kind, "status": "accepted", "justification": s.justification}],
            "properties": {"enforcementLevel": v.enforcement_level, "severity": v.severity,
                           "suppressedBy": s.source},
        }
        if v.policy in index:
            result["ruleIndex"] = index[v.policy]
        run["results"].append(result)
    return json.dumps(document, indent=2, sort_keys=True) + "\n"
