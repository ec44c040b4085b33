"""Read single ledger events by position, for checks against copies held outside the database.

A consent receipt names a stream, a position and the event hash it was bound to; comparing thousands of
receipts with the ledger needs the stored rows at those positions (a few queries, not a walk of the
chain) and the head, so a receipt beyond it shows that the ledger lost an acknowledged event.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from fiduciary.ledger.chain import check_stream, event_hash, iso_utc
from fiduciary.ledger.models import LedgerEvent, LedgerHead

EVENTS = cast(sa.Table, LedgerEvent.__table__)
HEADS = cast(sa.Table, LedgerHead.__table__)
LOOKUP_CHUNK = 500  # positions per query: far below every driver's parameter limit

_SELECT_EVENTS = sa.select(
    EVENTS.c.position,
    EVENTS.c.event_type,
    EVENTS.c.recorded_at,
    EVENTS.c.payload,
    EVENTS.c.prev_hash,
    EVENTS.c.hash,
).where(EVENTS.c.stream == sa.bindparam("stream"), EVENTS.c.position.in_(sa.bindparam("positions", expanding=True)))


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One `ledger_events` row as stored; `recorded_at` in the `iso_utc` text the hash covers."""

    stream: str
    position: int
    event_type: str
    recorded_at: str
    payload: str  # canonical JSON text, hashed as stored
    prev_hash: str
    hash: str

    @property
    def hash_matches_content(self) -> bool:
        """Whether the stored hash is the hash of the stored content (else the row was edited in place)."""
        computed = event_hash(
            self.stream, self.position, self.event_type, self.recorded_at, self.payload, self.prev_hash
        )
        return computed == self.hash


def events_at(session: Session, stream: str, positions: Iterable[int]) -> dict[int, StoredEvent]:
    """The stored events of `stream` at `positions` (absent positions are simply missing from the result)."""
    check_stream(stream)
    wanted = sorted({int(p) for p in positions if 1 <= int(p) <= 2**63 - 1})
    found: dict[int, StoredEvent] = {}
    for start in range(0, len(wanted), LOOKUP_CHUNK):
        chunk = wanted[start : start + LOOKUP_CHUNK]
        for row in session.execute(_SELECT_EVENTS, {"stream": stream, "positions": chunk}):
            found[row.position] = StoredEvent(
                stream, row.position, row.event_type, iso_utc(row.recorded_at), row.payload, row.prev_hash, row.hash
            )
    return found


def head_position(session: Session, stream: str) -> int:
    """The last position of `stream`: its head row, or the last stored event if the head row is missing
    (0 for an empty or unknown stream). The larger of the two, so a rewound head cannot hide events."""
    check_stream(stream)
    head = session.scalar(sa.select(HEADS.c.position).where(HEADS.c.stream == stream)) or 0
    last = session.scalar(sa.select(sa.func.max(EVENTS.c.position)).where(EVENTS.c.stream == stream)) or 0
    return max(int(head), int(last))
