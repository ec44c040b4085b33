"""An attacker with database access edits the ledger with raw SQL; verify must name the first bad position.

The append-only triggers are switched off for the edit (PostgreSQL: ALTER TABLE … DISABLE TRIGGER ALL;
SQLite: drop and recreate them), as someone with owner rights could do, then switched back on.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

import tamper_support
from fiduciary.ledger.chain import GENESIS_HASH, canonical_payload, event_hash, iso_utc
from fiduciary.ledger.reads import LedgerEntry, checkpoints, entries
from fiduciary.ledger.service import Ledger
from fiduciary.ledger.signing import Signer
from fiduciary.ledger.verification import VerificationReport, verify
from fiduciary.runtime import Runtime
from fiduciary.storage.base import UTCDateTime

TABLES = ("ledger_events", "ledger_checkpoints")


def attacker(runtime: Runtime) -> AbstractContextManager[Connection]:
    return tamper_support.attacker(runtime, TABLES, triggers_expected=4)


@pytest.fixture
def signer() -> Signer:
    return Signer.generate()


@pytest.fixture
def chain(runtime: Runtime, signer: Signer) -> list[LedgerEntry]:
    """Ten events, checkpoints signed at 4 and 8, head at 10."""
    ledger = Ledger("consent", signer, checkpoint_every=4)
    with runtime.sessions() as session:
        for i in range(1, 11):
            ledger.append(session, "consent.granted", {"subject": f"per_{i}", "purpose": "email_marketing"})
        session.commit()
        assert [c.position for c in checkpoints(session, "consent")] == [4, 8]
    return stored(runtime)


def stored(runtime: Runtime) -> list[LedgerEntry]:
    with runtime.sessions() as session:
        return list(entries(session, "consent"))


def check(runtime: Runtime, signer: Signer) -> VerificationReport:
    with runtime.sessions() as session:
        return verify(session, "consent", [signer.public_key])


def set_row(conn: Connection, position: int, **values: Any) -> None:
    assignments = ", ".join(f"{column} = :{column}" for column in values)
    statement = sa.text(f"UPDATE ledger_events SET {assignments} WHERE stream = 'consent' AND position = :position")
    if "recorded_at" in values:  # stored the way the application stores times on each engine
        statement = statement.bindparams(sa.bindparam("recorded_at", type_=UTCDateTime()))
    result = conn.execute(statement, {**values, "position": position})
    assert result.rowcount == 1


def shift(conn: Connection, first: int, by: int) -> None:
    """Renumber positions >= first by `by`, in two steps so the primary key never collides."""
    conn.execute(
        sa.text("UPDATE ledger_events SET position = position + 1000000 WHERE stream = 'consent' AND position >= :p"),
        {"p": first},
    )
    conn.execute(
        sa.text("UPDATE ledger_events SET position = position - 1000000 + :by WHERE position > 1000000"), {"by": by}
    )


def set_head(conn: Connection, position: int, hash_: str) -> None:
    conn.execute(
        sa.text("UPDATE ledger_heads SET position = :p, hash = :h WHERE stream = 'consent'"),
        {"p": position, "h": hash_},
    )


def rehash_from(conn: Connection, rows: list[LedgerEntry], start: int, prev: str) -> str:
    """What a careful attacker does after an edit: recompute every later hash so the chain links again."""
    for entry in rows:
        if entry.position < start:
            continue
        text = canonical_payload(entry.payload)
        digest = event_hash("consent", entry.position, entry.event_type, iso_utc(entry.recorded_at), text, prev)
        set_row(conn, entry.position, payload=text, prev_hash=prev, hash=digest)
        prev = digest
    return prev


def test_an_untouched_chain_verifies(runtime: Runtime, signer: Signer, chain: list[LedgerEntry]) -> None:
    report = check(runtime, signer)
    assert (report.ok, report.events_checked, report.checkpoints_checked, report.first_bad_position) == (
        True,
        10,
        2,
        None,
    )
    assert report.head_hash == chain[-1].hash


Tamper = Callable[[Connection, list[LedgerEntry]], None]


def _alter_payload(conn: Connection, rows: list[LedgerEntry]) -> None:
    set_row(conn, 6, payload='{"purpose":"email_marketing","subject":"per_999"}')


def _alter_type(conn: Connection, rows: list[LedgerEntry]) -> None:
    set_row(conn, 2, event_type="consent.withdrawn")


def _alter_time(conn: Connection, rows: list[LedgerEntry]) -> None:
    set_row(conn, 3, recorded_at=rows[2].recorded_at.replace(year=2020))


def _delete_middle(conn: Connection, rows: list[LedgerEntry]) -> None:
    conn.execute(sa.text("DELETE FROM ledger_events WHERE stream = 'consent' AND position = 6"))


def _delete_and_close_gap(conn: Connection, rows: list[LedgerEntry]) -> None:
    conn.execute(sa.text("DELETE FROM ledger_events WHERE stream = 'consent' AND position = 6"))
    shift(conn, 7, -1)
    set_head(conn, 9, rows[-1].hash)


def _delete_last(conn: Connection, rows: list[LedgerEntry]) -> None:
    conn.execute(sa.text("DELETE FROM ledger_events WHERE stream = 'consent' AND position = 10"))


def _truncate_tail_and_head(conn: Connection, rows: list[LedgerEntry]) -> None:
    conn.execute(sa.text("DELETE FROM ledger_events WHERE stream = 'consent' AND position >= 7"))
    set_head(conn, 6, rows[5].hash)


def _insert_linked(conn: Connection, rows: list[LedgerEntry]) -> None:
    shift(conn, 5, +1)
    forged = canonical_payload({"purpose": "email_marketing", "subject": "per_forged"})
    when = iso_utc(rows[4].recorded_at)
    digest = event_hash("consent", 5, "consent.granted", when, forged, rows[3].hash)
    conn.execute(
        sa.text(
            "INSERT INTO ledger_events (stream, position, event_type, recorded_at, payload, prev_hash, hash) "
            "VALUES ('consent', 5, 'consent.granted', :t, :p, :prev, :h)"
        ).bindparams(sa.bindparam("t", type_=UTCDateTime())),
        {"t": rows[4].recorded_at, "p": forged, "prev": rows[3].hash, "h": digest},
    )
    set_head(conn, 11, rows[-1].hash)


def _swap(conn: Connection, rows: list[LedgerEntry]) -> None:
    conn.execute(sa.text("UPDATE ledger_events SET position = 1000003 WHERE stream = 'consent' AND position = 3"))
    conn.execute(sa.text("UPDATE ledger_events SET position = 3 WHERE stream = 'consent' AND position = 4"))
    conn.execute(sa.text("UPDATE ledger_events SET position = 4 WHERE stream = 'consent' AND position = 1000003"))


def _rewrite_and_rehash(conn: Connection, rows: list[LedgerEntry]) -> None:
    edited = [
        LedgerEntry(
            e.stream,
            e.position,
            e.event_type,
            e.recorded_at,
            {**e.payload, "purpose": "analytics"},
            e.prev_hash,
            e.hash,
        )
        if e.position == 6
        else e
        for e in rows
    ]
    last = rehash_from(conn, edited, 6, rows[4].hash)
    set_head(conn, 10, last)


def _rewrite_everything_after_checkpoint(conn: Connection, rows: list[LedgerEntry]) -> None:
    """Rewriting only the unsealed tail (9, 10) cannot be caught by a checkpoint: that is the window seal bounds."""
    edited = [
        LedgerEntry(
            e.stream, e.position, e.event_type, e.recorded_at, {**e.payload, "purpose": "x"}, e.prev_hash, e.hash
        )
        for e in rows
    ]
    last = rehash_from(conn, edited, 9, rows[7].hash)
    set_head(conn, 10, last)


def _forge_signature(conn: Connection, rows: list[LedgerEntry]) -> None:
    """The right statement and key id, signed with a key that is not ours."""
    checkpoint = next(c for c in checkpoints(Session(bind=conn), "consent") if c.position == 4)
    forged = base64.b64encode(Signer.generate().sign(checkpoint.statement())).decode()
    conn.execute(sa.text("UPDATE ledger_checkpoints SET signature = :s WHERE position = 4"), {"s": forged})


def _resign_with_own_key(conn: Connection, rows: list[LedgerEntry]) -> None:
    other = Signer.generate()
    conn.execute(
        sa.text("UPDATE ledger_checkpoints SET key_id = :k, signature = :s WHERE position = 8"),
        {"k": other.key_id, "s": base64.b64encode(other.sign(b"anything")).decode()},
    )


def _alter_checkpoint_hash(conn: Connection, rows: list[LedgerEntry]) -> None:
    conn.execute(sa.text("UPDATE ledger_checkpoints SET hash = :h WHERE position = 8"), {"h": "f" * 64})


def _drop_checkpoint_and_rewrite(conn: Connection, rows: list[LedgerEntry]) -> None:
    """Deleting the checkpoint that would expose a rewrite: the head still records that checkpoint."""
    conn.execute(sa.text("DELETE FROM ledger_checkpoints WHERE position = 8"))
    edited = [
        LedgerEntry(
            e.stream, e.position, e.event_type, e.recorded_at, {**e.payload, "purpose": "x"}, e.prev_hash, e.hash
        )
        for e in rows
    ]
    rehash_from(conn, edited, 6, rows[4].hash)


def _alter_head_hash(conn: Connection, rows: list[LedgerEntry]) -> None:
    set_head(conn, 10, "e" * 64)


CASES: list[tuple[str, Tamper, int, str]] = [
    ("altered payload", _alter_payload, 6, "does not match its content"),
    ("altered event type", _alter_type, 2, "does not match its content"),
    ("altered time", _alter_time, 3, "does not match its content"),
    ("deleted event", _delete_middle, 6, "position 6 missing"),
    ("deleted event, gap closed", _delete_and_close_gap, 6, "prev_hash at position 6"),
    ("deleted last event", _delete_last, 10, "events 10..10 missing"),
    ("truncated tail and head", _truncate_tail_and_head, 7, "checkpoint at position 8 is beyond the last event"),
    ("inserted event, renumbered", _insert_linked, 6, "prev_hash at position 6"),
    ("swapped events", _swap, 3, "prev_hash at position 3"),
    ("rewritten and rehashed", _rewrite_and_rehash, 5, "events 5..8 were rewritten"),
    ("forged checkpoint signature", _forge_signature, 4, "signature does not verify"),
    ("checkpoint re-signed with another key", _resign_with_own_key, 8, "unknown key"),
    ("altered checkpoint hash", _alter_checkpoint_hash, 8, "signature does not verify"),
    (
        "checkpoint dropped, chain rewritten",
        _drop_checkpoint_and_rewrite,
        5,
        "checkpoint at position 8 that is missing",
    ),
    ("altered head", _alter_head_hash, 10, "head's hash differs"),
]


@pytest.mark.parametrize(("tamper", "first_bad", "problem"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_tampering_is_detected_at_the_first_bad_position(
    runtime: Runtime, signer: Signer, chain: list[LedgerEntry], tamper: Tamper, first_bad: int, problem: str
) -> None:
    with attacker(runtime) as conn:
        tamper(conn, chain)
    report = check(runtime, signer)
    assert not report.ok
    assert report.first_bad_position == first_bad, report
    assert problem in (report.problem or ""), report
    assert (
        report.events_checked < first_bad or "checkpoint" in (report.problem or "") or "head" in (report.problem or "")
    )


def test_rewriting_only_the_unsealed_tail_is_the_documented_blind_spot(
    runtime: Runtime, signer: Signer, chain: list[LedgerEntry]
) -> None:
    with attacker(runtime) as conn:
        _rewrite_everything_after_checkpoint(conn, chain)
    assert check(runtime, signer).ok  # why `fiduciary ledger seal` should run on a schedule (docs/ledger.md)
    with runtime.sessions() as session:
        assert [e.payload["purpose"] for e in entries(session, "consent", 9)] == ["x", "x"]


def test_a_missing_head_row_is_reported(runtime: Runtime, signer: Signer, chain: list[LedgerEntry]) -> None:
    with runtime.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM ledger_heads"))
    report = check(runtime, signer)
    assert not report.ok and report.first_bad_position is None and "head row is missing" in (report.problem or "")
    assert report.events_checked == 10


def test_triggers_are_back_after_the_attacker_context(runtime: Runtime, chain: list[LedgerEntry]) -> None:
    with attacker(runtime) as conn:
        set_row(conn, 1, event_type="consent.denied")
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), runtime.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM ledger_events"))


def test_genesis_prev_hash_is_required(runtime: Runtime, signer: Signer, chain: list[LedgerEntry]) -> None:
    assert chain[0].prev_hash == GENESIS_HASH
    with attacker(runtime) as conn:
        set_row(conn, 1, prev_hash="1" * 64)
    report = check(runtime, signer)
    assert report.first_bad_position == 1 and "prev_hash" in (report.problem or "")
