"""Ledger service on SQLite and PostgreSQL: appends, entries, checkpoints, seal, transactions, concurrency."""

from __future__ import annotations

import itertools
import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from fiduciary.config import Settings
from fiduciary.ledger import reads as ledger_reads
from fiduciary.ledger import service as ledger_service
from fiduciary.ledger.chain import GENESIS_HASH, canonical_payload, event_hash, iso_utc
from fiduciary.ledger.reads import checkpoint_covering, checkpoints, entries, streams
from fiduciary.ledger.service import Ledger
from fiduciary.ledger.signing import Signer, load_signer, verify_signature
from fiduciary.ledger.verification import verify
from fiduciary.runtime import Runtime


def _count(session: Session, table: str) -> int:
    return int(session.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


def _head(session: Session, stream: str) -> tuple[int, str] | None:
    row = session.execute(
        sa.text("SELECT position, hash FROM ledger_heads WHERE stream = :s"), {"s": stream}
    ).one_or_none()
    return None if row is None else (row[0], row[1])


def _stream_state(session: Session) -> tuple[int, int, tuple[int, str] | None]:
    """Events, checkpoints and the consent head: what a refused append must leave as it was."""
    return _count(session, "ledger_events"), _count(session, "ledger_checkpoints"), _head(session, "consent")


def test_append_and_entries_round_trip(session: Session) -> None:
    ledger = Ledger("consent", Signer.generate())
    when = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)
    first = ledger.append(
        session, "consent.granted", {"subject": "per_1", "purpose": "email_marketing"}, recorded_at=when
    )
    rest = ledger.append_many(
        session,
        [("consent.withdrawn", {"subject": "per_1", "purpose": "email_marketing"}), ("consent.denied", {"n": 2})],
    )
    session.commit()

    assert (first.stream, first.position, first.prev_hash) == ("consent", 1, GENESIS_HASH)
    assert first.recorded_at == when
    assert [e.position for e in rest] == [2, 3]
    assert rest[0].prev_hash == first.hash and rest[1].prev_hash == rest[0].hash
    assert rest[0].recorded_at == rest[1].recorded_at

    stored = list(entries(session, "consent"))
    assert stored == [first, *rest]
    assert list(ledger.entries(session, 2, 2)) == [rest[0]]
    assert list(ledger.entries(session, 3)) == [rest[1]]
    assert list(ledger.entries(session, 4)) == []
    for entry in stored:
        assert entry.hash == event_hash(
            "consent",
            entry.position,
            entry.event_type,
            iso_utc(entry.recorded_at),
            canonical_payload(entry.payload),
            entry.prev_hash,
        )
    assert _head(session, "consent") == (3, rest[1].hash)
    assert verify(session, "consent", [ledger.signer.public_key] if ledger.signer else []).ok


def test_append_batch_answers_column_wise_what_append_many_answers(session: Session) -> None:
    signer = Signer.generate()
    when = datetime(2026, 3, 4, 5, 6, 7, 0, tzinfo=UTC)  # no microseconds: the stored text must still be fixed-width
    ledger = Ledger("consent", signer)
    ledger.append(session, "consent.granted", {"subject": "per_0"}, recorded_at=when)
    payloads = [{"subject": f"per_{i}", "purpose": "analytics", "version": i, "note": None} for i in range(1, 4)]
    batch = ledger.append_batch(session, [("consent.granted", p) for p in payloads], recorded_at=when)
    session.commit()
    assert (batch.stream, batch.first_position, len(batch), batch.recorded_at) == ("consent", 2, 3, when)
    assert batch.payloads == tuple(canonical_payload(p) for p in payloads)
    assert batch.entries() == list(entries(session, "consent", 2))
    assert [e.payload for e in batch.entries()] == payloads
    assert batch.prev_hash == next(iter(entries(session, "consent", 1, 1))).hash
    assert verify(session, "consent", [signer.public_key]).ok
    assert ledger.append_batch(session, []).hashes == ()


