"""FIDUCIARY_SQLITE_SYNCHRONOUS: what an acknowledged write survives on SQLite (decision 0012)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from fiduciary.config import Settings
from fiduciary.runtime import Runtime
from fiduciary.storage import create_engine_for_url

LEVELS = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}  # PRAGMA synchronous answers a number


def _level(runtime: Runtime) -> str:
    with runtime.engine.connect() as conn:
        return LEVELS[int(conn.exec_driver_sql("PRAGMA synchronous").scalar_one())]


@pytest.mark.parametrize(("configured", "expected"), [(None, "FULL"), ("normal", "NORMAL"), ("EXTRA", "EXTRA")])
def test_the_level_reaches_every_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, configured: str | None, expected: str
) -> None:
    if configured is not None:
        monkeypatch.setenv("FIDUCIARY_SQLITE_SYNCHRONOUS", configured)
    runtime = Runtime.start(Settings(data_dir=tmp_path / "data"))
    try:
        assert runtime.settings.sqlite_synchronous == expected
        assert _level(runtime) == expected
        with runtime.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
    finally:
        runtime.close()


@pytest.mark.parametrize("bad", ["OFF", "sometimes", "FULL; DROP TABLE people"])
def test_a_bad_level_is_refused_before_any_connection(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv("FIDUCIARY_SQLITE_SYNCHRONOUS", bad)
    with pytest.raises(ValidationError, match="sqlite_synchronous"):
        Settings()
    with pytest.raises(ValueError, match="NORMAL, FULL or EXTRA"):
        create_engine_for_url("sqlite://", sqlite_synchronous=bad)  # type: ignore[arg-type]
