"""The banner endpoint's answers are readable by the store's page: CORS headers on successes and on every
problem (validation, conflict, rate limit, a body that is not JSON, 405, even a 500), never for another
origin. The last test checks it where it matters, in Chromium: a page on the store's origin reads a 422 body.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from browser_support import chromium_browser, live_app
from consent_support import snapshot
from fiduciary.config import Settings
from fiduciary.consent.service import ConsentService
from fiduciary.runtime import Runtime
from fiduciary.web.app import create_app

STORE = "https://saffronlane.example"  # the demo policy's controller website
EVIL = "https://evil.example"
URL = "/v1/banner/consents"
GOOD = {"actions": [{"purpose": "analytics", "action": "grant"}]}

# (name, request keyword arguments, expected status from an allowed origin)
ERRORS: list[tuple[str, dict[str, Any], int]] = [
    ("schema", {"json": {"actions": [{"purpose": "analytics", "action": "maybe"}]}}, 422),
    ("no_actions", {"json": {"actions": []}}, 422),
    ("not_json", {"content": b"{not json", "headers": {"Content-Type": "application/json"}}, 422),
    ("person_id", {"json": {**GOOD, "visitor_id": "per_" + "a" * 26}}, 422),
    ("unknown_purpose", {"json": {"actions": [{"purpose": "no.such.purpose", "action": "grant"}]}}, 422),
    ("not_consent_based", {"json": {"actions": [{"purpose": "order_fulfilment", "action": "grant"}]}}, 409),
]


def _post(client: TestClient, origin: str | None, **kwargs: Any) -> httpx.Response:
    headers = {**kwargs.pop("headers", {}), **({"Origin": origin} if origin else {})}
    response: httpx.Response = client.post(URL, headers=headers, **kwargs)
    return response


def _vary(response: httpx.Response) -> set[str]:
    return {v.strip().lower() for v in response.headers.get("vary", "").split(",") if v.strip()}


def assert_readable_by(response: httpx.Response, origin: str) -> None:
    assert response.headers.get("access-control-allow-origin") == origin
    assert "origin" in _vary(response)
    exposed = {h.strip().lower() for h in response.headers["access-control-expose-headers"].split(",")}
    assert "retry-after" in exposed


def assert_not_readable(response: httpx.Response) -> None:
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-expose-headers" not in response.headers
    assert "origin" in _vary(response)  # a shared cache must not hand this answer to the store's page


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    return problem


def test_success_is_readable_by_the_store(client: TestClient) -> None:
    answer = _post(client, STORE, json=GOOD)
    assert answer.status_code == 201
    assert_readable_by(answer, STORE)
    assert answer.headers["vary"].lower().count("origin") == 1


@pytest.mark.parametrize(("name", "kwargs", "status"), ERRORS, ids=[e[0] for e in ERRORS])
def test_each_error_is_readable_by_the_store(
    client: TestClient, session: Session, name: str, kwargs: dict[str, Any], status: int
) -> None:
    before = snapshot(session)
    answer = _post(client, STORE, **kwargs)
    problem = assert_problem(answer, status)
    assert_readable_by(answer, STORE)
    assert problem.get("errors") or status == 409, name
    assert snapshot(session) == before


def test_our_own_origin_is_readable_too(client: TestClient, runtime: Runtime) -> None:
    parts = urlsplit(runtime.public_base_url)
    own = f"{parts.scheme}://{parts.netloc}"
    answer = _post(client, own, json={"actions": []})
    assert_problem(answer, 422)
    assert_readable_by(answer, own)


OTHER_ORIGINS = [EVIL, "null", None, "https://saffronlane.example.evil.example", "http://saffronlane.example"]


@pytest.mark.parametrize(
    ("origin", "name", "kwargs", "status"),
    [(OTHER_ORIGINS[i % len(OTHER_ORIGINS)], *error) for i, error in enumerate(ERRORS * 2)],
    ids=[f"{error[0]}-{i}" for i, error in enumerate(ERRORS * 2)],
)
def test_errors_are_not_readable_by_other_origins(
    client: TestClient, session: Session, origin: str | None, name: str, kwargs: dict[str, Any], status: int
) -> None:
    before = snapshot(session)
    answer = _post(client, origin, **kwargs)
    # a body that is not JSON fails before the origin check runs; everything else is refused as 403
    problem = assert_problem(answer, 422 if name == "not_json" else 403)
    if answer.status_code == 403:
        assert problem["code"] == "origin_not_allowed"
    assert_not_readable(answer)
    assert snapshot(session) == before


def test_referer_alone_is_accepted_but_never_echoed(client: TestClient) -> None:
    """Same-origin forms may send only a Referer: the request counts, but CORS follows `Origin` alone."""
    answer = client.post(URL, json=GOOD, headers={"Referer": STORE + "/cart"})
    assert answer.status_code == 201
    assert_not_readable(answer)


def test_method_not_allowed_is_readable(client: TestClient) -> None:
    answer = client.get(URL, headers={"Origin": STORE})
    assert_problem(answer, 405)
    assert_readable_by(answer, STORE)
    assert_not_readable(client.get(URL, headers={"Origin": EVIL}))


def test_preflight(client: TestClient) -> None:
    request = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    allowed = client.options(URL, headers={**request, "Origin": STORE})
    assert allowed.status_code == 204
    assert_readable_by(allowed, STORE)
    assert allowed.headers["access-control-allow-methods"] == "POST"
    refused = client.options(URL, headers={**request, "Origin": EVIL})
    assert_not_readable(refused)
    assert "access-control-allow-methods" not in refused.headers


def test_other_endpoints_get_no_cors(client: TestClient) -> None:
    for answer in (client.get("/v1/policy", headers={"Origin": STORE}), client.post("/v1/consents", json={})):
        assert "access-control-allow-origin" not in answer.headers
        assert "origin" not in _vary(answer)


@pytest.fixture
def strict_client(settings: Settings) -> Iterator[TestClient]:
    """An app allowing two public requests a minute per address."""
    strict = Runtime.start(settings.model_copy(update={"public_rate_limit_per_minute": 2}), migrate=False)
    try:
        with TestClient(create_app(runtime=strict)) as client:
            yield client
    finally:
        strict.close()


def test_rate_limit_is_readable_with_retry_after(strict_client: TestClient, session: Session) -> None:
    for _ in range(2):
        assert _post(strict_client, STORE, json=GOOD).status_code == 201
    before = snapshot(session)
    limited = _post(strict_client, STORE, json=GOOD)
    problem = assert_problem(limited, 429)
    assert problem["code"] == "rate_limited"
    assert_readable_by(limited, STORE)
    assert int(limited.headers["retry-after"]) >= 1
    # the limiter answers before the origin check: another origin is limited too, and learns nothing
    refused = _post(strict_client, EVIL, json=GOOD)
    assert_problem(refused, 429)
    assert_not_readable(refused)
    assert snapshot(session) == before


def test_internal_error_is_readable(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug answers 500 from Starlette's outermost error middleware; the page can still see it failed."""

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(ConsentService, "record_many", broken)
    with TestClient(create_app(runtime=runtime), raise_server_exceptions=False) as client:
        answer = _post(client, STORE, json=GOOD)
        assert_problem(answer, 500)
        assert "simulated" not in answer.text
        assert_readable_by(answer, STORE)
        assert_not_readable(_post(client, EVIL, json=GOOD))


