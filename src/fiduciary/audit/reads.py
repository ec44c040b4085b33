"""Reading the audit trail: the page GET /v1/audit serves, every event in order for an export, and the events
about one person (their access request)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from fiduciary.audit.service import DEFAULT_PAGE, EVENTS, INDEX, MAX_PAGE, STREAM, Outcome
from fiduciary.codes import ACTION_RE, ACTOR_RE, SLUG_RE, SUBJECT_RE
from fiduciary.errors import FieldProblem, ValidationFailed


@dataclass(frozen=True)
class AuditEventView:
    """An event as GET /v1/audit returns it: the index columns, the ledger payload, the ledger hashes."""

    position: int
    recorded_at: datetime
    action: str
    actor: str
    outcome: str
    person_id: str | None
    purpose: str | None
    categories: tuple[str, ...]
    reasons: tuple[str, ...]
    request_id: str | None
    role: str | None
    on_behalf_of: str | None
    target: str | None
    count: int | None
    hash: str
    prev_hash: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "recorded_at": self.recorded_at.isoformat(),
            "action": self.action,
            "actor": self.actor,
            "outcome": self.outcome,
            "person_id": self.person_id,
            "purpose": self.purpose,
            "categories": list(self.categories),
            "reasons": list(self.reasons),
            "request_id": self.request_id,
            "role": self.role,
            "on_behalf_of": self.on_behalf_of,
            "target": self.target,
            "count": self.count,
            "hash": self.hash,
            "prev_hash": self.prev_hash,
        }


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    person_id: str | None = None
    action: str | None = None
    purpose: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def check(self, prefix: str = "query.") -> None:
        """422 naming every malformed filter; a well-formed filter that matches nothing is just empty."""
        problems: list[FieldProblem] = []
        checks: list[tuple[str, str | None, re.Pattern[str], str]] = [
            ("actor", self.actor, ACTOR_RE, "an API key id or staff id"),
            ("person_id", self.person_id, SUBJECT_RE, "a person id per_… or visitor id vis_…"),
            ("action", self.action, ACTION_RE, "an action such as field.read"),
            ("purpose", self.purpose, SLUG_RE, "a purpose id of the policy"),
        ]
        for name, value, pattern, what in checks:
            if value is not None and not pattern.fullmatch(value):
                problems.append(FieldProblem(prefix + name, f"must be {what}"))
        if self.outcome is not None and self.outcome not in {o.value for o in Outcome}:
            problems.append(FieldProblem(prefix + "outcome", "must be one of allowed, denied, error"))
        for name, moment in (("since", self.since), ("until", self.until)):
            if moment is not None and moment.tzinfo is None:
                problems.append(FieldProblem(prefix + name, "must include a time zone, e.g. 2026-01-01T00:00:00Z"))
        if not problems and self.since is not None and self.until is not None and self.since > self.until:
            problems.append(FieldProblem(prefix + "until", "must not be before since"))
        if problems:
            raise ValidationFailed("Invalid audit filter.", problems)


@dataclass(frozen=True)
class AuditPage:
    events: list[AuditEventView]
    next_cursor: int | None = field(default=None)


def _view(row: Any) -> AuditEventView:
    payload: dict[str, Any] = json.loads(row.payload)
    return AuditEventView(
        position=row.ledger_position,
        recorded_at=row.recorded_at,
        action=row.action,
        actor=row.actor,
        outcome=row.outcome,
        person_id=row.person_id,
        purpose=row.purpose,
        categories=tuple(payload.get("categories", ())),
        reasons=tuple(payload.get("reasons", ())),
        request_id=payload.get("request"),
        role=payload.get("role"),
        on_behalf_of=payload.get("on_behalf_of"),
        target=payload.get("target"),
        count=payload.get("count"),
        hash=row.hash,
        prev_hash=row.prev_hash,
    )


_JOINED = sa.select(
    INDEX.c.ledger_position,
    INDEX.c.recorded_at,
    INDEX.c.actor,
    INDEX.c.action,
    INDEX.c.person_id,
    INDEX.c.purpose,
    INDEX.c.outcome,
    EVENTS.c.payload,
    EVENTS.c.hash,
    EVENTS.c.prev_hash,
).select_from(INDEX.join(EVENTS, sa.and_(EVENTS.c.stream == STREAM, EVENTS.c.position == INDEX.c.ledger_position)))


def list_events(
    session: Session,
    filters: AuditFilter | None = None,
    *,
    cursor: int | None = None,
    limit: int = DEFAULT_PAGE,
    order: Literal["asc", "desc"] = "asc",
) -> AuditPage:
    """One page of events matching every filter, by ledger position; pass `next_cursor` back for the next.

    Keyset pagination: `cursor` is the last position of the previous page, so pages stay stable while
    events are appended and each page is an index range scan however deep the caller has paged.
    """
    filters = filters or AuditFilter()
    filters.check()
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed("Invalid page size.", [FieldProblem("query.limit", f"must be 1..{MAX_PAGE}")])
    if cursor is not None and cursor < 0:
        raise ValidationFailed("Invalid cursor.", [FieldProblem("query.cursor", "must be a ledger position ≥ 0")])
    if order not in ("asc", "desc"):
        raise ValidationFailed("Invalid order.", [FieldProblem("query.order", "must be asc or desc")])
    query = _JOINED
    for column, value in (
        (INDEX.c.actor, filters.actor),
        (INDEX.c.person_id, filters.person_id),
        (INDEX.c.action, filters.action),
        (INDEX.c.purpose, filters.purpose),
        (INDEX.c.outcome, filters.outcome),
    ):
        if value is not None:
            query = query.where(column == value)
    if filters.since is not None:
        query = query.where(INDEX.c.recorded_at >= filters.since)
    if filters.until is not None:
        query = query.where(INDEX.c.recorded_at < filters.until)
    if order == "asc":
        if cursor is not None:
            query = query.where(INDEX.c.ledger_position > cursor)
        query = query.order_by(INDEX.c.ledger_position)
    else:
        if cursor is not None:
            query = query.where(INDEX.c.ledger_position < cursor)
        query = query.order_by(INDEX.c.ledger_position.desc())
    rows = session.execute(query.limit(limit + 1)).all()
    events = [_view(row) for row in rows[:limit]]
    next_cursor = events[-1].position if len(rows) > limit else None
    return AuditPage(events, next_cursor)


def iter_events(
    session: Session, filters: AuditFilter | None = None, *, batch: int = MAX_PAGE
) -> Iterator[AuditEventView]:
    """Every matching event in position order, page by page (for exports)."""
    cursor: int | None = None
    while True:
        page = list_events(session, filters, cursor=cursor, limit=batch)
        yield from page.events
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def events_about(session: Session, person_id: str) -> list[dict[str, Any]]:
    """The audit events about one person, for their access request (DPDP s.11; GDPR Art 15(1)(c))."""
    return [event.to_dict() for event in iter_events(session, AuditFilter(person_id=person_id))]
