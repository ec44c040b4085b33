"""The start-up proof of the vault's keys (DESIGN.md principle 4), and the per-process key material it yields.

`check_vault_keys(runtime)` runs once per process at start: it loads the key-encryption key ring and the
blind-index secret, proves the KEK against a canary written when the vault was first initialised, checks
every KEK id still referenced by data is configured, and refuses to start otherwise.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from fiduciary.storage import create_engine_for_url
from fiduciary.vault.erasure import ErasureJournal, journal_path
from fiduciary.vault.keys.blind_index import IndexKeys, load_index_keys
from fiduciary.vault.keys.canary import CANARY, INDEX_META, check_index, prove_canary, write_meta
from fiduciary.vault.keys.kek import KeyRing, VaultKeyError, load_keyring
from fiduciary.vault.keys.store import DataKeyCache, KeyStore, install_secure_delete
from fiduciary.vault.records import LegalHoldRecord, PersonalField, PersonKey, VaultMeta, create_key_store_tables

if TYPE_CHECKING:
    from fiduciary.context import RuntimeContext

VAULT_EXTRA = "vault.keys"


@dataclass
class VaultKeys:
    """The vault's per-process key material and stores, checked at start (see `check_vault_keys`)."""

    keyring: KeyRing
    index: IndexKeys
    key_store: KeyStore
    journal: ErasureJournal
    cache: DataKeyCache
    initialised: bool = False  # the canary is known to match this process's KEK
    _init_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def ensure_initialised(self, session: Session) -> None:
        """Before the first key this process wraps: write the canary (in the caller's transaction) or prove
        the one another process wrote, so two processes with different KEKs can never both write data."""
        if self.initialised:
            return
        with self._init_lock:
            if self.initialised:
                return
            with self.key_store.use(session, write=True) as ks:
                write_meta(ks, self.keyring, self.index)
            self.initialised = True


def _skip_scan(session: Session, column: Any) -> list[str]:
    """Distinct non-null values of an indexed column, one index probe each (few values, big tables)."""
    values: list[str] = []
    while True:
        query = select(column).where(column.is_not(None))
        if values:
            query = query.where(column > values[-1])
        value = session.scalar(query.order_by(column).limit(1))
        if value is None:
            return values
        values.append(value)


def _check_keks_in_use(ks: Session, main: Session, keyring: KeyRing) -> None:
    in_use = set(_skip_scan(ks, PersonKey.kek_id)) | set(_skip_scan(main, LegalHoldRecord.kek_id))
    missing = sorted(k for k in in_use if not keyring.knows(k))
    if missing:
        raise VaultKeyError(
            f"Some data keys are wrapped under key-encryption keys that are not configured: {', '.join(missing)} "
            f"({keyring.describe()}). Add them to FIDUCIARY_KEK_PREVIOUS, then run `fiduciary keys rotate`."
        )


def _verify_at_start(runtime: RuntimeContext, store: KeyStore) -> tuple[KeyRing, IndexKeys, bool]:
    """(keyring, index keys, initialised). An empty vault is initialised lazily by its first write."""
    settings = runtime.settings
    with runtime.sessions() as main, store.use(main, write=True) as ks:
        canary = ks.get(VaultMeta, CANARY)
        index_row = ks.get(VaultMeta, INDEX_META)
        if canary is not None:
            try:
                keyring = load_keyring(settings)
            except VaultKeyError as exc:
                raise VaultKeyError(
                    f"The vault's data is wrapped under key-encryption key {canary.kek_id}, but no usable key is "
                    f"configured: {exc.detail}"
                ) from None
            prove_canary(canary, keyring)
            index = load_index_keys(settings, create_default=index_row is None)
            check_index(index_row, index)
            _check_keks_in_use(ks, main, keyring)
            return keyring, index, True
        has_keys = ks.scalar(select(PersonKey.person_id).where(PersonKey.kek_id.is_not(None)).limit(1)) is not None
        has_holds = main.scalar(select(LegalHoldRecord.id).where(LegalHoldRecord.kek_id.is_not(None)).limit(1))
        key_store_empty = ks.scalar(select(PersonKey.person_id).limit(1)) is None  # tombstones count
        if store.separate and key_store_empty and main.scalar(select(PersonalField.id).limit(1)) is not None:
            raise VaultKeyError(
                f"The key store ({store.describe()}) is empty, but the main database holds encrypted fields. "
                "Point FIDUCIARY_KEYS_DATABASE_URL at the vault's key database (or restore it)."
            )
        if not has_keys and has_holds is None:
            # Nothing encrypted yet: make the default key files now (the embedded first start), but leave
            # the canary to the first write, so a process that never stores personal data pins no key.
            keyring = load_keyring(settings, create_default=True)
            index = load_index_keys(settings, create_default=index_row is None)
            check_index(index_row, index)
            return keyring, index, False
        keyring = load_keyring(settings)  # data without a canary (it was deleted): check and re-create it
        index = load_index_keys(settings, create_default=index_row is None)
        _check_keks_in_use(ks, main, keyring)
        write_meta(ks, keyring, index)
        if not store.separate:
            main.commit()
        return keyring, index, True


def check_vault_keys(runtime: RuntimeContext) -> VaultKeys:
    """Prove the vault's keys at start, or raise `VaultKeyError` with an actionable message.

    Call from `Runtime.start` after migrations. Idempotent per runtime (the result is kept in
    `runtime.extras`). On the first start of a new vault it generates `<data_dir>/kek.key` and
    `<data_dir>/index.key` when nothing else is configured, and writes the canary; on every later start
    a missing or different key stops the service instead of producing unreadable or unfindable data.
    """
    existing = runtime.extras.get(VAULT_EXTRA)
    if isinstance(existing, VaultKeys):
        return existing
    settings = runtime.settings
    install_secure_delete(runtime.engine)
    key_engine: Engine | None = None
    if settings.keys_database_url:
        key_engine = create_engine_for_url(settings.keys_database_url, sqlite_synchronous=settings.sqlite_synchronous)
        install_secure_delete(key_engine)
    store = KeyStore(key_engine)
    try:
        if key_engine is not None:
            create_key_store_tables(key_engine)
        keyring, index, initialised = _verify_at_start(runtime, store)
    except BaseException:
        store.close()
        raise
    keys = VaultKeys(
        keyring=keyring,
        index=index,
        key_store=store,
        journal=ErasureJournal(journal_path(settings), index.journal_key),
        cache=DataKeyCache(settings.vault_key_cache_size),
        initialised=initialised,
    )
    runtime.extras[VAULT_EXTRA] = keys
    return keys


def close_vault_keys(runtime: RuntimeContext) -> None:
    """Release the key store's own engine (call from `Runtime.close`); harmless when never started."""
    keys = runtime.extras.pop(VAULT_EXTRA, None)
    if isinstance(keys, VaultKeys):
        keys.cache.clear()
        keys.key_store.close()


# ------------------------------------------------------------------------------------------------ service
