"""Which store the rate limits and failed-authentication budgets use, and the limiter over a shared store.

`FIDUCIARY_RATE_LIMIT_STORE` (default `auto`):
- `redis`: Redis at FIDUCIARY_REDIS_URL (the optional extra `redis`); `auto` picks it whenever that is set.
- `database`: the `rate_limit_buckets` table of the service's database (on SQLite, of a file beside it:
  `_sqlite_buckets_engine` says why); `auto` picks it on PostgreSQL (any number of machines may serve one
  database) and for `fiduciary serve --workers N` with N > 1.
- `memory`: each process its own budgets; `auto` picks it for the embedded default, one process on SQLite,
  where no other server can share the budgets and a database write per public request would cost an fsync.

docs/workers.md says why; decision 0023-workers-and-shared-limits.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.schema import CreateTable

from fiduciary.runtime import Runtime
from fiduciary.storage.engine import create_engine_for_url
from fiduciary.storage.ratelimit import (
    BUCKETS,
    BucketStore,
    DatabaseBuckets,
    RedisBuckets,
    bucket_key,
    wait_seconds,
)

ROUNDING_SLACK_SECONDS = 1e-6


class SharedRateLimiter:
    """`RateLimiter`'s interface (hit, blocked_for) over a `BucketStore` every process shares.

    `name` separates this limiter's keys from other limiters' in the one store; `per_minute` (a fraction of
    one with a burst: 10 an hour is per_minute=1/6, burst=10) and `burst` mean what they mean for RateLimiter
    (GCRA is the same token bucket, fiduciary.storage.ratelimit).
    """

    def __init__(
        self,
        name: str,
        per_minute: float,
        store: BucketStore,
        *,
        burst: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if per_minute <= 0 or (burst is None and per_minute < 1):
            raise ValueError("per_minute must be at least 1, or above 0 with a burst")
        capacity = burst if burst is not None else per_minute
        if capacity < 1:
            raise ValueError("burst must be at least 1")
        self.name = name
        self.per_minute = per_minute
        self.interval = 60.0 / per_minute
        # A microsecond of slack: times travel as decimal text (Redis) or doubles summed hit after hit, and the
        # last token of a burst must not be lost to rounding.
        self.tolerance = self.interval * (capacity - 1) + ROUNDING_SLACK_SECONDS
        self.store = store
        self._clock = clock

    def key(self, key: str) -> str:
        return bucket_key(self.name, key)

    def hit(self, key: str) -> float | None:
        """Spend one: None if allowed, else the seconds until the key may act again."""
        return self.store.hit(self.key(key), self.interval, self.tolerance, self._clock())

    def blocked_for(self, key: str) -> float | None:
        """Seconds until `key` may act again, or None if it may now; spends nothing."""
        stored = self.key(key)
        return self.wait(self.store.tats([stored]).get(stored))

    def wait(self, tat: float | None) -> float | None:
        return wait_seconds(tat, self.tolerance, self._clock())


@dataclass(frozen=True)
class StoreChoice:
    """The runtime's shared bucket store, or None for per-process limits (held by `Runtime.shared`)."""

    store: BucketStore | None


def _build(runtime: Runtime, single_process: bool) -> StoreChoice:
    settings = runtime.settings
    choice = settings.rate_limit_store
    if choice == "auto":
        if settings.redis_url:
            choice = "redis"
        elif runtime.engine.dialect.name == "postgresql" or not single_process:
            choice = "database"
        else:
            choice = "memory"
    if choice == "memory":
        return StoreChoice(None)
    if choice == "redis":
        if not settings.redis_url:
            raise ValueError("FIDUCIARY_RATE_LIMIT_STORE=redis needs FIDUCIARY_REDIS_URL")
        return StoreChoice(RedisBuckets.from_url(settings.redis_url))
    engine = runtime.engine
    if engine.dialect.name == "sqlite":
        engine = _sqlite_buckets_engine(runtime)
    return StoreChoice(DatabaseBuckets(engine))


def _sqlite_buckets_engine(runtime: Runtime) -> Engine:
    """On SQLite the buckets live in a file of their own beside the database (`<database>-ratelimits`).

    SQLite has one writer per file, and a request that has written (an API key's last-used time) holds that
    lock until it commits: a budget charged on the same file from another connection in the same request
    would wait for it forever. The buckets' own file has its own lock. synchronous=NORMAL: a budget's state
    need not survive a power cut, and an fsync per public request would cost more than the request.
    """
    database = runtime.engine.url.database
    if not database or database == ":memory:":
        raise ValueError("shared rate limits need a database file, not an in-memory SQLite database")
    engine = create_engine_for_url(f"sqlite:///{database}-ratelimits", sqlite_synchronous="NORMAL")
    # IF NOT EXISTS in one statement: `serve --workers N` starts N processes that all get here at once, and a
    # check-then-create lets two of them create it (the second failed with "table already exists").
    with engine.begin() as connection:
        connection.execute(CreateTable(BUCKETS, if_not_exists=True))
    runtime.extras["ratelimit.engine"] = engine  # disposed when the runtime closes
    return engine


def shared_store(runtime: Runtime, *, single_process: bool = True) -> BucketStore | None:
    """The bucket store this runtime's limiters share with every other process, or None (per process)."""
    return runtime.shared("ratelimit.store", StoreChoice, lambda: _build(runtime, single_process)).store
