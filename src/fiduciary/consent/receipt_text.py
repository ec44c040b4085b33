"""Canonical JSON for consent receipts, and the compiled text templates that produce it without a serialiser.

A receipt is RFC 8785 canonical JSON. Serialising a dict per event costs several times more than the rest
of a receipt, so a receipt's shape is compiled once into literal text with named slots (`TextTemplate`),
and the write path fills the slots with members it encodes itself (`encode_string`, `scalar_text`,
`Encoded`) exactly as `canonical` would; a property test checks the two agree.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from fiduciary.ledger.chain import iso_utc

UNSIGNED_BLOCKS: Final = ("signature", "checkpoint")

_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
_enc = _ENCODER.encode
encode_string: Any = getattr(json.encoder, "c_encode_basestring", None) or json.encoder.py_encode_basestring


def scalar_text(value: str | int | None) -> str:
    """Canonical JSON of a string, an int or None, without building an encoder."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return str(encode_string(value))
    return str(int(value))


def canonical(value: Any) -> bytes:
    """RFC 8785 canonical JSON for receipts (ASCII keys only, so sorting by code point equals JCS order).

    The ledger's own `canonical_json` refuses keys such as `address` and `email`, which a receipt needs
    for the controller's (not the person's) contact details, so receipts use this plain serialiser.
    """
    return _enc(value).encode("utf-8")


class Slot:
    """A variable member of a text template: filled with already-encoded canonical JSON."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


def _object_parts(members: Mapping[str, Any]) -> list[str | Slot]:
    """Parts of an object's canonical text: literals, `Slot` slots, nested objects (dicts) and lists."""
    parts: list[str | Slot] = ["{"]
    for index, key in enumerate(sorted(members)):
        parts.append(("," if index else "") + _enc(key) + ":")
        parts.extend(_value_parts(members[key]))
    parts.append("}")
    return parts


def _value_parts(value: Any) -> list[str | Slot]:
    if isinstance(value, Slot):
        return [value]
    if isinstance(value, Constant):
        return [_enc(value.value)]
    if isinstance(value, dict):
        return _object_parts(value)
    if isinstance(value, list):
        parts: list[str | Slot] = ["["]
        for index, item in enumerate(value):
            if index:
                parts.append(",")
            parts.extend(_value_parts(item))
        parts.append("]")
        return parts
    return [_enc(value)]


class Constant:
    """A constant member serialised as a whole (e.g. the controller block), not walked into."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


class TextTemplate:
    """Literal text with named slots: `render` interleaves the literals with the encoded values and joins.

    Slot names index `SLOTS`, so a caller fills a plain tuple in that order and no dict is built per event.
    (A `%` format was tried: it scans the 3.7 KB of literal text on every call and was slower than a join.)
    """

    __slots__ = ("literals", "literals_open", "pick", "width")

    def __init__(self, parts: Sequence[str | Slot]) -> None:
        literals: list[str] = [""]
        indices: list[int] = []
        for part in parts:
            if isinstance(part, Slot):
                indices.append(_SLOT_INDEX[part.name])
                literals.append("")
            else:
                literals[-1] += part
        self.literals = literals
        self.literals_open = [*literals[:-1], literals[-1][:-1]]  # without the closing brace
        self.width = 2 * len(indices) + 1
        self.pick: Callable[[Sequence[str]], Sequence[str]] = (
            operator.itemgetter(*indices) if len(indices) > 1 else (lambda values: [values[i] for i in indices])
        )

    def render(self, values: Sequence[str]) -> str:
        """`values` holds the encoded member for every name in `SLOTS`, in that order."""
        out: list[str] = [""] * self.width
        out[0::2] = self.literals
        out[1::2] = self.pick(values)
        return "".join(out)

    def render_open(self, values: Sequence[str], end: str) -> str:
        """`render` with `end` in place of the final '}' (signing adds a member before it)."""
        out: list[str] = [""] * (self.width + 1)
        out[0 : self.width : 2] = self.literals_open
        out[1 : self.width : 2] = self.pick(values)
        out[-1] = end
        return "".join(out)


# The per-event members of a receipt, in the order `receipts._receipt_values` lists them.
SLOTS: Final = (
    "subject",
    "guardian",
    "record_id",
    "language",
    "channel",
    "event_time",
    "event_kind",
    "event_state",
    "entity",
    "version",
    "notice",
    "ua",
    "ip_prefix",
    "ref",
    "stream",
    "position",
    "event_hash",
    "event_type",
    "timestamp",
)
_SLOT_INDEX: Final = {name: index for index, name in enumerate(SLOTS)}


def compile_template(shape: Mapping[str, Any]) -> TextTemplate:
    """A text template producing the canonical JSON of `shape` once its `Slot` slots are filled."""
    return TextTemplate(_object_parts(shape))


def signed_bytes(receipt: Mapping[str, Any]) -> bytes:
    """The bytes a receipt signature covers: the receipt without its signature and checkpoint blocks."""
    return canonical({k: v for k, v in receipt.items() if k not in UNSIGNED_BLOCKS})


def iso_time(moment: datetime) -> str:
    return iso_utc(moment)


class Encoded(dict[str, str]):
    """JSON string encodings, computed on first use: a dict lookup is cheaper than re-encoding."""

    def __missing__(self, key: str) -> str:
        value: str = encode_string(key)
        self[key] = value
        return value
