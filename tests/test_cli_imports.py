"""`fiduciary --help` loads no heavy module: a structural check of the lazy imports (timings are in bench/).

Each check runs a fresh interpreter, since this test process has long imported everything.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = (
    "fastapi",
    "starlette",
    "uvicorn",
    "sqlalchemy",
    "alembic",
    "presidio_analyzer",
    "spacy",
    "cryptography",
    "pydantic_settings",  # (pydantic itself is imported by Typer's own parameter handling)
    "yaml",
    "jinja2",
    "babel",
    "fiduciary.runtime",
    "fiduciary.config",
    "typer.rich_utils",
)

PROBE = """
import json, sys
from fiduciary.cli.main import app
sys.argv = ["fiduciary", *ARGS]
try:
    app()
except SystemExit:
    pass
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in HEAVY_ROOTS or m in HEAVY)))
"""


def loaded_after(*args: str) -> list[str]:
    roots = {name.split(".")[0] for name in HEAVY if not name.startswith(("fiduciary", "typer"))}
    code = (
        PROBE.replace("ARGS", repr(list(args)))
        .replace("HEAVY_ROOTS", repr(roots))
        .replace("HEAVY", repr(set(HEAVY)), 1)
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["policy", "--help"],
        ["apikey", "--help"],
        ["keys", "--help"],
        ["ledger", "--help"],
        ["serve", "--help"],
    ],
)
def test_help_imports_no_heavy_module(args: list[str]) -> None:
    assert loaded_after(*args) == []


def test_the_probe_sees_a_heavy_import() -> None:
    """The check above can fail: a command that opens the database does load SQLAlchemy."""
    assert "sqlalchemy" in loaded_after("apikey", "list")


def test_the_job_names_in_help_are_the_jobs() -> None:
    from fiduciary.cli.housekeeping import JOB_NAMES
    from fiduciary.housekeeping import JOBS

    assert tuple(JOBS) == JOB_NAMES


def test_the_project_file_name_is_the_configured_one() -> None:
    from fiduciary.cli.folder import PROJECT_CONFIG_NAME
    from fiduciary.config import PROJECT_CONFIG_NAME as CONFIGURED

    assert PROJECT_CONFIG_NAME == CONFIGURED


def test_the_migration_fast_path_knows_alembics_head() -> None:
    """`upgrade_to_head` skips Alembic when the database is at the head it reads from the migration files;
    that head must be Alembic's own, or a command would run on an old schema."""
    from alembic.script import ScriptDirectory

    from fiduciary.storage import create_engine_for_url
    from fiduciary.storage.migrate import alembic_config, head_revision

    engine = create_engine_for_url("sqlite://")
    try:
        assert head_revision() == ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    finally:
        engine.dispose()


def test_the_data_folder_names_the_key_files_as_the_key_modules_do(tmp_path: Path) -> None:
    from fiduciary import datafolder
    from fiduciary.config import Settings
    from fiduciary.ledger.signing import key_file_path
    from fiduciary.vault.keys.blind_index import index_file_path
    from fiduciary.vault.keys.kek import kek_file_path

    settings = Settings(data_dir=tmp_path)
    files = {source.name: source.file for source in datafolder.key_sources(settings)}
    assert files == {
        "signing key": key_file_path(settings),
        "secret key": tmp_path / "secret.key",
        "key-encryption key": kek_file_path(settings),
        "blind-index key": index_file_path(settings),
    }
