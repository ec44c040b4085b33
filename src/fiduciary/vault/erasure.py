"""Crypto-shredding, the erasure journal and the purge sweep (restore-replay is `fiduciary.vault.restore`).

`erase_person` destroys the person's wrapped data key (DPDP s.8(7) and s.12(3); GDPR Art 17): every copy of
their ciphertext, in this database, its replicas and every backup, becomes noise at that instant. It also
deletes their blind indexes (so nobody can be found or confirmed by email or phone any more) and records
the erasure. Its cost does not depend on how much data the person had: one key row, a few index rows,
one journal line. Ciphertext rows are left to `purge_erased_batch`, a background sweep; they are
unreadable already and deleting 100,000 of them inline would make erasure time grow with the data.
Legal-hold records have their own record keys and survive until their `purge_after` date.

SQLite keeps deleted bytes in free pages and in the WAL unless told otherwise: vault connections run with
`PRAGMA secure_delete=ON` (freed cells and pages are zeroed), and the purge sweep checkpoints the WAL with
TRUNCATE so the old page images of the key table leave the -wal file too. Filesystem-level copies
(snapshots, SSD remapping) are beyond any database's reach; the key-store backups' short retention is
what bounds them (docs/vault.md).

**The erasure journal** is how an erasure survives a database restore: restoring last week's backup would
bring back last week's wrapped keys. The journal is an append-only file outside the database
(FIDUCIARY_ERASURE_JOURNAL, default `<data_dir>/erasure-journal.log`), one JSON line per erasure with a
pseudonymous person id, never a personal value. Each line carries an HMAC-SHA256 over its content and the
previous line's MAC (keyed from the index secret), so editing, reordering or inserting lines is detected.
Lines are written ahead of the key destruction and fsynced, so a crash in between leaves an entry that
`restore_replay` completes. `fiduciary restore-replay` re-applies every journaled erasure to the restored
database: it destroys the keys the backup brought back and runs every domain's eraser (the rights registry)
again for each person the backup still shows un-erased, so the database ends as a normal erasure leaves
it (account closed, consent state, GPC opt-outs and visitor links gone); it is idempotent.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from fiduciary.config import Settings
from fiduciary.errors import FiduciaryError, FieldProblem, NotFound, ValidationFailed
from fiduciary.people.models import Person, PersonErasure
from fiduciary.people.service import check_person_id
from fiduciary.storage import utcnow
from fiduciary.vault.records import (
    LEGAL_HOLD_RECORDS,
    PERSON_IDENTIFIERS,
    PERSON_KEYS,
    VAULT_ERASURES,
    PersonalField,
    PersonIdentifier,
    dialect_insert,
)

if TYPE_CHECKING:
    from fiduciary.vault.keys.startup import VaultKeys

JOURNAL_FILE_NAME = "erasure-journal.log"
GENESIS = "0" * 64
REASON_RE = re.compile(r"[a-z][a-z0-9_.:-]{0,63}")
_TAIL_BYTES = 8192  # a journal line is under 300 bytes

# Erasure's statements, built once (Core on the connection: erasure time is a few index probes).
_KEY_STATE = select(PERSON_KEYS.c.wrapped_key, PERSON_KEYS.c.destroyed_at).where(
    PERSON_KEYS.c.person_id == bindparam("person_id")
)
_DESTROY_KEY = (
    update(PERSON_KEYS)
    .where(PERSON_KEYS.c.person_id == bindparam("b_person"), PERSON_KEYS.c.wrapped_key.is_not(None))
    .values(wrapped_key=None, kek_id=None, destroyed_at=bindparam("b_now"))
)
_DELETE_IDENTIFIERS = delete(PERSON_IDENTIFIERS).where(PERSON_IDENTIFIERS.c.person_id == bindparam("person_id"))
_ERASED_AT = select(VAULT_ERASURES.c.erased_at).where(VAULT_ERASURES.c.person_id == bindparam("person_id"))
_HOLDS = (
    select(func.count())
    .select_from(LEGAL_HOLD_RECORDS)
    .where(LEGAL_HOLD_RECORDS.c.person_id == bindparam("person_id"), LEGAL_HOLD_RECORDS.c.purged_at.is_(None))
)


class JournalDamaged(FiduciaryError):
    """The erasure journal fails verification; nothing is replayed or appended until an operator looks."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail=detail, status=500, title="Erasure journal damaged", code="erasure_journal_damaged")


def journal_path(settings: Settings) -> Path:
    return settings.erasure_journal or settings.data_dir / JOURNAL_FILE_NAME


