"""Rate-limit buckets shared by every API process on every machine: in the database, or in Redis (issue 17).

One algorithm, GCRA (the generic cell rate algorithm, the token bucket written as one number): a key's state
is its theoretical arrival time `tat`. A limit of `per_minute` with bursts of `burst` is an `interval` of
60/per_minute seconds and a `tolerance` of interval × (burst − 1). A hit at `now` is allowed when
max(tat, now) − now ≤ tolerance, and then moves tat to max(tat, now) + interval; a refused hit changes
nothing and may retry after tat − tolerance − now seconds. One number per key means one statement per hit:

- database (`DatabaseBuckets`): one `INSERT … ON CONFLICT DO UPDATE … RETURNING` on SQLite and on
  PostgreSQL, in its own short transaction on the engine (never the request's), so a refused request's
  rollback cannot undo the charge. The row's lock serialises hits on one key across processes.
- Redis (`RedisBuckets`, when FIDUCIARY_REDIS_URL is set): one Lua script, atomic on the server, and each key
  expires once its bucket is full again, so memory stays bounded without a purge.

Keys are hashed (BLAKE2b, 16 bytes) before they are stored: a client address or key id never reaches the
database or Redis in the clear. Times are wall-clock seconds (`time.time()`), the one clock processes on
different machines share; the in-process limiter (fiduciary.web.security.RateLimiter) keeps its monotonic one.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final, Protocol, cast

import sqlalchemy as sa
from sqlalchemy import Boolean, Engine, Float, String, case, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from fiduciary.storage.base import Base
from fiduciary.storage.retry import retry_busy

if TYPE_CHECKING:
    from redis import Redis

REDIS_PREFIX: Final = "fiduciary:rl:"
# Rows older than this are either full buckets or expired trust records: `purge_expired` deletes them.
KEEP_SECONDS: Final = 3600.0
PURGE_EVERY: Final = 1000  # charges between two purges of rows no limiter needs, per process


class RateLimitBucket(Base):
    """One rate-limit key's state: its GCRA theoretical arrival time (or, for a trust record, when it was
    last earned). No personal value: `key` is a hash."""

    __tablename__ = "rate_limit_buckets"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    tat: Mapped[float] = mapped_column(Float, index=True)
    # Whether the last hit was allowed: an UPSERT's RETURNING shows the new row only, so the verdict its
    # SET computed from the old one is kept here to be read back in the same statement.
    allowed: Mapped[bool] = mapped_column(Boolean, default=True)


BUCKETS = cast(sa.Table, RateLimitBucket.__table__)


def bucket_key(name: str, key: str) -> str:
    """The stored key of `key` in limiter `name`: a hash, so no address or key id is stored in the clear."""
    return hashlib.blake2b(f"{name}\x00{key}".encode(), digest_size=16).hexdigest()


class BucketStore(Protocol):
    """Where shared limiters keep their state. Every method is one round trip."""

    def hit(self, key: str, interval: float, tolerance: float, now: float) -> float | None:
        """Spend one: None if allowed, else the seconds until the key may act again."""

    def tats(self, keys: Sequence[str]) -> dict[str, float]:
        """The stored `tat` of each key that has one (to see waits without spending, or trust records)."""

    def put(self, key: str, value: float, ttl: float) -> None:
        """Store `value` under `key` (a trust record), kept at least `ttl` seconds."""


def wait_seconds(tat: float | None, tolerance: float, now: float) -> float | None:
    """Seconds until a key with this `tat` may act, or None if it may now."""
    if tat is None:
        return None
    wait = tat - tolerance - now
    return wait if wait > 0 else None


class DatabaseBuckets:
    """Buckets in the `rate_limit_buckets` table of the service's own database.

    The table keeps one row per key seen; every `purge_every` charges this store also deletes the rows no
    limiter needs (`purge_expired`, an indexed range delete), so it stays bounded by the keys active in the
    last hour without a scheduled job.
    """

    def __init__(self, engine: Engine, *, purge_every: int = PURGE_EVERY) -> None:
        if purge_every < 1:
            raise ValueError("purge_every must be at least 1")
        self.engine = engine
        self.purge_every = purge_every
        self._charges = itertools.count(1)
        dialect = engine.dialect.name
        if dialect not in ("sqlite", "postgresql"):
            raise ValueError(f"no shared rate limits on {dialect}")
        self._insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(BUCKETS)
        self._greatest = func.greatest if dialect == "postgresql" else func.max  # SQLite's max(a, b) is scalar

    def hit(self, key: str, interval: float, tolerance: float, now: float) -> float | None:
        now_p = sa.bindparam("now", now, type_=Float)
        base = self._greatest(BUCKETS.c.tat, now_p)
        allowed = base - now_p <= tolerance
        # SET sees the row as it was, RETURNING as it is now: `allowed` carries the verdict out.
        statement = (
            self._insert.values(key=key, tat=now + interval, allowed=True)
            .on_conflict_do_update(
                index_elements=[BUCKETS.c.key],
                set_={"tat": case((allowed, base + interval), else_=BUCKETS.c.tat), "allowed": allowed},
            )
            .returning(BUCKETS.c.tat, BUCKETS.c.allowed)
        )

        def once() -> tuple[float, bool]:
            with self.engine.begin() as conn:
                row = conn.execute(statement).one()
            return float(row.tat), bool(row.allowed)

        tat, ok = retry_busy(once)
        if next(self._charges) % self.purge_every == 0:
            retry_busy(lambda: purge_expired(self.engine, now))
        return None if ok else (wait_seconds(tat, tolerance, now) or 0.0)

    def tats(self, keys: Sequence[str]) -> dict[str, float]:
        if not keys:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(BUCKETS.c.key, BUCKETS.c.tat).where(BUCKETS.c.key.in_(list(keys))))
            return {row.key: float(row.tat) for row in rows}

    def put(self, key: str, value: float, ttl: float) -> None:
        statement = self._insert.values(key=key, tat=value).on_conflict_do_update(
            index_elements=[BUCKETS.c.key], set_={"tat": value}
        )

        def once() -> None:
            with self.engine.begin() as conn:
                conn.execute(statement)

        retry_busy(once)


def purge_expired(engine: Engine, now: float, keep_seconds: float = KEEP_SECONDS) -> int:
    """Delete rows no limiter needs: buckets full again and trust records older than `keep_seconds`."""
    with engine.begin() as conn:
        result = conn.execute(sa.delete(BUCKETS).where(BUCKETS.c.tat < now - keep_seconds))
        return int(result.rowcount or 0)


_GCRA_LUA: Final = """
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local tolerance = tonumber(ARGV[3])
local stored = redis.call('GET', KEYS[1])
local tat = now
if stored then tat = math.max(tonumber(stored), now) end
if tat - now <= tolerance then
  local new = tat + interval
  redis.call('SET', KEYS[1], string.format('%.6f', new), 'PX', math.ceil((new - now) * 1000) + 1000)
  return {1, string.format('%.6f', new)}
