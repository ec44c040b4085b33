"""What the tamper tests share (imported, not collected): a connection that can change append-only rows."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from fiduciary.runtime import Runtime


@contextmanager
def attacker(runtime: Runtime, tables: tuple[str, ...], triggers_expected: int) -> Iterator[Connection]:
    """A raw connection with the append-only triggers of `tables` off for the length of one transaction:
    what someone with write access to the database could do. `triggers_expected` (two per table) makes the
    test fail if a migration adds or drops a guard without the tamper tests knowing."""
    with runtime.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            for table in tables:
                conn.execute(sa.text(f"ALTER TABLE {table} DISABLE TRIGGER ALL"))
            yield conn
            for table in tables:
                conn.execute(sa.text(f"ALTER TABLE {table} ENABLE TRIGGER ALL"))
            return
        names = {f"t{i}": table for i, table in enumerate(tables)}
        triggers = conn.execute(
            sa.text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN "
                f"({', '.join(':' + key for key in names)})"
            ),
            names,
        ).all()
        assert len(triggers) == triggers_expected
        for name, _ in triggers:
            conn.execute(sa.text(f"DROP TRIGGER {name}"))
        yield conn
        for _, sql in triggers:
            conn.execute(sa.text(sql))
