"""`fiduciary audit verify` against both engines: intact trails pass; an attacker with database access who
edits the audit ledger or its index with raw SQL (triggers switched off, as an owner could) is caught, and
the first bad position is named."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from typer.testing import CliRunner

import tamper_support
from cli_support import init_data_folder
from fiduciary.audit.service import Action, AuditEvent, AuditTrail, Outcome
from fiduciary.cli.main import app
from fiduciary.config import Settings, get_settings
from fiduciary.runtime import Runtime

runner = CliRunner()
PERSON = "per_" + "d" * 26
TABLES = ("ledger_events", "ledger_checkpoints", "audit_events")


@pytest.fixture
def cli_settings(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("FIDUCIARY_DATABASE_URL", database_url)
    monkeypatch.setenv("FIDUCIARY_DATA_DIR", str(tmp_path / "cli-data"))
    init_data_folder()
    yield get_settings()
    get_settings.cache_clear()


def attacker(runtime: Runtime) -> AbstractContextManager[Connection]:
    return tamper_support.attacker(runtime, TABLES, triggers_expected=6)


def fill(settings: Settings, count: int = 6) -> Runtime:
    runtime = Runtime.start(settings, migrate=False)
    trail = AuditTrail(runtime)
    with runtime.sessions() as session:
        trail.record_many(
            session,
            [
                AuditEvent(
                    actor="keyAAAAAAAAA",
                    action=Action.FIELD_READ,
                    outcome=Outcome.ALLOWED,
                    person_id=PERSON,
                    purpose="account",
                    categories=["contact.email"],
                )
                for _ in range(count)
            ],
        )
        session.commit()
    return runtime


def verify() -> tuple[int, str]:
    result = runner.invoke(app, ["audit", "verify"])
    return result.exit_code, result.output


def test_an_empty_trail_and_an_intact_one_verify(cli_settings: Settings) -> None:
    code, output = verify()
    assert code == 0, output
    assert "nothing to verify" in output
    runtime = fill(cli_settings)
    runtime.close()
    code, output = verify()
    assert code == 0, output
    assert "audit: ok — 6 events" in output and "index 6 rows agree" in output


def test_an_edited_event_payload_names_its_position(cli_settings: Settings) -> None:
    runtime = fill(cli_settings)
    try:
        with attacker(runtime) as conn:
            conn.execute(
                sa.text(
                    "UPDATE ledger_events SET payload = replace(payload, 'account', 'marketing') "
                    "WHERE stream = 'audit' AND position = 4"
                )
            )
    finally:
        runtime.close()
    code, output = verify()
    assert code == 1, output
    assert "FAILED (ledger) — first bad position 4" in output


def test_a_deleted_event_names_its_position(cli_settings: Settings) -> None:
    runtime = fill(cli_settings)
    try:
        with attacker(runtime) as conn:
            conn.execute(sa.text("DELETE FROM ledger_events WHERE stream = 'audit' AND position = 3"))
    finally:
        runtime.close()
    code, output = verify()
    assert code == 1 and "first bad position 3" in output, output


@pytest.mark.parametrize(
    ("statement", "position", "what"),
    [
        (
            "UPDATE audit_events SET actor = 'someoneelse' WHERE ledger_position = 5",
            5,
            "differs from the ledger in actor",
        ),
        ("UPDATE audit_events SET outcome = 'denied' WHERE ledger_position = 2", 2, "outcome"),
        ("DELETE FROM audit_events WHERE ledger_position = 3", 3, "has no row for ledger position 3"),
        (
            "INSERT INTO audit_events (ledger_position, recorded_at, actor, action, outcome) "
            "VALUES (99, CURRENT_TIMESTAMP, 'x', 'field.read', 'allowed')",
            99,
            "no ledger event",
        ),
    ],
)
def test_index_tampering_is_detected(cli_settings: Settings, statement: str, position: int, what: str) -> None:
    """Hiding an event from GET /v1/audit by editing or deleting its index row is caught by the cross-check."""
    runtime = fill(cli_settings)
    try:
        with attacker(runtime) as conn:
            conn.execute(sa.text(statement))
    finally:
        runtime.close()
    code, output = verify()
    assert code == 1, output
    assert f"FAILED (index) — first bad position {position}" in output and what in output


def test_the_database_refuses_update_and_delete_of_index_rows(cli_settings: Settings) -> None:
    runtime = fill(cli_settings, 1)
    try:
        for statement in (
            "UPDATE audit_events SET actor = 'x' WHERE ledger_position = 1",
            "DELETE FROM audit_events WHERE ledger_position = 1",
        ):
            with pytest.raises(sa.exc.DBAPIError, match="append-only"), runtime.engine.begin() as conn:
                conn.execute(sa.text(statement))
        with runtime.sessions() as session:
            assert session.execute(sa.text("SELECT actor FROM audit_events")).scalar_one() == "keyAAAAAAAAA"
    finally:
        runtime.close()
