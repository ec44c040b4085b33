"""Vault tables: wrapped data keys, blind-indexed identifiers, encrypted fields, legal-hold records, erasures.

No column holds a personal value in the clear: values are AES-256-GCM ciphertexts under the person's data
key, identifiers are keyed blind indexes (plus a ciphertext for export), and people appear only by their
pseudonymous id.

`person_keys` and `vault_meta` form the key store. By default they sit in the main database (migration
0004). With FIDUCIARY_KEYS_DATABASE_URL they live in their own database, created there by
`create_key_store_tables` on first start, so the keys can have their own, short backup retention: once a
wrapped key is gone from every key backup, the ciphertext in older main-database backups is noise.
`person_keys` has no foreign key to `people` for the same reason (it may be another database).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Engine,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    UniqueConstraint,
    insert,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from fiduciary.storage.base import Base

ID = BigInteger().with_variant(Integer(), "sqlite")  # SQLite only auto-increments INTEGER PRIMARY KEY


class PersonKey(Base):
    """A person's data key, wrapped by a KEK. `wrapped_key` NULL + `destroyed_at` = crypto-shredded."""

    __tablename__ = "person_keys"

    person_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    key_version: Mapped[int] = mapped_column(Integer, nullable=False)
    kek_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[datetime] = mapped_column(nullable=False)
    destroyed_at: Mapped[datetime | None] = mapped_column(nullable=True)


class VaultMeta(Base):
    """Facts about the vault's keys: the KEK canary and the blind-index key id, checked at every start."""

    __tablename__ = "vault_meta"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str | None] = mapped_column(String(200), nullable=True)
    kek_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[datetime] = mapped_column(nullable=False)
    updated_at: Mapped[datetime] = mapped_column(nullable=False)


class PersonIdentifier(Base):
    """An identifier by blind index (for lookup) and ciphertext (for export); unique per kind."""

    __tablename__ = "person_identifiers"
    __table_args__ = (UniqueConstraint("kind", "blind_index"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(String(40), ForeignKey("people.id"), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    blind_index: Mapped[bytes] = mapped_column(LargeBinary(16), nullable=False)
    key_version: Mapped[int] = mapped_column(Integer, nullable=False)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created_at: Mapped[datetime] = mapped_column(nullable=False)


class PersonalField(Base):
    """One encrypted value of a category. `item` is "" for a single-valued category (name, email) and a
    random id for each record of a multi-valued one (support messages, orders)."""

    __tablename__ = "personal_fields"
    __table_args__ = (UniqueConstraint("person_id", "category", "item"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(String(40), ForeignKey("people.id"), nullable=False)
    category: Mapped[str] = mapped_column(String(80), nullable=False)
    item: Mapped[str] = mapped_column(String(40), nullable=False, default="")
    field_type: Mapped[str] = mapped_column(String(32), nullable=False)
    key_version: Mapped[int] = mapped_column(Integer, nullable=False)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    purpose_of_collection: Mapped[str] = mapped_column(String(80), nullable=False)
    source: Mapped[str] = mapped_column(String(16), nullable=False)
    created_at: Mapped[datetime] = mapped_column(nullable=False)
    updated_at: Mapped[datetime] = mapped_column(nullable=False)


class LegalHoldRecord(Base):
    """A record a law requires us to keep (an invoice, a transaction log), under its own random record key.

    Erasing the person leaves it readable until `purge_after` (DPDP s.8(7) "unless retention is necessary
    for compliance with any law"; Rule 8(3); GDPR Art 17(3)(b)); the purge then destroys its key and
    ciphertext and unlinks the person. No foreign key to `people`: the record outlives the person.
    """

    __tablename__ = "legal_hold_records"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # "lhr_" + 26 base32 characters
    person_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    record_type: Mapped[str] = mapped_column(String(80), nullable=False)
    basis: Mapped[str] = mapped_column(String(300), nullable=False)
    purge_after: Mapped[date] = mapped_column(nullable=False, index=True)
    record_key_wrapped: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    kek_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[datetime] = mapped_column(nullable=False)
    purged_at: Mapped[datetime | None] = mapped_column(nullable=True)


class VaultErasure(Base):
    """The database copy of the erasure journal; `purged_at` is set when the ciphertext rows are gone.

    No foreign key to `people`: restore-replay records erasures of people an old backup may not know.
    """

    __tablename__ = "vault_erasures"
    __table_args__ = (Index("ix_vault_erasures_pending", "purged_at"),)

    person_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(nullable=False)
    reason: Mapped[str] = mapped_column(String(64), nullable=False)
    journal_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    purged_at: Mapped[datetime | None] = mapped_column(nullable=True)


# The Core tables, for executemany inserts on the hot paths (no ORM unit-of-work per row).
PERSON_KEYS = cast(Table, PersonKey.__table__)
VAULT_META = cast(Table, VaultMeta.__table__)
PERSON_IDENTIFIERS = cast(Table, PersonIdentifier.__table__)
PERSONAL_FIELDS = cast(Table, PersonalField.__table__)
VAULT_ERASURES = cast(Table, VaultErasure.__table__)
LEGAL_HOLD_RECORDS = cast(Table, LegalHoldRecord.__table__)
KEY_STORE_TABLES = (PERSON_KEYS, VAULT_META)


def create_key_store_tables(engine: Engine) -> None:
    """Create `person_keys` and `vault_meta` in a separate key database (idempotent; only these two)."""
    Base.metadata.create_all(engine, tables=list(KEY_STORE_TABLES), checkfirst=True)


_INSERTS: dict[tuple[str, str, tuple[str, ...]], tuple[str, tuple[str, ...], bool, list[Any]]] = {}


def bulk_insert(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """INSERT many rows with one DB-API `executemany`, converting each distinct value once.

    Same SQL and the same bind conversions (our UTC timestamps, binary) as a Core `insert(table)` with a
    list of parameters, which spends about 20 µs per row in per-row parameter processing: for creating
    people in bulk that was a third of the time. Every row must give every column in the same key order.
    """
    if not rows:
        return
    conn = session.connection()
    dialect = conn.dialect
    keys = tuple(rows[0])
    cache_key = (dialect.name, table.name, keys)
    plan = _INSERTS.get(cache_key)
    if plan is None:
        compiled = insert(table).compile(dialect=dialect, column_keys=list(keys), for_executemany=True)
        names = tuple(compiled.positiontup) if compiled.positiontup is not None else tuple(compiled.binds)
        if set(names) != set(keys):  # a column with a default the rows do not give: let Core fill it in
            conn.execute(insert(table), list(rows))
            return
        processors = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names]
        plan = _INSERTS[cache_key] = (str(compiled), names, compiled.positiontup is not None, processors)
    sql, names, positional, processors = plan
    memo: dict[tuple[int, Any], Any] = {}

    def convert(index: int, value: Any) -> Any:
        process = processors[index]
        if process is None or value is None:
            return value
        if isinstance(value, datetime):  # rows of one batch share a handful of timestamps
            key = (index, value)
            if key not in memo:
                memo[key] = process(value)
            return memo[key]
        return process(value)

    if positional:
        params: list[Any] = [tuple(convert(i, row[name]) for i, name in enumerate(names)) for row in rows]
    else:
        params = [{name: convert(i, row[name]) for i, name in enumerate(names)} for row in rows]
    conn.exec_driver_sql(sql, params)


def dialect_insert(session: Session, table: Any) -> Any:
    """An INSERT with ON CONFLICT support for the session's engine (both engines spell it the same way)."""
    name = session.get_bind().dialect.name
    return postgresql.insert(table) if name == "postgresql" else sqlite.insert(table)
