"""The /v1 auth dependency and the API-key routes, over HTTP, on both databases."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from fiduciary.auth.models import ApiKey
from fiduciary.auth.service import create_api_key, revoke_api_key
from fiduciary.runtime import Runtime
from fiduciary.web.app import create_app
from fiduciary.web.security import AUTH_LIMITER_STATE, AUTH_MALFORMED_PER_ADDRESS_PER_MINUTE, AuthFailureGuard

PROBLEM = "application/problem+json"


def _key(session: Session, scopes: list[str], name: str = "test") -> tuple[str, str]:
    row, plaintext = create_api_key(session, name, scopes)
    session.commit()
    return row.id, plaintext


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _rows(session: Session) -> list[tuple[object, ...]]:
    session.expire_all()
    return [tuple(r) for r in session.execute(sa.select(ApiKey.id, ApiKey.name, ApiKey.revoked_at).order_by(ApiKey.id))]


def _assert_401(response: object) -> dict[str, object]:
    from httpx import Response

    assert isinstance(response, Response)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.headers["www-authenticate"] == "Bearer"
    body: dict[str, object] = response.json()
    # The instance is the request's own id (it differs per request), never the path.
    assert body.pop("instance") == "urn:fiduciary:request:" + response.headers["x-request-id"]
    return body


def test_self_with_bearer_and_with_x_api_key(client: TestClient, session: Session) -> None:
    key_id, key = _key(session, ["decisions", "consent:write"], name="checkout")
    for headers in (_bearer(key), {"X-API-Key": key}, {"Authorization": f"bearer {key}"}):
        response = client.get("/v1/apikeys/self", headers=headers)
        assert response.status_code == 200, response.text
        assert response.json() == {"id": key_id, "name": "checkout", "scopes": ["consent:write", "decisions"]}
        assert response.headers["cache-control"] == "no-store"
    session.expire_all()
    assert session.get(ApiKey, key_id).last_used_at is not None  # type: ignore[union-attr]


def test_missing_malformed_unknown_wrong_and_revoked_keys_get_the_same_401(
    client: TestClient, session: Session
) -> None:
    key_id, key = _key(session, ["admin"])
    revoked_id, revoked = _key(session, ["admin"])
    revoke_api_key(session, revoked_id)
    session.commit()
    unknown = "fid_" + "Q" * 12 + key[len("fid_") + 12 :]
    wrong = key[:-1] + ("A" if key[-1] != "A" else "B")
    attempts: list[dict[str, str]] = [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": f"Basic {key}"},
        _bearer("fid_short"),
        {"X-API-Key": "garbage"},
        _bearer(unknown),
        _bearer(wrong),
        _bearer(revoked),
    ]
    bodies: list[dict[str, object]] = []
    for headers in attempts:
        # A fresh client address per attempt keeps the brute-force limiter out of this test.
        with TestClient(client.app, client=(f"192.0.2.{len(bodies) + 1}", 1000)) as c:
            bodies.append(_assert_401(c.get("/v1/apikeys", headers=headers)))
    assert all(b == bodies[0] for b in bodies), bodies
    assert bodies[0]["detail"] == "A valid API key is required."
    assert bodies[0]["code"] == "unauthorized"
    assert key_id not in str(bodies) and revoked_id not in str(bodies)


def test_key_lacking_the_scope_gets_403_naming_it(client: TestClient, session: Session) -> None:
    _, key = _key(session, ["decisions"])
    for method, path in (("GET", "/v1/apikeys"), ("POST", "/v1/apikeys"), ("DELETE", "/v1/apikeys/AAAAAAAAAAAA")):
        body = {"name": "x", "scopes": ["decisions"]} if method == "POST" else None
        response = client.request(method, path, headers=_bearer(key), json=body)
        assert response.status_code == 403, (method, response.text)
        assert response.headers["content-type"].startswith(PROBLEM)
        assert "apikeys:manage" in response.json()["detail"]
    assert len(_rows(session)) == 1


def test_admin_implies_every_scope(client: TestClient, session: Session) -> None:
    _, key = _key(session, ["admin"])
    assert client.get("/v1/apikeys", headers=_bearer(key)).status_code == 200
    created = client.post("/v1/apikeys", headers=_bearer(key), json={"name": "x", "scopes": ["people:read"]})
    assert created.status_code == 201


def test_create_list_and_revoke_through_the_api(client: TestClient, session: Session) -> None:
    manager_id, manager = _key(session, ["apikeys:manage", "decisions"], name="ops")
    response = client.post(
        "/v1/apikeys", headers=_bearer(manager), json={"name": "checkout", "scopes": ["decisions", "decisions"]}
    )
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    created = response.json()
    new_key = created["key"]
    assert new_key.startswith(f"fid_{created['id']}_")
    assert created["scopes"] == ["decisions"] and created["revoked_at"] is None

    me = client.get("/v1/apikeys/self", headers=_bearer(new_key))
    assert me.json() == {"id": created["id"], "name": "checkout", "scopes": ["decisions"]}

    listing = client.get("/v1/apikeys", headers=_bearer(manager))
    assert listing.status_code == 200
    assert [k["id"] for k in listing.json()] == [manager_id, created["id"]]
    secret = new_key[len("fid_") + 13 :]
    assert secret not in listing.text and "secret_hash" not in listing.text and '"key"' not in listing.text

    assert client.delete(f"/v1/apikeys/{created['id']}", headers=_bearer(manager)).status_code == 204
    first_revoked = client.get("/v1/apikeys", headers=_bearer(manager)).json()[1]["revoked_at"]
    assert first_revoked is not None
    again = client.delete(f"/v1/apikeys/{created['id']}", headers=_bearer(manager))
    assert again.status_code == 204  # idempotent
    assert client.get("/v1/apikeys", headers=_bearer(manager)).json()[1]["revoked_at"] == first_revoked
    _assert_401(client.get("/v1/apikeys/self", headers=_bearer(new_key)))


def test_revoking_an_unknown_id_is_404_problem_and_changes_nothing(client: TestClient, session: Session) -> None:
    _, manager = _key(session, ["apikeys:manage"])
    before = _rows(session)
    response = client.delete("/v1/apikeys/ZZZZZZZZZZZZ", headers=_bearer(manager))
    assert response.status_code == 404
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["code"] == "apikey_not_found"
    for key_id in ("nope", "a" * 200):  # not the shape of a key id (12 letters and digits): refused as such
        response = client.delete(f"/v1/apikeys/{key_id}", headers=_bearer(manager))
        assert response.status_code == 422
        assert [e["field"] for e in response.json()["errors"]] == ["path.key_id"]
    assert _rows(session) == before


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "x", "scopes": ["decisions", "bogus"]}, "body.scopes[1]"),
        ({"name": "x", "scopes": []}, "body.scopes"),
        ({"name": "x"}, "body.scopes"),
        ({"scopes": ["decisions"]}, "body.name"),
        ({"name": "", "scopes": ["decisions"]}, "body.name"),
        ({"name": "   ", "scopes": ["decisions"]}, "body.name"),
        ({"name": "x" * 101, "scopes": ["decisions"]}, "body.name"),
        ({"name": "a\x1bb", "scopes": ["decisions"]}, "body.name"),
        ({"name": "x", "scopes": "decisions"}, "body.scopes"),
        ({"name": "x", "scopes": ["decisions"], "secret_hash": "00"}, "body.secret_hash"),
    ],
)
def test_bad_create_requests_name_the_field_and_store_nothing(
    client: TestClient, session: Session, payload: dict[str, object], field: str
) -> None:
    _, manager = _key(session, ["admin"])
    before = _rows(session)
    response = client.post("/v1/apikeys", headers=_bearer(manager), json=payload)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert field in [e["field"] for e in body["errors"]]
    assert _rows(session) == before


def test_unknown_scope_error_lists_the_valid_scopes(client: TestClient, session: Session) -> None:
    _, manager = _key(session, ["admin"])
    response = client.post("/v1/apikeys", headers=_bearer(manager), json={"name": "x", "scopes": ["bogus"]})
    assert response.status_code == 422
    assert "consent:write" in response.json()["detail"] and "apikeys:manage" in response.json()["detail"]
    assert "bogus" not in response.text  # submitted values are never echoed


def test_a_managing_key_cannot_grant_or_revoke_more_than_it_holds(client: TestClient, session: Session) -> None:
    _, manager = _key(session, ["apikeys:manage", "decisions"])
    admin_id, _ = _key(session, ["admin"])
    before = _rows(session)
    for scopes in (["admin"], ["decisions", "people:read"]):
        response = client.post("/v1/apikeys", headers=_bearer(manager), json={"name": "x", "scopes": scopes})
        assert response.status_code == 403
        assert response.json()["code"] == "missing_scope"
    response = client.delete(f"/v1/apikeys/{admin_id}", headers=_bearer(manager))
    assert response.status_code == 403
    assert _rows(session) == before
    ok = client.post("/v1/apikeys", headers=_bearer(manager), json={"name": "x", "scopes": ["decisions"]})
    assert ok.status_code == 201


@pytest.fixture
def small_auth_limit_app(runtime: Runtime) -> Iterator[FastAPI]:
    app = create_app(runtime=runtime)
    setattr(
        app.state,
        AUTH_LIMITER_STATE,
        AuthFailureGuard(per_key_address=3, per_key=100, per_address=100, clock=lambda: 1000.0),
    )
    yield app


def test_failed_authentications_are_rate_limited_per_key_id_and_client_address(
    small_auth_limit_app: FastAPI, session: Session
) -> None:
    _, key = _key(session, ["decisions"])
    wrong = key[:-1] + ("A" if key[-1] != "A" else "B")
    with TestClient(small_auth_limit_app, client=("203.0.113.7", 1)) as attacker:
        for _ in range(3):
            _assert_401(attacker.get("/v1/apikeys/self", headers=_bearer(wrong)))
        blocked = attacker.get("/v1/apikeys/self", headers=_bearer(wrong))
        assert blocked.status_code == 429
        assert blocked.headers["content-type"].startswith(PROBLEM)
        assert int(blocked.headers["retry-after"]) >= 1
        assert blocked.json()["code"] == "rate_limited"
        # While blocked, this key id from this address is not checked at all, so guessing stops being possible.
        assert attacker.get("/v1/apikeys/self", headers=_bearer(key)).status_code == 429
    with TestClient(small_auth_limit_app, client=("203.0.113.8", 1)) as other:
        assert other.get("/v1/apikeys/self", headers=_bearer(key)).status_code == 200
        for _ in range(5):  # successes never count
            assert other.get("/v1/apikeys/self", headers=_bearer(key)).status_code == 200


def test_default_brute_force_budget_is_applied(client: TestClient) -> None:
    # The default budgets on a frozen clock, so a slow run cannot refill a token between attempts.
    setattr(client.app.state, AUTH_LIMITER_STATE, AuthFailureGuard(clock=lambda: 1000.0))  # type: ignore[attr-defined]
    budget = AUTH_MALFORMED_PER_ADDRESS_PER_MINUTE  # no key at all: charged to the address's malformed budget
    statuses = [client.get("/v1/apikeys/self").status_code for _ in range(budget + 1)]
    assert statuses == [401] * budget + [429]


def test_openapi_documents_both_ways_to_send_the_key(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["ApiKeyBearer"]["scheme"] == "bearer"
    assert schemes["ApiKeyHeader"]["name"] == "X-API-Key"
    assert {"ApiKeyBearer": ["apikeys:manage"]} in spec["paths"]["/v1/apikeys"]["get"]["security"]
    assert {"ApiKeyHeader": ["apikeys:manage"]} in spec["paths"]["/v1/apikeys"]["get"]["security"]
