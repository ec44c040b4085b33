"""Rate limiting of public endpoints and the baseline security headers."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import Depends, FastAPI
from fastapi.responses import HTMLResponse
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from starlette.requests import Request

from fiduciary.auth.service import create_api_key
from fiduciary.config import Settings
from fiduciary.runtime import Runtime
from fiduciary.web.app import create_app
from fiduciary.web.security import DEFAULT_CSP, RateLimiter, client_key, public_rate_limit

PROBLEM = "application/problem+json"
LIMIT = 3


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The shared fixture, with a public limit small enough to exhaust in a test."""
    return Settings(database_url=database_url, data_dir=tmp_path / "data", public_rate_limit_per_minute=LIMIT)


@pytest.fixture
def app(runtime: Runtime) -> FastAPI:
    app = create_app(runtime=runtime)

    @app.get("/test/public", dependencies=[Depends(public_rate_limit)])
    def public() -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/test/own-csp", response_class=HTMLResponse)
    def own_csp() -> HTMLResponse:
        return HTMLResponse("<p>hi</p>", headers={"Content-Security-Policy": "default-src 'self'"})

    @app.get("/test/boom")
    def boom() -> None:
        raise RuntimeError("something internal")

    return app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, client=("198.51.100.1", 1000)) as c:
        yield c


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- the limiter on its own ---------------------------------------------------------------------------


def test_limiter_allows_n_per_window_then_gives_retry_after_and_refills() -> None:
    clock = FakeClock()
    limiter = RateLimiter(6, clock=clock)  # one token every 10 s
    assert [limiter.hit("a") for _ in range(6)] == [None] * 6
    wait = limiter.hit("a")
    assert wait == pytest.approx(10.0)
    clock.now += 4
    assert limiter.hit("a") == pytest.approx(6.0)  # refused attempts do not push the wait further out
    clock.now += 6
    assert limiter.hit("a") is None
    assert limiter.hit("a") is not None
    clock.now += 3600  # a long idle refills to the burst, never beyond it
    assert [limiter.hit("a") for _ in range(7)].count(None) == 6


def test_limiter_keys_are_independent() -> None:
    clock = FakeClock()
    limiter = RateLimiter(2, clock=clock)
    assert limiter.hit("a") is None and limiter.hit("a") is None
    assert limiter.hit("a") is not None
    assert limiter.hit("b") is None and limiter.hit("b") is None
    assert limiter.hit("b") is not None


def test_blocked_for_spends_nothing() -> None:
    clock = FakeClock()
    limiter = RateLimiter(2, clock=clock)
    assert limiter.blocked_for("a") is None
    assert len(limiter) == 0  # looking does not create state
    limiter.hit("a")
    for _ in range(10):
        assert limiter.blocked_for("a") is None
    limiter.hit("a")
    assert limiter.blocked_for("a") == pytest.approx(30.0)


def test_limiter_memory_is_bounded_and_evicts_the_least_recently_seen() -> None:
    clock = FakeClock()
    limiter = RateLimiter(1, max_keys=100, clock=clock)
    limiter.hit("busy")
    for i in range(10_000):
        limiter.hit(f"client-{i}")
        if i % 50 == 0:
            assert limiter.hit("busy") is not None  # touched often: stays tracked, stays throttled
        assert len(limiter) <= 100
    assert len(limiter) == 100
    assert limiter.hit("client-0") is None  # evicted long ago: starts afresh


class PreemptedLimiter(RateLimiter):
    """Hands the GIL to another thread between reading a bucket and writing it back, as preemption could."""

    def _tokens(self, bucket: list[float], now: float) -> float:
        tokens = super()._tokens(bucket, now)
        time.sleep(0)
        return tokens


def test_limiter_is_thread_safe() -> None:
    limiter = PreemptedLimiter(500, clock=FakeClock())  # frozen clock: exactly 500 tokens to share
    allowed: list[int] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        count = sum(1 for _ in range(200) if limiter.hit("shared") is None)
        allowed.append(count)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(allowed) == 500


def test_limiter_refuses_nonsense_configuration() -> None:
    for kwargs in ({"per_minute": 0}, {"per_minute": 5, "max_keys": 0}, {"per_minute": 5, "burst": 0}):
        with pytest.raises(ValueError):
            RateLimiter(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::9", "2001:db8:1:2::/64"),
        ("::ffff:198.51.100.4", "198.51.100.4"),
        ("testclient", "testclient"),
        (None, "unknown"),
    ],
)
def test_client_key_groups_ipv6_by_64(host: str | None, key: str) -> None:
    scope: dict[str, object] = {"type": "http", "client": (host, 1) if host else None, "headers": []}
    assert client_key(Request(scope)) == key


