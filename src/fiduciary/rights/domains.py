"""The built-in registrations: how each existing domain exports and erases a person.

- vault (person_keys, person_identifiers, personal_fields, legal_hold_records, vault_erasures): export the
  fields, records and identifiers decrypted and the legal-hold records; erase by crypto-shredding (the data
  key and blind indexes are destroyed, the erasure journalled); legal-hold records survive until purged.
- consent (consent_state, gpc_opt_outs, consent_idempotency): export the state and the person's own consent
  ledger events; erase the state rows, GPC opt-outs and cached answers naming the person; keep the ledger.
- visitor_links, processing_restrictions, reconsent_notices: export the rows; erase them.
- retention_events (retention_events): export the events the store reported (issue 12); erase them.
- audit (audit_events): export the events about the person; keep the pseudonymous index.
- people (people): export id, status and age facts; close the account, forget the age facts, keep the id.

Why the consent ledger is kept: it holds only pseudonymous ids and policy references (never a value), and
it is the proof that consent was given or withdrawn, which DPDP s.6(10) and GDPR Art 7(1) oblige the store
to be able to give; once the vault key is destroyed nothing in it points to an identifiable person.

Why the audit index is kept: DPDP Rule 6(1)(e) and Rule 8(3) require the logs of processing to be kept
for at least a year "even if" the person asks for erasure; the index holds the same pseudonymous ids as
the audit ledger. The retention sweep purges them when the policy's log retention ends.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Final

import sqlalchemy as sa
from sqlalchemy.orm import Session

from fiduciary.audit.service import events_about
from fiduciary.consent.models import (
    ConsentIdempotency,
    ConsentState,
    GpcOptOut,
    ProcessingRestriction,
    ReconsentNotice,
    VisitorLink,
)
from fiduciary.ledger.models import LedgerEvent
from fiduciary.rights.registry import EraseReport, RightsRegistry, erasure_reason
from fiduciary.storage.base import utcnow
from fiduciary.vault.models import Person
from fiduciary.vault.records import LegalHoldRecord, PersonalField, VaultErasure
from fiduciary.vault.retention_events import delete_events, events_for

if TYPE_CHECKING:
    from fiduciary.runtime import Runtime

CONSENT_STREAM: Final = "consent"
LOG_RETENTION_BASIS: Final = (
    "DPDP Rules 2025 r.6(1)(e) and r.8(3): logs of processing kept at least one year; pseudonymous ids only"
)
LEGAL_HOLD_BASIS: Final = "legal-hold records are kept until their purge date under the law each one cites"
LEDGER_BATCH: Final = 1000


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _linked_visitors(session: Session, person_id: str) -> list[str]:
    return list(
        session.scalars(
            sa.select(VisitorLink.visitor_id).where(VisitorLink.person_id == person_id).order_by(VisitorLink.visitor_id)
        )
    )


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


# ------------------------------------------------------------------------------------------------ people


def export_people(session: Session, person_id: str) -> Mapping[str, Any]:
    person = session.get(Person, person_id)
    if person is None:
        return {}
    return {
        "id": person.id,
        "status": person.status,
        "age_status": person.age_status,
        "adult_on": _iso(person.adult_on),
        "created_at": _iso(person.created_at),
        "closed_at": _iso(person.closed_at),
        "lawful_guardian_id": person.lawful_guardian_id,
        "guardianship_order": person.guardianship_order,
        "guardianship_verified_at": _iso(person.guardianship_verified_at),
    }


def erase_people(session: Session, person_id: str) -> EraseReport:
    """Close the account and drop the age facts (derived from the date of birth); keep the pseudonymous row.

    The row stays as a tombstone: ledger events and the erasure journal name this id, and a closed account
    takes no new consent or data.
    """
    person = session.get(Person, person_id)
    if person is None:
        return EraseReport("people")
    changed = (
        person.status != "closed"
        or person.adult_on is not None
        or person.age_status != "unknown"
        or person.lawful_guardian_id is not None
    )
    if changed:
        if person.status != "closed":
            person.status = "closed"
            person.closed_at = utcnow()
        person.adult_on = None
        person.age_status = "unknown"
        # the guardianship (DPDP Rule 11): the order's reference says something about the person
        person.lawful_guardian_id = person.guardianship_order = None
        person.guardianship_verified_by = person.guardianship_verified_at = None
        session.flush()
    return EraseReport("people", changed=int(changed), kept=1, kept_basis="pseudonymous id kept as a tombstone")


# ------------------------------------------------------------------------------------------------- vault


def _vault_exporter(runtime: Runtime) -> Any:
    def export_vault(session: Session, person_id: str) -> Mapping[str, Any]:
        from fiduciary.vault.keys.data_keys import PersonErased
        from fiduciary.vault.service import VaultService

        vault = VaultService(runtime)
        holds = [
            vault.read_legal_hold_record(session, record_id)
            for record_id in session.scalars(
                sa.select(LegalHoldRecord.id)
                .where(LegalHoldRecord.person_id == person_id, LegalHoldRecord.purged_at.is_(None))
                .order_by(LegalHoldRecord.created_at, LegalHoldRecord.id)
            )
        ]
        out: dict[str, Any] = {
            "legal_hold_records": [
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
        }
        erasure = session.get(VaultErasure, person_id)
        if erasure is not None:
            out["erased"] = {"erased_at": _iso(erasure.erased_at), "reason": erasure.reason}
            return out
        try:
            fields = vault.get_fields(session, person_id)
            identifiers = vault.get_identifiers(session, person_id)
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
        except PersonErased:
            out["erased"] = {"erased_at": None, "reason": None}
            return out
        provenance = [
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
        out.update(
            {
                "fields": dict(sorted(fields.items())),
                "records": records,
                "identifiers": [{"kind": kind, "value": value} for kind, value in identifiers],
                "provenance": provenance,
            }
        )
        return out

    return export_vault


def _vault_eraser(runtime: Runtime) -> Any:
    def erase_vault(session: Session, person_id: str) -> EraseReport:
        from fiduciary.vault.service import VaultService

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


# ----------------------------------------------------------------------------------------------- consent


def consent_ledger_events(session: Session, subject_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The consent ledger events that name any of `subject_ids`, with their hashes (for receipts).

    A scan of the consent stream filtered by the ids' text (ids are random, so a substring match is exact
    enough, and each candidate is confirmed on the parsed payload). Access requests are rare; the scan
    keeps the ledger free of a per-person index that would itself need erasing.
    """
    import json

    if not subject_ids:
        return []
    wanted = set(subject_ids)
    condition = sa.or_(*(LedgerEvent.payload.contains(f'"{s}"', autoescape=True) for s in sorted(wanted)))
    out: list[dict[str, Any]] = []
    after = 0
    while True:
        rows = session.execute(
            sa.select(
                LedgerEvent.position,
                LedgerEvent.event_type,
                LedgerEvent.recorded_at,
                LedgerEvent.payload,
                LedgerEvent.hash,
            )
            .where(LedgerEvent.stream == CONSENT_STREAM, LedgerEvent.position > after, condition)
            .order_by(LedgerEvent.position)
            .limit(LEDGER_BATCH)
        ).all()
        for position, event_type, recorded_at, payload_text, digest in rows:
            payload = json.loads(payload_text)
            if wanted & {payload.get(k) for k in ("subject", "person", "visitor", "guardian")}:
                out.append(
                    {
                        "stream": CONSENT_STREAM,
                        "position": position,
                        "event_type": event_type,
                        "recorded_at": _iso(recorded_at),
                        "payload": payload,
                        "hash": digest,
                    }
                )
        if len(rows) < LEDGER_BATCH:
            return out
        after = rows[-1].position


