"""The outbox tests retry at once: no backoff between attempts unless a test asks for one."""

from __future__ import annotations

from pathlib import Path

import pytest

from fiduciary.config import Settings


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, data_dir=tmp_path / "data", outbox_backoff_seconds=0.0)
