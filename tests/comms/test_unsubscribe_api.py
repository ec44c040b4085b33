"""Unsubscribe links over HTTP: the headers endpoint, the confirmation page and the RFC 8058 one-click POST."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from fiduciary.auth.service import create_api_key
from fiduciary.comms.unsubscribe import make_token
from fiduciary.config import Settings
from fiduciary.consent.models import ConsentState
from fiduciary.consent.service import ConsentChannel, ConsentInput, ConsentService
from fiduciary.ledger.models import LedgerEvent
from fiduciary.people.service import close_person, create_person, new_person_id
from fiduciary.runtime import Runtime
from fiduciary.web.app import create_app
from fiduciary.web.routes.unsubscribe import secret_key

BASE = "https://privacy.saffronlane.example"


@dataclass
class Env:
    client: TestClient
    runtime: Runtime
    headers: dict[str, str]

    def session(self) -> Session:
        return self.runtime.sessions()


def _env(database_url: str, tmp_path: Path, **settings: Any) -> Iterator[Env]:
    rt = Runtime.start(
        Settings(database_url=database_url, data_dir=tmp_path / "data", public_base_url=BASE, **settings),
        migrate=False,
    )
    with rt.sessions() as s:
        _, plaintext = create_api_key(s, "mailer", ["consent:write"])
        s.commit()
    try:
        with TestClient(create_app(runtime=rt), base_url=BASE) as client:
            yield Env(client, rt, {"Authorization": f"Bearer {plaintext}"})
    finally:
        rt.close()


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> Iterator[Env]:
    yield from _env(database_url, tmp_path)


def subscriber(env: Env, purpose: str = "marketing.email") -> str:
    with env.session() as s:
        pid = create_person(s, policy=env.runtime.policy(), is_child=False).id
        s.commit()
        ConsentService.for_runtime(env.runtime).record(s, ConsentInput(pid, purpose, "grant", ConsentChannel.CHECKOUT))
        s.commit()
    return pid


def token_for(env: Env, pid: str, purpose: str = "marketing.email") -> str:
    r = env.client.post(
        "/v1/comms/unsubscribe-headers", json={"subject_id": pid, "purpose": purpose}, headers=env.headers
    )
    assert r.status_code == 200, r.text
    match = re.fullmatch(
        r"<https://privacy\.saffronlane\.example/u/([A-Za-z0-9_-]+)>", r.json()["headers"]["List-Unsubscribe"]
    )
    assert match
    return match.group(1)


def snapshot(env: Env) -> tuple[int, list[tuple[Any, ...]]]:
    with env.session() as s:
        events = s.scalar(sa.select(sa.func.count()).select_from(LedgerEvent)) or 0
        rows = [
            tuple(r)
            for r in s.execute(
                sa.select(
                    ConsentState.subject_id, ConsentState.purpose, ConsentState.status, ConsentState.ledger_position
                ).order_by(ConsentState.subject_id, ConsentState.purpose)
            )
        ]
    return int(events), rows


def state(env: Env, pid: str, purpose: str = "marketing.email") -> tuple[str, str]:
    with env.session() as s:
        row = s.get_one(ConsentState, (pid, purpose))
        return row.status, row.channel


# ------------------------------------------------------------------------------------------ headers


def test_headers_endpoint(env: Env) -> None:
    pid = subscriber(env)
    r = env.client.post(
        "/v1/comms/unsubscribe-headers",
        json={
            "subject_id": pid,
            "purpose": "marketing.email",
            "mailto": "unsubscribe@saffronlane.example",
            "valid_days": 30,
        },
        headers=env.headers,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    token = body["url"].rsplit("/", 1)[1]
    assert body["url"] == f"{BASE}/u/{token}"
    assert body["headers"] == {
        "List-Unsubscribe": (
            f"<{BASE}/u/{token}>, <mailto:unsubscribe@saffronlane.example?subject=unsubscribe%20{token}>"
        ),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    expires = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert timedelta(days=29) < expires - datetime.now(UTC) <= timedelta(days=30)


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"subject_id": "per_bad", "purpose": "marketing.email"}, 422, "body.subject_id"),
        ({"subject_id": "vis_" + "a" * 26, "purpose": "marketing.email"}, 422, "body.subject_id"),
        ({"subject_id": "per_" + "a" * 26, "purpose": "telepathy"}, 422, "body.purpose"),
        ({"subject_id": "per_" + "a" * 26, "purpose": "order_fulfilment"}, 409, "body.purpose"),
        ({"subject_id": "per_" + "a" * 26, "purpose": "marketing.email", "valid_days": 5}, 422, "body.valid_days"),
        (
            {"subject_id": "per_" + "a" * 26, "purpose": "marketing.email", "mailto": "a@b>, <https://evil"},
            422,
            "body.mailto",
        ),
    ],
)
def test_headers_bad_input(env: Env, body: dict[str, Any], status: int, field: str) -> None:
    r = env.client.post("/v1/comms/unsubscribe-headers", json=body, headers=env.headers)
    assert r.status_code == status, r.text
    assert field in [e["field"] for e in r.json().get("errors", [])]


def test_headers_unknown_person_and_auth(env: Env) -> None:
    r = env.client.post(
        "/v1/comms/unsubscribe-headers",
        json={"subject_id": new_person_id(), "purpose": "marketing.email"},
        headers=env.headers,
    )
    assert (r.status_code, r.json()["code"]) == (404, "person_not_found")
    body = {"subject_id": new_person_id(), "purpose": "marketing.email"}
    assert env.client.post("/v1/comms/unsubscribe-headers", json=body).status_code == 401
    with env.session() as s:
        _, plaintext = create_api_key(s, "reader", ["decisions", "consent:read"])
        s.commit()
    r = env.client.post("/v1/comms/unsubscribe-headers", json=body, headers={"Authorization": f"Bearer {plaintext}"})
    assert r.status_code == 403


# --------------------------------------------------------------------------------------------- page


def test_get_shows_a_confirmation_and_changes_nothing(env: Env) -> None:
    pid = subscriber(env)
    token = token_for(env, pid)
    before = snapshot(env)
    r = env.client.get(f"/u/{token}")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "Offers by email" in r.text
    assert f'<form method="post" action="/u/{token}">' in r.text
    assert 'name="List-Unsubscribe" value="One-Click"' in r.text
    assert "<script" not in r.text
    csp = r.headers["content-security-policy"]
    nonce = re.search(r"'nonce-([^']+)'", csp)
    assert nonce and f'nonce="{nonce.group(1)}"' in r.text
    assert "default-src 'none'" in csp and "form-action 'self'" in csp and "frame-ancestors 'none'" in csp
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert snapshot(env) == before
    assert env.client.get(f"/u/{token}").headers["content-security-policy"] != csp  # a fresh nonce each time


def test_one_click_post_withdraws_once(env: Env) -> None:
    pid = subscriber(env)
    token = token_for(env, pid)
    events_before, _ = snapshot(env)
    r = env.client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "unsubscribed" and r.json()["purpose"] == "marketing.email"
    assert state(env, pid) == ("withdrawn", "email_link")
    after_first = snapshot(env)
    assert after_first[0] == events_before + 1
    # a mail client that posts again, or the person clicking twice: harmless, nothing written
    r = env.client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"})
    assert (r.status_code, r.json()["status"]) == (200, "already_unsubscribed")
    assert snapshot(env) == after_first
    page = env.client.get(f"/u/{token}")
    assert "Already unsubscribed" in page.text and "<form" not in page.text
    # the decision follows at once
    with env.session() as s:
        _, plaintext = create_api_key(s, "d", ["decisions"])
        s.commit()
    d = env.client.post(
        "/v1/decisions",
        json={"subject_id": pid, "purpose": "marketing.email"},
        headers={"Authorization": f"Bearer {plaintext}"},
    )
    assert d.json()["reasons"] == ["withdrawn"]


def test_form_post_from_the_page_answers_html(env: Env) -> None:
    pid = subscriber(env, "marketing.sms")
    token = token_for(env, pid, "marketing.sms")
    r = env.client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"}, headers={"Accept": "text/html"})
    assert r.status_code == 200
    assert "You are unsubscribed" in r.text and "Offers by SMS and WhatsApp" in r.text
    assert state(env, pid, "marketing.sms") == ("withdrawn", "email_link")


def test_post_without_a_body_still_unsubscribes(env: Env) -> None:
    pid = subscriber(env)
    token = token_for(env, pid)
    assert env.client.post(f"/u/{token}").json()["status"] == "unsubscribed"


def test_never_granted_is_recorded_once(env: Env) -> None:
    with env.session() as s:
        pid = create_person(s, policy=env.runtime.policy(), is_child=False).id
        s.commit()
    token = token_for(env, pid)
    assert env.client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"}).json()["status"] == "unsubscribed"
    assert state(env, pid)[0] == "withdrawn"
    assert env.client.post(f"/u/{token}").json()["status"] == "already_unsubscribed"


def test_closed_account_has_nothing_to_withdraw(env: Env) -> None:
    pid = subscriber(env)
    token = token_for(env, pid)
    with env.session() as s:
        close_person(s, pid)
        s.commit()
    before = snapshot(env)
    assert env.client.post(f"/u/{token}").json()["status"] == "already_unsubscribed"
    assert snapshot(env) == before


# --------------------------------------------------------------------------------------- bad tokens


def _forged(env: Env, pid: str) -> dict[str, str]:
    good = token_for(env, pid)
    key = secret_key(env.runtime)
    return {
        "tampered": good[:-2] + ("AA" if good[-2:] != "AA" else "BB"),
        "other_secret": make_token(b"x" * 48, pid, "marketing.email", expires_at=datetime.now(UTC) + timedelta(days=9)),
        "expired": make_token(key, pid, "marketing.email", expires_at=datetime.now(UTC) - timedelta(seconds=1)),
        "malformed": "not-a-token",
        "too_long": "A" * 2000,
    }


@pytest.mark.parametrize("kind", ["tampered", "other_secret", "expired", "malformed", "too_long"])
def test_bad_tokens_change_nothing(env: Env, kind: str) -> None:
    pid = subscriber(env)
    token = _forged(env, pid)[kind]
    before = snapshot(env)
    r = env.client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"})
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/problem+json")
    expected = {"expired": "unsubscribe_token_expired"}.get(kind, "")
    assert r.json()["code"].startswith("unsubscribe_token_")
    if expected:
        assert r.json()["code"] == expected
    page = env.client.get(f"/u/{token}")
    assert page.status_code == 400 and page.headers["content-type"].startswith("text/html")
    assert ("expired" in page.text) == (kind == "expired")
    assert "<form" not in page.text
    html = env.client.post(f"/u/{token}", headers={"Accept": "text/html"})
    assert html.status_code == 400 and "<form" not in html.text
    assert snapshot(env) == before
    assert state(env, pid) == ("granted", "checkout")


def test_unknown_list_unsubscribe_value(env: Env) -> None:
    pid = subscriber(env)
    token = token_for(env, pid)
    before = snapshot(env)
    r = env.client.post(f"/u/{token}", data={"List-Unsubscribe": "Two-Clicks"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "body.List-Unsubscribe"
    assert snapshot(env) == before


def test_rate_limited(database_url: str, tmp_path: Path) -> None:
    for limited in _env(database_url, tmp_path, public_rate_limit_per_minute=2):
        codes = [limited.client.get("/u/whatever").status_code for _ in range(3)]
        assert codes == [400, 400, 429]
        assert limited.client.post("/u/whatever").status_code == 429
