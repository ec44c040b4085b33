"""Declarative base shared by every domain's tables.

Constraint names follow a fixed convention so Alembic migrations are identical on SQLite and PostgreSQL.
The convention, `UTCDateTime` and `utcnow` live in `fiduciary.storage.types` (Core only) and are re-exported.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from fiduciary.storage.types import NAMING_CONVENTION, UTCDateTime, utcnow

__all__ = ["NAMING_CONVENTION", "Base", "UTCDateTime", "utcnow"]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}
