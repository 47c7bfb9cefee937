"""The ledger of opt-outs for the tools: ``render`` prints it and writes ``opt-outs.json``,
``report`` adds it to the evidence (the model is components/ledger.py)."""
from __future__ import annotations

import json
from typing import Optional

from components.ledger import OptOut, OptOutEntry, _show, covering, opt_outs, parse_entries


def stack_ledger(stack: str, root=None) -> list[tuple[OptOut, Optional[OptOutEntry]]]:
    """The ledger of ``Pulumi.<stack>.yaml``: each opt-out with the entry that covers it (or None)."""
    from components.config import PROJECT, parse_stack_config

    from .stackfile import REPO_ROOT, read_stack_config

    config, secret_keys = read_stack_config(stack, root or REPO_ROOT)
    document = {}
    for key, value in config.items():
        if key.startswith(f"{PROJECT}:") and key not in secret_keys:
            try:
                document[key[len(PROJECT) + 1:]] = json.loads(value)
            except ValueError:
                document[key[len(PROJECT) + 1:]] = value
    cfg = parse_stack_config(document)
    entries = parse_entries(cfg.opt_outs)
    return [(o, covering(entries, o.setting)) for o in opt_outs(cfg)]


def ledger_lines(ledger: list[tuple[OptOut, Optional[OptOutEntry]]]) -> list[str]:
    out = []
    for o, e in ledger:
        by = (f" [optOuts {e.exemption.id!r}, {e.exemption.owner}, expires {e.exemption.expires}]" if e is not None
              else " [no optOuts entry]")
        out.append(o.line() + by)
    return out


def ledger_json(ledger: list[tuple[OptOut, Optional[OptOutEntry]]]) -> str:
    rows = []
    for o, e in ledger:
        row = o.as_dict()
        if e is not None:
            x = e.exemption
            row["entry"] = {"id": x.id, "owner": {"team": x.owner.team, "contact": x.owner.contact} if x.owner else None,
                            "reason": x.reason, "expires": x.expires.isoformat()}
        rows.append(row)
    return json.dumps({"optOuts": rows}, indent=2, sort_keys=True, default=str) + "\n"


def ledger_markdown(ledger: list[tuple[OptOut, Optional[OptOutEntry]]]) -> str:
    lines = ["", "## Opt-outs (the ledger)", "",
             "Every stack-config setting that weakens a secure default (components/ledger.py), with the "
             "`optOuts` entry that answers for it.", ""]
    if not ledger:
        return "\n".join(lines + ["None: every marked setting keeps its secure default.", ""])
    lines += ["| setting | value | default | weakens | entry (owner, expires) |", "|---|---|---|---|---|"]
    for o, e in ledger:
        entry = (f"{e.exemption.id} ({e.exemption.owner.team if e.exemption.owner else '-'}, {e.exemption.expires})"
                 if e is not None else "none")
        lines.append(f"| `{o.setting}` | `{_show(o.value)}` | `{_show(o.default)}` | {o.weakens} | {entry} |")
    return "\n".join(lines + [""])
