"""A ``google.protobuf.Struct`` as Python values, read field by field.

``json_format.MessageToDict`` walks every value through its generic descriptor machinery; for a
``Struct`` (a resource's properties, as the engine sends them to a pack and as a program sends
them to the engine's monitor) reading the ``Value`` oneofs directly gives the same dict, keys in
the same order, numbers as floats, many times faster. Used by the pack's fast path (fastpath.py)
and by ``hardened render``'s mock monitor; both compare it with json_format on generated values."""
from __future__ import annotations

from typing import Any


class NotJson(ValueError):
    """A number JSON cannot hold (NaN or an infinity): json_format refuses it with its own error."""


def value_of(value: Any) -> Any:
    """One ``google.protobuf.Value`` as json_format's ``_ValueMessageToJsonObject`` gives it."""
    which = value.WhichOneof("kind")
    if which == "string_value":
        return value.string_value
    if which == "struct_value":
        return struct_dict(value.struct_value)
    if which == "list_value":
        return [value_of(item) for item in value.list_value.values]
    if which == "bool_value":
        return value.bool_value
    if which == "number_value":
        number = value.number_value
        if number - number != 0.0:  # infinite or NaN
            raise NotJson
        return number
    return None  # null_value, or no kind set


def struct_dict(struct: Any) -> dict:
    """``json_format.MessageToDict(struct)``; NotJson where it would refuse a number."""
    fields = struct.fields
    return {key: value_of(fields[key]) for key in fields}


def struct_to_dict(struct: Any) -> dict:
    """``json_format.MessageToDict(struct)``, its error included (json_format itself gives it)."""
    try:
        return struct_dict(struct)
    except NotJson:
        from google.protobuf import json_format

        return json_format.MessageToDict(struct)
