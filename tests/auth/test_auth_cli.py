"""`fiduciary apikey create|list|revoke` against both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cli_support import init_data_folder
from fiduciary.auth.models import ApiKey
from fiduciary.auth.service import authenticate, hash_secret
from fiduciary.cli.main import app
from fiduciary.config import get_settings


@pytest.fixture
def cli_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("FIDUCIARY_DATABASE_URL", database_url)
    monkeypatch.setenv("FIDUCIARY_DATA_DIR", str(tmp_path / "cli-data"))
    init_data_folder()
    yield
    get_settings.cache_clear()


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["apikey", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def _rows(session: Session) -> list[dict[str, object]]:
    session.expire_all()
    return [dict(r) for r in session.execute(sa.select(ApiKey.__table__).order_by(ApiKey.id)).mappings()]


def test_create_prints_the_key_once_and_stores_only_its_digest(cli_env: None, session: Session) -> None:
    code, out, err = _run("create", "--name", "checkout backend", "--scopes", "consent:write,decisions")
    assert code == 0, err
    key = out.strip()
    assert key.startswith("fid_") and "\n" not in key
    assert "cannot be shown again" in err
    row = session.execute(sa.select(ApiKey)).scalar_one()
    assert row.name == "checkout backend"
    assert row.scopes == ["consent:write", "decisions"]
    assert row.secret_hash == hash_secret(key[len("fid_") + 13 :])
    assert authenticate(session, key).id == row.id

    code, listing, _ = _run("list")
    assert code == 0
    assert row.id in listing and "checkout backend" in listing and "consent:write" in listing
    assert key not in listing and key[len("fid_") + 13 :] not in listing and row.secret_hash not in listing


def test_repeated_scope_option(cli_env: None, session: Session) -> None:
    code, _, err = _run("create", "--name", "n", "--scope", "people:read", "--scope", "audit:read")
    assert code == 0, err
    assert session.execute(sa.select(ApiKey.scopes)).scalar_one() == ["people:read", "audit:read"]


@pytest.mark.parametrize(
    "args",
    [
        ["--name", "n", "--scopes", "decisions,consent:delete"],
        ["--name", "n", "--scope", "bogus"],
        ["--name", "n"],
        ["--name", "n", "--scopes", ","],
        ["--name", "", "--scopes", "decisions"],
        ["--name", "x" * 101, "--scopes", "decisions"],
        ["--name", "bell\x07", "--scopes", "decisions"],
    ],
)
def test_bad_create_input_exits_2_and_stores_nothing(cli_env: None, session: Session, args: list[str]) -> None:
    code, out, err = _run("create", *args)
    assert code == 2
    assert out == ""  # no key printed
    assert "error" in err
    assert _rows(session) == []


def test_unknown_scope_message_names_it_and_lists_valid_scopes(cli_env: None, session: Session) -> None:
    code, _, err = _run("create", "--name", "n", "--scopes", "decisions,consent:delete")
    assert code == 2
    assert "consent:delete" in err
    assert "apikeys:manage" in err and "rights:manage" in err


def test_revoke_and_unknown_id(cli_env: None, session: Session) -> None:
    _, key, _ = _run("create", "--name", "n", "--scopes", "decisions")
    key_id = key.strip()[4:16]

    code, _, err = _run("revoke", "ZZZZZZZZZZZZ")
    assert code == 1
    assert "No API key has this id" in err
    before = _rows(session)
    assert before[0]["revoked_at"] is None

    code, out, _ = _run("revoke", key_id)
    assert code == 0 and key_id in out
    revoked = _rows(session)
    assert revoked[0]["revoked_at"] is not None
    code, _, _ = _run("revoke", key_id)  # idempotent
    assert code == 0
    assert _rows(session) == revoked

    code, listing, _ = _run("list")
    assert code == 0
    assert key_id in listing
    revoked_at = revoked[0]["revoked_at"]
    assert isinstance(revoked_at, datetime)
    assert revoked_at.strftime("%Y-%m-%d") in listing


def test_list_with_no_keys(cli_env: None) -> None:
    code, out, err = _run("list")
    assert code == 0
    assert out == ""
    assert "No API keys" in err
