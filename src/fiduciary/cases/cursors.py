"""Keyset cursors of the cases listings: the last row's sort key, joined and base64url-encoded, opaque to
the caller. A cursor that does not decode to the expected parts is a 422 naming `after`."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from fiduciary.errors import FieldProblem, ValidationFailed


def encode_cursor(moment: datetime, *parts: str) -> str:
    raw = "|".join((moment.isoformat(), *parts))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, parts: int) -> tuple[datetime, list[str]]:
    """(moment, the other `parts` strings, each 1 to 40 characters)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, *rest = raw.split("|")
        parsed = datetime.fromisoformat(moment)
        if parsed.tzinfo is None or len(rest) != parts or not all(0 < len(p) <= 40 for p in rest):
            raise ValueError
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed("Bad cursor.", [FieldProblem("after", "a next_cursor from a previous page")]) from None
    return parsed, rest
