"""``hardened <command>`` (or ``python -m hardened <command>``): the offline tooling.

To add a subcommand, write a module in this package with ``add_arguments(parser)`` and
``run(args) -> exit status``, and list it in ``SUBCOMMANDS``.

One error handler serves every command: bad flags, input or configuration print
``<command>: error: <message>`` (with "did you mean" for a misspelt flag, subcommand or choice)
and exit 2, without a traceback; a run that finds violations exits 1; anything else 0.
``HARDENED_DEBUG=1`` shows the traceback of an unexpected error.
"""
from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
import traceback
from typing import Any, NoReturn, Optional

from . import __version__
from .console import UserError, did_you_mean

#: name -> (module of this package with add_arguments() and run(), one-line help). Modules are
#: imported only for the command that runs, so one command never pays for another's imports.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "render": ("render", "run the stack's Pulumi program offline and write manifests + resources.json"),
    "check": ("check", "run the policy pack over Kubernetes YAML (rendered stack, helm template output, ...)"),
    "policy-config": ("policyconfig", "print a stack's --policy-pack-config document (the settings its Gatekeeper "
                                      "constraints use)"),
    "report": ("report", "render a stack, run the pack, write the compliance evidence (Markdown, HTML, OSCAL)"),
    "charts": ("charts", "fetch the stack's Helm charts and release manifests into the cache, checked against "
                         "charts.lock (pull), or write the lock (lock)"),
    "images": ("images", "resolve every image the stack deploys to a digest and write images.lock (pin)"),
    "bundle": ("bundle", "write the charts, manifests and pinned image list into one archive for an air-gapped "
                         "install"),
}

EXIT_OK, EXIT_VIOLATIONS, EXIT_ERROR = 0, 1, 2


def prog_name() -> str:
    """``hardened`` for the console script, ``python -m hardened`` otherwise."""
    argv0 = os.path.basename(sys.argv[0] if sys.argv else "")
    return "hardened" if argv0 == "hardened" else "python -m hardened"


class Parser(argparse.ArgumentParser):
    """argparse with the house error format: ``<command>: error: ...`` plus a suggestion, exit 2."""

    command = ""

    def error(self, message: str) -> NoReturn:
        message = _friendlier(message)
        hint = ""
        m = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if m:
            choices = re.findall(r"'([^']*)'", m.group(2))
            hint = did_you_mean(m.group(1), choices)
        m = re.match(r"unrecognized arguments?: (.*)", message)
        if m:
            options = [o for a in self._actions for o in a.option_strings]
            unknown = [w.split("=", 1)[0] for w in m.group(1).split() if w.startswith("-")]
            hint = "".join(did_you_mean(w, options) for w in unknown[:1])
        label = self.command or self.prog
        sys.stderr.write(f"{label}: error: {message}{hint}\n"
                         f"{label}: see '{self.prog} --help'\n")
        sys.exit(EXIT_ERROR)


def _friendlier(message: str) -> str:
    return message.replace("the following arguments are required: COMMAND", "a command is required: "
                           + ", ".join(SUBCOMMANDS))


def command_of(argv: list[str]) -> Optional[str]:
    """The subcommand *argv* names (its first word that is no option), if any."""
    return next((a for a in argv if not a.startswith("-")), None)


