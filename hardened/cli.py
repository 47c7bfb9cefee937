"""``python -m hardened <command>``: the offline tooling.

To add a subcommand, write a module in this package with ``add_arguments(parser)`` and
``run(args) -> exit status``, and list it in ``SUBCOMMANDS``.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Optional


#: name -> (module of this package with add_arguments() and run(), one-line help). Modules are
#: imported only for the command that runs, so one command never pays for another's imports.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "render": ("render", "run the stack's Pulumi program offline and write manifests + resources.json"),
    "check": ("check", "run the policy pack over Kubernetes YAML (rendered stack, helm template output, ...)"),
    "policy-config": ("policyconfig", "print a stack's --policy-pack-config document (the settings its Gatekeeper "
                                      "constraints use)"),
    "report": ("report", "render a stack, run the pack, write the compliance report (Markdown, HTML, OSCAL)"),
}


def _command(argv: list[str]) -> Optional[str]:
    return next((a for a in argv if not a.startswith("-")), None)


def build_parser(command: Optional[str] = None) -> argparse.ArgumentParser:
    """The CLI; only *command*'s module is imported (all of them when it is None or unknown)."""
    parser = argparse.ArgumentParser(prog="python -m hardened",
                                     description="Offline tooling for the hardened-stack Pulumi program.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    load = [command] if command in SUBCOMMANDS else list(SUBCOMMANDS)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        if name not in load:
            subparsers.add_parser(name, help=help_text)
            continue
        module = importlib.import_module(f"{__package__}.{module_name}")
        sub = subparsers.add_parser(name, help=help_text, description=module.__doc__,
                                    formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(_command(argv)).parse_args(argv)
    return args.run(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
