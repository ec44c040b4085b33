"""KEK rotation: re-wrap every data key and legal-hold record key under the current KEK, online.

Batches of one transaction each, without decrypting any field (`fiduciary keys rotate`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, func, select, update

from fiduciary.audit.service import Action, AuditEvent, Outcome
from fiduciary.storage import session_scope
from fiduciary.unit_of_work import unit_of_work
from fiduciary.vault.keys.canary import CANARY, write_canary
from fiduciary.vault.keys.startup import VaultKeys, check_vault_keys
from fiduciary.vault.records import LEGAL_HOLD_RECORDS, PERSON_KEYS, LegalHoldRecord, PersonKey, VaultMeta

if TYPE_CHECKING:
    from fiduciary.context import RuntimeContext


@dataclass(frozen=True)
class RotationReport:
    current_kek_id: str
    data_keys_rewrapped: int
    record_keys_rewrapped: int
    remaining: int  # data and record keys still under another KEK (written meanwhile by a stale process)


def record_rotation(runtime: RuntimeContext, report: RotationReport, *, actor: str) -> None:
    """The rotation's audit event (key ids and counts only): an error while keys remain under another KEK."""
    with session_scope(runtime.sessions) as session:
        unit_of_work(runtime, session).audit(
            AuditEvent(
                actor=actor,
                action=Action.KEY_ROTATE,
                outcome=Outcome.ALLOWED if not report.remaining else Outcome.ERROR,
                target=report.current_kek_id,
                count=report.data_keys_rewrapped + report.record_keys_rewrapped,
            )
        )


def rotate_keks(
    runtime: RuntimeContext, *, batch_size: int = 1000, progress: Callable[[int], None] | None = None
) -> RotationReport:
    """Re-wrap every live data key and legal-hold record key under the current KEK, online.

    Each batch is its own transaction; a key erased meanwhile is never resurrected (the UPDATE requires the
    wrapped key still present and still under the old KEK). Readers keep working because the old KEK stays
    configured in FIDUCIARY_KEK_PREVIOUS until this returns with `remaining == 0`. No field is decrypted.
    """
    keys = check_vault_keys(runtime)
    current = keys.keyring.current_id
    store = keys.key_store
    with runtime.sessions() as main, store.use(main, write=True) as ks:
        canary = ks.get(VaultMeta, CANARY)
        if canary is None or canary.kek_id != current:
            write_canary(ks, keys.keyring)
        if not store.separate:
            main.commit()
    data_done = _rewrap_data_keys(runtime, keys, batch_size, progress)
    records_done = _rewrap_record_keys(runtime, keys, batch_size, progress)
    with runtime.sessions() as main, store.use(main) as ks:
        remaining = (ks.scalar(select(func.count()).where(PersonKey.kek_id != current)) or 0) + (
            main.scalar(select(func.count()).where(LegalHoldRecord.kek_id != current)) or 0
        )
    return RotationReport(current, data_done, records_done, remaining)


def _rewrap_data_keys(
    runtime: RuntimeContext, keys: VaultKeys, batch_size: int, progress: Callable[[int], None] | None
) -> int:
    """Re-wrap the people's data keys (in the key store) not yet under the current KEK; how many were."""
    ring = keys.keyring
    current = ring.current_id
    store = keys.key_store
    data_done = 0
    last = ""
    rewrap = (
        update(PERSON_KEYS)  # Core table: an executemany UPDATE, not the ORM's bulk-by-primary-key path
        .where(
            PERSON_KEYS.c.person_id == bindparam("b_person"),
            PERSON_KEYS.c.kek_id == bindparam("b_old"),
            PERSON_KEYS.c.wrapped_key.is_not(None),
        )
        .values(wrapped_key=bindparam("b_blob"), kek_id=bindparam("b_kek"))
    )
    while True:
        with runtime.sessions() as main, store.use(main, write=True) as ks:
            rows = ks.execute(
                select(PersonKey.person_id, PersonKey.key_version, PersonKey.kek_id, PersonKey.wrapped_key)
                .where(PersonKey.person_id > last, PersonKey.kek_id.is_not(None), PersonKey.kek_id != current)
                .order_by(PersonKey.person_id)
                .limit(batch_size)
            ).all()
            if not rows:
                break
            params = []
            for person_id, version, old, wrapped in rows:
                data_key = ring.unwrap_data_key(person_id, version, old or "", wrapped or b"")
                kek_id, blob = ring.wrap_data_key(person_id, version, data_key)
                params.append({"b_person": person_id, "b_old": old, "b_blob": blob, "b_kek": kek_id})
            ks.execute(rewrap, params)
            if not store.separate:
                main.commit()
        keys.cache.evict([r[0] for r in rows])
        data_done += len(rows)
        last = rows[-1][0]
        if progress is not None:
            progress(len(rows))
    return data_done


def _rewrap_record_keys(
    runtime: RuntimeContext, keys: VaultKeys, batch_size: int, progress: Callable[[int], None] | None
) -> int:
    """Re-wrap the legal-hold record keys (in the main database) not yet under the current KEK; how many were."""
    ring = keys.keyring
    current = ring.current_id
    records_done = 0
    last = ""
    rewrap_record = (
        update(LEGAL_HOLD_RECORDS)
        .where(
            LEGAL_HOLD_RECORDS.c.id == bindparam("b_id"),
            LEGAL_HOLD_RECORDS.c.kek_id == bindparam("b_old"),
            LEGAL_HOLD_RECORDS.c.record_key_wrapped.is_not(None),
        )
        .values(record_key_wrapped=bindparam("b_blob"), kek_id=bindparam("b_kek"))
    )
    while True:
        with runtime.sessions() as main:
            record_rows = main.execute(
                select(LegalHoldRecord.id, LegalHoldRecord.kek_id, LegalHoldRecord.record_key_wrapped)
                .where(
                    LegalHoldRecord.id > last, LegalHoldRecord.kek_id.is_not(None), LegalHoldRecord.kek_id != current
                )
                .order_by(LegalHoldRecord.id)
                .limit(batch_size)
            ).all()
            if not record_rows:
                break
            params = []
            for record_id, old, wrapped in record_rows:
                record_key = ring.unwrap_record_key(record_id, old or "", wrapped or b"")
                kek_id, blob = ring.wrap_record_key(record_id, record_key)
                params.append({"b_id": record_id, "b_old": old, "b_blob": blob, "b_kek": kek_id})
            main.execute(rewrap_record, params)
            main.commit()
        records_done += len(record_rows)
        last = record_rows[-1][0]
        if progress is not None:
            progress(len(record_rows))
    return records_done