def test_awkward_payload_text_is_stored_and_hashed_exactly(session: Session) -> None:
    """Backslashes, escaped quotes and control characters survive the bulk insert (COPY on PostgreSQL)."""
    ledger = Ledger("audit", Signer.generate())
    payload = {"note": 'a\\b "q" \t\n\r \\N \\. é 😀', "path": "C:\\temp\\new", "n": -(2**53 - 1)}
    [entry] = ledger.append_many(session, [("audit.read", payload)])
    session.commit()
    stored = session.execute(sa.text("SELECT payload FROM ledger_events WHERE stream = 'audit'")).scalar_one()
    assert stored == canonical_payload(payload)
    assert json.loads(stored) == payload == entry.payload
    assert verify(session, "audit", [ledger.signer.public_key] if ledger.signer else []).ok


def test_entries_refuses_bad_ranges(session: Session) -> None:
    with pytest.raises(ValueError, match="start"):
        list(entries(session, "consent", 0))
    with pytest.raises(ValueError, match="end"):
        list(entries(session, "consent", 5, 3))


def test_entries_pages_through_more_than_one_batch(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ledger_reads, "ENTRIES_BATCH", 3)
    ledger = Ledger("audit")
    ledger.append_many(session, [("audit.read", {"i": i}) for i in range(10)])
    assert [e.payload["i"] for e in entries(session, "audit")] == list(range(10))
    assert [e.position for e in entries(session, "audit", 4, 8)] == [4, 5, 6, 7, 8]


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ([("consent.granted", {"subject": "per_2"}), ("consent.granted", {"score": 0.5})], "floats"),
        ([("consent.granted", {"email": "x"})], "'email'"),
        ([("consent.granted", {"evidence": {"ip": "x"}})], "'ip'"),
        ([("Consent Granted", {"subject": "per_2"})], "event_type"),
        ([("consent.granted",)], "pair"),
    ],
)
def test_bad_events_are_refused_and_change_nothing(session: Session, events: list[Any], message: str) -> None:
    ledger = Ledger("consent", Signer.generate(), checkpoint_every=1)
    ledger.append(session, "consent.granted", {"subject": "per_1"})
    session.commit()
    before = _stream_state(session)
    with pytest.raises(ValueError, match=message):
        ledger.append_many(session, events)
    session.commit()
    assert _stream_state(session) == before


def test_append_texts_stores_what_append_batch_would(session: Session) -> None:
    signer = Signer.generate()
    when = datetime(2026, 3, 4, 5, 6, 7, 8, tzinfo=UTC)
    payloads = [{"purpose": "analytics", "subject": f"per_{i}", "version": 1} for i in range(3)]
    batch = Ledger("consent", signer).append_texts(
        session, ["consent.granted"] * 3, [canonical_payload(p) for p in payloads], recorded_at=when
    )
    session.commit()
    assert [e.payload for e in entries(session, "consent")] == payloads
    assert batch.entries() == list(entries(session, "consent"))
    assert verify(session, "consent", [signer.public_key]).ok


@pytest.mark.parametrize(
    ("types", "texts", "message"),
    [
        (["consent.granted"], ['{"a":1}', '{"b":2}'], "one payload text per event type"),
        (["consent.granted"], ["[1,2]"], "canonical JSON text of an object"),
        (["consent.granted"], [""], "canonical JSON text of an object"),
        (["consent.granted"], [b'{"a":1}'], "canonical JSON text of an object"),
        (["consent.granted"], ["{" + "x" * 70_000 + "}"], "canonical JSON text of an object"),
        (["Consent Granted"], ['{"a":1}'], "event_type"),
    ],
)
def test_append_texts_refuses_bad_input_and_changes_nothing(
    session: Session, types: list[Any], texts: list[Any], message: str
) -> None:
    ledger = Ledger("consent", Signer.generate(), checkpoint_every=1)
    ledger.append(session, "consent.granted", {"subject": "per_1"})
    session.commit()
    before = _stream_state(session)
    with pytest.raises(ValueError, match=message):
        ledger.append_texts(session, types, texts)
    session.commit()
    assert _stream_state(session) == before


