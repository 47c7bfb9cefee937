"""``--format compact``: one line per finding, ``file:line:column: LEVEL severity policy: resource: message``
(the first line of the message), as compilers and linters print them, then the summary line.
Editors and ``grep`` read it; suppressed findings are not listed (they are in json and sarif)."""
from __future__ import annotations

NAME = "compact"
SUMMARY = "one line per finding (file:line:col: LEVEL severity policy: resource: message)"


def render(report) -> str:
    from ..check import summary_line
    from ..manifests import display_path

    lines = []
    for v in report.analysis.verdicts:
        place = report.findings.origin(v).primary
        where = display_path(place.file) if place.file and not place.file.startswith("<") else (place.file or "stack")
        where += f":{place.line}" if place.line else ""
        where += f":{place.column}" if place.line and place.column else ""
        level = "error" if v.mandatory else "warning"
        label = v.resource.label if v.resource else "stack"
        first = (v.message.splitlines() or [""])[0]
        lines.append(f"{where}: {level} {v.severity or '-'} {v.policy}: {label}: {first}")
    lines.append(summary_line(report.analysis, report.failing))
    return "\n".join(lines) + "\n"
