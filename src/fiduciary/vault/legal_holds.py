"""Legal-hold records: what the law requires a business to keep (an invoice, a transaction log) after the
person is erased, each under its own random record key wrapped by the KEK.

The person's erasure does not touch them; `purge_legal_holds` destroys each one's key and ciphertext after
its `purge_after` date (DPDP s.8(7) and Rule 8(3); GDPR Art 17(3)(b)), leaving the row as evidence that the
record existed and was purged on time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from fiduciary.errors import FiduciaryError, FieldProblem, NotFound, ValidationFailed
from fiduciary.people.service import get_person, new_id
from fiduciary.storage import utcnow
from fiduciary.vault.crypto import new_data_key, open_sealed, record_ad, seal
from fiduciary.vault.keys.startup import VaultKeys
from fiduciary.vault.records import LegalHoldRecord

MAX_RECORD_BYTES = 1024 * 1024  # one legal-hold record (an invoice, a transaction log excerpt)
RECORD_TYPE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.-")


class RecordPurged(FiduciaryError):
    def __init__(self) -> None:
        super().__init__(
            detail="The legal-hold record was purged when its hold ended.",
            status=410,
            title="Gone",
            code="record_purged",
        )


@dataclass(frozen=True)
class LegalHoldContent:
    id: str
    person_id: str
    record_type: str
    basis: str
    purge_after: date
    created_at: datetime
    content: str


def add_legal_hold_record(
    keys: VaultKeys,
    session: Session,
    person_id: str,
    *,
    record_type: str,
    basis: str,
    purge_after: date,
    content: str,
    today: date | None = None,
) -> str:
    """Keep a record the law requires (an invoice, a transaction log) under its own random record key.

    The person's erasure does not touch it; `purge_legal_holds` destroys it after `purge_after`
    (DPDP s.8(7) and Rule 8(3); GDPR Art 17(3)(b)). `basis` cites the law, e.g. "CGST Act 2017 s.36".
    """
    problems: list[FieldProblem] = []
    if not (0 < len(record_type) <= 80) or not set(record_type) <= RECORD_TYPE_CHARS:
        problems.append(FieldProblem("record_type", "must be 1-80 characters a-z, 0-9, '_', '.', '-'"))
    if not basis.strip() or len(basis) > 300:
        problems.append(FieldProblem("basis", "must cite the law that requires keeping it (1-300 characters)"))
    if not isinstance(purge_after, date) or purge_after < (today or datetime.now(UTC).date()):
        problems.append(FieldProblem("purge_after", "must be a date, today or later"))
    if not isinstance(content, str) or not content or len(content.encode("utf-8")) > MAX_RECORD_BYTES:
        problems.append(FieldProblem("content", f"must be 1 to {MAX_RECORD_BYTES} bytes of text"))
    if problems:
        raise ValidationFailed("The legal-hold record is not valid.", problems)
    get_person(session, person_id)
    keys.ensure_initialised(session)
    record_id = new_id("lhr")
    record_key = new_data_key()
    kek_id, wrapped = keys.keyring.wrap_record_key(record_id, record_key)
    session.add(
        LegalHoldRecord(
            id=record_id,
            person_id=person_id,
            record_type=record_type,
            basis=basis.strip(),
            purge_after=purge_after,
            record_key_wrapped=wrapped,
            kek_id=kek_id,
            ciphertext=seal(record_key, content.encode("utf-8"), record_ad(record_id, person_id, record_type)),
            created_at=utcnow(),
        )
    )
    session.flush()
    return record_id


def read_legal_hold_record(keys: VaultKeys, session: Session, record_id: str) -> LegalHoldContent:
    """INTERNAL (see `VaultService.get_fields`): decrypt a legal-hold record; 410 once purged."""
    row = session.get(LegalHoldRecord, record_id) if isinstance(record_id, str) and len(record_id) <= 40 else None
    if row is None:
        raise NotFound("No legal-hold record has this id.", code="record_not_found")
    if row.purged_at is not None or row.record_key_wrapped is None or row.ciphertext is None or row.kek_id is None:
        raise RecordPurged()
    person_id = row.person_id or ""
    record_key = keys.keyring.unwrap_record_key(row.id, row.kek_id, row.record_key_wrapped)
    plaintext = open_sealed(
        record_key,
        row.ciphertext,
        record_ad(row.id, person_id, row.record_type),
        what=f"Legal-hold record {row.id}",
    )
    return LegalHoldContent(
        id=row.id,
        person_id=person_id,
        record_type=row.record_type,
        basis=row.basis,
        purge_after=row.purge_after,
        created_at=row.created_at,
        content=plaintext.decode("utf-8"),
    )


@dataclass(frozen=True)
class HeldRecords:
    """What an erasure keeps of one record type: how many, the law each cites, the last purge date."""

    record_type: str
    basis: str
    count: int
    kept_until: date


def held_records(session: Session, person_id: str) -> list[HeldRecords]:
    """The person's legal-hold records not yet purged, grouped by type and basis (no content is read): what
    the completion of an erasure tells the person was kept, why and until when (DPDP s.8(7); GDPR Art
    17(3)(b) and Art 12(4))."""
    rows = session.execute(
        select(LegalHoldRecord.record_type, LegalHoldRecord.basis, func.count(), func.max(LegalHoldRecord.purge_after))
        .where(LegalHoldRecord.person_id == person_id, LegalHoldRecord.purged_at.is_(None))
        .group_by(LegalHoldRecord.record_type, LegalHoldRecord.basis)
        .order_by(LegalHoldRecord.record_type, LegalHoldRecord.basis)
    )
    return [HeldRecords(kind, basis, count, until) for kind, basis, count, until in rows]


def purge_legal_holds(session: Session, *, today: date | None = None, batch_size: int = 1000) -> int:
    """Destroy the key and ciphertext of up to `batch_size` records whose hold ended before `today`.

    The row stays as evidence that the record existed and was purged on time, unlinked from the person.
    """
    today = today or datetime.now(UTC).date()
    ids = list(
        session.scalars(
            select(LegalHoldRecord.id)
            .where(LegalHoldRecord.purge_after < today, LegalHoldRecord.purged_at.is_(None))
            .order_by(LegalHoldRecord.purge_after, LegalHoldRecord.id)
            .limit(batch_size)
        )
    )
    if ids:
        session.execute(
            update(LegalHoldRecord)
            .where(LegalHoldRecord.id.in_(ids), LegalHoldRecord.purged_at.is_(None))
            .values(record_key_wrapped=None, kek_id=None, ciphertext=None, person_id=None, purged_at=utcnow())
        )
    return len(ids)


# ---------------------------------------------------------------------------------------- erasure
