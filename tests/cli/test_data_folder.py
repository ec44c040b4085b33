"""One data folder: the service and every command resolve it the same way, and only `init`/`serve` create one.

The bug: `fiduciary apikey list` run in another folder printed "No API keys" and silently created a new
database and key files there; a key created there was refused by the server. These tests run the real
commands (Typer's runner, in-process) from real folders.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from fiduciary.cli.main import app
from fiduciary.config import Settings, get_settings
from fiduciary.datafolder import describe

runner = CliRunner()
NO_FOLDER = "error: no Fiduciary data folder here; run `fiduciary init` or set FIDUCIARY_DATA_DIR"
POLICY = Path(__file__).resolve().parents[2] / "examples" / "policies" / "01_manufacturer_retailer.yaml"


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh folder as the current one, with no FIDUCIARY_* variable set."""
    for name in list(os.environ):
        if name.startswith("FIDUCIARY_") and name != "FIDUCIARY_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    monkeypatch.chdir(folder)
    get_settings.cache_clear()
    yield folder
    get_settings.cache_clear()


def run(*args: str) -> Result:
    get_settings.cache_clear()
    return runner.invoke(app, list(args))


def tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize(
    "command",
    [
        ["apikey", "list"],
        ["apikey", "create", "--name", "n", "--scopes", "decisions"],
        ["status"],
        ["ledger", "verify"],
        ["ledger", "seal", "--stream", "consent"],
        ["ledger", "public-key"],
        ["audit", "verify"],
        ["keys", "status"],
        ["keys", "rotate"],
        ["policy", "publish", str(POLICY)],
        ["policy", "versions"],
        ["consent", "rebuild-state", "--check"],
        ["decisions", "decide", "per_x", "analytics"],
        ["housekeeping"],
        ["restore-replay"],
        ["vault", "purge"],
    ],
)
def test_a_command_in_a_folder_without_data_refuses_and_creates_nothing(elsewhere: Path, command: list[str]) -> None:
    result = run(*command)
    assert result.exit_code == 3, result.output
    assert result.stderr.splitlines() == [f"{NO_FOLDER} (looked for {elsewhere / '.fiduciary'})"]
    assert result.stdout == ""
    assert tree(elsewhere) == []


def test_offline_commands_need_no_data_folder(elsewhere: Path) -> None:
    assert run("policy", "check", str(POLICY)).exit_code == 0
    assert run("policy", "render", str(POLICY), "--format", "markdown").exit_code == 0
    assert run("--help").exit_code == 0
    assert tree(elsewhere) == []


def test_init_creates_the_folder_once_and_then_commands_use_it(elsewhere: Path) -> None:
    first = run("init")
    assert first.exit_code == 0, first.output
    assert first.stdout.startswith(f"initialised: {elsewhere / '.fiduciary'}\n")
    assert tree(elsewhere / ".fiduciary") >= ["fiduciary.db", "index.key", "kek.key", "secret.key", "signing.key"]
    again = run("init")
    assert again.exit_code == 0 and again.stdout.startswith("already initialised:")
    listed = run("apikey", "list")
    assert listed.exit_code == 0 and "No API keys" in listed.stderr


def test_an_incomplete_folder_is_named_with_what_is_missing(elsewhere: Path) -> None:
    assert run("init").exit_code == 0
    (elsewhere / ".fiduciary" / "kek.key").unlink()
    result = run("apikey", "list")
    assert result.exit_code == 3
    assert "incomplete (missing kek.key); run `fiduciary init`" in result.stderr
    assert not (elsewhere / ".fiduciary" / "kek.key").exists()


def test_a_project_file_above_names_the_folder_for_every_command_and_the_service(
    tmp_path: Path, elsewhere: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "shop"
    (project / "backend" / "jobs").mkdir(parents=True)
    (project / "docs").mkdir()
    (project / "fiduciary.toml").write_text('data_dir = "var/fiduciary"\n', encoding="utf-8")
    monkeypatch.chdir(project / "backend" / "jobs")
    assert run("init").exit_code == 0
    assert (project / "var" / "fiduciary" / "fiduciary.db").is_file()
    created = run("apikey", "create", "--name", "checkout", "--scopes", "decisions")
    assert created.exit_code == 0, created.output
    key_id = created.stdout.strip().split("_")[1]

    monkeypatch.chdir(project / "docs")  # another folder of the same project: the same data
    listed = run("apikey", "list")
    assert listed.exit_code == 0 and key_id in listed.stdout
    get_settings.cache_clear()
    assert Settings().data_dir == project / "var" / "fiduciary"  # what `serve` would use
    assert tree(project / "docs") == [] and not (project / "backend" / "jobs" / ".fiduciary").exists()

    monkeypatch.chdir(elsewhere)  # outside the project: no data here
    assert run("apikey", "list").exit_code == 3


def test_the_variable_wins_over_the_project_file(
    tmp_path: Path, elsewhere: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (elsewhere / "fiduciary.toml").write_text('data_dir = "from-file"\n', encoding="utf-8")
    monkeypatch.setenv("FIDUCIARY_DATA_DIR", str(tmp_path / "from-variable"))
    assert run("init").exit_code == 0
    assert (tmp_path / "from-variable" / "fiduciary.db").is_file()
    assert not (elsewhere / "from-file").exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("data_dir = \n", "Invalid value"),
        ("data_dir = 5\n", "data_dir must be a non-empty string"),
        ('data_dir = ""\n', "data_dir must be a non-empty string"),
    ],
)
def test_a_bad_project_file_is_one_line_naming_it(elsewhere: Path, text: str, message: str) -> None:
    (elsewhere / "fiduciary.toml").write_text(text, encoding="utf-8")
    for command in (["init"], ["apikey", "list"], ["serve", "--port", "0"]):
        result = run(*command)
        assert result.exit_code == 2, result.output
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: {elsewhere / 'fiduciary.toml'}") and message in lines[0]
    assert tree(elsewhere) == ["fiduciary.toml"]


