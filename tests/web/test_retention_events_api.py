"""POST /v1/people/{person_id}/retention-events (issue 12): a store-declared event reported by the backend.

Runs on SQLite and PostgreSQL (the `database_url` fixture). Bad input, an unknown person or an event the
policy does not declare, is a 422 problem naming the field, never echoing the value, and records nothing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from consent_support import api_headers, new_person
from fiduciary.audit.models import AuditEventIndex
from fiduciary.config import Settings
from fiduciary.ledger.models import LedgerEvent
from fiduciary.runtime import Runtime
from fiduciary.vault.retention_events import RetentionEventRow
from retention_support import DISPUTE, write_events_policy

WHEN = "2026-11-20T10:30:00+05:30"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The test database with a policy that declares retention events (overrides the conftest fixture)."""
    return Settings(database_url=database_url, data_dir=tmp_path / "data", policy_file=write_events_policy(tmp_path))


@pytest.fixture
def headers(session: Session) -> dict[str, str]:
    return api_headers(session, ["people:write"])


def rows(session: Session) -> int:
    session.expire_all()
    return int(session.scalar(sa.select(sa.func.count()).select_from(RetentionEventRow)) or 0)


def audited(session: Session) -> list[str | None]:
    session.expire_all()
    return list(
        session.scalars(sa.select(AuditEventIndex.person_id).where(AuditEventIndex.action == "retention.event"))
    )


def url(person: str) -> str:
    return f"/v1/people/{person}/retention-events"


def test_report_records_once_and_audits(
    client: TestClient, session: Session, runtime: Runtime, headers: dict[str, str]
) -> None:
    person = new_person(session, runtime)
    first = client.post(url(person), json={"event": DISPUTE, "occurred_at": WHEN}, headers=headers)
    assert first.status_code == 201, first.text
    body = first.json()
    assert (body["person_id"], body["event"], body["created"]) == (person, DISPUTE, True)
    assert datetime.fromisoformat(body["occurred_at"]) == datetime(2026, 11, 20, 5, 0, tzinfo=UTC)
    # the same report again (a retried job), even written in another offset: nothing new
    again = client.post(url(person), json={"event": DISPUTE, "occurred_at": "2026-11-20T05:00:00Z"}, headers=headers)
    assert again.status_code == 200 and again.json()["created"] is False and again.json()["id"] == body["id"]
    assert rows(session) == 1
    assert audited(session) == [person]
    # the audit event carries ids and codes only: the event id as target, no instant
    audit_rows = sa.select(LedgerEvent.payload).where(
        LedgerEvent.stream == "audit", LedgerEvent.event_type == "retention.event"
    )
    payload = json.loads(session.scalars(audit_rows).one())
    assert payload["target"] == DISPUTE and payload["person"] == person
    assert "2026" not in json.dumps(payload)
    # another occurrence of the same event (a second dispute) is a second row
    later = client.post(url(person), json={"event": DISPUTE, "occurred_at": "2026-12-01T00:00:00Z"}, headers=headers)
    assert later.status_code == 201 and rows(session) == 2


def test_unknown_person_is_422_naming_the_field_and_records_nothing(
    client: TestClient, session: Session, headers: dict[str, str]
) -> None:
    nobody = "per_" + "q" * 26
    answer = client.post(url(nobody), json={"event": DISPUTE, "occurred_at": WHEN}, headers=headers)
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in answer.json()["errors"]] == ["path.person_id"]
    assert nobody not in answer.text.replace(answer.json().get("instance", ""), "")
    assert rows(session) == 0 and audited(session) == []


def test_unknown_event_is_422_naming_the_field_and_records_nothing(
    client: TestClient, session: Session, runtime: Runtime, headers: dict[str, str]
) -> None:
    person = new_person(session, runtime)
    answer = client.post(url(person), json={"event": "return_windw_closed", "occurred_at": WHEN}, headers=headers)
    assert answer.status_code == 422
    errors = answer.json()["errors"]
    assert [e["field"] for e in errors] == ["body.event"]
    # and the built-in clock the backend reports (issue 15): transaction_records counts from order_completed
    assert errors[0]["hint"] == "declared events: dispute_closed, warranty_ended, order_completed"
    assert "return_windw" not in answer.text  # the value sent is not echoed
    assert rows(session) == 0 and audited(session) == []


def test_both_unknown_name_both_fields(client: TestClient, session: Session, headers: dict[str, str]) -> None:
    answer = client.post(url("per_" + "q" * 26), json={"event": "nope", "occurred_at": WHEN}, headers=headers)
    assert answer.status_code == 422
    assert [e["field"] for e in answer.json()["errors"]] == ["path.person_id", "body.event"]
    assert rows(session) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"event": DISPUTE, "occurred_at": "2026-11-20T10:30:00"}, "body.occurred_at"),  # no time zone
        ({"event": DISPUTE, "occurred_at": "yesterday"}, "body.occurred_at"),
        ({"event": "Dispute Closed", "occurred_at": WHEN}, "body.event"),  # not an id
        ({"event": DISPUTE}, "body.occurred_at"),
        ({"event": DISPUTE, "occurred_at": WHEN, "note": "x"}, "body.note"),
    ],
)
def test_malformed_reports_are_422(
    client: TestClient,
    session: Session,
    runtime: Runtime,
    headers: dict[str, str],
    body: dict[str, str],
    field: str,
) -> None:
    person = new_person(session, runtime)
    answer = client.post(url(person), json=body, headers=headers)
    assert answer.status_code == 422
    assert field in [e["field"] for e in answer.json()["errors"]]
    assert rows(session) == 0


def test_an_event_in_the_future_has_not_happened(
    client: TestClient, session: Session, runtime: Runtime, headers: dict[str, str]
) -> None:
    person = new_person(session, runtime)
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    answer = client.post(url(person), json={"event": DISPUTE, "occurred_at": tomorrow}, headers=headers)
    assert answer.status_code == 422
    assert [e["field"] for e in answer.json()["errors"]] == ["body.occurred_at"]
    assert rows(session) == 0


def test_reporting_needs_people_write(client: TestClient, session: Session, runtime: Runtime) -> None:
    person = new_person(session, runtime)
    reader = api_headers(session, ["people:read"])
    answer = client.post(url(person), json={"event": DISPUTE, "occurred_at": WHEN}, headers=reader)
    assert answer.status_code == 403 and "people:write" in answer.json()["detail"]
    assert rows(session) == 0
