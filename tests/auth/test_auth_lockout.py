"""Fair lock-out: failed authentications are charged per key id and per address, so one client's wrong keys
do not lock valid keys out of a shared address, while guessing at one key stays throttled (issue 8 item 8,
docs/api-keys.md#rate-limits, decision 0017).

Every guard here runs on a frozen clock: no budget refills while a test runs, however slow the machine.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from fiduciary.auth.service import create_api_key
from fiduciary.runtime import Runtime
from fiduciary.web.app import create_app
from fiduciary.web.security import (
    AUTH_FAILURES_PER_MINUTE,
    AUTH_LIMITER_STATE,
    AUTH_MALFORMED_PER_ADDRESS_PER_MINUTE,
    AuthFailureGuard,
)

PROBLEM = "application/problem+json"
SELF = "/v1/apikeys/self"
SHARED = "198.51.100.20"  # an office NAT: many backends, one address


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(runtime: Runtime, clock: Clock) -> FastAPI:
    app = create_app(runtime=runtime)
    setattr(app.state, AUTH_LIMITER_STATE, AuthFailureGuard(clock=clock))  # the default budgets
    return app


@pytest.fixture
def keys(session: Session) -> Iterator[tuple[str, str]]:
    _, valid = create_api_key(session, "checkout", ["decisions"])
    _, other = create_api_key(session, "crm", ["decisions"])
    session.commit()
    yield valid, other


def _from(app: FastAPI, address: str) -> TestClient:
    return TestClient(app, client=(address, 40000))


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _random_key() -> str:
    return f"fid_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"


def _wrong_secret(key: str) -> str:
    return key[:-1] + ("A" if key[-1] != "A" else "B")


def _assert_429(answer: object) -> None:
    from httpx import Response

    assert isinstance(answer, Response)
    assert answer.status_code == 429, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM)
    assert int(answer.headers["retry-after"]) >= 1
    assert answer.json()["code"] == "rate_limited"


def test_twenty_wrong_keys_from_an_address_do_not_lock_out_a_valid_key(app: FastAPI, keys: tuple[str, str]) -> None:
    valid, other = keys
    with _from(app, SHARED) as c:
        statuses = [c.get(SELF, headers=_bearer(_random_key())).status_code for _ in range(11)]
        statuses += [c.get(SELF, headers=_bearer(_wrong_secret(other))).status_code for _ in range(9)]
        assert statuses == [401] * 20
        assert c.get(SELF, headers=_bearer(valid)).status_code == 200  # never used from here before
        assert c.get(SELF, headers=_bearer(other)).status_code == 200  # its id failed here, but under budget
        assert c.get(SELF, headers=_bearer(_wrong_secret(other))).status_code == 401  # the tenth failure
        _assert_429(c.get(SELF, headers=_bearer(_wrong_secret(other))))


def test_a_key_in_use_keeps_working_however_many_keys_fail_beside_it(
    app: FastAPI, keys: tuple[str, str], session: Session
) -> None:
    valid, _ = keys
    with _from(app, SHARED) as c:
        assert c.get(SELF, headers=_bearer(valid)).status_code == 200
        statuses = [c.get(SELF, headers=_bearer(_random_key())).status_code for _ in range(100)]
        assert statuses.count(401) == 60 and statuses[-1] == 429  # made-up ids: the address budget ran out
        assert c.get(SELF, headers=_bearer(valid)).status_code == 200  # the key that works here still does
        # A key never seen from this address waits like the sprayed ids (documented trade-off).
        _, fresh = create_api_key(session, "new backend", ["decisions"])
        session.commit()
        _assert_429(c.get(SELF, headers=_bearer(fresh)))
    with _from(app, "198.51.100.21") as elsewhere:
        assert elsewhere.get(SELF, headers=_bearer(fresh)).status_code == 200


def test_brute_force_on_one_key_id_gets_429_with_retry_after(app: FastAPI, keys: tuple[str, str]) -> None:
    valid, _ = keys
    wrong = _wrong_secret(valid)
    with _from(app, "203.0.113.66") as attacker:
        statuses = [attacker.get(SELF, headers=_bearer(wrong)).status_code for _ in range(AUTH_FAILURES_PER_MINUTE)]
        assert statuses == [401] * AUTH_FAILURES_PER_MINUTE
        _assert_429(attacker.get(SELF, headers=_bearer(wrong)))
        # Not even checked any more from here, so a right guess cannot be told from a wrong one.
        _assert_429(attacker.get(SELF, headers=_bearer(valid)))
        # Other key ids from the same address are not this id's budget.
        assert attacker.get(SELF, headers=_bearer(_random_key())).status_code == 401
    with _from(app, SHARED) as owner:
        assert owner.get(SELF, headers=_bearer(valid)).status_code == 200


def test_a_distributed_attack_on_one_id_spares_the_address_that_uses_it(
    runtime: Runtime, clock: Clock, keys: tuple[str, str]
) -> None:
    app = create_app(runtime=runtime)
    setattr(app.state, AUTH_LIMITER_STATE, AuthFailureGuard(per_key=5, clock=clock))
    valid, _ = keys
    with _from(app, SHARED) as owner:
        assert owner.get(SELF, headers=_bearer(valid)).status_code == 200
    statuses = []
    for i in range(6):
        with _from(app, f"192.0.2.{i + 1}") as bot:
            statuses.append(bot.get(SELF, headers=_bearer(_wrong_secret(valid))).status_code)
    assert statuses == [401] * 5 + [429]
    with _from(app, "192.0.2.99") as newcomer:
        _assert_429(newcomer.get(SELF, headers=_bearer(valid)))  # the id is throttled everywhere else
    with _from(app, SHARED) as owner:
        assert owner.get(SELF, headers=_bearer(valid)).status_code == 200
    clock.now += 3601  # an hour without use: trust lapses, but the id's budget has refilled by then too
    with _from(app, "192.0.2.99") as newcomer:
        assert newcomer.get(SELF, headers=_bearer(valid)).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer garbage"}, {"X-API-Key": "fid_short"}, {"Authorization": "Basic abc"}],
    ids=["missing", "garbage", "short", "basic"],
)
def test_garbage_from_an_address_is_throttled_without_touching_valid_keys(
    app: FastAPI, keys: tuple[str, str], headers: dict[str, str]
) -> None:
    valid, _ = keys
    budget = AUTH_MALFORMED_PER_ADDRESS_PER_MINUTE
    with _from(app, SHARED) as c:
        statuses = [c.get(SELF, headers=headers).status_code for _ in range(budget)]
        assert statuses == [401] * budget
        _assert_429(c.get(SELF, headers=headers))
        _assert_429(c.get(SELF, headers={"Authorization": "Bearer other-garbage"}))
        assert c.get(SELF, headers=_bearer(valid)).status_code == 200  # first use from here, still fine
        assert c.get(SELF, headers=_bearer(_random_key())).status_code == 401  # a well-formed key is checked
    with _from(app, "198.51.100.30") as neighbour:
        assert neighbour.get(SELF).status_code == 401  # another address has its own budget


def test_budgets_refill(app: FastAPI, clock: Clock, keys: tuple[str, str]) -> None:
    valid, _ = keys
    wrong = _wrong_secret(valid)
    with _from(app, "203.0.113.67") as c:
        for _ in range(AUTH_FAILURES_PER_MINUTE):
            c.get(SELF, headers=_bearer(wrong))
        _assert_429(c.get(SELF, headers=_bearer(valid)))
        clock.now += 6.0  # one attempt every 6 seconds
        assert c.get(SELF, headers=_bearer(valid)).status_code == 200


def test_the_guard_remembers_a_bounded_number_of_successes(clock: Clock) -> None:
    guard = AuthFailureGuard(max_keys=3, clock=clock)
    for i in range(10):
        guard.succeeded(f"10.0.0.{i}", "AAAAAAAAAAAA")
    assert len(guard._successes) == 3
    clock.now += 30
    guard.succeeded("10.0.0.9", "AAAAAAAAAAAA")  # within a minute of the last: no write
    assert guard._successes["AAAAAAAAAAAA 10.0.0.9"] == 1000.0
