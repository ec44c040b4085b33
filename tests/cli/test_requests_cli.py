"""`fiduciary requests ...` on both databases: the listing with its deadline colours, one request in full,
each staff step through the same flows the API calls, the all-or-none bulk close, the sweep, and refusals
printed as one clear message naming the field (exit 1), never a personal value."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cli_support import init_data_folder
from fiduciary.cli import requests as requests_cli
from fiduciary.cli.main import app
from fiduciary.config import Settings, get_settings
from fiduciary.rights import request_flows as flows
from fiduciary.rights.requests import MadeBy, NewRequest, get_request
from fiduciary.rights.states import State
from fiduciary.runtime import Runtime
from fiduciary.storage.base import utcnow
from requests_support import EMAIL, person_with_email, policy_with_rights


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    return policy_with_rights(
        tmp_path,
        {
            "erasure": {
                "deadline": {"respond_within": "30d", "extendable_by": "30d"},
                "staff_approval": True,
                "manual_steps": [{"system": "Order database", "action": "Delete the customer"}],
            }
        },
    )


@pytest.fixture
def settings(database_url: str, tmp_path: Path, policy_file: Path) -> Settings:
    return Settings(database_url=database_url, data_dir=tmp_path / "data", policy_file=policy_file)


@pytest.fixture
def cli_env(database_url: str, tmp_path: Path, policy_file: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The CLI on the test's database, data folder (the vault's keys) and policy; a wide console."""
    monkeypatch.setenv("FIDUCIARY_DATABASE_URL", database_url)
    monkeypatch.setenv("FIDUCIARY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FIDUCIARY_POLICY_FILE", str(policy_file))
    monkeypatch.setattr(requests_cli, "console", Console(highlight=False, width=250))
    get_settings.cache_clear()
    init_data_folder()
    yield
    get_settings.cache_clear()


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["requests", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert EMAIL not in result.output
    return result.exit_code, result.output


def submit(runtime: Runtime, session: Session, days_ago: int = 0, **kw: object) -> str:
    """An erasure received `days_ago`, by a new person, vouched for by the store: it waits for approval."""
    person = person_with_email(session, runtime, kw.pop("email", EMAIL))  # type: ignore[arg-type]
    new = NewRequest(
        **{  # type: ignore[arg-type]
            "kind": "erasure",
            "person_id": person,
            "made_by": MadeBy.STORE,
            "channel": "email",
            "verified_by": "signed_in_session",
            **kw,
        }
    )
    row = flows.submit(runtime, session, new, actor="key_backend", now=utcnow() - timedelta(days=days_ago))
    session.commit()
    return row.id


def state(session: Session, request_id: str) -> str:
    session.expire_all()
    return get_request(session, request_id).state


def test_the_listing_colours_deadlines_and_pages(
    cli_env: None, runtime: Runtime, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    late = submit(runtime, session, 40, email="late@example.org")
    soon = submit(runtime, session, 29, email="soon@example.org")
    fresh = submit(runtime, session, 0, email="fresh@example.org")
    code, out = run("list")
    assert code == 0
    lines = [line for line in out.splitlines() if "rr_" in line]
    assert [line.split()[1] for line in lines] == [late, soon, fresh]  # soonest deadline first
    assert "overdue" in lines[0] and "due_soon" in lines[1] and "on_track" in lines[2]
    colour = Console(highlight=False, width=250, force_terminal=True, color_system="standard")
    monkeypatch.setattr(requests_cli, "console", colour)
    coloured = run("list")[1]
    assert "\x1b[31moverdue" in coloured and "\x1b[33mdue_soon" in coloured
    monkeypatch.setattr(requests_cli, "console", Console(highlight=False, width=250))
    code, out = run("list", "--status", "overdue")
    assert code == 0 and late in out and soon not in out and fresh not in out
    code, out = run("list", "--limit", "2")
    assert fresh not in out and "more: --after " in out
    cursor = out.split("more: --after ")[1].split()[0]
    code, out = run("list", "--limit", "2", "--after", cursor)
    assert code == 0 and fresh in out and late not in out and "more:" not in out
    code, out = run("list", "--status", "late")
    assert code == 1 and "--status" in out and "Traceback" not in out
    assert run("list", "--state", "completed")[1].strip() == "no requests"


def test_show_then_every_staff_step(cli_env: None, runtime: Runtime, session: Session) -> None:
    request = submit(runtime, session)
    code, out = run("show", request)
    assert code == 0 and "awaiting_approval" in out and "Order database" in out and "history" in out
    code, out = run("complete", request)
    assert code == 1 and "completes by itself" in out and "request_id: a erasure request" in out
    code, out = run("approve", request)
    assert code == 0 and f"{request} approved: state in_progress" in out
    assert run("approve", request)[0] == 1  # already approved: refused, nothing changes
    code, out = run("confirm-step", request, "0")
    assert code == 0 and "state completed" in out
    assert state(session, request) == State.COMPLETED
    history = run("show", request)[1]
    assert "confirm_step" in history and "cli" in history
    grievance = submit(runtime, session, email="g@example.org", kind="grievance", verified_by=None)
    code, out = run("complete", grievance, "--note", "We refunded the order.")
    assert code == 0 and f"{grievance} completed: state completed" in out
    assert state(session, grievance) == State.COMPLETED
    assert get_request(session, grievance).outcome_note == "We refunded the order."


def test_reject_cancel_extend_and_verify(cli_env: None, runtime: Runtime, session: Session) -> None:
    rejected = submit(runtime, session, email="r@example.org")
    code, _ = run("reject", rejected, "--reason", "unfounded", "--note", "No account was ever opened.")
    assert code == 0 and state(session, rejected) == State.REJECTED
    cancelled = submit(runtime, session, email="c@example.org")
    assert run("cancel", cancelled, "--note", "Withdrawn by phone.")[0] == 0
    assert state(session, cancelled) == State.CANCELLED
    extended = submit(runtime, session, email="e@example.org")
    due = get_request(session, extended).due_on
    code, out = run("extend", extended, "--until", str(due + timedelta(days=45)), "--reason", "Many systems.")
    assert code == 1 and "until:" in out
    assert run("extend", extended, "--until", "someday", "--reason", "x")[0] == 2  # a usage error
    code, out = run("extend", extended, "--until", str(due + timedelta(days=10)), "--reason", "Many systems.")
    assert code == 0 and f"due on {due + timedelta(days=10)}" in out
    nominee = submit(
        runtime,
        session,
        email="n@example.org",
        made_by=MadeBy.NOMINEE,
        verified_by=None,
        personal={"proof_reference": "DC-2026-118"},
    )
    code, out = run("verify", nominee, "--method", "email_otp")
    assert code == 1 and "method: one of: document" in out
    assert run("verify", nominee, "--method", "document")[0] == 0
    assert state(session, nominee) == State.AWAITING_APPROVAL


def test_bulk_close_all_or_none_and_the_sweep(cli_env: None, runtime: Runtime, session: Session) -> None:
    first = submit(runtime, session, 40, email="one@example.org")
    second = submit(runtime, session, email="two@example.org")
    code, out = run("close", "--item", f"{first}:duplicate", "--item", f"{second}:bored")
    assert code == 1 and "items[1].reason" in out
    assert state(session, first) == State.AWAITING_APPROVAL  # nothing closed
    assert run("close", "--item", "nonsense")[0] == 2
    code, out = run("sweep")
    assert code == 0 and "flagged 1 overdue" in out
    assert "flagged 0 overdue" in run("sweep")[1]  # once each
    code, out = run("close", "--item", f"{first}:duplicate", "--item", f"{second}:unfounded:No order: none at all.")
    assert code == 0 and "closed 2 request(s)" in out
    assert (state(session, first), state(session, second)) == (State.CANCELLED, State.REJECTED)
    assert get_request(session, second).outcome_note == "No order: none at all."


def test_a_malformed_or_unknown_id_is_one_clear_line(cli_env: None) -> None:
    code, out = run("show", "rr_123")
    assert code == 1 and "request_id" in out and "Traceback" not in out
    code, out = run("approve", "rr_" + "a" * 26)
    assert code == 1 and "No request has this id." in out
