"""`fiduciary outbox read`: the folder's messages decoded, a long link whole again, the newest last."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli_support import init_data_folder
from fiduciary.cli.main import app
from fiduciary.comms.delivery import deliver
from fiduciary.config import Settings, get_settings
from fiduciary.runtime import Runtime
from outbox_support import send_code
from requests_support import person_with_email


@pytest.fixture
def cli_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("FIDUCIARY_DATABASE_URL", database_url)
    monkeypatch.setenv("FIDUCIARY_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    init_data_folder()
    yield
    get_settings.cache_clear()


def read(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["outbox", "read", *args])
    return result.exit_code, result.output


def test_the_newest_messages_decoded(cli_env: None, settings: Settings) -> None:
    assert read() == (0, f"no messages in {settings.data_dir / 'outbox'}\n")
    runtime = Runtime.start(settings, migrate=False)
    try:
        with runtime.sessions() as session:
            person = person_with_email(session, runtime)
            link = "https://shop.example/v1/packages/" + "A" * 60  # longer than a quoted-printable line
            for n, code in enumerate(("111111", link)):
                send_code(session, runtime, person, f"k{n}", params={"code": code, "minutes": 10})
                session.commit()
        assert deliver(runtime).sent == 2
    finally:
        runtime.close()
    code, output = read()
    assert code == 0 and link in output and "111111" not in output  # only the newest, the link whole
    code, output = read("--last", "2")
    assert output.index("111111") < output.index(link) and output.count("Subject: ") == 2
    assert read("--last", "0")[0] == 2  # out of range: a usage error


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, data_dir=tmp_path / "data")
