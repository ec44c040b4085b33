"""SQLite savepoints run straight on the driver (`storage.sqlite_driver.savepoints_through_driver`) and keep
SQLAlchemy's meaning: a released savepoint keeps its rows, a rolled-back one takes them back, nested or not,
and an error inside one comes out as SQLAlchemy's exception."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from fiduciary.storage import create_engine_for_url


def test_savepoints_skip_core_and_still_keep_or_take_back_their_rows(tmp_path: Path) -> None:
    engine = create_engine_for_url(f"sqlite:///{tmp_path / 'db.sqlite'}")
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER PRIMARY KEY)")
            conn.commit()
            with conn.begin():
                conn.exec_driver_sql("INSERT INTO t VALUES (1)")
                dropped = conn.begin_nested()
                conn.exec_driver_sql("INSERT INTO t VALUES (2)")
                inner = conn.begin_nested()
                conn.exec_driver_sql("INSERT INTO t VALUES (3)")
                inner.commit()
                dropped.rollback()  # takes 2 and the released 3 with it
                kept = conn.begin_nested()
                conn.exec_driver_sql("INSERT INTO t VALUES (4)")
                kept.commit()
                failing = conn.begin_nested()
                with pytest.raises(sa.exc.IntegrityError):
                    conn.exec_driver_sql("INSERT INTO t VALUES (4)")
                failing.rollback()
            assert [row[0] for row in conn.exec_driver_sql("SELECT x FROM t ORDER BY x")] == [1, 4]
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
        engine.dispose()
    assert not [s for s in seen if "SAVEPOINT" in s.upper()], "savepoints went through Core"
