"""``--format text`` (the default): findings grouped by resource, with controls, the exempted
objects, notes on skipped inputs and suppressed findings, and the summary line."""
from __future__ import annotations

NAME = "text"
SUMMARY = "findings grouped by resource, for people (default)"


def render(report) -> str:
    from ..check import format_text
    from ..console import plural

    text = format_text(report.analysis, report.findings, color=report.color, failing=report.failing,
                       show_exemptions=report.show_exemptions)
    extra = []
    if report.suppressed:
        by_kind: dict[str, int] = {}
        for s in report.suppressed:
            by_kind[s.source.split(" ")[0]] = by_kind.get(s.source.split(" ")[0], 0) + 1
        extra.append("suppressed: " + ", ".join(f"{plural(n, 'finding')} by {k}" for k, n in sorted(by_kind.items()))
                     + " (listed in --format json and sarif)")
    if not extra:
        return text
    body, _, summary = text.rstrip("\n").rpartition("\n")
    return (body + "\n" if body else "") + "\n".join(extra) + "\n\n" + summary + "\n"
