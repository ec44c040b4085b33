"""The last-contact clock (DPDP s.8(8) and its explanation): every contact restarts it, through the hooks
(sign-in, retention event, rights request, consent change) and through `POST /v1/people/{id}/contacts`;
`PUT /v1/people/{id}/balances` records what an inactivity erasure keeps. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from consent_support import api_headers
from fiduciary.audit.reads import AuditFilter, list_events
from fiduciary.config import Settings
from fiduciary.identity.sessions import open_session
from fiduciary.retention.inactivity_clock import touch_many
from fiduciary.retention.inactivity_models import BALANCES, CLOCKS
from fiduciary.retention.inactivity_sweep import run
from fiduciary.rights import request_flows
from fiduciary.rights.flows import erase_person
from fiduciary.rights.requests import MadeBy, NewRequest
from fiduciary.runtime import Runtime
from fiduciary.storage.base import utcnow
from fiduciary.vault.retention_events import record_retention_event
from inactivity_support import clock, person_last_seen, write_inactivity_policy
from retention_support import DISPUTE, events_policy_text

OLD = datetime(2020, 1, 1, tzinfo=UTC)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    policy = write_inactivity_policy(tmp_path, base=events_policy_text())  # declares retention events too
    return Settings(database_url=database_url, data_dir=tmp_path / "data", policy_file=policy)


@pytest.fixture
def headers(session: Session) -> dict[str, str]:
    return api_headers(session, ["people:write", "consent:write"])


def last_contact(session: Session, person_id: str) -> datetime:
    found = clock(session, person_id)
    assert found is not None
    return found.last_contact_at


def recent(at: datetime) -> bool:
    return abs(at - utcnow()) < timedelta(minutes=1)


def test_a_sign_in_restarts_the_clock(runtime: Runtime, session: Session) -> None:
    person = person_last_seen(session, runtime, OLD)
    open_session(runtime, session, person_id=person, verified_by="email_otp")
    session.commit()
    assert recent(last_contact(session, person))


def test_a_rights_request_restarts_the_clock_in_its_language(runtime: Runtime, session: Session) -> None:
    person = person_last_seen(session, runtime, OLD)
    new = NewRequest(kind="access", person_id=person, made_by=MadeBy.STORE, channel="email", language="hi")
    request_flows.submit(runtime, session, new, actor="key_backend")
    session.commit()
    assert recent(last_contact(session, person))
    row = session.execute(sa.select(CLOCKS.c.language).where(CLOCKS.c.person_id == person)).one()
    assert row.language == "hi"


def test_a_consent_change_restarts_the_clock(
    client: TestClient, runtime: Runtime, session: Session, headers: dict[str, str]
) -> None:
    person = person_last_seen(session, runtime, OLD)
    body = {
        "subject_id": person,
        "channel": "checkout",
        "actions": [{"purpose": "marketing.email", "action": "grant"}],
    }
    assert client.post("/v1/consents", json=body, headers=headers).status_code in (200, 201)
    assert recent(last_contact(session, person))


def test_a_retention_event_restarts_the_clock_at_its_instant(runtime: Runtime, session: Session) -> None:
    person = person_last_seen(session, runtime, OLD)
    when = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    record_retention_event(session, runtime.policy(), person, DISPUTE, when)
    session.commit()
    assert last_contact(session, person) == when


def test_reported_contact_restarts_the_clock_and_cancels_the_notice(
    client: TestClient, runtime: Runtime, session: Session, headers: dict[str, str]
) -> None:
    last = datetime(2023, 1, 10, 4, 30, tzinfo=UTC)
    person = person_last_seen(session, runtime, last)
    assert run(runtime, now=datetime(2026, 1, 8, 4, 30, tzinfo=UTC)).notified == 1
    when = (utcnow() - timedelta(hours=1)).replace(microsecond=0)
    body = {"occurred_at": when.isoformat(), "channel": "phone", "language": "hi"}
    answer = client.post(f"/v1/people/{person}/contacts", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["person_id"] == person
    assert datetime.fromisoformat(answer.json()["last_contact_at"]) == when
    found = clock(session, person)
    assert found is not None and found.notice_sent_at is None and found.last_contact_at == when
    [event] = list_events(session, AuditFilter(action="person.contact")).events
    assert (event.person_id, event.reasons) == (person, ("phone",))


def test_an_older_reported_contact_keeps_the_later_clock(
    client: TestClient, runtime: Runtime, session: Session, headers: dict[str, str]
) -> None:
    now = utcnow().replace(microsecond=0)
    person = person_last_seen(session, runtime, now)
    body = {"occurred_at": (now - timedelta(days=3)).isoformat()}
    answer = client.post(f"/v1/people/{person}/contacts", json=body, headers=headers)
    assert answer.status_code == 200 and datetime.fromisoformat(answer.json()["last_contact_at"]) == now


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"occurred_at": "2999-01-01T00:00:00Z"}, "body.occurred_at"),
        ({"occurred_at": "2026-01-01T00:00:00"}, "body.occurred_at"),
        ({"occurred_at": "2026-01-01T00:00:00Z", "language": "Hindi!"}, "body.language"),
        ({"occurred_at": "2026-01-01T00:00:00Z", "channel": "telepathy"}, "body.channel"),
    ],
)
def test_bad_contacts_are_refused_naming_the_field(
    client: TestClient, runtime: Runtime, session: Session, headers: dict[str, str], body: dict[str, str], field: str
) -> None:
    person = person_last_seen(session, runtime, OLD)
    answer = client.post(f"/v1/people/{person}/contacts", json=body, headers=headers)
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert field in answer.text and "2999" not in answer.text and "telepathy" not in answer.text
    assert last_contact(session, person) == OLD


def test_contacts_of_unknown_or_erased_people_are_refused(
    client: TestClient, runtime: Runtime, session: Session, headers: dict[str, str]
) -> None:
    body = {"occurred_at": "2026-01-01T00:00:00Z"}
    assert client.post(f"/v1/people/per_{'a' * 26}/contacts", json=body, headers=headers).status_code == 404
    person = person_last_seen(session, runtime, OLD)
    erase_person(runtime, session, actor="staff_1", person_id=person)
    session.commit()
    answer = client.post(f"/v1/people/{person}/contacts", json=body, headers=headers)
    assert answer.status_code == 409
    assert clock(session, person) is None
    balance = {"instrument": "wallet", "currency": "INR", "amount_minor": 5, "reported_at": "2026-01-01T00:00:00Z"}
    assert client.put(f"/v1/people/{person}/balances", json=balance, headers=headers).status_code == 409


def test_a_balance_is_set_and_replaced(
    client: TestClient, runtime: Runtime, session: Session, headers: dict[str, str]
) -> None:
    person = person_last_seen(session, runtime, OLD)
    url = f"/v1/people/{person}/balances"
    first = {
        "instrument": "gift_card.GC2026",
        "currency": "INR",
        "amount_minor": 50_000,
        "reported_at": "2026-01-01T00:00:00Z",
    }
    assert client.put(url, json=first, headers=headers).status_code == 200
    second = {**first, "amount_minor": 12_345, "reported_at": "2026-02-01T00:00:00Z"}
    answer = client.put(url, json=second, headers=headers)
    assert answer.status_code == 200 and answer.json()["amount_minor"] == 12_345
    session.expire_all()
    rows = session.execute(sa.select(BALANCES.c.instrument, BALANCES.c.amount_minor)).all()
    assert [tuple(r) for r in rows] == [("gift_card.GC2026", 12_345)]
    event = list_events(session, AuditFilter(action="balance.report")).events[-1]
    assert event.target == "gift_card" and "12345" not in repr(event) and "GC2026" not in repr(event)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"currency": "inr"}, "body.currency"),
        ({"amount_minor": -1}, "body.amount_minor"),
        ({"amount_minor": 1.5}, "body.amount_minor"),
        ({"instrument": "Wallet"}, "body.instrument"),
        ({"reported_at": "2999-01-01T00:00:00Z"}, "body.reported_at"),
    ],
)
def test_bad_balances_are_refused_naming_the_field(
    client: TestClient,
    runtime: Runtime,
    session: Session,
    headers: dict[str, str],
    change: dict[str, object],
    field: str,
) -> None:
    person = person_last_seen(session, runtime, OLD)
    body = {
        "instrument": "wallet",
        "currency": "INR",
        "amount_minor": 100,
        "reported_at": "2026-01-01T00:00:00Z",
        **change,
    }
    answer = client.put(f"/v1/people/{person}/balances", json=body, headers=headers)
    assert answer.status_code == 422 and field in answer.text
    assert session.scalar(sa.select(sa.func.count()).select_from(BALANCES)) == 0


def test_a_consent_batch_moves_each_clock_once(
    client: TestClient, runtime: Runtime, session: Session, headers: dict[str, str]
) -> None:
    people = [person_last_seen(session, runtime, OLD, email=f"b{i}@example.com") for i in range(3)]
    items = [
        {"subject_id": person, "channel": "checkout", "actions": [{"purpose": purpose, "action": "grant"}]}
        for person in people
        for purpose in ("marketing.email", "analytics")
    ]
    answer = client.post("/v1/consents/batch", json={"items": items}, headers=headers)
    assert answer.status_code in (200, 201), answer.text
    assert all(recent(last_contact(session, person)) for person in people)


def test_touch_many_keeps_the_latest_contact_of_each_person(runtime: Runtime, session: Session) -> None:
    person = person_last_seen(session, runtime, OLD)
    later, earlier = OLD + timedelta(days=2), OLD + timedelta(days=1)
    touch_many(session, [(person, later, "hi"), (person, earlier, "en")])
    session.commit()
    assert last_contact(session, person) == later
