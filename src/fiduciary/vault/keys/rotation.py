"""KEK rotation: re-wrap every data key and every record key under the current KEK, online.

Batches of one transaction each, without decrypting any field (`fiduciary keys rotate`). Record keys are the
random keys of one row each, wrapped by the KEK: legal-hold records here, and every table another domain
registers with `register_wrapped_keys` (a case's text key, a recipient's webhook secret). A table with a
`kek_id` column that nobody registered would keep its keys under the retired KEK, and its rows would become
unreadable once that KEK leaves the key ring; tests/vault/test_vault_keys.py walks the schema for such a table.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from fiduciary.audit.service import Action, AuditEvent, Outcome
from fiduciary.storage import session_scope
from fiduciary.unit_of_work import unit_of_work
from fiduciary.vault.keys.canary import CANARY, write_canary
from fiduciary.vault.keys.startup import VaultKeys, check_vault_keys
from fiduciary.vault.records import LEGAL_HOLD_RECORDS, PERSON_KEYS, PersonKey, VaultMeta

if TYPE_CHECKING:
    from fiduciary.context import RuntimeContext


@dataclass(frozen=True)
class RotationReport:
    current_kek_id: str
    data_keys_rewrapped: int
    record_keys_rewrapped: int
    remaining: int  # data and record keys still under another KEK (written meanwhile by a stale process)


def _same(row_id: str) -> str:
    return row_id


@dataclass(frozen=True)
class WrappedKeys:
    """A table whose rows each hold a record key wrapped by the KEK (`keyring.wrap_record_key(owner, key)`).

    `owner` maps the row's id to the owner the key was wrapped for (the associated data of the wrap): the id
    itself for a case or a legal-hold record, `recipient:<id>` for a recipient's secret."""

    table: Table
    id_column: str
    kek_column: str
    wrapped_column: str
    owner: Callable[[str], str] = _same


_WRAPPED: dict[str, WrappedKeys] = {}
_WRAPPED_GUARD: Final = threading.Lock()


def register_wrapped_keys(spec: WrappedKeys) -> WrappedKeys:
    """Have rotation re-wrap `spec.table`'s record keys (call at import of the domain's module that seals)."""
    with _WRAPPED_GUARD:
        found = _WRAPPED.get(spec.table.name)
        if found is not None and found != spec:
            raise ValueError(f"table {spec.table.name!r} is already registered for key rotation")
        _WRAPPED[spec.table.name] = spec
    return spec


def wrapped_key_tables() -> dict[str, WrappedKeys]:
    with _WRAPPED_GUARD:
        return dict(_WRAPPED)


register_wrapped_keys(WrappedKeys(LEGAL_HOLD_RECORDS, "id", "kek_id", "record_key_wrapped"))


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
    tables = wrapped_key_tables().values()
    records_done = sum(_rewrap_record_keys(runtime, keys, spec, batch_size, progress) for spec in tables)
    with runtime.sessions() as main, store.use(main) as ks:
        remaining = (
            ks.scalar(select(func.count()).where(PersonKey.kek_id != current)) or 0
        ) + record_keys_under_other_keks(main, current)
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


def record_keys_under_other_keks(session: Session, current: str) -> int:
    """How many live record keys of every registered table a rotation to `current` has left to re-wrap."""
    return sum(_still_old(session, spec, current) for spec in wrapped_key_tables().values())


def _still_old(session: Session, spec: WrappedKeys, current: str) -> int:
    """Live record keys of one table under another KEK (a destroyed key has nothing left to re-wrap)."""
    table = spec.table
    live = table.c[spec.wrapped_column].is_not(None)
    return session.scalar(select(func.count()).where(table.c[spec.kek_column] != current, live)) or 0


def _rewrap_record_keys(
    runtime: RuntimeContext,
    keys: VaultKeys,
    spec: WrappedKeys,
    batch_size: int,
    progress: Callable[[int], None] | None,
) -> int:
    """Re-wrap one table's record keys (in the main database) not yet under the current KEK; how many were.
    A key destroyed meanwhile (an erasure) is never resurrected: the UPDATE needs it present and still old."""
    ring = keys.keyring
    current = ring.current_id
    table = spec.table
    row_id, kek, wrapped_column = table.c[spec.id_column], table.c[spec.kek_column], table.c[spec.wrapped_column]
    rewrap = (
        update(table)
        .where(row_id == bindparam("b_id"), kek == bindparam("b_old"), wrapped_column.is_not(None))
        .values({spec.wrapped_column: bindparam("b_blob"), spec.kek_column: bindparam("b_kek")})
    )
    done = 0
    last = ""
    while True:
        with runtime.sessions() as main:
            rows = main.execute(
                select(row_id, kek, wrapped_column)
                .where(row_id > last, kek.is_not(None), kek != current, wrapped_column.is_not(None))
                .order_by(row_id)
                .limit(batch_size)
            ).all()
            if not rows:
                break
            params = []
            for found_id, old, wrapped in rows:
                owner = spec.owner(found_id)
                record_key = ring.unwrap_record_key(owner, old or "", wrapped or b"")
                kek_id, blob = ring.wrap_record_key(owner, record_key)
                params.append({"b_id": found_id, "b_old": old, "b_blob": blob, "b_kek": kek_id})
            main.execute(rewrap, params)
            main.commit()
        done += len(rows)
        last = rows[-1][0]
        if progress is not None:
            progress(len(rows))
    return done
