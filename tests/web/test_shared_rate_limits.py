"""Rate limits and failed-authentication budgets shared by every API process (issue 17).

Two app instances, each with its own runtime and connection pool on the same database (as two workers, or
two machines, are), or each with its own Redis client: a budget spent on one is spent on the other, and a
lock-out reached on one is enforced by the other. Both stores are real: the test database on both engines,
and the Redis server at FIDUCIARY_TEST_REDIS_URL (default 127.0.0.1:6379; skipped when unreachable outside
CI). Redis keys carry a prefix unique to the test, so runs never see each other's buckets.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from fiduciary.auth.service import create_api_key
from fiduciary.config import Settings
from fiduciary.runtime import Runtime
from fiduciary.storage.ratelimit import KEEP_SECONDS, BucketStore, DatabaseBuckets, RedisBuckets, purge_expired
from fiduciary.web.app import create_app
from fiduciary.web.limits import SharedRateLimiter, shared_store
from fiduciary.web.security import AUTH_FAILURES_PER_MINUTE, AUTH_LIMITER_STATE, AuthFailureGuard

REDIS_URL = os.environ.get("FIDUCIARY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SELF = "/v1/apikeys/self"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _redis_store(prefix: str) -> RedisBuckets:
    import redis

    store = RedisBuckets.from_url(REDIS_URL, prefix=prefix)
    try:
        store.client.ping()
    except redis.RedisError as exc:
        if IN_CI:
            pytest.fail(f"Redis is required under CI and is unreachable: {exc}")
        pytest.skip("Redis is not reachable; set FIDUCIARY_TEST_REDIS_URL to run these tests")
    return store


@pytest.fixture
def second_runtime(settings: Settings) -> Iterator[Runtime]:
    """Another process's view of the same database: its own engine and pool."""
    rt = Runtime.start(settings, migrate=False)
    try:
        yield rt
    finally:
        rt.close()


@pytest.fixture(params=["database", "redis"])
def two_stores(
    request: pytest.FixtureRequest, runtime: Runtime, second_runtime: Runtime
) -> Iterator[tuple[BucketStore, BucketStore]]:
    """Two stores over one shared state, as two processes would hold them."""
    if request.param == "database":
        # What two workers get: `auto` shares through the database (on SQLite, the file beside it).
        stores = [shared_store(rt, single_process=False) for rt in (runtime, second_runtime)]
        assert isinstance(stores[0], DatabaseBuckets) and isinstance(stores[1], DatabaseBuckets)
        yield stores[0], stores[1]
        return
    prefix = f"fiduciary-test:{secrets.token_hex(8)}:"
    first, second = _redis_store(prefix), _redis_store(prefix)
    try:
        yield first, second
    finally:
        keys = list(first.client.scan_iter(match=prefix + "*"))
        if keys:
            first.client.delete(*keys)
        first.client.close()
        second.client.close()


def test_the_shared_limiter_allows_n_per_minute_then_gives_retry_after(
    two_stores: tuple[BucketStore, BucketStore],
) -> None:
    clock = Clock()
    one, other = (SharedRateLimiter("t", 6, store, clock=clock) for store in two_stores)  # one every 10 s
    assert [one.hit("a"), other.hit("a"), one.hit("a"), other.hit("a"), one.hit("a"), other.hit("a")] == [None] * 6
    assert one.hit("a") == pytest.approx(10.0)
    assert other.blocked_for("a") == pytest.approx(10.0)  # seen from the other process, spending nothing
    clock.now += 4
    assert other.hit("a") == pytest.approx(6.0)  # refused attempts do not push the wait further out
    clock.now += 6
    assert other.hit("a") is None
    assert one.hit("a") is not None
    assert one.blocked_for("b") is None and one.hit("b") is None  # keys are independent
    clock.now += 3600  # a long idle refills to the burst, never beyond it
    assert [one.hit("a") for _ in range(7)].count(None) == 6


def test_concurrent_hits_spend_the_budget_exactly(two_stores: tuple[BucketStore, BucketStore]) -> None:
    clock = Clock()  # frozen: exactly 50 tokens to share
    limiters = [SharedRateLimiter("t", 50, store, clock=clock) for store in two_stores]
    allowed: list[int] = []
    barrier = threading.Barrier(4)

    def worker(n: int) -> None:
        barrier.wait()
        allowed.append(sum(1 for _ in range(30) if limiters[n % 2].hit("shared") is None))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(allowed) == 50


def _app(runtime: Runtime, store: BucketStore, clock: Clock) -> FastAPI:
    app = create_app(runtime=runtime)
    setattr(app.state, AUTH_LIMITER_STATE, AuthFailureGuard(clock=clock, store=store))
    return app


