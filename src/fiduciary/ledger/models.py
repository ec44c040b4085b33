"""Ledger tables: events (append-only), one head row per stream, signed checkpoints (append-only), and the
subject index of events (`ledger_subjects`).

The application has no code that updates or deletes `ledger_events` or `ledger_checkpoints`; the
migration adds database triggers that refuse UPDATE and DELETE on both, so an accidental write fails loudly.
`ledger_heads` is the only mutable table: it serialises appends per stream and remembers the last
checkpoint, and `verify` cross-checks it against the chain.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fiduciary.storage.base import Base


class LedgerEvent(Base):
    __tablename__ = "ledger_events"
    __table_args__ = (
        CheckConstraint("position >= 1", name="position_positive"),
        CheckConstraint("length(hash) = 64 AND length(prev_hash) = 64", name="hash_length"),
    )

    stream: Mapped[str] = mapped_column(String(32), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    event_type: Mapped[str] = mapped_column(String(80), nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(nullable=False)
    payload: Mapped[str] = mapped_column(Text, nullable=False)  # canonical JSON text, hashed as stored
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)


class LedgerHead(Base):
    __tablename__ = "ledger_heads"

    stream: Mapped[str] = mapped_column(String(32), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(nullable=False)
    checkpoint_position: Mapped[int] = mapped_column(BigInteger, nullable=False)
    checkpoint_at: Mapped[datetime] = mapped_column(nullable=False)


class LedgerCheckpoint(Base):
    __tablename__ = "ledger_checkpoints"
    __table_args__ = (CheckConstraint("position >= 1", name="position_positive"),)

    stream: Mapped[str] = mapped_column(String(32), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)
    signed_at: Mapped[datetime] = mapped_column(nullable=False)
    key_id: Mapped[str] = mapped_column(String(16), nullable=False)
    signature: Mapped[str] = mapped_column(String(88), nullable=False)  # base64 of 64 bytes


class LedgerSubject(Base):
    """Which events of a stream name which pseudonymous subject: the index a person's access request reads
    instead of scanning every payload (issue 13, "Benchmarks"). Written with the events, in the same
    transaction, by a writer that passes `subjects`; the payloads, hashes and verification are untouched.
    Append-only like the events; it holds the same pseudonymous ids the payloads hold (per_…, vis_…)."""

    __tablename__ = "ledger_subjects"
    # On SQLite the rows live in the primary key's B-tree (no rowid table beside it): one insert per row, not two.
    __table_args__ = {"sqlite_with_rowid": False}  # noqa: RUF012 (SQLAlchemy's declared attribute)

    stream: Mapped[str] = mapped_column(String(32), primary_key=True)
    subject_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