end
return {0, string.format('%.6f', tat)}
"""


class RedisBuckets:
    """Buckets in Redis: one atomic Lua script per hit, keys that expire once their bucket is full."""

    def __init__(self, client: Redis, prefix: str = REDIS_PREFIX) -> None:
        self.client = client
        self.prefix = prefix
        self._gcra = client.register_script(_GCRA_LUA)

    @classmethod
    def from_url(cls, url: str, prefix: str = REDIS_PREFIX) -> RedisBuckets:
        import redis  # lazy: optional extra `redis`, imported only when FIDUCIARY_REDIS_URL is set

        return cls(redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0), prefix)

    def hit(self, key: str, interval: float, tolerance: float, now: float) -> float | None:
        allowed, tat = self._gcra(keys=[self.prefix + key], args=[repr(now), repr(interval), repr(tolerance)])
        if int(allowed):
            return None
        return wait_seconds(float(tat), tolerance, now) or 0.0

    def tats(self, keys: Sequence[str]) -> dict[str, float]:
        if not keys:
            return {}
        values: list[Any] = self.client.mget([self.prefix + k for k in keys])  # type: ignore[assignment]
        return {k: float(v) for k, v in zip(keys, values, strict=True) if v is not None}

    def put(self, key: str, value: float, ttl: float) -> None:
        self.client.set(self.prefix + key, repr(value), px=max(1, math.ceil(ttl * 1000)))