def test_a_lockout_reached_on_one_process_holds_on_the_other(
    two_stores: tuple[BucketStore, BucketStore], runtime: Runtime, second_runtime: Runtime, session: Session
) -> None:
    clock = Clock()
    first, second = _app(runtime, two_stores[0], clock), _app(second_runtime, two_stores[1], clock)
    _, valid = create_api_key(session, "checkout", ["decisions"])
    session.commit()
    wrong = {"Authorization": f"Bearer {valid[:-1]}{'A' if valid[-1] != 'A' else 'B'}"}
    attacker = ("203.0.113.66", 40000)
    with TestClient(first, client=attacker) as a, TestClient(second, client=attacker) as b:
        # Alternate between the two processes: together they allow the budget once, not twice.
        statuses = [(a if i % 2 else b).get(SELF, headers=wrong).status_code for i in range(AUTH_FAILURES_PER_MINUTE)]
        assert statuses == [401] * AUTH_FAILURES_PER_MINUTE
        for client in (a, b):
            answer = client.get(SELF, headers=wrong)
            assert answer.status_code == 429 and int(answer.headers["retry-after"]) >= 1
            assert answer.headers["content-type"].startswith("application/problem+json")
            # Not even checked any more from here, on either process.
            assert client.get(SELF, headers={"Authorization": f"Bearer {valid}"}).status_code == 429
    with TestClient(second, client=("198.51.100.20", 40000)) as owner:
        assert owner.get(SELF, headers={"Authorization": f"Bearer {valid}"}).status_code == 200


def test_trust_earned_on_one_process_holds_on_the_other(
    two_stores: tuple[BucketStore, BucketStore], runtime: Runtime, second_runtime: Runtime, session: Session
) -> None:
    """The backend that holds a key keeps working on every worker while someone sprays made-up ids beside it."""
    clock = Clock()
    first, second = _app(runtime, two_stores[0], clock), _app(second_runtime, two_stores[1], clock)
    _, valid = create_api_key(session, "checkout", ["decisions"])
    session.commit()
    office = ("198.51.100.30", 40000)
    with TestClient(first, client=office) as a, TestClient(second, client=office) as b:
        assert a.get(SELF, headers={"Authorization": f"Bearer {valid}"}).status_code == 200  # trusted pair
        sprayed = [
            a.get(SELF, headers={"Authorization": f"Bearer fid_{secrets.token_hex(6)}_{'x' * 43}"}).status_code
            for _ in range(61)
        ]
        assert sprayed[-1] == 429  # the address budget is spent
        assert b.get(SELF, headers={"Authorization": f"Bearer {valid}"}).status_code == 200


@pytest.mark.parametrize("kind", ["database", "redis"])
def test_public_budgets_are_shared_by_the_apps_the_settings_choose(kind: str, settings: Settings) -> None:
    configured = settings.model_copy(
        update={"rate_limit_store": kind, "redis_url": REDIS_URL, "public_rate_limit_per_minute": 3}
    )
    if kind == "redis":
        _redis_store("probe:")  # skips when Redis is not reachable
    runtimes = [Runtime.start(configured, migrate=False) for _ in range(2)]
    try:
        stores = [shared_store(rt) for rt in runtimes]
        assert all(isinstance(s, DatabaseBuckets if kind == "database" else RedisBuckets) for s in stores)
        apps = [create_app(runtime=rt) for rt in runtimes]
        address = (f"192.0.2.{secrets.randbelow(250) + 1}", 40000)  # fresh for every run (Redis outlives it)
        with TestClient(apps[0], client=address) as a, TestClient(apps[1], client=address) as b:
            statuses = [c.get("/privacy").status_code for c in (a, b, a)]
            assert statuses == [200, 200, 200]
            for client in (b, a):
                answer = client.get("/privacy")
                assert answer.status_code == 429 and int(answer.headers["retry-after"]) >= 1
    finally:
        for rt in runtimes:
            rt.close()


def test_auto_keeps_the_embedded_single_process_in_memory(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    rt = Runtime.start(settings)
    try:
        assert shared_store(rt) is None  # one process on SQLite: no other server can share its budgets
    finally:
        rt.close()
    rt = Runtime.start(settings)
    try:
        assert isinstance(shared_store(rt, single_process=False), DatabaseBuckets)  # --workers N on SQLite
    finally:
        rt.close()


def test_purge_deletes_only_rows_no_limiter_needs(runtime: Runtime) -> None:
    store = shared_store(runtime, single_process=False)
    assert isinstance(store, DatabaseBuckets)
    clock = Clock()
    limiter = SharedRateLimiter("t", 60, store, clock=clock)
    limiter.hit("old")
    clock.now += KEEP_SECONDS + 10
    limiter.hit("recent")
    assert purge_expired(store.engine, clock.now) == 1  # the full, long-idle bucket
    assert limiter.blocked_for("recent") is None and store.tats([limiter.key("recent")])  # kept
    assert not store.tats([limiter.key("old")])


def test_the_store_purges_by_itself_every_so_many_charges(runtime: Runtime) -> None:
    store = shared_store(runtime, single_process=False)
    assert isinstance(store, DatabaseBuckets)
    purging = DatabaseBuckets(store.engine, purge_every=3)
    clock = Clock()
    limiter = SharedRateLimiter("t", 60, purging, clock=clock)
    limiter.hit("old")  # charge 1
    clock.now += KEEP_SECONDS + 10
    limiter.hit("recent")  # charge 2
    assert purging.tats([limiter.key("old")])  # not yet
    limiter.hit("recent")  # charge 3: purges
    assert not purging.tats([limiter.key("old")]) and purging.tats([limiter.key("recent")])
