"""`fiduciary keys status`: what the database expects against what is configured.

It must work exactly when the service refuses to start, so it never requires the keys to be right.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select

from fiduciary.storage import create_engine_for_url, make_session_factory
from fiduciary.vault.erasure import ErasureJournal, JournalDamaged, journal_path
from fiduciary.vault.keys.blind_index import load_index_keys
from fiduciary.vault.keys.canary import CANARY, INDEX_META
from fiduciary.vault.keys.kek import VaultKeyError, current_kek, previous_keks
from fiduciary.vault.keys.store import KeyStore
from fiduciary.vault.records import LegalHoldRecord, PersonKey, VaultMeta
from fiduciary.vault.restore import NO_GAP, JournalGap, unapplied_erasures


@dataclass(frozen=True)
class KeyStatus:
    configured_kek_id: str | None
    configured_problem: str | None
    previous_kek_ids: list[str]
    canary_kek_id: str | None
    data_keys_by_kek: dict[str, int]
    destroyed_keys: int
    legal_hold_keys_by_kek: dict[str, int]
    index_key_id: str | None
    configured_index_key_id: str | None
    key_store: str
    journal_path: str
    journal_entries: int
    journal_problem: str | None
    # Journaled erasures the database does not show (a restored backup): count and the first pseudonymous ids.
    journal_unapplied: JournalGap = NO_GAP


def key_status(runtime_settings: Any, engine: Engine) -> KeyStatus:
    """What the database expects against what is configured, without requiring the keys to be right.

    Used by `fiduciary keys status`, which must work exactly when the service refuses to start.
    """
    settings = runtime_settings
    configured_id: str | None = None
    problem: str | None = None
    previous: list[str] = []
    try:
        configured_id = current_kek(settings, create_default=False).kek_id
        previous = [p.kek_id for p in previous_keks(settings)]
    except VaultKeyError as exc:
        problem = exc.detail
    configured_index: str | None = None
    journal_problem: str | None = None
    entries = 0
    journal: ErasureJournal | None = None
    try:
        index = load_index_keys(settings)
        configured_index = index.key_id
        journal = ErasureJournal(journal_path(settings), index.journal_key)
        report = journal.verify()
        entries, journal_problem = report.entries, report.problem
    except VaultKeyError as exc:
        journal_problem = exc.detail
    unapplied = NO_GAP
    key_engine = create_engine_for_url(settings.keys_database_url) if settings.keys_database_url else None
    store = KeyStore(key_engine)
    try:
        with make_session_factory(engine)() as main, store.use(main) as ks:
            canary = ks.get(VaultMeta, CANARY)
            index_row = ks.get(VaultMeta, INDEX_META)
            by_kek: dict[str, int] = {
                str(k): n
                for k, n in ks.execute(
                    select(PersonKey.kek_id, func.count())
                    .where(PersonKey.kek_id.is_not(None))
                    .group_by(PersonKey.kek_id)
                )
            }
            destroyed = ks.scalar(select(func.count()).where(PersonKey.wrapped_key.is_(None))) or 0
            holds: dict[str, int] = {
                str(k): n
                for k, n in main.execute(
                    select(LegalHoldRecord.kek_id, func.count())
                    .where(LegalHoldRecord.kek_id.is_not(None))
                    .group_by(LegalHoldRecord.kek_id)
                )
            }
            if journal is not None and journal_problem is None:
                try:
                    unapplied = unapplied_erasures(journal, main, ks)
                except JournalDamaged as exc:  # changed since it was verified above
                    journal_problem = exc.detail
    finally:
        store.close()
    return KeyStatus(
        configured_kek_id=configured_id,
        configured_problem=problem,
        previous_kek_ids=previous,
        canary_kek_id=canary.kek_id if canary else None,
        data_keys_by_kek=by_kek,
        destroyed_keys=destroyed,
        legal_hold_keys_by_kek=holds,
        index_key_id=index_row.value if index_row else None,
        configured_index_key_id=configured_index,
        key_store=store.describe() if key_engine is not None else "main database",
        journal_path=str(journal_path(settings)),
        journal_entries=entries,
        journal_problem=journal_problem,
        journal_unapplied=unapplied,
    )
