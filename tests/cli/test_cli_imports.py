"""`fiduciary --help` loads no heavy module: a structural check of the lazy imports (timings are in bench/).

Each check runs a fresh interpreter, since this test process has long imported everything.
"""

from __future__ import annotations

import json
import os
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
    "fiduciary.auth.models",
    "fiduciary.policy.schema",
    "fiduciary.vault.service",
    "typer.rich_utils",
)

PROBE = """
import json, sys
from fiduciary.cli.main import app
sys.argv = ["fiduciary", *ARGS]
code = 0
try:
    app()
except SystemExit as exc:
    code = exc.code
print(code)
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in HEAVY_ROOTS or m in HEAVY)))
"""


def probe(*args: str, env: dict[str, str] | None = None) -> tuple[str, list[str]]:
    """The exit code of `fiduciary *args` and the heavy modules it loaded."""
    roots = {name.split(".")[0] for name in HEAVY if not name.startswith(("fiduciary", "typer"))}
    code = (
        PROBE.replace("ARGS", repr(list(args)))
        .replace("HEAVY_ROOTS", repr(roots))
        .replace("HEAVY", repr(set(HEAVY)), 1)
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    *_, exit_code, modules = done.stdout.strip().splitlines()
    loaded: list[str] = json.loads(modules)
    return exit_code, loaded


def loaded_after(*args: str) -> list[str]:
    return probe(*args)[1]


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["policy", "--help"],
        ["apikey", "--help"],
        ["keys", "--help"],
        ["ledger", "--help"],
        ["serve", "--help"],
        ["worker", "--help"],
        ["jobs", "--help"],
        ["requests", "--help"],
        ["requests", "list", "--help"],
        ["outbox", "read", "--help"],
        ["disclosures", "--help"],
        ["disclosures", "endpoint", "--help"],
        ["ropa", "--help"],
    ],
)
def test_help_imports_no_heavy_module(args: list[str]) -> None:
    assert loaded_after(*args) == []


def test_the_probe_sees_a_heavy_import() -> None:
    """The check above can fail: a command that opens the database does load SQLAlchemy."""
    assert "sqlalchemy" in loaded_after("apikey", "list")


@pytest.fixture
def initialised(tmp_path: Path) -> dict[str, str]:
    """The environment of a command run on a data folder `fiduciary init` has created (SQLite)."""
    env = {**os.environ, "FIDUCIARY_DATA_DIR": str(tmp_path / "data")}
    env.pop("FIDUCIARY_DATABASE_URL", None)
    subprocess.run([sys.executable, "-m", "fiduciary.cli.main", "init"], env=env, check=True, capture_output=True)
    return env


def test_apikey_list_reads_through_core_without_the_orm(initialised: dict[str, str]) -> None:
    """`apikey list` on an initialised folder reads with SQLAlchemy Core: no ORM, no models, no policy schema,
    no vault or cryptography (bench/RESULTS.md "CLI start-up")."""
    exit_code, loaded = probe("apikey", "list", env=initialised)
    assert exit_code == "0"
    assert "sqlalchemy" in loaded  # it did read the database
    heavy = {"sqlalchemy.orm", "fiduciary.auth.models", "fiduciary.policy.schema", "fiduciary.vault.service"}
    assert heavy.isdisjoint(loaded)
    assert not any(m.startswith(("cryptography", "yaml", "alembic", "fastapi")) for m in loaded)


def test_keys_status_does_not_import_the_policy_schema(initialised: dict[str, str]) -> None:
    """The vault's key status needs the keys and the database, not the policy."""
    exit_code, loaded = probe("keys", "status", env=initialised)
    assert exit_code == "0"
    assert "sqlalchemy" in loaded  # it did read the database
    assert "fiduciary.policy.schema" not in loaded


def test_the_core_listing_of_api_keys_matches_the_model() -> None:
    """The Core columns `apikey list` reads are the model's columns, with the same types; the digest is not
    among them."""
    from fiduciary.auth.listing import API_KEYS, ID_LENGTH
    from fiduciary.auth.models import ApiKey
    from fiduciary.auth.service import KEY_ID_PATTERN

    model = ApiKey.__table__
    assert API_KEYS.name == model.name
    for column in API_KEYS.columns:
        twin = model.columns[column.name]
        assert type(column.type) is type(twin.type), column.name
        assert (column.primary_key, column.nullable) == (twin.primary_key, twin.nullable), column.name
        assert getattr(column.type, "length", None) == getattr(twin.type, "length", None), column.name
    assert set(model.columns.keys()) - set(API_KEYS.columns.keys()) == {"secret_hash"}
    assert f"{{{ID_LENGTH}}}" in KEY_ID_PATTERN


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
