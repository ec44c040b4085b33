"""How the consent domain answers an access or erasure request.

Exported: the consent state, GPC opt-outs, visitor links, restrictions and re-consent notices, and the
person's own consent ledger events with their hashes. Erased: those projections and cached idempotent
answers naming the person; the consent ledger is kept: it holds only pseudonymous ids and policy references
(never a value) and is the proof that consent was given or withdrawn, which DPDP s.6(10) and GDPR Art 7(1)
oblige the store to be able to give; once the vault key is destroyed nothing in it points to an
identifiable person. Its subject index (`ledger_subjects`) is kept with it for the same reason: it repeats
only the pseudonymous ids the payloads already hold, and an export must still find the person's events.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.orm import Session

from fiduciary.consent.models import (
    ConsentIdempotency,
    ConsentState,
    GpcOptOut,
    ProcessingRestriction,
    ReconsentNotice,
    VisitorLink,
)
from fiduciary.context import RuntimeContext
from fiduciary.ledger.models import LedgerEvent, LedgerSubject
from fiduciary.personal_data.registry import EraseReport, PersonalDataRegistry, Row

CONSENT_STREAM: Final = "consent"
LEDGER_BATCH: Final = 1000


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def linked_visitors(session: Session, person_id: str) -> list[str]:
    """The banner visitor ids linked to the person (their consent was given before they signed in)."""
    return list(
        session.scalars(
            sa.select(VisitorLink.visitor_id).where(VisitorLink.person_id == person_id).order_by(VisitorLink.visitor_id)
        )
    )


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def consent_ledger_events(session: Session, subject_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The consent ledger events that name any of `subject_ids`, with their hashes (for receipts)."""
    return list(iter_consent_ledger_events(session, subject_ids))


def iter_consent_ledger_events(session: Session, subject_ids: Sequence[str]) -> Iterator[dict[str, Any]]:
    """`consent_ledger_events` one at a time, a batch of positions in memory at once (access packages).

    Found through the ledger's subject index (`ledger_subjects`, written with each consent event and
    backfilled by migration 0013), so the time depends on the person's own events, not the ledger's size
    (bench/ledger_subject_lookup.py). Read in position batches, each event once however many of the ids it
    names.
    """
    if not subject_ids:
        return
    wanted = sorted(set(subject_ids))
    after = 0
    while True:
        # Two statements, each a seek on a primary key: the positions from the index, then those events. (One
        # statement joining a DISTINCT … LIMIT subquery let SQLite's planner scan the events instead.)
        positions = list(
            session.scalars(
                sa.select(LedgerSubject.position)
                .where(
                    LedgerSubject.stream == CONSENT_STREAM,
                    LedgerSubject.subject_id.in_(wanted),
                    LedgerSubject.position > after,
                )
                .distinct()
                .order_by(LedgerSubject.position)
                .limit(LEDGER_BATCH)
            )
        )
        if not positions:
            return
        rows = session.execute(
            sa.select(
                LedgerEvent.position,
                LedgerEvent.event_type,
                LedgerEvent.recorded_at,
                LedgerEvent.payload,
                LedgerEvent.hash,
            )
            .where(LedgerEvent.stream == CONSENT_STREAM, LedgerEvent.position.in_(positions))
            .order_by(LedgerEvent.position)
        ).all()
        for position, event_type, recorded_at, payload_text, digest in rows:
            yield {
                "stream": CONSENT_STREAM,
                "position": position,
                "event_type": event_type,
                "recorded_at": _iso(recorded_at),
                "payload": json.loads(payload_text),
                "hash": digest,
            }
        if len(positions) < LEDGER_BATCH:
            return
        after = positions[-1]


def export_consent(session: Session, person_id: str) -> Mapping[str, Any]:
    subjects = [person_id, *linked_visitors(session, person_id)]
    return {
        "state": _state(session, subjects),
        "gpc_opt_outs": _gpc(session, subjects),
        "ledger_events": consent_ledger_events(session, subjects),
    }


def stream_consent(session: Session, person_id: str) -> Iterator[tuple[str, Row]]:
    """`export_consent` row by row: the ledger events are read a batch at a time (access packages)."""
    subjects = [person_id, *linked_visitors(session, person_id)]
    for row in _state(session, subjects):
        yield "state", row
    for row in _gpc(session, subjects):
        yield "gpc_opt_outs", row
    for event in iter_consent_ledger_events(session, subjects):
        yield "ledger_events", event


def _state(session: Session, subjects: Sequence[str]) -> list[dict[str, Any]]:
    return [
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


def _gpc(session: Session, subjects: Sequence[str]) -> list[dict[str, Any]]:
    return [
        {"subject_id": s, "purpose": p, "ledger_position": pos}
        for s, p, pos in session.execute(
            sa.select(GpcOptOut.subject_id, GpcOptOut.purpose, GpcOptOut.ledger_position)
            .where(GpcOptOut.subject_id.in_(subjects))
            .order_by(GpcOptOut.subject_id, GpcOptOut.purpose)
        )
    ]


def erase_consent(session: Session, person_id: str) -> EraseReport:
    """Delete the projections about the person and their linked visitors; the consent ledger stays.

    Cached idempotent answers (`consent_idempotency`) that name the person are deleted too: they repeat the
    person's receipts. The ledger is kept as the proof DPDP s.6(10) requires; it holds only pseudonymous ids.
    """
    subjects = [person_id, *linked_visitors(session, person_id)]
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


def register(registry: PersonalDataRegistry, runtime: RuntimeContext) -> None:
    """The consent projections (order 20), then links, restrictions and notices (30); visitors as aliases."""
    registry.register(
        "consent",
        export_consent,
        erase_consent,
        ["consent_state", "gpc_opt_outs", "consent_idempotency"],
        order=20,
        stream=stream_consent,
    )
    registry.register("visitor_links", export_visitor_links, erase_visitor_links, ["visitor_links"], order=30)
    registry.register(
        "processing_restrictions", export_restrictions, erase_restrictions, ["processing_restrictions"], order=30
    )
    registry.register(
        "reconsent_notices", export_reconsent_notices, erase_reconsent_notices, ["reconsent_notices"], order=30
    )
    registry.add_alias_source(linked_visitors)