def build_parser(command: Optional[str] = None) -> argparse.ArgumentParser:
    """The CLI; only *command*'s module is imported (every module when it is None; none when it is
    ``""`` or unknown, as for ``--help``, ``--version`` or a typo)."""
    prog = prog_name()
    parser = Parser(prog=prog, description="Offline tooling for the hardened-stack Pulumi program.")
    parser.command = "hardened"
    parser.add_argument("--version", action="version", version=f"hardened {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    subparsers.required = True
    load = [command] if command in SUBCOMMANDS else (list(SUBCOMMANDS) if command is None else [])
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        if name not in load:
            sub = subparsers.add_parser(name, help=help_text)
            sub.command = name
            continue
        module = importlib.import_module(f"{__package__}.{module_name}")
        sub = subparsers.add_parser(name, help=help_text, description=module.__doc__,
                                    formatter_class=argparse.RawDescriptionHelpFormatter)
        sub.command = name
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def _subparser(parser: argparse.ArgumentParser, name: str) -> Optional[argparse.ArgumentParser]:
    for action in parser._actions:  # noqa: SLF001 - argparse keeps subparsers here
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            return action.choices.get(name)
    return None


def main(argv: Optional[list[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        parser = build_parser(command_of(argv) or "")
    except ImportError as e:
        sys.stderr.write(f"{command_of(argv) or 'hardened'}: error: a dependency is missing ({e}); install them with "
                         "`pip install -r requirements.txt` (or `make setup`)\n")
        return EXIT_ERROR
    args, extras = parser.parse_known_args(argv)
    if extras:
        sub = _subparser(parser, args.command)
        if sub is not None and getattr(args, "action", None):   # charts pull, images pin
            sub = _subparser(sub, args.action) or sub
        (sub or parser).error(f"unrecognized arguments: {' '.join(extras)}")
    return run(args)


def run(args: argparse.Namespace) -> int:
    """Run a parsed command under the one error handler."""
    command = getattr(args, "command", None) or "hardened"
    if getattr(args, "action", None):   # a command with actions (charts pull, images pin)
        command = f"{command} {args.action}"
    try:
        return args.run(args)
    except KeyboardInterrupt:
        sys.stderr.write(f"{command}: interrupted\n")
        return 130
    except BrokenPipeError:  # `hardened check ... | head`: the reader left; not an error of ours
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        except OSError:
            pass
        return EXIT_ERROR
    except Exception as e:  # noqa: BLE001 - the one place errors become messages
        message, known = describe_error(e, args)
        sys.stderr.write(f"{command}: error: {message}\n")
        if not known or os.environ.get("HARDENED_DEBUG"):
            if os.environ.get("HARDENED_DEBUG"):
                traceback.print_exc()
            else:
                sys.stderr.write(f"{command}: this is a bug in hardened {__version__}; rerun with HARDENED_DEBUG=1 "
                                 "for the traceback and report it\n")
        return EXIT_ERROR


def _stack_file(args: Any) -> Optional[str]:
    stack = getattr(args, "stack", None)
    if not stack:
        return None
    from pathlib import Path

    root = Path(getattr(args, "root", None) or Path(__file__).resolve().parent.parent)
    path = root / f"Pulumi.{stack}.yaml"
    return str(path) if path.is_file() else None


def describe_error(e: BaseException, args: Any = None) -> tuple[str, bool]:
    """``(message, whether it is a known kind of user error)`` for any exception a command raised."""
    name = type(e).__name__
    module = type(e).__module__ or ""
    if isinstance(e, UserError):
        return str(e), True
    if isinstance(e, OSError) and not module.startswith("grpc"):
        what = e.filename if e.filename is not None else ""
        detail = e.strerror or str(e)
        return (f"{what}: {detail}" if what else detail), True
    pulumi = sys.modules.get("pulumi")
    if pulumi is not None and isinstance(e, pulumi.RunError):
        message = str(e)
        stack_file = _stack_file(args)
        if stack_file:
            from .locate import annotate_config_message

            message = annotate_config_message(message, stack_file)
            message = message.replace("Pulumi.<stack>.yaml", os.path.basename(stack_file))
        return message, True
    known = {"RenderError", "ManifestError", "PackError", "ConfigError", "ExemptionError", "ValidationError"}
    if name in known:
        if name == "ManifestError":
            return "unreadable input:\n  " + "\n  ".join(getattr(e, "problems", [str(e)])), True
        if name == "ConfigError" and module.startswith("hardened"):
            return "invalid policy configuration:\n  " + "\n  ".join(str(e).splitlines()), True
        return str(e), True
    return f"{name}: {e}", False


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
