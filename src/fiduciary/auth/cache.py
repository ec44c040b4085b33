"""A short, revocation-aware cache of authenticated API keys, so a busy backend's key is not read from the
database on every request (issue 17).

What it holds per key id: a detached copy of the key row and the time it was read. A presentation is
accepted from the cache only when its secret's SHA-256 digest equals the cached digest (compared in
constant time), the copy is younger than `ttl` seconds and no revocation of that id was announced since.
Anything else goes to the database (`auth.service.authenticate`), which refreshes the copy.

Revocation (DPDP Rule 6(1)(b), access control):
- in this process it takes effect at once: `revoke_api_key` announces the id (`key_revoked`) when it
  flushes and again after the revoking transaction commits; every cache drops the id and bumps its
  generation, so a database read that began before the commit is never stored afterwards;
- from another process (the `fiduciary apikey revoke` command, another API worker or machine) the cache has
  no signal, so a revoked key may be accepted for at most `ttl` seconds (AUTH_CACHE_SECONDS, 5 s) after the
  commit; docs/api-keys.md says so.

Thread-safe: requests look keys up from the event loop and fill it from worker threads.
"""

from __future__ import annotations

import hmac
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from fiduciary.auth.models import ApiKey

AUTH_CACHE_SECONDS = 5.0
"""How long a key read from the database is trusted without reading it again: the bound on how late a
revocation made by another process takes effect here."""
AUTH_CACHE_MAX_KEYS = 10_000

_caches: weakref.WeakSet[KeyCache] = weakref.WeakSet()
_caches_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class _Entry:
    key: ApiKey
    read_at: float


def detached_copy(row: ApiKey) -> ApiKey:
    """A transient ApiKey with the row's values, safe to share between requests and threads (read only)."""
    return ApiKey(
        id=row.id,
        name=row.name,
        secret_hash=row.secret_hash,
        scopes=list(row.scopes),
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


class KeyCache:
    """Authenticated keys by id, each trusted for `ttl` seconds; bounded (least recently used goes first)."""

    def __init__(
        self,
        ttl: float = AUTH_CACHE_SECONDS,
        *,
        max_keys: int = AUTH_CACHE_MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_keys = max_keys
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._generation = 0
        self._lock = threading.Lock()
        with _caches_lock:
            _caches.add(self)

    @property
    def generation(self) -> int:
        """Read before a database lookup and hand to `store`, which then refuses if a revocation came between."""
        return self._generation

    def lookup(self, key_id: str, digest: str) -> ApiKey | None:
        """The cached key if `digest` is its secret's digest and the copy is fresh; else None (ask the database)."""
        with self._lock:
            entry = self._entries.get(key_id)
            if entry is None:
                return None
            if self._clock() - entry.read_at >= self.ttl:
                del self._entries[key_id]
                return None
            self._entries.move_to_end(key_id)
        if not hmac.compare_digest(digest, entry.key.secret_hash):
            return None
        return entry.key

    def store(self, row: ApiKey, generation: int) -> None:
        """Remember an active key just read from the database, unless a revocation was announced since
        `generation` was read."""
        if row.revoked_at is not None:
            return
        copy = detached_copy(row)
        with self._lock:
            if generation != self._generation:
                return
            self._entries[row.id] = _Entry(copy, self._clock())
            self._entries.move_to_end(row.id)
            while len(self._entries) > self.max_keys:
                self._entries.popitem(last=False)

    def forget(self, key_id: str) -> None:
        with self._lock:
            self._entries.pop(key_id, None)
            self._generation += 1

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


def key_revoked(key_id: str) -> None:
    """Tell every cache in this process that `key_id` was (or is being) revoked."""
    with _caches_lock:
        caches = list(_caches)
    for cache in caches:
        cache.forget(key_id)