def check_reason(reason: str) -> str:
    """Reasons are codes (`rights_request`, `retention.inactivity`), never free text that could hold a value."""
    if not isinstance(reason, str) or not REASON_RE.fullmatch(reason):
        raise ValidationFailed(
            "The erasure reason must be a short code.",
            [FieldProblem("reason", "1-64 characters: a-z first, then a-z, 0-9, '_', '.', ':', '-'")],
        )
    return reason


@dataclass(frozen=True)
class JournalEntry:
    seq: int
    person_id: str
    erased_at: datetime
    reason: str
    mac: str


@dataclass(frozen=True)
class JournalReport:
    entries: int
    problem: str | None = None
    line: int | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


class ErasureJournal:
    """The append-only, HMAC-chained erasure journal file."""

    def __init__(self, path: Path, key: bytes) -> None:
        self.path = path
        self._key = key
        self._lock = threading.Lock()

    def _mac(self, body: dict[str, Any]) -> str:
        return hmac.new(self._key, _canonical(body), hashlib.sha256).hexdigest()

    def _parse(self, raw: bytes, expected_seq: int | None, expected_prev: str | None) -> JournalEntry:
        try:
            doc = json.loads(raw)
            body = {k: doc[k] for k in ("seq", "person_id", "erased_at", "reason", "prev")}
            mac = doc["mac"]
            seq, person_id, prev = int(body["seq"]), str(body["person_id"]), str(body["prev"])
            erased_at = datetime.fromisoformat(str(body["erased_at"]))
        except (ValueError, KeyError, TypeError):
            raise JournalDamaged("is not a journal line") from None
        if set(doc) != {"seq", "person_id", "erased_at", "reason", "prev", "mac"}:
            raise JournalDamaged("has unexpected fields")
        if not isinstance(mac, str) or not hmac.compare_digest(mac, self._mac(body)):
            raise JournalDamaged("has a MAC that does not match its content (edited, or another index secret)")
        if expected_seq is not None and seq != expected_seq:
            raise JournalDamaged(f"has sequence {seq}, expected {expected_seq} (a line was removed or reordered)")
        if expected_prev is not None and prev != expected_prev:
            raise JournalDamaged("does not chain to the line before it (a line was removed, inserted or reordered)")
        return JournalEntry(seq, person_id, erased_at, str(body["reason"]), mac)

    def entries(self) -> Iterator[JournalEntry]:
        """Every entry, verified in order; `JournalDamaged` names the first bad line.

        An unterminated last line is a write torn by a crash before it was acknowledged; it is skipped.
        """
        if not self.path.exists():
            return
        seq, prev = 1, GENESIS
        with self.path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                if not raw.endswith(b"\n"):
                    return
                try:
                    entry = self._parse(raw, seq, prev)
                except JournalDamaged as exc:
                    raise JournalDamaged(f"{self.path} line {number} {exc.detail}") from None
                yield entry
                seq, prev = entry.seq + 1, entry.mac

    def verify(self) -> JournalReport:
        count = 0
        try:
            for _ in self.entries():
                count += 1
        except JournalDamaged as exc:
            return JournalReport(count, exc.detail, count + 1)
        return JournalReport(count)

    def append(self, person_id: str, reason: str, erased_at: datetime) -> int:
        """Append one entry durably (fsync) and return its sequence number.

        An exclusive `flock` serialises appenders across processes on this host; the last line is
        verified before chaining onto it, so appends never extend a forged or damaged chain.
        """
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            created = not self.path.exists()
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                seq, prev = self._tail(fd)
                body = {
                    "seq": seq + 1,
                    "person_id": person_id,
                    "erased_at": erased_at.isoformat(),
                    "reason": reason,
                    "prev": prev,
                }
                line = json.dumps({**body, "mac": self._mac(body)}, sort_keys=True, separators=(",", ":"))
                os.write(fd, line.encode("ascii") + b"\n")
                os.fdatasync(fd)  # the appended bytes and the new size: enough to read the line back
            finally:
                os.close(fd)  # releases the lock
            if created:
                dir_fd = os.open(self.path.parent, os.O_RDONLY)
                try:
                    os.fsync(dir_fd)
                finally:
                    os.close(dir_fd)
            return seq + 1

    def _tail(self, fd: int) -> tuple[int, str]:
        size = os.fstat(fd).st_size
        if size == 0:
            return 0, GENESIS
        start = max(0, size - _TAIL_BYTES)
        tail = os.pread(fd, size - start, start)
        if not tail.endswith(b"\n"):  # a torn, never-acknowledged write: cut it off
            cut = tail.rfind(b"\n")
            if cut < 0 and start > 0:
                raise JournalDamaged(f"{self.path} ends with an over-long unterminated line")
            os.ftruncate(fd, start + cut + 1)
            tail = tail[: cut + 1]
            if not tail:
                return 0, GENESIS
        last = tail[:-1].rsplit(b"\n", 1)[-1]
        try:
            entry = self._parse(last, None, None)
        except JournalDamaged as exc:
            raise JournalDamaged(
                f"{self.path}: the last line {exc.detail}; run `fiduciary vault verify-journal` and repair it "
                "before erasing anyone"
            ) from None
        return entry.seq, entry.mac


