"""The staff listing of requests: open ones first by due date, filtered by state, kind, person and
deadline status, one page at a time (a keyset cursor on due date and id: the first page of 10,000 open
requests reads 51 rows through `ix_rights_requests_due_at` in order, bench/rights_requests.py)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from fiduciary.errors import FieldProblem, ValidationFailed
from fiduciary.policy.calendar import WorkingCalendar
from fiduciary.rights.models import RightsRequest
from fiduciary.rights.states import OPEN, State
from fiduciary.workflow.deadlines import DeadlineStatus, Due, due_soon_from, status

MAX_PAGE: Final = 1000  # as the audit listing: one bound for every `limit`


@dataclass(frozen=True)
class RequestFilter:
    states: tuple[str, ...] = tuple(sorted(s.value for s in OPEN))
    kind: str | None = None
    person_id: str | None = None
    status: DeadlineStatus | None = None
    limit: int = 50
    after: str | None = None  # the cursor of the previous page


@dataclass(frozen=True)
class Page:
    rows: list[RightsRequest]
    next_cursor: str | None


def _end_of(day: date, working: WorkingCalendar) -> datetime:
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=working.zone)


def due_soon_until(now: datetime, working: WorkingCalendar) -> datetime:
    """The latest end of a deadline that is due soon (or overdue) at `now`: a deadline ending after it is on
    track. Deadlines end at the end of a day on the policy's calendar, so the first day whose deadline is
    not yet due soon bounds them."""
    day = now.astimezone(working.zone).date()
    for _ in range(400):
        if due_soon_from(Due(day, _end_of(day, working)), working) > now:
            return _end_of(day - timedelta(days=1), working)
        day += timedelta(days=1)
    return _end_of(day, working)


def deadline_status(row: RightsRequest, now: datetime, working: WorkingCalendar) -> DeadlineStatus | None:
    """On track, due soon or overdue for an open request; None once it is closed."""
    if row.state not in {s.value for s in OPEN}:
        return None
    return status(Due(row.due_on, row.due_at), now, working)


def encode_cursor(row: RightsRequest) -> str:
    return base64.urlsafe_b64encode(f"{row.due_at.isoformat()}|{row.id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, _, request_id = raw.partition("|")
        parsed = datetime.fromisoformat(moment)
        if parsed.tzinfo is None or not request_id.startswith("rr_"):
            raise ValueError
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed("Bad cursor.", [FieldProblem("after", "a next_cursor from a previous page")]) from None
    return parsed, request_id


def _check(filters: RequestFilter) -> None:
    problems: list[FieldProblem] = []
    known = {s.value for s in State}
    if not filters.states or any(s not in known for s in filters.states):
        problems.append(FieldProblem("state", "one or more of: " + ", ".join(sorted(known))))
    if not 1 <= filters.limit <= MAX_PAGE:
        problems.append(FieldProblem("limit", f"1 to {MAX_PAGE}"))
    if problems:
        raise ValidationFailed("Bad listing.", problems)


def _in_states(states: tuple[str, ...]) -> ColumnElement[bool]:
    """The state filter. Every open state (the default listing) is `closed_at IS NULL`, which the transition
    into a closed state sets: SQLite, given `state IN (…4 states)`, reads the state index and sorts every open
    request, where with this it walks `ix_rights_requests_due_at` in order and stops after a page."""
    if set(states) == {s.value for s in OPEN}:
        return RightsRequest.closed_at.is_(None)
    return RightsRequest.state.in_(states)


def list_requests(session: Session, filters: RequestFilter, *, now: datetime, working: WorkingCalendar) -> Page:
    """One page, soonest deadline first."""
    _check(filters)
    query = select(RightsRequest).where(_in_states(filters.states))
    if filters.kind is not None:
        query = query.where(RightsRequest.kind == filters.kind)
    if filters.person_id is not None:
        query = query.where(RightsRequest.person_id == filters.person_id)
    if filters.status is DeadlineStatus.OVERDUE:
        query = query.where(RightsRequest.due_at <= now)
    elif filters.status is DeadlineStatus.DUE_SOON:
        query = query.where(RightsRequest.due_at > now, RightsRequest.due_at <= due_soon_until(now, working))
    elif filters.status is DeadlineStatus.ON_TRACK:
        query = query.where(RightsRequest.due_at > due_soon_until(now, working))
    if filters.after is not None:
        due_at, request_id = _decode_cursor(filters.after)
        query = query.where(
            or_(RightsRequest.due_at > due_at, and_(RightsRequest.due_at == due_at, RightsRequest.id > request_id))
        )
    rows: Sequence[RightsRequest] = session.scalars(
        query.order_by(RightsRequest.due_at, RightsRequest.id).limit(filters.limit + 1)
    ).all()
    page = list(rows[: filters.limit])
    return Page(page, encode_cursor(page[-1]) if len(rows) > filters.limit else None)
