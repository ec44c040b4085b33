"""`fiduciary ledger verify | seal | public-key` against both engines, and /.well-known/fiduciary-keys.json."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cli_support import init_data_folder
from fiduciary.cli.main import app
from fiduciary.config import Settings, get_settings
from fiduciary.ledger.reads import checkpoints
from fiduciary.ledger.service import Ledger
from fiduciary.ledger.signing import KEY_FILE_NAME, load_signer
from fiduciary.runtime import Runtime
from fiduciary.web.app import create_app
from fiduciary.web.routes import signing_keys as keys_routes

runner = CliRunner()


@pytest.fixture
def cli_settings(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("FIDUCIARY_DATABASE_URL", database_url)
    monkeypatch.setenv("FIDUCIARY_DATA_DIR", str(tmp_path / "cli-data"))
    init_data_folder()
    yield get_settings()
    get_settings.cache_clear()


def _fill(settings: Settings, stream: str, count: int) -> None:
    runtime = Runtime.start(settings, migrate=False)
    try:
        ledger = Ledger.from_settings(stream, settings)
        with runtime.sessions() as session:
            ledger.append_many(session, [(f"{stream}.event", {"i": i}) for i in range(count)])
            session.commit()
    finally:
        runtime.close()


def test_public_key_is_generated_once_and_printed(cli_settings: Settings) -> None:
    first = runner.invoke(app, ["ledger", "public-key"])
    assert first.exit_code == 0, first.output
    signer = load_signer(cli_settings)
    assert first.output.strip() == f"{signer.public_key_b64}  key_id={signer.key_id}"
    assert (cli_settings.data_dir / KEY_FILE_NAME).exists()
    pem = runner.invoke(app, ["ledger", "public-key", "--format", "pem"])
    assert pem.exit_code == 0 and pem.output == signer.public_key_pem
    document = json.loads(runner.invoke(app, ["ledger", "public-key", "--format", "json"]).output)
    assert document["keys"][0]["key_id"] == signer.key_id


def test_verify_with_nothing_recorded(cli_settings: Settings) -> None:
    result = runner.invoke(app, ["ledger", "verify"])
    assert result.exit_code == 0, result.output
    assert "nothing to verify" in result.output


def test_seal_then_verify_every_stream(cli_settings: Settings) -> None:
    _fill(cli_settings, "consent", 5)
    _fill(cli_settings, "audit", 2)
    sealed = runner.invoke(app, ["ledger", "seal", "--stream", "consent"])
    assert sealed.exit_code == 0, sealed.output
    assert "sealed at position 5" in sealed.output
    result = runner.invoke(app, ["ledger", "verify"])
    assert result.exit_code == 0, result.output
    assert "audit: ok — 2 events, 0 signed checkpoints" in result.output
    assert "consent: ok — 5 events, 1 signed checkpoints" in result.output
    only = runner.invoke(app, ["ledger", "verify", "--stream", "audit"])
    assert only.exit_code == 0 and "consent" not in only.output


def test_verify_fails_naming_the_first_bad_position(cli_settings: Settings) -> None:
    _fill(cli_settings, "consent", 5)
    runtime = Runtime.start(cli_settings, migrate=False)
    try:
        from test_ledger_tamper import attacker

        with attacker(runtime) as conn:
            conn.execute(sa.text("UPDATE ledger_events SET payload = :p WHERE position = 3"), {"p": '{"i":99}'})
    finally:
        runtime.close()
    result = runner.invoke(app, ["ledger", "verify", "--stream", "consent"])
    assert result.exit_code == 1, result.output
    assert "consent: FAILED — first bad position 3: hash at position 3 does not match its content" in result.output


def test_seal_of_an_empty_stream_and_bad_stream_names(cli_settings: Settings) -> None:
    empty = runner.invoke(app, ["ledger", "seal", "--stream", "audit"])
    assert empty.exit_code == 0 and "nothing to seal" in empty.output
    for command in (["ledger", "seal", "--stream", "Bad Name"], ["ledger", "verify", "--stream", "x;drop"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 2, result.output
        assert "stream name" in result.output
    runtime = Runtime.start(cli_settings, migrate=False)
    try:
        with runtime.sessions() as session:
            assert checkpoints(session, "audit") == []
            assert session.execute(sa.text("SELECT count(*) FROM ledger_events")).scalar_one() == 0
    finally:
        runtime.close()


def test_a_bad_signing_key_is_a_message_not_a_traceback(
    cli_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    (cli_settings.data_dir / KEY_FILE_NAME).unlink()  # made by `fiduciary init`; a bad variable makes none
    monkeypatch.setenv("FIDUCIARY_SIGNING_KEY", "too-short")
    get_settings.cache_clear()
    for command in (["ledger", "public-key"], ["ledger", "seal", "--stream", "consent"], ["ledger", "verify"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 2, result.output
        assert "FIDUCIARY_SIGNING_KEY" in result.output and "too-short" not in result.output
    assert not (cli_settings.data_dir / KEY_FILE_NAME).exists()


def test_well_known_keys_route_publishes_the_checkpoint_key(runtime: Runtime) -> None:
    web = create_app(runtime=runtime)
    if not any(getattr(r, "path", None) == "/.well-known/fiduciary-keys.json" for r in web.routes):
        web.include_router(keys_routes.router)
    with TestClient(web) as client:
        response = client.get("/.well-known/fiduciary-keys.json")
        again = client.get("/.well-known/fiduciary-keys.json")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=300"
    body = response.json()
    signer = load_signer(runtime.settings)
    assert body["keys"][0] == {
        "key_id": signer.key_id,
        "status": "current",
        "alg": "Ed25519",
        "public_key": signer.public_key_b64,
        "pem": signer.public_key_pem,
        "jwk": body["keys"][0]["jwk"],
    }
    assert body["issuer"] == runtime.public_base_url == "http://127.0.0.1:8000"  # the configured host and port
    assert again.json() == body
