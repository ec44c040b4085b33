"""The API-key listing on SQLAlchemy Core: `fiduciary apikey list` reads through this, without the ORM.

Importing the ORM (and the declarative models) costs a command about a tenth of a second of start-up, so the
listing reads the `api_keys` table through a Core description of the columns it shows. The secret digest
is not among them: a listing cannot select it. tests/cli/test_cli_imports.py checks these columns against
`fiduciary.auth.models.ApiKey`, so the two cannot drift apart.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import JSON, Column, Connection, MetaData, String, Table, select

from fiduciary.storage.types import UTCDateTime

ID_LENGTH = 12  # characters of a key's public id (letters and digits); fiduciary.auth.service makes them

API_KEYS = Table(
    "api_keys",
    MetaData(),
    Column("id", String(32), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("scopes", JSON, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime(), nullable=True),
    Column("last_used_at", UTCDateTime(), nullable=True),
)


class ApiKeyListing(NamedTuple):
    """One key as a listing shows it: never the secret or its digest."""

    id: str
    name: str
    scopes: list[str]
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


def list_api_keys(connection: Connection) -> list[ApiKeyListing]:
    """Every key, revoked ones included, oldest first: the same rows and order as
    `fiduciary.auth.service.list_api_keys`."""
    query = select(API_KEYS).order_by(API_KEYS.c.created_at, API_KEYS.c.id)
    return [ApiKeyListing(*row) for row in connection.execute(query)]
