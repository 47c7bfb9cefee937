"""``python -m hardened <command>``: the offline tooling, one subcommand per block below.

To add a subcommand, write a ``_<name>(subparsers)`` function like ``_check`` (it adds its
parser and sets ``run`` to a function taking the parsed arguments and returning the exit status)
and list it in ``SUBCOMMANDS``. Modules are imported inside the block, so one command never pays
for another's imports.
"""
from __future__ import annotations

import argparse
import sys
from typing import Callable, Optional


# --- check: run the policy pack over Kubernetes YAML -------------------------------------------

def _check(subparsers: argparse._SubParsersAction) -> None:
    from . import check

    parser = subparsers.add_parser(
        "check", help="run the policy pack over Kubernetes YAML (rendered stack, helm template output, ...)",
        description=check.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    check.add_arguments(parser)
    parser.set_defaults(run=check.run)


# --- render: run the Pulumi program offline under the SDK mocks and write manifests ------------

def _render(subparsers: argparse._SubParsersAction) -> None:
    from . import render

    parser = subparsers.add_parser(
        "render", help="run the stack's Pulumi program offline and write manifests + resources.json",
        description=render.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    render.add_arguments(parser)
    parser.set_defaults(run=render.run)


# --- report: compliance evidence (controls, checklist, OSCAL) for a rendered stack -------------

def _report(subparsers: argparse._SubParsersAction) -> None:
    from . import report

    parser = subparsers.add_parser(
        "report", help="render a stack, run the pack, write the compliance report (Markdown, HTML, OSCAL)",
        description=report.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    report.add_arguments(parser)
    parser.set_defaults(run=report.run)


SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [_render, _check, _report]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m hardened",
                                     description="Offline tooling for the hardened-stack Pulumi program.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for add in SUBCOMMANDS:
        add(subparsers)
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
