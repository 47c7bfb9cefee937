"""Generate ``docs/config.md``: every ``hardened-stack:`` config key, its type, default and meaning,
straight from the pydantic models (so the reference cannot drift from the code).

``python -m hardened.configdoc`` rewrites the file; ``--check`` exits 1 when it is stale.
"""
from __future__ import annotations

import argparse
import sys
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "docs" / "config.md"


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        # the stack's validated string types (components.base.Cidr ...) say what they hold
        from components import base

        if annotation == base.Cidr:
            return "CIDR (never broader than /8, IPv6 /7)"
        if annotation == base.CidrExcept:
            return "CIDR"
        return _type_name(args[0])
    if origin is typing.Literal:
        return " \\| ".join(repr(a).replace("'", '"') for a in args)
    if origin in (list, tuple, set):
        return f"list of {_type_name(args[0])}" if args else "list"
    if origin is dict:
        return f"map of {_type_name(args[1])}" if len(args) == 2 else "map"
    if origin is typing.Union or str(origin) == "types.UnionType":
        names = [_type_name(a) for a in args if a is not type(None)]
        return " \\| ".join(names) + (" (optional)" if type(None) in args else "")
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{annotation.__name__.lower()})"
    return getattr(annotation, "__name__", str(annotation))


def _default(field) -> str:
    if field.default is not PydanticUndefined:
        value = field.default
    elif field.default_factory is not None:
        try:
            value = field.default_factory()
        except TypeError:
            return "(computed)"
    else:
        return "**required**"
    if isinstance(value, BaseModel):
        return "(defaults)"
    if value in ([], {}):
        return "empty"
    if value is None:
        return "none"
    return f"`{value!r}`".replace("'", '"') if not isinstance(value, bool) else f"`{str(value).lower()}`"


def _models(root: type[BaseModel]) -> list[type[BaseModel]]:
    seen: list[type[BaseModel]] = []

    def visit(model: type[BaseModel]) -> None:
        if model in seen:
            return
        seen.append(model)
        for field in model.model_fields.values():
            for t in _flatten(field.annotation):
                if isinstance(t, type) and issubclass(t, BaseModel):
                    visit(t)

    visit(root)
    return seen


def _flatten(annotation: Any) -> list[Any]:
    args = typing.get_args(annotation)
    if not args:
        return [annotation]
    out = []
    for a in args:
        out.extend(_flatten(a))
    return out


def render() -> str:
    from components.config import PROJECT, SECRET_KEYS, StackConfig

    lines = [
        "# Stack configuration reference",
        "",
        "Generated from the pydantic models by `python -m hardened.configdoc`; do not edit by hand.",
        f"Every top-level key lives in the `{PROJECT}:` namespace of `Pulumi.<stack>.yaml` and is validated",
        "before any resource is registered: unknown keys are rejected, and errors name the key path.",
        "",
        "**The ledger of opt-outs.** A key marked **Opt-out (ledger)** weakens a secure default when set",
        "away from it. `render` prints every such setting and writes `opt-outs.json`; `report` lists them.",
        "In a prod stack each needs an entry of `optOuts`: `{id, owner: {team, contact}, setting: <the exact",
        "key path, e.g. admission.constraints.pods-disallow-privileged.enforcementAction>, reason, expires}`,",
        "checked like `policy_pack/exemptions.yaml` (an expired entry, or one that covers nothing, is an error).",
        "",
    ]
    for model in _models(StackConfig):
        title = "StackConfig (top-level keys)" if model is StackConfig else model.__name__
        lines += [f"## {model.__name__}" if model is not StackConfig else f"## {title}", ""]
        doc = (model.__doc__ or "").strip().split("\n\n")[0]
        if doc and model is not StackConfig:
            lines += [" ".join(doc.split()), ""]
        lines += ["| key | type | default | description |", "|---|---|---|---|"]
        for name, field in model.model_fields.items():
            key = field.alias or name
            desc = " ".join((field.description or "").split()).replace("|", "\\|")
            extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
            if "weakens" in extra:  # components.ledger: on the ledger, refused in prod without an optOuts entry
                desc += f" **Opt-out (ledger):** weakens when set: {extra['weakens']}.".replace("|", "\\|")
            lines.append(f"| `{key}` | {_type_name(field.annotation)} | {_default(field)} | {desc} |")
        lines.append("")
    lines += ["## Secret keys", "",
              "Set with `pulumi config set --secret hardened-stack:<key> <value>`; read as Pulumi secrets, "
              "never rendered.", "", "| key | used for |", "|---|---|"]
    lines += [f"| `{k}` | {v} |" for k, v in sorted(SECRET_KEYS.items())]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hardened.configdoc")
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/config.md is out of date")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    text = render()
    if args.check:
        if not TARGET.exists() or TARGET.read_text() != text:
            print("docs/config.md is out of date: run `python -m hardened.configdoc`", file=sys.stderr)
            return 1
        return 0
    TARGET.parent.mkdir(exist_ok=True)
    TARGET.write_text(text)
    print(f"wrote {TARGET.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