def export_consent(session: Session, person_id: str) -> Mapping[str, Any]:
    subjects = [person_id, *_linked_visitors(session, person_id)]
    state = [
        {
            "subject_id": row.subject_id,
            "purpose": row.purpose,
            "status": row.status,
            "policy_version": row.policy_version,
            "notice_hash": row.notice_hash,
            "channel": row.channel,
            "language": row.language,
            "guardian_id": row.guardian_id,
            "updated_at": _iso(row.updated_at),
            "ledger_position": row.ledger_position,
        }
        for row in session.scalars(
            sa.select(ConsentState)
            .where(ConsentState.subject_id.in_(subjects))
            .order_by(ConsentState.subject_id, ConsentState.purpose)
        )
    ]
    gpc = [
        {"subject_id": s, "purpose": p, "ledger_position": pos}
        for s, p, pos in session.execute(
            sa.select(GpcOptOut.subject_id, GpcOptOut.purpose, GpcOptOut.ledger_position)
            .where(GpcOptOut.subject_id.in_(subjects))
            .order_by(GpcOptOut.subject_id, GpcOptOut.purpose)
        )
    ]
    return {"state": state, "gpc_opt_outs": gpc, "ledger_events": consent_ledger_events(session, subjects)}


def erase_consent(session: Session, person_id: str) -> EraseReport:
    """Delete the projections about the person and their linked visitors; the consent ledger stays.

    Cached idempotent answers (`consent_idempotency`) that name the person are deleted too: they repeat the
    person's receipts. The ledger is kept as the proof DPDP s.6(10) requires; it holds only pseudonymous ids.
    """
    subjects = [person_id, *_linked_visitors(session, person_id)]
    states = _rowcount(session.execute(sa.delete(ConsentState).where(ConsentState.subject_id.in_(subjects))))
    gpc = _rowcount(session.execute(sa.delete(GpcOptOut).where(GpcOptOut.subject_id.in_(subjects))))
    mentions = sa.or_(
        *(sa.cast(ConsentIdempotency.response, sa.Text).contains(f'"{s}"', autoescape=True) for s in subjects)
    )
    cached = _rowcount(session.execute(sa.delete(ConsentIdempotency).where(mentions)))
    return EraseReport(
        "consent",
        deleted=states + gpc + cached,
        kept_basis="consent ledger kept as proof of consent (DPDP s.6(10)); pseudonymous ids only",
        detail={"consent_state": states, "gpc_opt_outs": gpc, "consent_idempotency": cached},
    )


