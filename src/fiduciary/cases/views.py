"""What staff see of a case, for every kind: its codes and dates, its clocks with their deadline status, its
history, and its text and notes opened from the case key (already redacted when they were written, so a
card or identity number pasted in shows as `[CARD_NUMBER]`). Lists of cases, newest first, one page at a
time. The web routes, the CLI and the SDK all show these; none of them logs the text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from fiduciary.cases.clocks import clocks_of
from fiduciary.cases.cursors import decode_cursor, encode_cursor
from fiduciary.cases.kinds import kind_spec
from fiduciary.cases.models import Case, CaseClock, CaseEvent
from fiduciary.cases.workflow import case_values, history_of, note_values, notes_of
from fiduciary.errors import FieldProblem, ValidationFailed
from fiduciary.unit_of_work import UnitOfWork

MAX_PAGE: Final = 1000


@dataclass(frozen=True)
class ClockView:
    name: str
    due_at: datetime
    due_on: str
    met_at: datetime | None
    stopped_at: datetime | None
    escalated_at: datetime | None
    status: str  # met, stopped, overdue, due_soon, on_track


@dataclass(frozen=True)
class NoteView:
    id: str
    kind: str
    author: str
    at: datetime
    text: str | None  # None once the case key is gone


@dataclass(frozen=True)
class CaseView:
    case: Case
    values: dict[str, Any]  # the sealed values, opened ({} once erased)
    clocks: list[ClockView]
    notes: list[NoteView]
    history: list[CaseEvent]


def clock_status(clock: CaseClock, now: datetime) -> str:
    if clock.met_at is not None:
        return "met"
    if clock.stopped_at is not None:
        return "stopped"
    if now >= clock.due_at:
        return "overdue"
    return "due_soon" if now >= clock.escalate_at else "on_track"


def case_view(uow: UnitOfWork, case: Case, *, now: datetime, notes: bool = True) -> CaseView:
    session = uow.session
    clocks = [
        ClockView(c.name, c.due_at, c.due_on.isoformat(), c.met_at, c.stopped_at, c.escalated_at, clock_status(c, now))
        for c in clocks_of(session, case.id)
    ]
    note_views = view_notes(uow, case) if notes else []
    return CaseView(case, case_values(uow, case), clocks, note_views, history_of(session, case.id))


def view_notes(uow: UnitOfWork, case: Case) -> list[NoteView]:
    """The case's notes, oldest first, their text opened (None once the case key is gone)."""
    views = []
    for note in notes_of(uow.session, case.id):
        text = note_values(uow, case, note).get("text")
        views.append(NoteView(note.id, note.kind, note.author, note.at, text if isinstance(text, str) else None))
    return views


@dataclass(frozen=True)
class CasePage:
    rows: list[Case]
    next_cursor: str | None


def _cursor(case: Case) -> str:
    return encode_cursor(case.opened_at, case.id)


def list_cases(
    session: Session,
    kind: str,
    *,
    state: str | None = None,
    assigned_to: str | None = None,
    limit: int = 50,
    after: str | None = None,
) -> CasePage:
    """Cases of `kind`, newest first; 422 naming `state` or `limit` for a value the kind does not know."""
    spec = kind_spec(kind)
    problems: list[FieldProblem] = []
    if state is not None and state not in spec.states:
        problems.append(FieldProblem("state", "one of: " + ", ".join(sorted(spec.states))))
    if not 1 <= limit <= MAX_PAGE:
        problems.append(FieldProblem("limit", f"1 to {MAX_PAGE}"))
    if problems:
        raise ValidationFailed("Bad listing.", problems)
    query = select(Case).where(Case.kind == kind)
    if state is not None:
        query = query.where(Case.state == state)
    if assigned_to is not None:
        query = query.where(Case.assigned_to == assigned_to)
    if after is not None:
        opened_at, (case_id,) = decode_cursor(after, 1)
        query = query.where(or_(Case.opened_at < opened_at, and_(Case.opened_at == opened_at, Case.id < case_id)))
    rows = list(session.scalars(query.order_by(Case.opened_at.desc(), Case.id.desc()).limit(limit + 1)))
    page = rows[:limit]
    return CasePage(page, _cursor(page[-1]) if len(rows) > limit else None)
