"""The staff listing of what is due, across everything: every open case clock not yet met and every open
rights request, soonest first, one page at a time (issue 16 item 4: "what is due today, across
everything").

Two keyset-ordered reads, each through its own index (`ix_case_clocks_open_due`, a partial index on open
clocks, and `ix_rights_requests_state_due_at`), each limited to one page plus one, merged here: the first
page of 100,000 open cases reads at most two pages of rows (bench/cases_due.py). The cursor is the last
row's (due_at, id, clock), so a page never repeats or skips a row whatever is added meanwhile.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from fiduciary.cases.cursors import decode_cursor, encode_cursor
from fiduciary.cases.models import Case, CaseClock
from fiduciary.errors import FieldProblem, ValidationFailed
from fiduciary.rights.models import RightsRequest
from fiduciary.rights.states import OPEN

MAX_PAGE: Final = 1000
REQUEST_KIND: Final = "request"  # the kind a rights request has in the listing
REQUEST_CLOCK: Final = "respond"  # its clock: the deadline in force (`rights_requests.due_at`)
MAX_WITHIN: Final = timedelta(days=3660)
WITHIN_PATTERN: Final = r"^[1-9][0-9]{0,4}[mhd]$"  # 90m, 48h, 7d
_WITHIN: Final = re.compile(WITHIN_PATTERN)
_UNITS: Final = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}


@dataclass(frozen=True, slots=True)
class DueItem:
    kind: str  # a case kind, or "request"
    id: str  # the case or request id
    clock: str  # the clock's name ("respond" for a request)
    due_at: datetime
    overdue: bool
    assigned_to: str | None
    state: str
    subkind: str | None = None  # a request's kind (access, erasure, …)

    @property
    def key(self) -> tuple[datetime, str, str]:
        return (self.due_at, self.id, self.clock)


@dataclass(frozen=True)
class DueFilter:
    within: timedelta | None = None  # only what ends before now + within (overdue included)
    kind: str | None = None  # a case kind, or "request"
    assigned_to: str | None = None  # cases assigned to this staff id (requests are not assigned)
    limit: int = 50
    after: str | None = None


@dataclass(frozen=True)
class DuePage:
    items: list[DueItem]
    next_cursor: str | None


def parse_within(text: str, field_name: str = "within") -> timedelta:
    """`48h` → 48 hours (minutes `m`, hours `h`, days `d`), or 422 naming `field_name`."""
    if not isinstance(text, str) or not _WITHIN.fullmatch(text) or int(text[:-1]) * _UNITS[text[-1]] > MAX_WITHIN:
        raise ValidationFailed("Bad horizon.", [FieldProblem(field_name, "a number and m, h or d, e.g. 48h")])
    return int(text[:-1]) * _UNITS[text[-1]]


def _cursor(item: DueItem) -> str:
    return encode_cursor(item.due_at, item.id, item.clock)


def _decode(cursor: str) -> tuple[datetime, str, str]:
    moment, (item_id, clock) = decode_cursor(cursor, 2)
    return moment, item_id, clock


def _check(filters: DueFilter) -> None:
    problems: list[FieldProblem] = []
    if not 1 <= filters.limit <= MAX_PAGE:
        problems.append(FieldProblem("limit", f"1 to {MAX_PAGE}"))
    if filters.within is not None and not timedelta(0) <= filters.within <= MAX_WITHIN:
        problems.append(FieldProblem("within", "a length from 0 to 3660 days"))
    if problems:
        raise ValidationFailed("Bad listing.", problems)


def _case_items(session: Session, filters: DueFilter, until: datetime | None, now: datetime) -> list[DueItem]:
    query = (
        select(CaseClock.case_id, CaseClock.kind, CaseClock.name, CaseClock.due_at, Case.assigned_to, Case.state)
        .join(Case, Case.id == CaseClock.case_id)
        .where(CaseClock.met_at.is_(None), CaseClock.stopped_at.is_(None))
    )
    if filters.kind is not None:
        query = query.where(CaseClock.kind == filters.kind)
    if filters.assigned_to is not None:
        query = query.where(Case.assigned_to == filters.assigned_to)
    if until is not None:
        query = query.where(CaseClock.due_at <= until)
    if filters.after is not None:
        due_at, item_id, clock = _decode(filters.after)
        query = query.where(
            or_(
                CaseClock.due_at > due_at,
                and_(
                    CaseClock.due_at == due_at,
                    or_(CaseClock.case_id > item_id, and_(CaseClock.case_id == item_id, CaseClock.name > clock)),
                ),
            )
        )
    rows = session.execute(query.order_by(CaseClock.due_at, CaseClock.case_id, CaseClock.name).limit(filters.limit + 1))
    return [
        DueItem(kind, case_id, name, due_at, due_at <= now, assigned_to, state)
        for case_id, kind, name, due_at, assigned_to, state in rows
    ]


def _request_items(session: Session, filters: DueFilter, until: datetime | None, now: datetime) -> list[DueItem]:
    if (filters.kind is not None and filters.kind != REQUEST_KIND) or filters.assigned_to is not None:
        return []
    query = select(RightsRequest.id, RightsRequest.kind, RightsRequest.due_at, RightsRequest.state).where(
        RightsRequest.state.in_(sorted(s.value for s in OPEN))
    )
    if until is not None:
        query = query.where(RightsRequest.due_at <= until)
    if filters.after is not None:
        due_at, item_id, clock = _decode(filters.after)
        # a request has one clock: at the cursor's own id it comes after the cursor only if its name does
        after_request = RightsRequest.id >= item_id if clock < REQUEST_CLOCK else RightsRequest.id > item_id
        query = query.where(or_(RightsRequest.due_at > due_at, and_(RightsRequest.due_at == due_at, after_request)))
    rows = session.execute(query.order_by(RightsRequest.due_at, RightsRequest.id).limit(filters.limit + 1))
    return [
        DueItem(REQUEST_KIND, request_id, REQUEST_CLOCK, due_at, due_at <= now, None, state, subkind=kind)
        for request_id, kind, due_at, state in rows
    ]


def _merged(limit: int, *sources: Iterable[DueItem]) -> tuple[list[DueItem], bool]:
    merged = list(heapq.merge(*sources, key=lambda item: item.key))
    return merged[:limit], len(merged) > limit


def list_due(session: Session, filters: DueFilter, *, now: datetime) -> DuePage:
    """One page of what is due, soonest first (overdue first of all)."""
    _check(filters)
    until = now + filters.within if filters.within is not None else None
    page, more = _merged(
        filters.limit, _case_items(session, filters, until, now), _request_items(session, filters, until, now)
    )
    return DuePage(page, _cursor(page[-1]) if more and page else None)
