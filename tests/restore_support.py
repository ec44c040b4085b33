"""A database backup and its restore, as an operator takes and restores one (imported, not collected).

SQLite: the database file (and its WAL) is copied; PostgreSQL: every table is dumped at backup time, then
emptied and refilled on restore. Used by the tests of what a restore undoes (erasures, acknowledged
consent writes) and how the service detects and repairs it.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from fiduciary.storage import create_engine_for_url


@dataclass
class Backup:
    """A copy of the main database taken while no process had it open."""

    url: str
    directory: Path
    dump: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def sqlite_file(self) -> Path | None:
        url = make_url(self.url)
        return Path(url.database or "") if url.get_backend_name() == "sqlite" else None

    def take(self) -> None:
        if self.sqlite_file is not None:
            self._copy(self.sqlite_file, self.directory / "backup.db")
            return
        engine = create_engine_for_url(self.url)
        try:
            with engine.connect() as conn:
                for table in self._tables(engine):
                    self.dump[table.name] = [dict(r._mapping) for r in conn.execute(sa.select(table))]
        finally:
            engine.dispose()

    def restore(self) -> None:
        if self.sqlite_file is not None:
            self._copy(self.directory / "backup.db", self.sqlite_file)
            return
        engine = create_engine_for_url(self.url)
        try:
            tables = self._tables(engine)
            with engine.begin() as conn:
                conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{t.name}"' for t in tables)))
                for table in tables:
                    if self.dump[table.name]:
                        conn.execute(sa.insert(table), self.dump[table.name])
        finally:
            engine.dispose()

    @staticmethod
    def _copy(source: Path, target: Path) -> None:
        for suffix in ("-wal", "-shm"):
            target.with_name(target.name + suffix).unlink(missing_ok=True)
        shutil.copyfile(source, target)
        wal = source.with_name(source.name + "-wal")
        if wal.exists():
            shutil.copyfile(wal, target.with_name(target.name + "-wal"))

    @staticmethod
    def _tables(engine: sa.Engine) -> list[sa.Table]:
        metadata = sa.MetaData()
        metadata.reflect(engine)
        return [t for t in metadata.sorted_tables if t.name != "alembic_version"]
