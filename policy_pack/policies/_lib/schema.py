"""A small JSON-schema checker for policy configuration (standard library only).

The Pulumi CLI validates ``--policy-pack-config`` against each policy's ``configSchema`` before
the pack sees it; ``python -m hardened check`` does the same with this module, and the pack uses
it again as a backstop, so a malformed configuration is reported and never crashes a policy.

Supported keywords (all the policies use): ``type`` (string or list), ``properties``,
``required``, ``additionalProperties`` (false), ``items``, ``enum``, ``pattern``, ``minLength``,
``minItems``, ``uniqueItems``, ``minimum``, ``maximum``.
"""
from __future__ import annotations

import re
from functools import lru_cache
from collections.abc import Mapping
from typing import Any

_TYPES = {
    "object": lambda v: isinstance(v, Mapping),
    "array": lambda v: isinstance(v, (list, tuple)),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool))
                         or (isinstance(v, float) and v.is_integer()),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "null": lambda v: v is None,
}


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern:
    return re.compile(pattern)


def _n(value: Any) -> str:
    """A schema bound as written (bounds arrive as floats through protobuf: 1.0 is 1)."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def canonical(value: Any, schema: Mapping[str, Any]) -> Any:
    """*value* (already valid against *schema*) as the policy should read it: a whole number
    where the schema says integer. Configuration travels as a protobuf Struct, whose numbers are
    all doubles, so 365 arrives as 365.0; the policy's arithmetic and messages want 365."""
    expected = schema.get("type")
    names = [expected] if isinstance(expected, str) else list(expected or ())
    if isinstance(value, float) and value.is_integer() and "integer" in names and "number" not in names:
        return int(value)
    if isinstance(value, (list, tuple)) and isinstance(schema.get("items"), Mapping):
        return [canonical(item, schema["items"]) for item in value]
    if isinstance(value, Mapping) and isinstance(schema.get("properties"), Mapping):
        props = schema["properties"]
        return {k: canonical(v, props[k]) if isinstance(props.get(k), Mapping) else v for k, v in value.items()}
    return value


def type_name(value: Any) -> str:
    for name in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if _TYPES[name](value):
            return name
    return type(value).__name__


def errors(value: Any, schema: Mapping[str, Any], path: str = "") -> list[str]:
    """Every way *value* breaks *schema*, each as ``"<path>: <problem>"`` (empty when valid)."""
    out: list[str] = []
    where = path or "(value)"
    expected = schema.get("type")
    if expected is not None:
        names = [expected] if isinstance(expected, str) else list(expected)
        if not any(_TYPES.get(n, lambda v: True)(value) for n in names):
            out.append(f"{where}: expected {' or '.join(names)}, got {type_name(value)} {_short(value)}")
            return out
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{where}: must be one of {', '.join(map(repr, schema['enum']))}, got {_short(value)}")
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            out.append(f"{where}: must be at least {_n(schema['minLength'])} characters long")
        if "pattern" in schema and not _regex(schema["pattern"]).search(value):
            out.append(f"{where}: {_short(value)} does not match the pattern {schema['pattern']}")
    if _TYPES["number"](value):
        if "minimum" in schema and value < schema["minimum"]:
            out.append(f"{where}: must be at least {_n(schema['minimum'])}")
        if "maximum" in schema and value > schema["maximum"]:
            out.append(f"{where}: must be at most {_n(schema['maximum'])}")
    if isinstance(value, (list, tuple)):
        if "minItems" in schema and len(value) < schema["minItems"]:
            out.append(f"{where}: must have at least {_n(schema['minItems'])} item(s)")
        if schema.get("uniqueItems") and len({repr(v) for v in value}) != len(value):
            out.append(f"{where}: items must be unique")
        items = schema.get("items")
        if isinstance(items, Mapping):
            for i, item in enumerate(value):
                out.extend(errors(item, items, f"{path}[{i}]"))
    if isinstance(value, Mapping):
        props = schema.get("properties") or {}
        for key in schema.get("required") or ():
            if key not in value:
                out.append(f"{where}: '{key}' is required")
        for key in sorted(value, key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key in props:
                out.extend(errors(value[key], props[key], sub))
            elif schema.get("additionalProperties") is False:
                allowed = ", ".join(sorted(props)) or "none"
                out.append(f"{where}: unknown property '{key}' (allowed: {allowed})")
    return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