def test_naive_recorded_at_is_refused(session: Session) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Ledger("consent").append(session, "consent.granted", {"a": 1}, recorded_at=datetime(2026, 1, 1))
    assert _count(session, "ledger_events") == 0


def test_empty_append_many_touches_nothing(session: Session) -> None:
    assert Ledger("consent").append_many(session, []) == []
    assert _head(session, "consent") is None


def test_events_roll_back_with_the_callers_transaction(session: Session) -> None:
    ledger = Ledger("consent", Signer.generate(), checkpoint_every=2)
    kept = ledger.append(session, "consent.granted", {"subject": "per_1"})
    session.commit()
    ledger.append_many(
        session, [("consent.withdrawn", {"subject": "per_1"}), ("consent.granted", {"subject": "per_2"})]
    )
    session.rollback()
    assert _count(session, "ledger_events") == 1
    assert _count(session, "ledger_checkpoints") == 0
    assert _head(session, "consent") == (1, kept.hash)
    again = ledger.append(session, "consent.denied", {"subject": "per_3"})
    session.commit()
    assert again.position == 2 and again.prev_hash == kept.hash
    assert verify(session, "consent", [ledger.signer.public_key] if ledger.signer else []).ok


def test_a_checkpoint_is_signed_every_n_events(session: Session) -> None:
    signer = Signer.generate()
    ledger = Ledger("consent", signer, checkpoint_every=3)
    for i in range(7):
        ledger.append(session, "consent.granted", {"i": i})
    assert [c.position for c in checkpoints(session, "consent")] == [3, 6]
    ledger.append_many(session, [("consent.granted", {"i": i}) for i in range(5)])  # 8..12: one checkpoint at its end
    session.commit()
    sealed = checkpoints(session, "consent")
    assert [c.position for c in sealed] == [3, 6, 12]
    for checkpoint in sealed:
        assert checkpoint.key_id == signer.key_id
        assert verify_signature(signer.public_key_b64, checkpoint.statement(), checkpoint.signature)
        assert checkpoint.hash == next(iter(entries(session, "consent", checkpoint.position, checkpoint.position))).hash
    report = verify(session, "consent", [signer.public_key])
    assert (report.ok, report.events_checked, report.checkpoints_checked) == (True, 12, 3)