def export_visitor_links(session: Session, person_id: str) -> Mapping[str, Any]:
    return {
        "links": [
            {"visitor_id": visitor, "linked_at": _iso(linked)}
            for visitor, linked in session.execute(
                sa.select(VisitorLink.visitor_id, VisitorLink.linked_at)
                .where(VisitorLink.person_id == person_id)
                .order_by(VisitorLink.linked_at, VisitorLink.visitor_id)
            )
        ]
    }


def erase_visitor_links(session: Session, person_id: str) -> EraseReport:
    deleted = _rowcount(session.execute(sa.delete(VisitorLink).where(VisitorLink.person_id == person_id)))
    return EraseReport("visitor_links", deleted=deleted)


def export_restrictions(session: Session, person_id: str) -> Mapping[str, Any]:
    return {
        "restrictions": [
            {
                "id": r.id,
                "purpose": r.purpose,
                "kind": r.kind,
                "created_at": _iso(r.created_at),
                "lifted_at": _iso(r.lifted_at),
            }
            for r in session.scalars(
                sa.select(ProcessingRestriction)
                .where(ProcessingRestriction.person_id == person_id)
                .order_by(ProcessingRestriction.id)
            )
        ]
    }


def erase_restrictions(session: Session, person_id: str) -> EraseReport:
    deleted = _rowcount(
        session.execute(sa.delete(ProcessingRestriction).where(ProcessingRestriction.person_id == person_id))
    )
    return EraseReport("processing_restrictions", deleted=deleted)


def export_reconsent_notices(session: Session, person_id: str) -> Mapping[str, Any]:
    return {
        "notices": [
            {
                "purpose": n.purpose,
                "policy_version": n.policy_version,
                "created_at": _iso(n.created_at),
                "sent_at": _iso(n.sent_at),
            }
            for n in session.scalars(
                sa.select(ReconsentNotice).where(ReconsentNotice.person_id == person_id).order_by(ReconsentNotice.id)
            )
        ]
    }


def erase_reconsent_notices(session: Session, person_id: str) -> EraseReport:
    deleted = _rowcount(session.execute(sa.delete(ReconsentNotice).where(ReconsentNotice.person_id == person_id)))
    return EraseReport("reconsent_notices", deleted=deleted)


# -------------------------------------------------------------------------------------- retention events


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


# ------------------------------------------------------------------------------------------------- audit


def export_audit(session: Session, person_id: str) -> Mapping[str, Any]:
    """The audit events about the person and about the banner visitors linked to them, by position."""
    events = [
        e for subject in (person_id, *_linked_visitors(session, person_id)) for e in events_about(session, subject)
    ]
    return {"events": sorted(events, key=lambda e: int(e["position"]))}


def erase_audit(session: Session, person_id: str) -> EraseReport:
    """Keep: the audit index holds only pseudonymous ids and is the processing log the law keeps a year."""
    from fiduciary.audit.models import AuditEventIndex

    kept = session.scalar(sa.select(sa.func.count()).where(AuditEventIndex.person_id == person_id)) or 0
    return EraseReport("audit", kept=int(kept), kept_basis=LOG_RETENTION_BASIS)


# -------------------------------------------------------------------------------------------- installing


def install_builtin(registry: RightsRegistry, runtime: Runtime) -> None:
    """Register the built-in domains; the vault runs first (the key destruction is the erasure), people last."""
    registry.register(
        "vault",
        _vault_exporter(runtime),
        _vault_eraser(runtime),
        ["person_keys", "person_identifiers", "personal_fields", "legal_hold_records", "vault_erasures"],
        order=10,
    )
    registry.register(
        "consent", export_consent, erase_consent, ["consent_state", "gpc_opt_outs", "consent_idempotency"], order=20
    )
    registry.register("visitor_links", export_visitor_links, erase_visitor_links, ["visitor_links"], order=30)
    registry.register(
        "processing_restrictions", export_restrictions, erase_restrictions, ["processing_restrictions"], order=30
    )
    registry.register(
        "reconsent_notices", export_reconsent_notices, erase_reconsent_notices, ["reconsent_notices"], order=30
    )
    registry.register(
        "retention_events", export_retention_events, erase_retention_events, ["retention_events"], order=30
    )
    registry.register("audit", export_audit, erase_audit, ["audit_events"], order=40)
    registry.register("people", export_people, erase_people, ["people"], order=90)
