"""Append, seal and verify ledger streams inside the caller's transaction.

Appends run in the caller's Session, so a consent state change and the event that proves it commit or
roll back together (DPDP Act s.6(10): the fiduciary must be able to prove every consent it relies on).
Each stream has one head row; an append locks it (`SELECT … FOR UPDATE` on PostgreSQL; on SQLite the
first write takes the database's single write lock), so positions are gap-free and the chain is linear
even with many API processes.

Checkpoints sign the head every `checkpoint_every` events or `checkpoint_interval`, checked on append,
and whenever `seal` is called. Events after the last checkpoint are protected only by the chain, which an
attacker with database access could recompute; run `fiduciary ledger seal` from a scheduler to bound that
window on a quiet stream.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from fiduciary.config import Settings
from fiduciary.ledger.chain import (
    GENESIS_HASH,
    MAX_PAYLOAD_BYTES,
    LedgerPayloadError,
    canonical_payload,
    check_event_type,
    check_stream,
    checkpoint_statement,
    fast_canonical,
    iso_utc,
)
from fiduciary.ledger.reads import (
    CHECKPOINTS,
    EVENTS,
    HEAD_COLUMNS,
    HEADS,
    SUBJECTS,
    Checkpoint,
    LedgerEntry,
    checkpoint_covering,
    entries,
)
from fiduciary.ledger.signing import (
    Signer,
    b64,
    load_signer,
)
from fiduciary.ledger.verification import VerificationReport, verify
from fiduciary.metrics import count_ledger_appends
from fiduciary.storage.base import utcnow
from fiduciary.storage.sqlite_driver import sqlite_datetime, sqlite_run, sqlite_time

MAX_APPEND_MANY = 100_000


@dataclass(frozen=True, slots=True)
class AppendedBatch:
    """What one `append_batch` wrote: events `first_position` … `first_position + len(hashes) - 1`.

    Column-wise rather than one object per event: a bulk writer (consent) needs only positions and hashes,
    and building an entry per event cost as much as hashing it. `entries()` gives the usual objects.
    """

    stream: str
    first_position: int
    recorded_at: datetime
    prev_hash: str  # the hash before the first event
    event_types: tuple[str, ...]
    payloads: tuple[str, ...]  # canonical JSON text as stored and hashed
    hashes: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.hashes)

    def entries(self) -> list[LedgerEntry]:
        prevs = (self.prev_hash, *self.hashes)[: len(self.hashes)]
        return [
            LedgerEntry(
                self.stream, self.first_position + i, event_type, self.recorded_at, json.loads(text), prev, hash_
            )
            for i, (event_type, text, prev, hash_) in enumerate(
                zip(self.event_types, self.payloads, prevs, self.hashes, strict=True)
            )
        ]


@dataclass
class _Head:
    position: int
    hash: str
    checkpoint_position: int
    checkpoint_at: datetime


# Statements built once with bind parameters: an append is a handful of round trips, and building
# SQLAlchemy constructs per call would cost more than the database work.
_INSERT_EVENTS = sa.insert(EVENTS)
_EVENT_COLUMNS = "stream, position, event_type, recorded_at, payload, prev_hash, hash"
_INSERT_EVENTS_SQLITE = f"INSERT INTO ledger_events ({_EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"  # noqa: S608
_COPY_EVENTS_POSTGRESQL = f"COPY ledger_events ({_EVENT_COLUMNS}) FROM STDIN"


def _copy_text(text: str) -> str:
    """A field in PostgreSQL COPY text format: backslash, tab, newline and carriage return escaped."""
    if "\\" in text:
        text = text.replace("\\", "\\\\")
    if "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


_INSERT_SUBJECTS = sa.insert(SUBJECTS)
_INSERT_SUBJECTS_SQLITE = "INSERT INTO ledger_subjects (stream, subject_id, position) VALUES (?, ?, ?)"
_COPY_SUBJECTS_POSTGRESQL = "COPY ledger_subjects (stream, subject_id, position) FROM STDIN"
MAX_SUBJECT_ID = 40  # ledger_subjects.subject_id
# 1 to 40 characters, none of which COPY's text format would need escaped (tab, newline, return, backslash).
_subject_ok = re.compile(r"[^\t\n\r\\]{1,%d}" % MAX_SUBJECT_ID).fullmatch  # noqa: UP031


def _checked_subjects(subjects: Sequence[Sequence[str]] | None, count: int) -> list[tuple[int, str]] | None:
    """(offset in the batch, subject id) for each distinct id of each event, checked before the head lock."""
    if subjects is None:
        return None
    if len(subjects) != count:
        raise ValueError("subjects must name one list of ids per event")
    out: list[tuple[int, str]] = []
    ok = _subject_ok
    for offset, ids in enumerate(subjects):
        if isinstance(ids, str):
            raise ValueError(f"subjects[{offset}] must be a list of ids, not one string")
        for subject in ids if len(ids) < 2 else dict.fromkeys(ids):
            if type(subject) is not str or ok(subject) is None:
                raise ValueError(f"subjects[{offset}] holds an id that is not 1 to {MAX_SUBJECT_ID} plain characters")
            out.append((offset, subject))
    return out


_known_event_types: set[str] = set()  # event types that passed check_event_type (a handful in practice)


def _learn_event_type(event_type: str) -> None:
    """`check_event_type` (raises on a bad one), remembered so the next append of this type skips the regex."""
    check_event_type(event_type)
    if len(_known_event_types) < 1000:
        _known_event_types.add(event_type)


_INSERT_CHECKPOINT = sa.insert(CHECKPOINTS)
# The head statements on SQLite, run straight on the driver (`storage.sqlite_driver`): an audited decision
# makes five such statements. Same statements as the Core ones below.
_CREATE_HEAD_SQLITE = (
    "INSERT INTO ledger_heads (stream, position, hash, updated_at, checkpoint_position, checkpoint_at) "
    "VALUES (?, 0, ?, ?, 0, ?) ON CONFLICT (stream) DO NOTHING"
)
_SELECT_HEAD_SQLITE = "SELECT position, hash, checkpoint_position, checkpoint_at FROM ledger_heads WHERE stream = ?"
_UPDATE_HEAD_SQLITE = (
    "UPDATE ledger_heads SET position = ?, hash = ?, updated_at = ?, checkpoint_position = ?, checkpoint_at = ? "
    "WHERE stream = ?"
)


_SELECT_HEAD = sa.select(*HEAD_COLUMNS).where(HEADS.c.stream == sa.bindparam("head_stream"))
_SELECT_HEAD_FOR_UPDATE = _SELECT_HEAD.with_for_update()
_CREATE_HEAD: dict[str, sa.Insert] = {
    "sqlite": sqlite.insert(HEADS).on_conflict_do_nothing(index_elements=["stream"]),
    "postgresql": postgresql.insert(HEADS).on_conflict_do_nothing(index_elements=["stream"]),
}
_UPDATE_HEAD = (
    sa.update(HEADS)
    .where(HEADS.c.stream == sa.bindparam("head_stream"))
    .values(
        position=sa.bindparam("head_position"),
        hash=sa.bindparam("head_hash"),
        updated_at=sa.bindparam("head_updated_at", type_=HEADS.c.updated_at.type),
        checkpoint_position=sa.bindparam("head_checkpoint_position"),
        checkpoint_at=sa.bindparam("head_checkpoint_at", type_=HEADS.c.checkpoint_at.type),
    )
)


class Ledger:
    """One append-only stream ("consent", "audit", …). Stateless apart from configuration: share freely."""

    def __init__(
        self,
        stream: str,
        signer: Signer | None = None,
        *,
        checkpoint_every: int = 1000,
        checkpoint_interval: timedelta = timedelta(seconds=60),
    ) -> None:
        self.stream = check_stream(stream)
        if checkpoint_every < 1:
            raise ValueError("checkpoint_every must be at least 1")
        if checkpoint_interval <= timedelta(0):
            raise ValueError("checkpoint_interval must be positive")
        self.signer = signer
        self.checkpoint_every = checkpoint_every
        self.checkpoint_interval = checkpoint_interval

    @classmethod
    def from_settings(cls, stream: str, settings: Settings, signer: Signer | None = None) -> Ledger:
        """The configured ledger: the settings' signing key and checkpoint cadence."""
        return cls(
            stream,
            signer or load_signer(settings),
            checkpoint_every=settings.ledger_checkpoint_every,
            checkpoint_interval=timedelta(seconds=settings.ledger_checkpoint_interval_seconds),
        )

    # -- writing ---------------------------------------------------------------------------------------

    def append(
        self,
        session: Session,
        event_type: str,
        payload: Mapping[str, Any],
        *,
        recorded_at: datetime | None = None,
        subjects: Sequence[str] | None = None,
    ) -> LedgerEntry:
        return self.append_many(
            session,
            [(event_type, payload)],
            recorded_at=recorded_at,
            subjects=None if subjects is None else [subjects],
        )[0]

    def append_many(
        self,
        session: Session,
        events: Sequence[tuple[str, Mapping[str, Any]]],
        *,
        recorded_at: datetime | None = None,
        subjects: Sequence[Sequence[str]] | None = None,
    ) -> list[LedgerEntry]:
        """Append events in order under one head lock and one bulk insert; all or nothing.

        `subjects`, when given, names for each event the pseudonymous ids it concerns; they go into the
        `ledger_subjects` index in the same transaction (`subject_positions` reads it back)."""
        return self.append_batch(session, events, recorded_at=recorded_at, subjects=subjects).entries()

    def append_batch(
        self,
        session: Session,
        events: Sequence[tuple[str, Mapping[str, Any]]],
        *,
        recorded_at: datetime | None = None,
        subjects: Sequence[Sequence[str]] | None = None,
    ) -> AppendedBatch:
        """`append_many` for bulk writers: the same checks and rows, answered column-wise (no per-event
        objects, payloads not parsed back)."""
        if len(events) > MAX_APPEND_MANY:
            raise ValueError(f"append_many takes at most {MAX_APPEND_MANY} events per call")
        # Validate and canonicalise everything before taking the lock: a bad event changes nothing and
        # the lock is held only for hashing and the insert.
        types: list[str] = []
        texts: list[str] = []
        known = _known_event_types
        for index, item in enumerate(events):
            if (type(item) is not tuple or len(item) != 2) and (not isinstance(item, tuple | list) or len(item) != 2):
                raise ValueError(f"events[{index}] must be an (event_type, payload) pair")
            event_type, payload = item
            if type(event_type) is not str or event_type not in known:
                _learn_event_type(event_type)
            text = fast_canonical(payload)
            types.append(event_type)
            texts.append(canonical_payload(payload) if text is None else text)
        return self._append_texts(session, types, texts, recorded_at, _checked_subjects(subjects, len(texts)))

    def append_texts(
        self,
        session: Session,
        event_types: Sequence[str],
        payload_texts: Sequence[str],
        *,
        recorded_at: datetime | None = None,
        subjects: Sequence[Sequence[str]] | None = None,
    ) -> AppendedBatch:
        """`append_batch` for a writer that renders its payloads' canonical JSON itself (the consent write
        path, whose payloads have one fixed shape of validated values).

        The caller guarantees that each text is exactly `canonical_payload` of an acceptable payload (the
        writer proves it with a property test): the chain hashes the text as given, so a non-canonical
        text would still verify but could not be re-derived from its payload. Checked here: event types,
        sizes, and that each text is a JSON object.
        """
        if len(event_types) != len(payload_texts):
            raise ValueError("one payload text per event type")
        if len(event_types) > MAX_APPEND_MANY:
            raise ValueError(f"append_many takes at most {MAX_APPEND_MANY} events per call")
        for event_type in set(event_types):
            if type(event_type) is not str or event_type not in _known_event_types:
                _learn_event_type(event_type)
        for index, text in enumerate(payload_texts):
            if type(text) is not str or text[:1] != "{" or text[-1:] != "}" or len(text) > MAX_PAYLOAD_BYTES:
                raise LedgerPayloadError(f"payload_texts[{index}]", "must be the canonical JSON text of an object")
        checked = _checked_subjects(subjects, len(payload_texts))
        return self._append_texts(session, list(event_types), list(payload_texts), recorded_at, checked)

    def _append_texts(
        self,
        session: Session,
        types: list[str],
        texts: list[str],
        recorded_at: datetime | None,
        subjects: list[tuple[int, str]] | None = None,
    ) -> AppendedBatch:
        if not texts:
            return AppendedBatch(self.stream, 1, utcnow(), GENESIS_HASH, (), (), ())
        if recorded_at is not None and recorded_at.tzinfo is None:
            raise ValueError("recorded_at must be timezone-aware")
        moment = (recorded_at or utcnow()).astimezone(UTC)
        moment_iso = iso_utc(moment)

        head = self._lock_head(session)
        first, prev = head.position + 1, head.hash
        # `chain.event_preimage` inlined (JCS of the event object; keep in step): a call per event costs more
        # than the hash.
        stream = self.stream
        sha256 = hashlib.sha256
        hashes: list[str] = []
        position = first
        for event_type, text in zip(types, texts, strict=True):
            prev = sha256(
                f'{{"event_type":"{event_type}","payload":{text},"position":{position},"prev_hash":"{prev}",'
                f'"recorded_at":"{moment_iso}","stream":"{stream}"}}'.encode()
            ).hexdigest()
            hashes.append(prev)
            position += 1
        self._insert_events(session, first, moment, types, texts, head.hash, hashes)
        if subjects:
            self._insert_subjects(session, first, subjects)
        batch = AppendedBatch(stream, first, moment, head.hash, tuple(types), tuple(texts), tuple(hashes))
        head.position, head.hash = position - 1, prev

        now = utcnow()
        if self.signer is not None and (
            head.position - head.checkpoint_position >= self.checkpoint_every
            or now - head.checkpoint_at >= self.checkpoint_interval
        ):
            self._write_checkpoint(session, head, now)
        self._save_head(session, head, now)
        count_ledger_appends(stream, len(hashes))
        return batch

    def _insert_events(
        self,
        session: Session,
        first: int,
        moment: datetime,
        types: list[str],
        texts: list[str],
        first_prev: str,
        hashes: list[str],
    ) -> None:
        """One bulk insert straight through the driver: SQLAlchemy's per-row parameter processing (dicts,
        type processors) cost more than the database's own work for the row."""
        connection = session.connection()
        dialect = connection.dialect.name
        stream = self.stream
        positions = range(first, first + len(hashes))
        prevs = [first_prev, *hashes[:-1]]
        if dialect == "sqlite":
            stored = sqlite_time(moment)  # exactly the text UTCDateTime stores
            sqlite_run(
                connection,
                _INSERT_EVENTS_SQLITE,
                [
                    (stream, position, event_type, stored, text, prev, hash_)
                    for position, event_type, text, prev, hash_ in zip(
                        positions, types, texts, prevs, hashes, strict=True
                    )
                ],
                many=True,
            )
        elif dialect == "postgresql":
            # COPY in text format: one round trip, no per-row parameter adaptation (executemany cost 13 µs
            # of client CPU a row, COPY under 2 µs). Every field is safe in COPY's text format by
            # construction (stream and event type match their patterns, hashes are hex, the payload is
            # canonical JSON, which never holds a raw tab, newline or carriage return) except backslashes,
            # which `_copy_text` doubles.
            when = moment.isoformat()
            data = "".join(
                [
                    f"{stream}\t{position}\t{event_type}\t{when}\t{_copy_text(text)}\t{prev}\t{hash_}\n"
                    for position, event_type, text, prev, hash_ in zip(
                        positions, types, texts, prevs, hashes, strict=True
                    )
                ]
            )
            raw: Any = connection.connection.dbapi_connection
            with raw.cursor() as cursor, cursor.copy(_COPY_EVENTS_POSTGRESQL) as copy:
                copy.write(data)
        else:  # another engine: let SQLAlchemy bind
            session.execute(
                _INSERT_EVENTS,
                [
                    {
                        "stream": stream,
                        "position": position,
                        "event_type": event_type,
                        "recorded_at": moment,
                        "payload": text,
                        "prev_hash": prev,
                        "hash": hash_,
                    }
                    for position, event_type, text, prev, hash_ in zip(
                        positions, types, texts, prevs, hashes, strict=True
                    )
                ],
            )

    def _insert_subjects(self, session: Session, first: int, subjects: list[tuple[int, str]]) -> None:
        """The batch's `ledger_subjects` rows, one more bulk statement beside the events' (same transaction)."""
        connection = session.connection()
        dialect = connection.dialect.name
        stream = self.stream
        if dialect == "sqlite":
            sqlite_run(
                connection,
                _INSERT_SUBJECTS_SQLITE,
                [(stream, subject, first + offset) for offset, subject in subjects],
                many=True,
            )
        elif dialect == "postgresql":
            # Safe in COPY text format: `_checked_subjects` admits no tab, newline, carriage return or backslash.
            data = "".join([f"{stream}\t{subject}\t{first + offset}\n" for offset, subject in subjects])
            raw: Any = connection.connection.dbapi_connection
            with raw.cursor() as cursor, cursor.copy(_COPY_SUBJECTS_POSTGRESQL) as copy:
                copy.write(data)
        else:
            session.execute(
                _INSERT_SUBJECTS,
                [{"stream": stream, "subject_id": subject, "position": first + offset} for offset, subject in subjects],
            )

    def seal(self, session: Session) -> Checkpoint | None:
        """Sign the current head now; None for an empty stream, the existing checkpoint if already sealed."""
        if self.signer is None:
            raise ValueError(f"ledger '{self.stream}' has no signer; build it with Ledger.from_settings")
        head = self._lock_head(session)
        if head.position == 0:
            return None
        if head.checkpoint_position == head.position:
            existing = checkpoint_covering(session, self.stream, head.position)
            if existing is not None and existing.position == head.position:
                return existing
        now = utcnow()
        checkpoint = self._write_checkpoint(session, head, now)
        self._save_head(session, head, now)
        return checkpoint

    def _write_checkpoint(self, session: Session, head: _Head, now: datetime) -> Checkpoint:
        assert self.signer is not None
        statement = checkpoint_statement(self.stream, head.position, head.hash, iso_utc(now), self.signer.key_id)
        checkpoint = Checkpoint(
            stream=self.stream,
            position=head.position,
            hash=head.hash,
            signed_at=now,
            key_id=self.signer.key_id,
            signature=b64(self.signer.sign(statement)),
        )
        session.connection().execute(
            _INSERT_CHECKPOINT,
            {
                "stream": checkpoint.stream,
                "position": checkpoint.position,
                "hash": checkpoint.hash,
                "signed_at": checkpoint.signed_at,
                "key_id": checkpoint.key_id,
                "signature": checkpoint.signature,
            },
        )
        head.checkpoint_position, head.checkpoint_at = head.position, now
        return checkpoint

    def _lock_head(self, session: Session) -> _Head:
        """Lock this stream's head row until the caller's transaction ends, creating it on first use.

        The head statements go through the transaction's Core connection (`session.connection()`), not
        `session.execute`: they are Core statements already, and the ORM's execute path around each cost
        more than SQLite's work for it (bench/RESULTS.md "serving, second pass")."""
        connection = session.connection()
        dialect = connection.dialect.name
        now = utcnow()
        values = {
            "stream": self.stream,
            "position": 0,
            "hash": GENESIS_HASH,
            "updated_at": now,
            "checkpoint_position": 0,
            "checkpoint_at": now,
        }
        key = {"head_stream": self.stream}
        create = _CREATE_HEAD[dialect] if dialect in _CREATE_HEAD else sa.insert(HEADS)
        if dialect == "sqlite":
            # The INSERT is a write, so it takes SQLite's write lock (waiting up to busy_timeout) before we
            # read the head; a read first could be overtaken by another writer.
            stored = sqlite_time(now.astimezone(UTC))
            sqlite_run(connection, _CREATE_HEAD_SQLITE, (self.stream, GENESIS_HASH, stored, stored))
            position, hash_, checkpoint_position, checkpoint_at = sqlite_run(
                connection, _SELECT_HEAD_SQLITE, (self.stream,)
            ).fetchone()
            return _Head(position, hash_, checkpoint_position, sqlite_datetime(checkpoint_at))
        else:
            found = connection.execute(_SELECT_HEAD_FOR_UPDATE, key).one_or_none()
            if found is not None:
                row = found
            else:
                connection.execute(create, values)
                row = connection.execute(_SELECT_HEAD_FOR_UPDATE, key).one()
        return _Head(row.position, row.hash, row.checkpoint_position, row.checkpoint_at)

    def _save_head(self, session: Session, head: _Head, now: datetime) -> None:
        connection = session.connection()
        if connection.dialect.name == "sqlite":
            sqlite_run(
                connection,
                _UPDATE_HEAD_SQLITE,
                (
                    head.position,
                    head.hash,
                    sqlite_time(now.astimezone(UTC)),
                    head.checkpoint_position,
                    sqlite_time(head.checkpoint_at.astimezone(UTC)),
                    self.stream,
                ),
            )
            return
        connection.execute(
            _UPDATE_HEAD,
            {
                "head_stream": self.stream,
                "head_position": head.position,
                "head_hash": head.hash,
                "head_updated_at": now,
                "head_checkpoint_position": head.checkpoint_position,
                "head_checkpoint_at": head.checkpoint_at,
            },
        )

    # -- reading ---------------------------------------------------------------------------------------

    def entries(self, session: Session, start: int = 1, end: int | None = None) -> Iterator[LedgerEntry]:
        return entries(session, self.stream, start, end)

    def verify(self, session: Session) -> VerificationReport:
        keys = self.signer.known_public_keys() if self.signer is not None else None
        return verify(session, self.stream, keys)
