"""`fiduciary cases …` on both databases: the due listing across cases and rights requests, a grievance's
life from the command line, Rich markup in a complaint printed as text, and refusals naming the field."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cli_support import init_data_folder
from fiduciary.cases.workflow import cases_of, get_case
from fiduciary.cli import cases as cases_cli
from fiduciary.cli.main import app
from fiduciary.config import DEMO_POLICY_PATH, Settings, get_settings
from fiduciary.runtime import Runtime
from requests_support import EMAIL, messages, person_with_email

MARKUP = "[bold red]loud[/] <script>alert(1)</script>"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, data_dir=tmp_path / "data", policy_file=DEMO_POLICY_PATH)


@pytest.fixture
def cli_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("FIDUCIARY_DATABASE_URL", database_url)
    monkeypatch.setenv("FIDUCIARY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FIDUCIARY_POLICY_FILE", str(DEMO_POLICY_PATH))
    monkeypatch.setattr(cases_cli, "console", Console(highlight=False, width=250))
    get_settings.cache_clear()
    init_data_folder()
    yield
    get_settings.cache_clear()


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["cases", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert EMAIL not in result.output
    return result.exit_code, result.output


def test_a_grievance_from_the_command_line(cli_env: None, runtime: Runtime, session: Session) -> None:
    person = person_with_email(session, runtime)
    code, out = run("grievance", "file", "--person", person, "--text", MARKUP)
    assert code == 0 and "(acknowledged)" in out, out
    (case,) = cases_of(session, person)
    code, out = run("due", "--within", "40d")
    assert code == 0 and case.id in out and "grievance" in out and "resolve" in out
    assert run("grievance", "assign", case.id, "ops.lead")[0] == 0
    assert run("grievance", "note", case.id, "--text", "Checked the order.")[0] == 0
    assert run("grievance", "reply", case.id, "--text", "We refunded you.")[0] == 0
    code, out = run("grievance", "show", case.id)
    assert code == 0 and MARKUP in out  # printed as text, not interpreted as Rich markup
    code, out = run("grievance", "close", case.id)
    assert code == 2 and "--reason" in out  # a closure needs a reason
    code, out = run("grievance", "close", case.id, "--reason", "because")
    assert code == 1 and "reason:" in out
    code, out = run("grievance", "close", case.id, "--reason", "resolved")
    assert code == 0 and "closed (resolved)" in out
    session.expire_all()
    assert get_case(session, case.id).state == "closed"
    assert [k for k, _ in messages(session, runtime)][-1] == "cases.grievance.closed"
    code, out = run("grievance", "list", "--state", "closed")
    assert code == 0 and case.id in out


def test_refusals_name_the_field(cli_env: None, runtime: Runtime, session: Session) -> None:
    code, out = run("due", "--within", "soon")
    assert code == 1 and "--within:" in out
    code, out = run("grievance", "show", "cs_nope")
    assert code == 1 and "case_id:" in out
    code, out = run("grievance", "file", "--text", "hello")
    assert code == 1 and "person_id:" in out
    code, out = run("due")
    assert code == 0 and "nothing due" in out
