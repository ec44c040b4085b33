"""Run Alembic migrations programmatically (the service and tests call this; no alembic.ini needed).

Every command starts a runtime, and a runtime brings the schema to head; importing Alembic alone takes
longer than a whole typical command should (bench/RESULTS.md "CLI start-up"). So `upgrade_to_head` first
reads the database's revision and returns when it is already the head of the migration files, and imports
Alembic only to actually migrate.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from fiduciary.config import PACKAGE_DIR

if TYPE_CHECKING:
    from alembic.config import Config

VERSIONS_DIR = PACKAGE_DIR / "migrations" / "versions"
_REVISION_RE = re.compile(r'^revision(?:: str)? = "([^"]+)"', re.MULTILINE)
_DOWN_RE = re.compile(r'^down_revision(?:: [^=]+)? = (?:"([^"]+)"|None)', re.MULTILINE)


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config  # lazy: heavy, only when migrating

    cfg = Config()
    cfg.set_main_option("script_location", str(PACKAGE_DIR / "migrations"))
    cfg.attributes["engine"] = engine
    return cfg


@lru_cache(maxsize=1)
def head_revision() -> str | None:
    """The one revision of the migration files no other revises, or None when that is not clear (then
    Alembic decides)."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in VERSIONS_DIR.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        found, down = _REVISION_RE.search(source), _DOWN_RE.search(source)
        if found is None:
            continue
        if down is None:
            return None
        revisions.add(found.group(1))
        if down.group(1):
            revised.add(down.group(1))
    heads = revisions - revised
    return next(iter(heads)) if len(heads) == 1 else None


def current_revision(engine: Engine) -> str | None:
    """The database's Alembic revision; None for a database never migrated (or unreadable)."""
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except DBAPIError:
        return None
    return rows[0] if len(rows) == 1 else None


def upgrade_to_head(engine: Engine) -> None:
    head = head_revision()
    if head is not None and current_revision(engine) == head:
        return
    from alembic import command  # lazy: heavy, only when migrating

    command.upgrade(alembic_config(engine), "head")
