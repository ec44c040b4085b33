"""`fiduciary vault retention-event` (issue 12): the CLI equivalent of POST /v1/people/{id}/retention-events,
against both databases, with a policy that declares retention events."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cli_support import init_data_folder
from consent_support import new_person
from fiduciary.audit.models import AuditEventIndex
from fiduciary.cli.vault import app
from fiduciary.config import Settings, get_settings
from fiduciary.runtime import Runtime
from fiduciary.vault.retention_events import RetentionEventRow
from retention_support import DISPUTE, write_events_policy


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    return write_events_policy(tmp_path)


@pytest.fixture
def settings(database_url: str, tmp_path: Path, policy_file: Path) -> Settings:
    return Settings(database_url=database_url, data_dir=tmp_path / "data", policy_file=policy_file)


@pytest.fixture
def cli_env(database_url: str, tmp_path: Path, policy_file: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("FIDUCIARY_DATABASE_URL", database_url)
    monkeypatch.setenv("FIDUCIARY_DATA_DIR", str(tmp_path / "cli-data"))
    monkeypatch.setenv("FIDUCIARY_POLICY_FILE", str(policy_file))
    get_settings.cache_clear()
    init_data_folder()
    yield
    get_settings.cache_clear()


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def rows(session: Session) -> int:
    session.expire_all()
    return int(session.scalar(sa.select(sa.func.count()).select_from(RetentionEventRow)) or 0)


def test_records_once_and_audits_as_cli(cli_env: None, session: Session, runtime: Runtime) -> None:
    person = new_person(session, runtime)
    code, out, _ = run("retention-event", person, DISPUTE, "--at", "2026-11-20T10:30:00+05:30")
    assert code == 0 and out.startswith(f"recorded: {DISPUTE} for {person} at 2026-11-20T05:00:00+00:00")
    code, out, _ = run("retention-event", person, DISPUTE, "--at", "2026-11-20T05:00:00Z")
    assert code == 0 and out.startswith("already recorded:")
    assert rows(session) == 1
    actors = session.scalars(sa.select(AuditEventIndex.actor).where(AuditEventIndex.action == "retention.event"))
    assert list(actors) == ["cli"]


def test_bad_input_exits_2_naming_the_argument_and_records_nothing(
    cli_env: None, session: Session, runtime: Runtime
) -> None:
    person = new_person(session, runtime)
    code, _, err = run("retention-event", "per_" + "q" * 26, DISPUTE, "--at", "2026-11-20T05:00:00Z")
    assert code == 2 and "PERSON_ID: no person has this id" in err
    code, _, err = run("retention-event", person, "return_windw_closed", "--at", "2026-11-20T05:00:00Z")
    assert code == 2 and "EVENT: not a retention event the policy declares" in err
    assert "declared events: dispute_closed, warranty_ended" in err and "return_windw" not in err
    code, _, err = run("retention-event", person, DISPUTE, "--at", "2026-11-20T05:00:00")
    assert code == 2 and "--at: needs a time zone" in err
    code, _, err = run("retention-event", person, DISPUTE, "--at", "last tuesday")
    assert code == 2 and "--at: must be an ISO 8601 date-time" in err
    assert rows(session) == 0
