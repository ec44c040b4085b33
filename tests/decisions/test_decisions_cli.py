"""`fiduciary decisions decide|audience` (the sub-app itself), against both databases."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cli_support import init_data_folder
from fiduciary.cli.decisions import app
from fiduciary.config import get_settings
from fiduciary.consent.service import ConsentChannel, ConsentInput, ConsentService
from fiduciary.people.service import create_person, new_person_id
from fiduciary.runtime import Runtime


@pytest.fixture
def cli_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("FIDUCIARY_DATABASE_URL", database_url)
    monkeypatch.setenv("FIDUCIARY_DATA_DIR", str(tmp_path / "cli-data"))
    init_data_folder()
    yield
    get_settings.cache_clear()


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def people(session: Session, runtime: Runtime) -> tuple[str, str]:
    a = create_person(session, policy=runtime.policy(), is_child=False).id
    b = create_person(session, policy=runtime.policy(), is_child=False).id
    session.commit()
    ConsentService.for_runtime(runtime).record(session, ConsentInput(a, "marketing.email", "grant", ConsentChannel.API))
    session.commit()
    return a, b


def test_decide(cli_env: None, session: Session, runtime: Runtime) -> None:
    a, b = people(session, runtime)
    code, out, _ = run("decide", a, "marketing.email", "-c", "contact.email", "-c", "contact.phone")
    assert code == 0
    assert "allow: category_not_in_purpose, consent_given" in out and "may use: contact.email" in out
    code, out, _ = run("decide", b, "marketing.email", "--json")
    assert code == 1
    assert json.loads(out)["reasons"] == ["no_consent"]


def test_decide_bad_input(cli_env: None, session: Session, runtime: Runtime) -> None:
    code, _, err = run("decide", "per_bad", "account")
    assert code == 2 and "subject_id" in err
    code, _, err = run("decide", new_person_id(), "account")
    assert code == 2 and "No person has this id" in err


def test_audience(cli_env: None, session: Session, runtime: Runtime, tmp_path: Path) -> None:
    a, b = people(session, runtime)
    code, out, err = run("audience", "marketing.email", "--channel", "email")
    assert (code, out) == (0, f"{a}\n")
    assert "1 eligible" in err
    listing = tmp_path / "ids.txt"
    listing.write_text(f"{b}\n{a}\n\n")
    code, out, _ = run("audience", "account", "--subjects", str(listing))
    assert (code, sorted(out.split())) == (0, sorted([a, b]))
    code, out, err = run("audience", "telepathy")
    assert code == 2 and out == "" and "marketing.email" in err
