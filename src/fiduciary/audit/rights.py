"""How the audit domain answers an access or erasure request: the events about the person (and the subject
ids linked to them) are exported; on erasure they are kept, because DPDP Rule 6(1)(e) and Rule 8(3) require
the logs of processing to be kept for at least a year "even if" the person asks for erasure. The index holds
only pseudonymous ids; the retention sweep purges it when the policy's log retention ends."""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.orm import Session

from fiduciary.audit.models import AuditEventIndex
from fiduciary.audit.reads import AuditFilter, events_about, iter_events
from fiduciary.context import RuntimeContext
from fiduciary.personal_data.registry import EraseReport, Exporter, PersonalDataRegistry, Row, Streamer

LOG_RETENTION_BASIS: Final = (
    "DPDP Rules 2025 r.6(1)(e) and r.8(3): logs of processing kept at least one year; pseudonymous ids only"
)


def _exporter(registry: PersonalDataRegistry) -> Exporter:
    def export_audit(session: Session, person_id: str) -> Mapping[str, Any]:
        """The audit events about the person and about the subject ids linked to them, by position."""
        subjects = (person_id, *registry.aliases(session, person_id))
        events = [e for subject in subjects for e in events_about(session, subject)]
        return {"events": sorted(events, key=lambda e: int(e["position"]))}

    return export_audit


def _stream(registry: PersonalDataRegistry) -> Streamer:
    def stream_audit(session: Session, person_id: str) -> Iterator[tuple[str, Row]]:
        """`export_audit` row by row: each subject's events page by page, merged by position."""
        subjects = (person_id, *registry.aliases(session, person_id))
        pages = [iter_events(session, AuditFilter(person_id=subject)) for subject in subjects]
        for event in heapq.merge(*pages, key=lambda e: e.position):
            yield "events", event.to_dict()

    return stream_audit


def erase_audit(session: Session, person_id: str) -> EraseReport:
    """Keep: the audit index holds only pseudonymous ids and is the processing log the law keeps a year."""
    kept = session.scalar(sa.select(sa.func.count()).where(AuditEventIndex.person_id == person_id)) or 0
    return EraseReport("audit", kept=int(kept), kept_basis=LOG_RETENTION_BASIS)


def register(registry: PersonalDataRegistry, runtime: RuntimeContext) -> None:
    registry.register("audit", _exporter(registry), erase_audit, ["audit_events"], order=40, stream=_stream(registry))
