"""How the vault answers an access or erasure request: the person's fields, records and identifiers
decrypted, with their provenance and the legal-hold records; on erasure, crypto-shredding (the data key and
blind indexes destroyed, the erasure journalled; DPDP s.8(7), GDPR Art 17) while legal-hold records survive
until their purge date.

For access packages the vault also streams (`_vault_stream`): the same fields, records and provenance read
1,000 rows at a time from one cursor (server-side on PostgreSQL) and decrypted row by row, so a person with
100,000 records is packaged in memory flat in their number (bench/access_package.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.orm import Session

from fiduciary.context import RuntimeContext
from fiduciary.people.models import PersonErasure
from fiduciary.personal_data.registry import (
    Eraser,
    EraseReport,
    Exporter,
    PersonalDataRegistry,
    Row,
    Streamer,
    erasure_reason,
)
from fiduciary.vault.keys.data_keys import PersonErased, cipher_for_read
from fiduciary.vault.records import LegalHoldRecord, PersonalField
from fiduciary.vault.retention_events import delete_events, events_for
from fiduciary.vault.service import VaultService

LEGAL_HOLD_BASIS: Final = "legal-hold records are kept until their purge date under the law each one cites"
TABLES: Final = ("person_keys", "person_identifiers", "personal_fields", "legal_hold_records", "vault_erasures")
STREAM_BATCH: Final = 1000


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _vault_exporter(runtime: RuntimeContext) -> Exporter:
    def export_vault(session: Session, person_id: str) -> Mapping[str, Any]:
        vault = VaultService(runtime)
        out: dict[str, Any] = {"legal_hold_records": _legal_hold_records(session, vault, person_id)}
        erasure = session.get(PersonErasure, person_id)
        if erasure is not None:
            out["erased"] = {"erased_at": _iso(erasure.erased_at), "reason": erasure.reason}
            return out
        try:
            fields = vault.get_fields(session, person_id)
            identifiers = vault.get_identifiers(session, person_id)
            records = _records(session, vault, person_id)
        except PersonErased:
            out["erased"] = {"erased_at": None, "reason": None}
            return out
        out.update(
            {
                "fields": dict(sorted(fields.items())),
                "records": records,
                "identifiers": [{"kind": kind, "value": value} for kind, value in identifiers],
                "provenance": _provenance(session, person_id),
            }
        )
        return out

    return export_vault


def _legal_hold_records(session: Session, vault: VaultService, person_id: str) -> list[dict[str, Any]]:
    """The person's legal-hold records not yet purged, decrypted under their own record keys."""
    holds = [
        vault.read_legal_hold_record(session, record_id)
        for record_id in session.scalars(
            sa.select(LegalHoldRecord.id)
            .where(LegalHoldRecord.person_id == person_id, LegalHoldRecord.purged_at.is_(None))
            .order_by(LegalHoldRecord.created_at, LegalHoldRecord.id)
        )
    ]
    return [
        {
            "id": h.id,
            "record_type": h.record_type,
            "basis": h.basis,
            "purge_after": _iso(h.purge_after),
            "created_at": _iso(h.created_at),
            "content": h.content,
        }
        for h in holds
    ]


def _records(session: Session, vault: VaultService, person_id: str) -> dict[str, list[dict[str, Any]]]:
    """Every multi-valued record of the person, per category, read 1,000 at a time."""
    record_categories = list(
        session.scalars(
            sa.select(PersonalField.category)
            .where(PersonalField.person_id == person_id, PersonalField.item != "")
            .distinct()
            .order_by(PersonalField.category)
        )
    )
    records: dict[str, list[dict[str, Any]]] = {}
    for category in record_categories:
        items: list[dict[str, Any]] = []
        while True:
            page = vault.get_records(session, person_id, category, limit=1000, offset=len(items))
            items.extend({"item": r.item, "created_at": _iso(r.created_at), "value": r.value} for r in page)
            if len(page) < 1000:
                break
        records[category] = items
    return records


def _provenance(session: Session, person_id: str) -> list[dict[str, Any]]:
    """Where each stored value came from and for which purpose it was collected."""
    return [
        {
            "category": category,
            "item": item or None,
            "purpose_of_collection": purpose,
            "source": source,
            "created_at": _iso(created),
            "updated_at": _iso(updated),
        }
        for category, item, purpose, source, created, updated in session.execute(
            sa.select(
                PersonalField.category,
                PersonalField.item,
                PersonalField.purpose_of_collection,
                PersonalField.source,
                PersonalField.created_at,
                PersonalField.updated_at,
            )
            .where(PersonalField.person_id == person_id)
            .order_by(PersonalField.id)
        )
    ]


