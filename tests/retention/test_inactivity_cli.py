"""`fiduciary retention inactivity plan|run` (docs/inactivity.md), on both databases, with a policy that has an
inactivity rule: plan changes nothing, run notifies then erases, counts only (never a person)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cli_support import init_data_folder
from fiduciary.cli.main import app
from fiduciary.config import Settings, get_settings
from fiduciary.runtime import Runtime
from inactivity_support import clock, person_last_seen, write_inactivity_policy

IST = ZoneInfo("Asia/Kolkata")


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    return write_inactivity_policy(tmp_path)


@pytest.fixture
def settings(database_url: str, tmp_path: Path, policy_file: Path) -> Settings:
    return Settings(database_url=database_url, data_dir=tmp_path / "data", policy_file=policy_file)


@pytest.fixture
def cli_env(database_url: str, tmp_path: Path, policy_file: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("FIDUCIARY_DATABASE_URL", database_url)
    monkeypatch.setenv("FIDUCIARY_DATA_DIR", str(tmp_path / "data"))  # the runtime's own: same keys
    monkeypatch.setenv("FIDUCIARY_POLICY_FILE", str(policy_file))
    get_settings.cache_clear()
    init_data_folder()
    yield
    get_settings.cache_clear()


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["retention", "inactivity", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_plan_then_run(cli_env: None, session: Session, runtime: Runtime) -> None:
    person = person_last_seen(session, runtime, datetime(2023, 1, 10, 10, 0, tzinfo=IST))
    code, out, _ = cli("plan", "--now", "2026-01-08T10:00:00+05:30", "--json")
    assert code == 0
    planned = json.loads(out)
    assert (planned["notified"], planned["erased"], planned["rule"]) == (1, 0, "inactive_accounts")
    assert planned["earliest_due"] == "2026-01-10T10:00:00+05:30"
    found = clock(session, person)
    assert found is not None and found.notice_sent_at is None  # the plan changed nothing
    code, out, _ = cli("run", "--now", "2026-01-08T10:00:00+05:30")
    assert code == 0 and "notified 1" in out and person not in out
    code, out, _ = cli("run", "--now", "2026-01-10T10:00:00+05:30")
    assert code == 0 and "erased 1" in out
    assert clock(session, person) is None


def test_a_bad_now_exits_2_naming_the_option(cli_env: None) -> None:
    code, _, err = cli("plan", "--now", "2026-01-08T10:00:00")
    assert code == 2 and "--now: needs a time zone" in err
    code, _, err = cli("run", "--now", "next week")
    assert code == 2 and "--now: must be an ISO 8601 date-time" in err and "next week" not in err