def test_a_checkpoint_is_signed_when_the_interval_has_passed(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [datetime(2026, 5, 1, 12, 0, tzinfo=UTC)]
    monkeypatch.setattr(ledger_service, "utcnow", lambda: clock[0])
    ledger = Ledger("consent", Signer.generate(), checkpoint_interval=timedelta(seconds=60))
    ledger.append(session, "consent.granted", {"i": 1})
    clock[0] += timedelta(seconds=59)
    ledger.append(session, "consent.granted", {"i": 2})
    assert checkpoints(session, "consent") == []
    clock[0] += timedelta(seconds=2)
    ledger.append(session, "consent.granted", {"i": 3})
    assert [(c.position, c.signed_at) for c in checkpoints(session, "consent")] == [(3, clock[0])]
    clock[0] += timedelta(seconds=30)
    ledger.append(session, "consent.granted", {"i": 4})
    assert len(checkpoints(session, "consent")) == 1


def test_without_a_signer_no_checkpoints_are_written(session: Session) -> None:
    ledger = Ledger("audit", checkpoint_every=1)
    ledger.append_many(session, [("audit.read", {"i": i}) for i in range(3)])
    assert checkpoints(session, "audit") == []
    with pytest.raises(ValueError, match="no signer"):
        ledger.seal(session)


def test_seal_signs_the_head_on_demand(session: Session) -> None:
    ledger = Ledger("consent", Signer.generate())
    assert ledger.seal(session) is None
    ledger.append_many(session, [("consent.granted", {"i": i}) for i in range(4)])
    checkpoint = ledger.seal(session)
    session.commit()
    assert checkpoint is not None and checkpoint.position == 4
    assert ledger.seal(session) == checkpoint  # nothing new: the same checkpoint, no second row
    assert len(checkpoints(session, "consent")) == 1
    assert checkpoint_covering(session, "consent", 2) == checkpoint
    assert checkpoint_covering(session, "consent", 5) is None
    ledger.append(session, "consent.granted", {"i": 5})
    assert checkpoint_covering(session, "consent", 5) is None
    later = ledger.seal(session)
    assert later is not None and later.position == 5
    assert checkpoint_covering(session, "consent", 2) == checkpoint
    assert checkpoint_covering(session, "consent", 5) == later


def test_streams_are_independent(session: Session) -> None:
    signer = Signer.generate()
    consent, audit = Ledger("consent", signer), Ledger("audit", signer)
    consent.append(session, "consent.granted", {"i": 1})
    audit.append_many(session, [("audit.read", {"i": i}) for i in range(3)])
    consent.append(session, "consent.granted", {"i": 2})
    session.commit()
    assert [e.position for e in entries(session, "consent")] == [1, 2]
    assert [e.position for e in entries(session, "audit")] == [1, 2, 3]
    assert streams(session) == ["audit", "consent"]
    assert verify(session, "consent", [signer.public_key]).events_checked == 2
    assert verify(session, "audit", [signer.public_key]).events_checked == 3


def test_verify_of_an_empty_stream_is_ok(session: Session) -> None:
    report = verify(session, "audit", [])
    assert (report.ok, report.events_checked, report.first_bad_position) == (True, 0, None)


def test_verify_pages_through_batches(session: Session) -> None:
    signer = Signer.generate()
    ledger = Ledger("consent", signer, checkpoint_every=4)
    ledger.append_many(session, [("consent.granted", {"i": i}) for i in range(4)])
    ledger.append_many(session, [("consent.granted", {"i": i}) for i in range(7)])
    report = verify(session, "consent", [signer.public_key], batch_size=3)
    assert (report.ok, report.events_checked, report.checkpoints_checked, report.head_position) == (True, 11, 2, 11)


def test_configured_ledger_and_default_keys(settings: Settings, session: Session) -> None:
    configured = Settings(
        database_url=settings.database_url,
        data_dir=settings.data_dir,
        ledger_checkpoint_every=2,
        ledger_checkpoint_interval_seconds=3600,
    )
    ledger = Ledger.from_settings("consent", configured)
    assert ledger.checkpoint_every == 2 and ledger.checkpoint_interval == timedelta(hours=1)
    assert ledger.signer is not None and ledger.signer.key_id == load_signer(configured).key_id
    ledger.append_many(session, [("consent.granted", {"i": i}) for i in range(2)])
    session.commit()
    report = verify(session, "consent")  # no keys given: the keys this process was configured with
    assert report.ok and report.checkpoints_checked == 1
    assert ledger.verify(session).ok


def test_checkpoints_signed_by_a_retired_key_still_verify(session: Session) -> None:
    old = Signer.generate()
    Ledger("consent", old, checkpoint_every=2).append_many(session, [("consent.granted", {"i": i}) for i in range(2)])
    new = Signer(Ed25519PrivateKey.generate(), previous_public_keys=[old.public_key])
    Ledger("consent", new, checkpoint_every=2).append_many(session, [("consent.granted", {"i": i}) for i in range(2)])
    session.commit()
    assert [c.key_id for c in checkpoints(session, "consent")] == [old.key_id, new.key_id]
    assert verify(session, "consent", new.known_public_keys()).ok
    without_old = verify(session, "consent", [new.public_key])
    assert not without_old.ok
    assert without_old.first_bad_position == 2
    assert f"unknown key {old.key_id}" in (without_old.problem or "")


def test_the_database_refuses_update_and_delete_of_ledger_rows(runtime: Runtime) -> None:
    signer = Signer.generate()
    with runtime.sessions() as session:
        Ledger("consent", signer, checkpoint_every=1).append(session, "consent.granted", {"subject": "per_1"})
        session.commit()
        before = [tuple(r) for r in session.execute(sa.text("SELECT * FROM ledger_events")).all()]
        checkpoints_before = [tuple(r) for r in session.execute(sa.text("SELECT * FROM ledger_checkpoints")).all()]
    statements = [
        "UPDATE ledger_events SET payload = '{}'",
        "DELETE FROM ledger_events",
        "UPDATE ledger_checkpoints SET signature = 'x'",
        "DELETE FROM ledger_checkpoints",
    ]
    for statement in statements:
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), runtime.engine.begin() as conn:
            conn.execute(sa.text(statement))
    with runtime.sessions() as session:
        assert [tuple(r) for r in session.execute(sa.text("SELECT * FROM ledger_events")).all()] == before
        assert [
            tuple(r) for r in session.execute(sa.text("SELECT * FROM ledger_checkpoints")).all()
        ] == checkpoints_before
        assert verify(session, "consent", [signer.public_key]).ok


