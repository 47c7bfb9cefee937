"""``--format github``: GitHub Actions workflow commands (``::error file=...::``), one per finding."""
from __future__ import annotations

NAME = "github"
SUMMARY = "GitHub Actions annotations"


def render(report) -> str:
    from ..check import to_github

    return to_github(report.analysis, report.findings, root=report.root)
