"""Reading the ledger: its tables, events in position order, checkpoints and streams.

Shared by appends (`service`), verification (`verification`) and every reader (receipts, exports, the CLI).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.orm import Session

from fiduciary.ledger.chain import (
    check_stream,
    checkpoint_statement,
    iso_utc,
)
from fiduciary.ledger.models import LedgerCheckpoint, LedgerEvent, LedgerHead, LedgerSubject
from fiduciary.ledger.signing import (
    key_id_for,
    verify_with_key,
)

EVENTS = cast(sa.Table, LedgerEvent.__table__)
HEADS = cast(sa.Table, LedgerHead.__table__)
CHECKPOINTS = cast(sa.Table, LedgerCheckpoint.__table__)
SUBJECTS = cast(sa.Table, LedgerSubject.__table__)

ENTRIES_BATCH = 1_000


@dataclass(frozen=True)
class LedgerEntry:
    stream: str
    position: int
    event_type: str
    recorded_at: datetime
    payload: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement that `stream` had `hash` at `position`; portable into receipts and exports."""

    stream: str
    position: int
    hash: str
    signed_at: datetime
    key_id: str
    signature: str  # base64 Ed25519 signature over `statement()`

    def statement(self) -> bytes:
        return checkpoint_statement(self.stream, self.position, self.hash, iso_utc(self.signed_at), self.key_id)

    def verify_with(self, public_key: Ed25519PublicKey) -> bool:
        return key_id_for(public_key) == self.key_id and verify_with_key(public_key, self.statement(), self.signature)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "position": self.position,
            "hash": self.hash,
            "signed_at": iso_utc(self.signed_at),
            "key_id": self.key_id,
            "signature": self.signature,
        }


def row_to_checkpoint(stream: str, row: sa.Row[Any]) -> Checkpoint:
    return Checkpoint(
        stream=stream,
        position=row.position,
        hash=row.hash,
        signed_at=row.signed_at,
        key_id=row.key_id,
        signature=row.signature,
    )


HEAD_COLUMNS = (HEADS.c.position, HEADS.c.hash, HEADS.c.checkpoint_position, HEADS.c.checkpoint_at)


def entries(session: Session, stream: str, start: int = 1, end: int | None = None) -> Iterator[LedgerEntry]:
    """Events from `start` to `end` (inclusive), fetched in keyset-paginated batches."""
    check_stream(stream)
    if start < 1:
        raise ValueError("start must be at least 1")
    if end is not None and end < start - 1:
        raise ValueError("end must not be before start")
    after = start - 1
    while True:
        query = (
            sa.select(EVENTS)
            .where(EVENTS.c.stream == stream, EVENTS.c.position > after)
            .order_by(EVENTS.c.position)
            .limit(ENTRIES_BATCH)
        )
        if end is not None:
            query = query.where(EVENTS.c.position <= end)
        rows = session.execute(query).all()
        for row in rows:
            yield LedgerEntry(
                row.stream,
                row.position,
                row.event_type,
                row.recorded_at,
                json.loads(row.payload),
                row.prev_hash,
                row.hash,
            )
        if len(rows) < ENTRIES_BATCH:
            return
        after = rows[-1].position


def checkpoint_covering(session: Session, stream: str, position: int) -> Checkpoint | None:
    """The first checkpoint at or after `position`: the signature that vouches for that event."""
    row = session.execute(
        sa.select(CHECKPOINTS)
        .where(CHECKPOINTS.c.stream == stream, CHECKPOINTS.c.position >= position)
        .order_by(CHECKPOINTS.c.position)
        .limit(1)
    ).one_or_none()
    return None if row is None else row_to_checkpoint(stream, row)


def checkpoints(session: Session, stream: str) -> list[Checkpoint]:
    rows = session.execute(
        sa.select(CHECKPOINTS).where(CHECKPOINTS.c.stream == stream).order_by(CHECKPOINTS.c.position)
    ).all()
    return [row_to_checkpoint(stream, row) for row in rows]


def streams(session: Session) -> list[str]:
    """Every stream with a head, a checkpoint or an event (a loose index scan: one seek per stream)."""
    found: set[str] = set(session.execute(sa.select(HEADS.c.stream)).scalars())
    found.update(session.execute(sa.select(CHECKPOINTS.c.stream).distinct()).scalars())
    last = ""
    while True:
        nxt = session.execute(sa.select(sa.func.min(EVENTS.c.stream)).where(EVENTS.c.stream > last)).scalar()
        if nxt is None:
            break
        found.add(nxt)
        last = nxt
    return sorted(found)
