"""Shared fixtures: every database-backed test runs on SQLite and on a real PostgreSQL server.

PostgreSQL comes from FIDUCIARY_TEST_POSTGRES_URL (default: the local server with trust auth). Each test
session creates its own database, migrates it once and truncates tables between tests, so parallel
workers and concurrent runs never see each other's rows. Outside CI an unreachable server skips the
PostgreSQL half; under CI (CI=true) it is an error, so a green run always covered both engines.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from database_support import truncate_all
from fiduciary.config import Settings, get_settings
from fiduciary.runtime import Runtime
from fiduciary.storage import create_engine_for_url, upgrade_to_head
from leak_guard import PLUGIN_NAME, LeakGuardPlugin, no_values_echoed  # noqa: F401 (a fixture)

PG_ADMIN_URL = os.environ.get("FIDUCIARY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
ROOT = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    # Every log line and error body of the session is scanned for personal values and secrets (leak_guard.py).
    config.pluginmanager.register(LeakGuardPlugin(), PLUGIN_NAME)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating per test would dominate the run time)."""
    path = tmp_path_factory.mktemp("template") / "fiduciary.db"
    engine = create_engine_for_url(f"sqlite:///{path}")
    upgrade_to_head(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session (or worker), dropped at the end."""
    admin = create_engine_for_url(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        if IN_CI:
            pytest.fail(f"PostgreSQL is required under CI and is unreachable: {exc}")
        pytest.skip("PostgreSQL is not reachable; set FIDUCIARY_TEST_POSTGRES_URL to run these tests")
    name = f"fiduciary_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    engine = create_engine_for_url(url)
    upgrade_to_head(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty, migrated database: once per engine."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "fiduciary.db"
        shutil.copyfile(template, target)
        return f"sqlite:///{target}"
    url: str = request.getfixturevalue("postgres_database")
    truncate_all(url)
    return url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, data_dir=tmp_path / "data")


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = Runtime.start(settings, migrate=False)
    try:
        yield rt
    finally:
        rt.close()


@pytest.fixture
def session(runtime: Runtime) -> Iterator[Session]:
    with runtime.sessions() as s:
        yield s


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    from fiduciary.web.app import create_app

    with TestClient(create_app(runtime=runtime)) as c:
        yield c


@pytest.fixture
def cli_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point the CLI's settings, which it reads from the environment, at this test's database.

    Same database, data directory and (demo) policy as the `settings` fixture, so the CLI and the test's
    `runtime` agree; the cached settings are dropped on both sides so no other test sees this environment.
    The data folder is created by a real `fiduciary init`, as an operator would: the other commands refuse
    a folder init has not created (tests/cli/test_data_folder.py).
    """
    from cli_support import init_data_folder

    monkeypatch.setenv("FIDUCIARY_DATABASE_URL", database_url)
    monkeypatch.setenv("FIDUCIARY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("FIDUCIARY_POLICY_FILE", raising=False)
    try:
        init_data_folder()
        yield
    finally:
        get_settings.cache_clear()