def test_concurrent_appends_make_one_valid_chain(runtime: Runtime) -> None:
    """Two sessions appending at once (each its own connection) never fork the chain or reuse a position."""
    signer = Signer.generate()
    ledger = Ledger("consent", signer, checkpoint_every=7)
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def worker(name: str) -> None:
        try:
            barrier.wait()
            with runtime.sessions() as session:
                for i in range(25):
                    if i % 5 == 4:
                        ledger.append_many(
                            session, [("consent.granted", {"w": name, "i": i, "j": j}) for j in range(3)]
                        )
                    else:
                        ledger.append(session, "consent.granted", {"w": name, "i": i})
                    session.commit()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with runtime.sessions() as session:
        stored = list(entries(session, "consent"))
        assert [e.position for e in stored] == list(range(1, 2 * (20 + 5 * 3) + 1))
        for name in ("a", "b"):
            assert sorted((e.payload["i"], e.payload.get("j", 0)) for e in stored if e.payload["w"] == name) == sorted(
                [(i, 0) for i in range(25) if i % 5 != 4] + [(i, j) for i in range(4, 25, 5) for j in range(3)]
            )
        report = verify(session, "consent", [signer.public_key])
        assert report.ok and report.events_checked == 70 and report.checkpoints_checked >= 5


_streams = (f"h{n}" for n in itertools.count())

payloads = st.dictionaries(
    st.sampled_from(["subject", "purpose", "version", "flags", "ref", "note"]),
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.text(max_size=12).filter(lambda s: "@" not in s)
    | st.lists(st.integers(0, 9), max_size=3),
    max_size=4,
)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("one"), payloads),
        st.tuples(st.just("many"), st.lists(payloads, min_size=1, max_size=6)),
        st.tuples(st.just("seal"), st.none()),
        st.tuples(st.just("commit"), st.none()),
        st.tuples(st.just("rollback"), st.none()),
    ),
    max_size=14,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations, every=st.integers(1, 5))
def test_any_sequence_of_appends_verifies(session: Session, ops: list[tuple[str, Any]], every: int) -> None:
    stream = next(_streams)
    signer = Signer.generate()
    ledger = Ledger(stream, signer, checkpoint_every=every)
    committed: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []
    for kind, arg in ops:
        if kind == "one":
            ledger.append(session, "test.event", arg)
            pending.append(arg)
        elif kind == "many":
            ledger.append_many(session, [("test.event", p) for p in arg])
            pending.extend(arg)
        elif kind == "seal":
            ledger.seal(session)
        elif kind == "commit":
            session.commit()
            committed.extend(pending)
            pending.clear()
        else:
            session.rollback()
            pending.clear()
    session.commit()
    committed.extend(pending)
    report = verify(session, stream, [signer.public_key])
    assert report.ok, report
    assert report.events_checked == len(committed)
    assert [e.payload for e in entries(session, stream)] == [
        {k: (list(v) if isinstance(v, list) else v) for k, v in p.items()} for p in committed
    ]