# ------------------------------------------------------------------------------------------------ browser

FETCH = """async ([url, body, type]) => {
  try {
    const r = await fetch(url, {method: 'POST', headers: {'Content-Type': type}, body});
    return {status: r.status, type: r.headers.get('content-type'), retryAfter: r.headers.get('retry-after'),
            body: await r.text()};
  } catch (e) {
    return {error: e.name};  // what a page sees of a response CORS withholds: a TypeError, nothing else
  }
}"""


@pytest.fixture
def banner_server(tmp_path: Path) -> Iterator[str]:
    """The app under uvicorn, allowing three public requests a minute per address."""
    with live_app(tmp_path, public_rate_limit_per_minute=3) as base_url:
        yield base_url + URL


@pytest.mark.browser
def test_store_page_reads_banner_problems_in_chromium(banner_server: str) -> None:
    # The store's page is served by Playwright on its public origin and the service listens on loopback;
    # Chromium's Local Network Access checks would refuse that pairing, which production never has.
    with chromium_browser("--disable-features=LocalNetworkAccessChecks") as browser:
        context = browser.new_context()
        context.route(
            "https://*.example/**",
            lambda route: route.fulfill(status=200, content_type="text/html", body="<!doctype html><title>t"),
        )
        store, evil = context.new_page(), context.new_page()
        store.goto(STORE + "/")
        evil.goto(EVIL + "/")
        context.unroute_all()  # while routes are set Playwright answers CORS preflights itself

        def call(page: Any, body: str, content_type: str = "application/json") -> dict[str, Any]:
            result: dict[str, Any] = page.evaluate(FETCH, [banner_server, body, content_type])
            return result

        # another site reads nothing, whether its request is preflighted (JSON) or simple (text/plain, 403)
        assert call(evil, '{"actions": []}') == {"error": "TypeError"}
        assert call(evil, '{"actions": []}', "text/plain") == {"error": "TypeError"}

        invalid = call(store, '{"actions": []}')
        assert invalid["status"] == 422 and invalid["type"] == "application/problem+json"
        problem = json.loads(invalid["body"])
        assert problem["code"] == "validation_failed" and problem["errors"][0]["field"] == "body.actions"
        not_json = call(store, "{not json")
        assert not_json["status"] == 422 and json.loads(not_json["body"])["errors"]

        answers = [call(store, json.dumps(GOOD)) for _ in range(3)]
        assert answers[0]["status"] == 201 and json.loads(answers[0]["body"])["visitor_id"].startswith("vis_")
        limited = answers[-1]
        assert limited["status"] == 429, answers
        assert json.loads(limited["body"])["code"] == "rate_limited" and int(limited["retryAfter"]) >= 1