# ----------------------------------------------------------------------------------------------- erasure


@dataclass(frozen=True)
class ErasureReceipt:
    person_id: str
    erased_at: datetime
    journal_seq: int | None
    already_erased: bool
    identifiers_deleted: int
    legal_holds_kept: int


def erase_person(keys: VaultKeys, session: Session, person_id: str, reason: str) -> ErasureReceipt:
    """Destroy the person's data key and blind indexes and record the erasure; O(1) in their data.

    Idempotent: erasing an erased person changes nothing and says `already_erased`. The caller commits;
    with a separate key database the key is destroyed (committed) before this returns, whatever the
    caller does next, and the journal line was written before that.
    """
    check_person_id(person_id)
    check_reason(reason)
    store = keys.key_store
    with store.use(session) as ks:
        row = ks.connection().execute(_KEY_STATE, {"person_id": person_id}).one_or_none()
    if row is None and session.get(Person, person_id) is None:
        raise NotFound("No person has this id.", code="person_not_found")
    already = row is not None and row.wrapped_key is None
    now = utcnow()
    seq: int | None = None
    if not already:
        seq = keys.journal.append(person_id, reason, now)  # write-ahead: replay completes a crash after this
        with store.use(session, write=True) as ks:
            if row is None:  # never had data: a tombstone stops any later write from creating a key
                ks.execute(dialect_insert(ks, PERSON_KEYS).on_conflict_do_nothing(), [tombstone(person_id, now)])
            ks.connection().execute(_DESTROY_KEY, {"b_person": person_id, "b_now": now})
    keys.cache.evict([person_id])
    conn = session.connection()
    deleted = conn.execute(_DELETE_IDENTIFIERS, {"person_id": person_id})
    conn.execute(
        dialect_insert(session, VAULT_ERASURES).on_conflict_do_nothing(),
        [{"person_id": person_id, "erased_at": now, "reason": reason, "journal_seq": seq, "purged_at": None}],
    )
    erased_at = now
    if already:
        erased_at = conn.execute(_ERASED_AT, {"person_id": person_id}).scalar() or now
    holds = conn.execute(_HOLDS, {"person_id": person_id}).scalar()
    return ErasureReceipt(
        person_id=person_id,
        erased_at=erased_at,
        journal_seq=seq,
        already_erased=already,
        identifiers_deleted=int(getattr(deleted, "rowcount", 0) or 0),
        legal_holds_kept=int(holds or 0),
    )


def tombstone(person_id: str, now: datetime) -> dict[str, Any]:
    return {
        "person_id": person_id,
        "key_version": 0,
        "kek_id": None,
        "wrapped_key": None,
        "created_at": now,
        "destroyed_at": now,
    }


@dataclass(frozen=True)
class PurgeReport:
    rows_deleted: int
    people_completed: int


def purge_erased_batch(session: Session, *, batch_size: int = 10_000) -> PurgeReport:
    """Delete up to `batch_size` ciphertext rows of erased people; mark a person purged when none remain.

    One bounded unit of work: the caller commits and loops until `rows_deleted == 0`, so a long purge never
    holds one big transaction (and never blocks writers for long on SQLite).
    """
    pending = list(
        session.scalars(
            select(PersonErasure.person_id)
            .where(PersonErasure.purged_at.is_(None))
            .order_by(PersonErasure.erased_at, PersonErasure.person_id)
            .limit(100)
        )
    )
    rows = completed = 0
    for person_id in pending:
        budget = batch_size - rows
        if budget <= 0:
            break
        victims = select(PersonalField.id).where(PersonalField.person_id == person_id).limit(budget)
        result = session.execute(delete(PersonalField).where(PersonalField.id.in_(victims.scalar_subquery())))
        count = int(getattr(result, "rowcount", 0) or 0)
        rows += count
        if count < budget:
            session.execute(delete(PersonIdentifier).where(PersonIdentifier.person_id == person_id))
            session.execute(
                update(PersonErasure).where(PersonErasure.person_id == person_id).values(purged_at=utcnow())
            )
            completed += 1
    return PurgeReport(rows, completed)


def checkpoint_sqlite(engine: Engine) -> None:
    """Copy the WAL into the database file and truncate it, so freed (zeroed) pages replace old images."""
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
