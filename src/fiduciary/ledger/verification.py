"""Verifying a ledger stream: walk every event and checkpoint and report the first position that cannot be
trusted (DPDP Act s.6(10): the proof of consent must itself be checkable)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.orm import Session

from fiduciary.config import get_settings
from fiduciary.ledger.chain import (
    GENESIS_HASH,
    ChainProblem,
    ChainWalker,
    EventRow,
    check_stream,
    iso_utc,
)
from fiduciary.ledger.reads import EVENTS, HEAD_COLUMNS, HEADS, Checkpoint, checkpoints
from fiduciary.ledger.signing import (
    key_id_for,
    known_public_keys,
    trusted_public_keys,
)

VERIFY_BATCH = 10_000

# The verifier hashes the stored text directly and reads rows through the driver's own cursor: the
# database renders the timestamp in `iso_utc` form, so Python builds no datetime or Row object per event
# (verification must keep up with 100,000 events/s). Keyset pagination keeps memory flat.
_VERIFY_COLUMNS = "position, event_type, {time}, payload, prev_hash, hash FROM ledger_events"
_VERIFY_SQL = {
    "postgresql": "SELECT "
    + _VERIFY_COLUMNS.format(time="to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
    + " WHERE stream = %(stream)s AND position > %(after)s AND position <= %(bound)s ORDER BY position LIMIT %(limit)s",
    # SQLAlchemy stores SQLite datetimes as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC here, by UTCDateTime).
    "sqlite": "SELECT "
    + _VERIFY_COLUMNS.format(time="replace(recorded_at, ' ', 'T') || 'Z'")
    + " WHERE stream = :stream AND position > :after AND position <= :bound ORDER BY position LIMIT :limit",
}


@dataclass(frozen=True)
class VerificationReport:
    stream: str
    ok: bool
    events_checked: int
    checkpoints_checked: int
    first_bad_position: int | None
    problem: str | None
    head_position: int = 0
    head_hash: str = GENESIS_HASH


def _default_public_keys() -> list[Ed25519PublicKey]:
    keys = trusted_public_keys()
    if keys:
        return keys
    return known_public_keys(get_settings())


def _event_batches(session: Session, stream: str, bound: int, batch_size: int) -> Iterator[Sequence[EventRow]]:
    """Rows with position <= bound in position order, `batch_size` at a time (keyset pagination)."""
    connection = session.connection()
    sql = _VERIFY_SQL.get(connection.dialect.name)
    after = 0
    while after < bound:
        params = {"stream": stream, "after": after, "bound": bound, "limit": batch_size}
        rows: Sequence[EventRow]
        if sql is not None:
            cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                cursor.execute(sql, params)
                rows = cursor.fetchall()
            finally:
                cursor.close()
        else:  # another engine: render the timestamp in Python
            query = (
                sa.select(EVENTS)
                .where(EVENTS.c.stream == stream, EVENTS.c.position > after, EVENTS.c.position <= bound)
                .order_by(EVENTS.c.position)
                .limit(batch_size)
            )
            rows = [
                (r.position, r.event_type, iso_utc(r.recorded_at), r.payload, r.prev_hash, r.hash)
                for r in session.execute(query)
            ]
        if not rows:
            return
        yield rows
        after = rows[-1][0]


def verify(
    session: Session,
    stream: str,
    public_keys: Sequence[Ed25519PublicKey] | None = None,
    *,
    batch_size: int = VERIFY_BATCH,
) -> VerificationReport:
    """Walk the whole stream and its checkpoints; report the first position that cannot be trusted.

    Detects changed, deleted, inserted and reordered events (hash / prev_hash / position checks), a
    rewritten chain (hash differs from a signed checkpoint), forged or unknown-key checkpoints, and a
    truncated tail (checkpoint or head beyond the last event). `public_keys` are the keys trusted to have
    signed checkpoints; None means the keys this process was configured with (see signing.load_signer).
    """
    check_stream(stream)
    keys = {key_id_for(key): key for key in (public_keys if public_keys is not None else _default_public_keys())}
    # Checkpoints before the head: a committed checkpoint implies its head update committed with it, so a
    # checkpoint beyond the head we read next can only mean removed events.
    sealed = checkpoints(session, stream)
    head_row, bound = _head_and_bound(session, stream)
    walker = ChainWalker(stream)
    check = _CheckpointCheck(keys, sealed)
    problem = _checkpoint_beyond(sealed, bound)
    if problem is None:
        for batch in _event_batches(session, stream, bound, batch_size):
            problem = walker.walk(batch, check.by_position, check)
            if problem is not None:
                break
    if problem is None:
        problem = _tail_problem(head_row, walker, check.by_position, bound)
    if problem is None and head_row is None and (walker.last_position or sealed):
        missing_head = _report(
            stream, walker, check, ChainProblem(0, "the stream has events but its head row is missing")
        )
        return dataclasses.replace(missing_head, first_bad_position=None)
    return _report(stream, walker, check, problem)


def _head_and_bound(session: Session, stream: str) -> tuple[_HeadRow | None, int]:
    """The stream's head row and the last position to walk to (the head's, else the last event's)."""
    head_row = session.execute(sa.select(*HEAD_COLUMNS).where(HEADS.c.stream == stream)).one_or_none()
    if head_row is not None:
        bound: int = head_row.position
    else:
        bound = (
            session.execute(sa.select(sa.func.max(EVENTS.c.position)).where(EVENTS.c.stream == stream)).scalar() or 0
        )
    return head_row, bound


