"""Decisions, audiences and API-key operations leave audit events (API and CLI), with no value in them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from audit_support import all_audit_text, audit_rows
from cli_support import init_data_folder
from fiduciary.auth.service import create_api_key
from fiduciary.cli.main import app
from fiduciary.config import Settings, get_settings
from fiduciary.runtime import Runtime
from leak_guard import without_opaque_instance

runner = CliRunner()


@pytest.fixture
def backend(session: Session) -> tuple[str, dict[str, str]]:
    row, plaintext = create_api_key(session, "checkout", ["decisions", "people:write", "people:read"])
    session.commit()
    return row.id, {"Authorization": f"Bearer {plaintext}"}


@pytest.fixture
def person(client: TestClient, backend: tuple[str, dict[str, str]]) -> str:
    person_id: str = client.post("/v1/people", json={"is_child": False}, headers=backend[1]).json()["id"]
    return person_id


def test_every_decision_is_audited(
    client: TestClient, session: Session, backend: tuple[str, dict[str, str]], person: str
) -> None:
    key_id, headers = backend
    single = client.post(
        "/v1/decisions",
        json={"subject_id": person, "purpose": "marketing.email", "categories": ["contact.email"], "actor": "stf_7"},
        headers={**headers, "X-Request-ID": "dec-1"},
    )
    assert single.status_code == 200 and single.json()["allow"] is False
    batch = client.post(
        "/v1/decisions",
        json={
            "requests": [
                {"subject_id": person, "purpose": "order_fulfilment"},
                {"subject_id": person, "purpose": "analytics", "categories": ["usage.browsing"]},
                {"subject_id": "per_" + "x" * 26, "purpose": "account"},
            ]
        },
        headers=headers,
    )
    assert batch.status_code == 200
    events = [e for e in audit_rows(session) if e["action"] == "decision"]
    assert [(e["actor"], e["person_id"], e["purpose"], e["outcome"]) for e in events] == [
        (key_id, person, "marketing.email", "denied"),
        (key_id, person, "order_fulfilment", "allowed"),
        (key_id, person, "analytics", "denied"),
        (key_id, "per_" + "x" * 26, "account", "denied"),
    ]
    first = events[0]["payload"]
    assert '"on_behalf_of":"stf_7"' in first and '"request":"dec-1"' in first and '"no_consent"' in first
    assert '"categories":["contact.email"]' in first
    assert '"unknown_subject"' in events[3]["payload"]


def test_an_unknown_person_is_a_404_that_is_still_recorded(
    client: TestClient, session: Session, backend: tuple[str, dict[str, str]]
) -> None:
    ghost = "per_" + "g" * 26
    response = client.post("/v1/decisions", json={"subject_id": ghost, "purpose": "account"}, headers=backend[1])
    assert response.status_code == 404
    event = audit_rows(session)[-1]
    assert (event["action"], event["person_id"], event["outcome"]) == ("decision", ghost, "denied")


def test_a_value_pasted_into_a_decision_is_never_recorded(
    client: TestClient, session: Session, backend: tuple[str, dict[str, str]], person: str
) -> None:
    response = client.post(
        "/v1/decisions",
        json={"subject_id": person, "purpose": "send to anil@example.in", "categories": ["+91 98450 12345"]},
        headers=backend[1],
    )
    # Not the shape of a purpose or category id (the policy's id pattern): refused before anything is decided.
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["body.purpose", "body.categories.0"]
    scanned = str(without_opaque_instance(response.json()))
    assert "anil" not in scanned and "98450" not in scanned
    text = all_audit_text(session)
    assert "anil" not in text and "98450" not in text


def test_audiences_are_audited_before_streaming(
    client: TestClient, session: Session, backend: tuple[str, dict[str, str]], person: str
) -> None:
    response = client.post(
        "/v1/audiences", json={"purpose": "order_fulfilment", "subject_ids": [person]}, headers=backend[1]
    )
    assert response.status_code == 200 and person in response.text
    event = audit_rows(session)[-1]
    assert (event["action"], event["purpose"], event["outcome"]) == ("audience", "order_fulfilment", "allowed")
    assert '"count":1' in event["payload"]
    bad = client.post("/v1/audiences", json={"purpose": "not.declared"}, headers=backend[1])
    assert bad.status_code == 422
    assert audit_rows(session)[-1]["ledger_position"] == event["ledger_position"]  # refused before any use


@pytest.fixture
def cli_settings(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("FIDUCIARY_DATABASE_URL", database_url)
    monkeypatch.setenv("FIDUCIARY_DATA_DIR", str(tmp_path / "cli-data"))
    init_data_folder()
    yield get_settings()
    get_settings.cache_clear()


def test_key_operations_at_the_command_line_are_audited(cli_settings: Settings) -> None:
    created = runner.invoke(app, ["apikey", "create", "--name", "Priya's laptop", "--scopes", "decisions"])
    assert created.exit_code == 0, created.output
    key_id = created.stdout.strip().split("_")[1]
    revoked = runner.invoke(app, ["apikey", "revoke", key_id])
    assert revoked.exit_code == 0, revoked.output
    runtime = Runtime.start(cli_settings, migrate=False)
    try:
        with runtime.sessions() as session:
            events = audit_rows(session)
            assert [(e["actor"], e["action"]) for e in events] == [("cli", "apikey.create"), ("cli", "apikey.revoke")]
            assert all(f'"target":"{key_id}"' in e["payload"] for e in events)
            assert "Priya" not in all_audit_text(session)
    finally:
        runtime.close()
    verified = runner.invoke(app, ["audit", "verify"])
    assert verified.exit_code == 0 and "audit: ok — 2 events" in verified.output
