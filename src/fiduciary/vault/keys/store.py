"""Where the vault's wrapped keys live, and the cache of the ones this process has unwrapped.

`person_keys` and `vault_meta` sit in the main database by default, or in their own
(FIDUCIARY_KEYS_DATABASE_URL) so that the key store's backups can be kept for a shorter time than the
data's. Unwrapped data keys are cached in a bounded LRU keyed by the wrapped blob, but the wrapped row is
read on every access, so erasing a person (destroying the row) takes effect at once in every process.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from fiduciary.storage import make_session_factory


class KeyStore:
    """Where `person_keys` and `vault_meta` live: the caller's session (default) or their own database.

    With a separate database, key writes commit in their own transaction before the caller's: a rollback
    of the caller then leaves at most an unused data key (reused by the next write for that person), never
    data without a key. A key destruction commits at once: the erasure has happened when it returns.
    """

    def __init__(self, engine: Engine | None) -> None:
        self.engine = engine
        self._sessions: sessionmaker[Session] | None = make_session_factory(engine) if engine is not None else None

    @property
    def separate(self) -> bool:
        return self._sessions is not None

    @contextmanager
    def use(self, session: Session, *, write: bool = False) -> Iterator[Session]:
        if self._sessions is None:
            yield session
            return
        with self._sessions() as own:
            yield own
            if write:
                own.commit()

    def describe(self) -> str:
        if self.engine is None:
            return "main database"
        return "separate database " + self.engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()


class DataKeyCache:
    """Unwrapped data keys (as ready AES contexts) by person, valid only for the exact wrapped blob."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[str, tuple[bytes, AESGCM]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, person_id: str, wrapped: bytes) -> AESGCM | None:
        with self._lock:
            entry = self._entries.get(person_id)
            if entry is None or entry[0] != wrapped:
                return None
            self._entries.move_to_end(person_id)
            return entry[1]

    def put(self, person_id: str, wrapped: bytes, aead: AESGCM) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._entries[person_id] = (wrapped, aead)
            self._entries.move_to_end(person_id)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def evict(self, person_ids: Collection[str]) -> None:
        with self._lock:
            for person_id in person_ids:
                self._entries.pop(person_id, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def _secure_delete_on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    # Zero freed pages and cells, so a destroyed wrapped key or an overwritten ciphertext does not linger in
    # the SQLite file's free space. Once per DB-API connection; the checkout hook also covers connections
    # that were pooled before the vault started.
    if record.info.get("fiduciary_secure_delete"):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()
    record.info["fiduciary_secure_delete"] = True


def install_secure_delete(engine: Engine) -> None:
    if engine.dialect.name == "sqlite" and not event.contains(engine, "checkout", _secure_delete_on_checkout):
        event.listen(engine, "checkout", _secure_delete_on_checkout)