def test_a_project_file_without_data_dir_means_the_default(elsewhere: Path) -> None:
    (elsewhere / "fiduciary.toml").write_text("# nothing yet\n", encoding="utf-8")
    assert run("init").exit_code == 0
    assert (elsewhere / ".fiduciary" / "fiduciary.db").is_file()


def test_init_can_write_the_project_file_and_never_overwrites_it(elsewhere: Path) -> None:
    result = run("init", "--data-dir", "state/fid", "--write-config")
    assert result.exit_code == 0, result.output
    assert (elsewhere / "fiduciary.toml").read_text(encoding="utf-8").endswith('data_dir = "state/fid"\n')
    assert (elsewhere / "state" / "fid" / "kek.key").is_file()
    (elsewhere / "sub").mkdir()
    os.chdir(elsewhere / "sub")
    assert run("apikey", "list").exit_code == 0  # found upwards
    os.chdir(elsewhere)
    refused = run("init", "--write-config")
    assert refused.exit_code == 1 and "is never overwritten" in refused.stderr


def test_verbose_names_the_database_and_key_files_never_a_key(elsewhere: Path) -> None:
    assert run("init").exit_code == 0
    folder = elsewhere / ".fiduciary"
    result = run("-v", "apikey", "list")
    assert result.exit_code == 0
    assert f"data folder: {folder} (from default ./.fiduciary)" in result.stderr
    assert f"database: sqlite:///{folder / 'fiduciary.db'}" in result.stderr
    for name in ("signing.key", "secret.key", "kek.key", "index.key"):
        assert str(folder / name) in result.stderr
        assert (folder / name).read_text().strip() not in result.output
    quiet = run("apikey", "list")
    assert "database:" not in quiet.output


def test_status_shows_what_is_used_and_counts(cli_env: None, tmp_path: Path) -> None:
    assert run("apikey", "create", "--name", "n", "--scopes", "decisions").exit_code == 0
    result = run("status")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"{tmp_path / 'data'} (from FIDUCIARY_DATA_DIR)" in out
    assert "policy in force:" in out and "version 1" in out  # the demo policy, published by the first command
    assert "API keys (active):   1" in out and "people:              0" in out
    for name in ("signing.key", "secret.key", "kek.key", "index.key"):
        assert str(tmp_path / "data" / name) in out
        assert (tmp_path / "data" / name).read_text().strip() not in out


def test_with_another_database_the_key_files_are_what_must_exist(
    cli_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FIDUCIARY_DATABASE_URL set (PostgreSQL, or SQLite elsewhere): the folder's key files tie it to the data."""
    assert run("apikey", "list").exit_code == 0
    monkeypatch.setenv("FIDUCIARY_DATA_DIR", str(tmp_path / "wrong-folder"))
    result = run("apikey", "list")
    assert result.exit_code == 3 and NO_FOLDER in result.stderr
    assert not (tmp_path / "wrong-folder").exists()
    (tmp_path / "wrong-folder").mkdir()
    result = run("apikey", "list")
    assert result.exit_code == 3 and "missing kek.key, index.key" in result.stderr
    assert list((tmp_path / "wrong-folder").iterdir()) == []


def test_a_database_password_is_never_printed(tmp_path: Path) -> None:
    settings = Settings(database_url="postgresql+psycopg://shop:s3cr3t-pw@db.internal/fiduciary", data_dir=tmp_path)
    lines = dict(describe(settings))
    assert lines["database"] == "postgresql+psycopg://shop:***@db.internal/fiduciary"
    assert "s3cr3t-pw" not in str(lines)


def test_init_on_an_unreachable_database_is_one_line(elsewhere: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIDUCIARY_DATABASE_URL", "postgresql+psycopg://shop:s3cr3t-pw@127.0.0.1:1/none")
    result = run("init")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "error: cannot open postgresql+psycopg://shop:***@127.0.0.1:1/none (OperationalError)"
    ]
    assert tree(elsewhere) == []