# Core, not ORM rows, read `STREAM_BATCH` at a time from one cursor (server-side on PostgreSQL); the
# timestamps as plain DateTime (no per-row UTC decorator: `_IsoMemo` makes them aware once per value).
_STREAM_ROWS = (
    sa.select(
        PersonalField.category,
        PersonalField.item,
        PersonalField.ciphertext,
        PersonalField.key_version,
        PersonalField.purpose_of_collection,
        PersonalField.source,
        sa.type_coerce(PersonalField.created_at, sa.DateTime(timezone=True)),
        sa.type_coerce(PersonalField.updated_at, sa.DateTime(timezone=True)),
    )
    .where(PersonalField.person_id == sa.bindparam("person_id"))
    .order_by(PersonalField.id)
    .execution_options(yield_per=STREAM_BATCH)
)


class _IsoMemo:
    """UTC ISO text of a stored timestamp, computed once per distinct value (a batch of records shares one)."""

    def __init__(self) -> None:
        self._seen: dict[datetime, str] = {}

    def __call__(self, value: datetime) -> str:
        found = self._seen.get(value)
        if found is None:
            if len(self._seen) > 4096:
                self._seen.clear()
            aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
            found = self._seen[value] = aware.isoformat()
        return found


def _vault_stream(runtime: RuntimeContext) -> Streamer:
    """The vault's data row by row: `legal_hold_records`, then `erased` (after erasure) or `identifiers`,
    `fields` (single-valued, with provenance) and `records.<category>` (each record with its provenance)."""

    def stream_vault(session: Session, person_id: str) -> Iterator[tuple[str, Row]]:
        vault = VaultService(runtime)
        for hold in _legal_hold_records(session, vault, person_id):
            yield "legal_hold_records", hold
        erasure = session.get(PersonErasure, person_id)
        if erasure is not None:
            yield "erased", {"erased_at": _iso(erasure.erased_at), "reason": erasure.reason}
            return
        try:
            cipher = cipher_for_read(vault.keys, session, person_id)
        except PersonErased:
            yield "erased", {"erased_at": None, "reason": None}
            return
        if cipher is None:  # never stored anything
            return
        for kind, value in vault.get_identifiers(session, person_id):
            yield "identifiers", {"kind": kind, "value": value}
        rows = session.connection().execute(_STREAM_ROWS, {"person_id": person_id})
        iso = _IsoMemo()
        openers: dict[tuple[str, int], Callable[[bytes, str], str]] = {}
        for category, item, blob, version, purpose, source, created, updated in rows:
            row: dict[str, Any]
            if item:
                opener = openers.get((category, version))
                if opener is None:
                    opener = openers[(category, version)] = cipher.record_opener(category, version)
                row = {"item": item, "value": opener(blob, item)}
            else:
                row = {"category": category, "value": cipher.decrypt(category, blob, item, version)}
            row["purpose_of_collection"] = purpose
            row["source"] = source
            row["created_at"] = iso(created)
            row["updated_at"] = iso(updated)
            yield ("records." + category if item else "fields"), row

    return stream_vault


def _vault_eraser(runtime: RuntimeContext) -> Eraser:
    def erase_vault(session: Session, person_id: str) -> EraseReport:
        receipt = VaultService(runtime).erase_person(session, person_id, erasure_reason())
        return EraseReport(
            "vault",
            deleted=receipt.identifiers_deleted,
            changed=0 if receipt.already_erased else 1,
            kept=receipt.legal_holds_kept,
            kept_basis=LEGAL_HOLD_BASIS if receipt.legal_holds_kept else None,
            detail={"data_key_destroyed": 0 if receipt.already_erased else 1},
        )

    return erase_vault


def export_retention_events(session: Session, person_id: str) -> Mapping[str, Any]:
    """What the store reported about the person's retention clocks (DPDP s.11, GDPR Art 15)."""
    return {
        "events": [
            {"event": e.event, "occurred_at": _iso(e.occurred_at), "recorded_at": _iso(e.recorded_at)}
            for e in events_for(session, person_id)
        ]
    }


def erase_retention_events(session: Session, person_id: str) -> EraseReport:
    """Delete: once the person's data is erased no retention clock is left to run."""
    return EraseReport("retention_events", deleted=delete_events(session, person_id))


def register(registry: PersonalDataRegistry, runtime: RuntimeContext) -> None:
    """The vault first of all erasers (order 10): destroying the key is the erasure; the rest tidies up after
    it. The retention clocks the store reported (issue 12) go with the other per-person rows (order 30)."""
    registry.register(
        "vault", _vault_exporter(runtime), _vault_eraser(runtime), TABLES, order=10, stream=_vault_stream(runtime)
    )
    registry.register(
        "retention_events", export_retention_events, erase_retention_events, ["retention_events"], order=30
    )