_HeadRow = sa.Row[Any, Any, Any, Any]  # HEAD_COLUMNS: position, hash, checkpoint_position, checkpoint_at


class _CheckpointCheck:
    """Checks each signed checkpoint as the walk reaches its position; counts those that held."""

    def __init__(self, keys: Mapping[str, Ed25519PublicKey], sealed: Sequence[Checkpoint]) -> None:
        self.keys = keys
        self.by_position = {checkpoint.position: checkpoint for checkpoint in sealed}
        self.checked = 0
        self.trusted_until = 0  # position of the last checkpoint that matched the chain

    def __call__(self, position: int, hash_: str) -> ChainProblem | None:
        checkpoint = self.by_position[position]
        key = self.keys.get(checkpoint.key_id)
        if key is None:
            return ChainProblem(position, f"checkpoint at position {position} names unknown key {checkpoint.key_id}")
        if not checkpoint.verify_with(key):
            return ChainProblem(position, f"checkpoint at position {position}: signature does not verify")
        if checkpoint.hash != hash_:
            return ChainProblem(
                self.trusted_until + 1,
                f"hash at position {position} differs from the checkpoint signed {iso_utc(checkpoint.signed_at)}: "
                f"events {self.trusted_until + 1}..{position} were rewritten",
            )
        self.checked += 1
        self.trusted_until = position
        return None


def _checkpoint_beyond(sealed: Sequence[Checkpoint], bound: int) -> ChainProblem | None:
    """A checkpoint past the last event: the events between were removed."""
    for checkpoint in sealed:
        if checkpoint.position > bound:
            return ChainProblem(
                bound + 1,
                f"checkpoint at position {checkpoint.position} is beyond the last event ({bound}): "
                f"events {bound + 1}..{checkpoint.position} were removed",
            )
    return None


def _tail_problem(
    head_row: _HeadRow | None, walker: ChainWalker, by_position: Mapping[int, Checkpoint], bound: int
) -> ChainProblem | None:
    """After the walk: events missing before the head, a checkpoint the head records that is gone, or a head
    hash that differs from the chain's."""
    if walker.last_position < bound:
        first = walker.last_position + 1
        return ChainProblem(first, f"events {first}..{bound} missing (the stream head is at {bound})")
    if head_row is None:
        return None
    recorded = head_row.checkpoint_position
    if recorded and recorded not in by_position:
        earlier = max((p for p in by_position if p < recorded), default=0)
        return ChainProblem(
            earlier + 1,
            f"the head records a checkpoint at position {recorded} that is missing: "
            f"events {earlier + 1}..{recorded} are no longer vouched for by a signature",
        )
    if head_row.hash != walker.last_hash:
        return ChainProblem(bound, f"the stream head's hash differs from the hash at position {bound}")
    return None


def _report(
    stream: str, walker: ChainWalker, check: _CheckpointCheck, problem: ChainProblem | None
) -> VerificationReport:
    return VerificationReport(
        stream=stream,
        ok=problem is None,
        events_checked=walker.events,
        checkpoints_checked=check.checked,
        first_bad_position=None if problem is None else problem.position,
        problem=None if problem is None else problem.problem,
        head_position=walker.last_position,
        head_hash=walker.last_hash,
    )