# --- over HTTP ----------------------------------------------------------------------------------------


def test_public_endpoint_n_plus_first_request_gets_429_with_retry_after(client: TestClient) -> None:
    for _ in range(LIMIT):
        assert client.get("/test/public").status_code == 200
    response = client.get("/test/public")
    assert response.status_code == 429
    assert response.headers["content-type"].startswith(PROBLEM)
    retry = int(response.headers["retry-after"])
    assert 1 <= retry <= 60
    body = response.json()
    assert body["status"] == 429 and body["code"] == "rate_limited"
    assert "198.51.100.1" not in response.text  # the address is personal data: never echoed
    assert response.headers["x-content-type-options"] == "nosniff"


def test_public_limit_is_per_client_address(app: FastAPI) -> None:
    with TestClient(app, client=("198.51.100.1", 1)) as first, TestClient(app, client=("198.51.100.2", 1)) as second:
        for _ in range(LIMIT):
            assert first.get("/test/public").status_code == 200
        assert first.get("/test/public").status_code == 429
        for _ in range(LIMIT):
            assert second.get("/test/public").status_code == 200
        assert second.get("/test/public").status_code == 429
    with TestClient(app, client=("2001:db8::1", 1)) as v6a, TestClient(app, client=("2001:db8::2", 1)) as v6b:
        for _ in range(LIMIT):
            assert v6a.get("/test/public").status_code == 200
        assert v6b.get("/test/public").status_code == 429  # same /64: same budget


def test_routes_without_the_dependency_are_not_limited(client: TestClient) -> None:
    for _ in range(LIMIT + 2):
        assert client.get("/healthz").status_code == 200


def test_baseline_security_headers(client: TestClient) -> None:
    for path in ("/healthz", "/no-such-page", "/v1/apikeys"):
        response = client.get(path)
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert response.headers["referrer-policy"] == "no-referrer", path
        assert response.headers["x-frame-options"] == "DENY", path
        assert response.headers["content-security-policy"] == DEFAULT_CSP, path
        assert "strict-transport-security" not in response.headers, path


def test_errors_are_problem_json_with_headers_even_500s(app: FastAPI) -> None:
    with TestClient(app, raise_server_exceptions=False) as c:
        response = c.get("/test/boom")
        assert response.status_code == 500
        assert response.headers["content-type"].startswith(PROBLEM)
        assert "something internal" not in response.text
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["content-security-policy"] == DEFAULT_CSP
        for method, path, status in (("GET", "/nope", 404), ("PUT", "/healthz", 405), ("GET", "/v1/apikeys", 401)):
            response = c.request(method, path)
            assert response.status_code == status
            assert response.headers["content-type"].startswith(PROBLEM), path


def test_a_route_that_sets_its_own_csp_keeps_it(client: TestClient) -> None:
    response = client.get("/test/own-csp")
    assert response.headers["content-security-policy"] == "default-src 'self'"
    assert response.headers["x-frame-options"] == "DENY"


def test_docs_pages_set_their_own_strict_csp(client: TestClient) -> None:
    """/docs and /redoc serve their assets themselves and set a CSP with scripts from this origin only
    (tests/web/test_api_docs_offline.py renders them in Chromium with the network blocked)."""
    for path in ("/docs", "/redoc"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "script-src 'self';" in response.headers["content-security-policy"], path
        assert response.headers["x-content-type-options"] == "nosniff", path
    assert client.get("/docs/oauth2-redirect").headers["content-security-policy"] == DEFAULT_CSP


def test_hsts_only_over_https(app: FastAPI) -> None:
    with TestClient(app, base_url="https://testserver") as c:
        assert c.get("/healthz").headers["strict-transport-security"].startswith("max-age=")
    with TestClient(app, base_url="http://testserver") as c:
        assert "strict-transport-security" not in c.get("/healthz").headers


def test_authenticated_responses_are_not_cached_but_public_ones_may_be(client: TestClient, session: Session) -> None:
    _, key = create_api_key(session, "k", ["decisions"])
    session.commit()
    assert client.get("/v1/apikeys/self", headers={"X-API-Key": key}).headers["cache-control"] == "no-store"
    assert "cache-control" not in client.get("/healthz").headers
