"""When a rights request must be acknowledged and answered, and whether it is on track (issue 13 item 3).

Pure arithmetic on the policy (no database, no web): the requests workflow calls `deadlines_at_receipt` when a
request arrives, keeps the result, `extend`s it with a reason, and asks `status` at any instant. Lengths are
counted by the deadline engine every workflow shares (`workflow.deadlines`: hours on the clock, calendar days,
business days on the policy's calendar, months by the ICO method for GDPR Art 12(3)).

The deadline is the policy's `rights` entry of the request's kind, `deadline_for` the person's jurisdiction
(`deadlines_by_jurisdiction`, else the entry's `deadline`), counted from the local date of receipt. DPDP Rule 14
fixes no period for access, correction or erasure (only the grievance ceiling of 90 days, Rule 14(3)): the
policy's own figure applies.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime

from fiduciary.errors import FieldProblem, ValidationFailed
from fiduciary.policy.calendar import WorkingCalendar
from fiduciary.policy.duration import Duration, DurationUnit
from fiduciary.policy.schema import Deadline, Jurisdiction, PolicyDocument, Right, RightKind
from fiduciary.workflow.deadlines import (
    DEFAULT_DUE_SOON,
    DeadlineStatus,
    Due,
    due_after,
    due_in,
    end_of_day,
    normalised,
    status,
    working_calendar,
)

MAX_REASON = 2000  # a reason is a sentence or a paragraph sent to the person, not a document


@dataclass(frozen=True, slots=True)
class Extension:
    until: Due
    reason: str  # sent to the person (GDPR Art 12(3); CCPA §1798.130(a)(2)(A)); never logged
    granted_at: datetime


@dataclass(frozen=True, slots=True)
class RequestDeadlines:
    """The due dates set at receipt. `respond_by` is the first deadline; `due` is the one in force."""

    kind: RightKind
    jurisdiction: Jurisdiction | None
    received_at: datetime  # in the policy's time zone
    deadline: Deadline  # the policy's, as it stood at receipt
    respond_by: Due
    acknowledge_by: Due | None
    extension_limit: Due | None  # the latest an extension may reach (respond-by + extendable_by); None: none allowed
    working: WorkingCalendar = field(repr=False, compare=False)
    extension: Extension | None = None

    @property
    def due(self) -> Due:
        return self.extension.until if self.extension is not None else self.respond_by

    def status(self, now: datetime, *, due_soon: Duration = DEFAULT_DUE_SOON) -> DeadlineStatus:
        return status(self.due, now, self.working, due_soon=due_soon)


def right_for(document: PolicyDocument, kind: RightKind | str, jurisdiction: Jurisdiction | None) -> Right:
    """The policy's `rights` entry for a request of `kind` by a person of `jurisdiction` (None: not recorded).

    An entry listing the jurisdiction wins over one offered to everyone; a person of no recorded jurisdiction
    is offered only the entries without a `jurisdictions` list. Anything else is refused naming `kind`.
    """
    offered = [r for r in document.rights if not r.jurisdictions or (jurisdiction in r.jurisdictions)]
    matching = [r for r in offered if r.kind.value == str(kind)]
    if not matching:
        kinds = ", ".join(sorted({r.kind.value for r in offered})) or "none"
        raise ValidationFailed(
            "This kind of request is not offered.",
            [FieldProblem("kind", f"not offered to this person; the policy offers: {kinds}")],
        )
    return next((r for r in matching if r.jurisdictions), matching[0])


def extension_limit(received: datetime, deadline: Deadline, working: WorkingCalendar) -> Due | None:
    """The latest an extension may reach: respond_within + extendable_by, or None if the policy allows none.

    Both in one unit family are counted together from receipt, so "1mo + 2mo" is three months from receipt (31
    January: 30 April, not 28 April); otherwise the extension is counted from the first deadline's day.
    """
    if deadline.extendable_by is None:
        return None
    first, more = normalised(deadline.respond_within), normalised(deadline.extendable_by)
    local = received.astimezone(working.zone)
    if first[0] is more[0]:
        return due_in(local, first[0], first[1] + more[1], working)
    respond_by = due_in(local, *first, working)
    if first[0] is DurationUnit.MINUTES:
        start = respond_by.ends_at
    else:
        start = datetime.combine(respond_by.day, local.time(), tzinfo=working.zone)
    return due_in(start, *more, working)


def deadlines_at_receipt(
    document: PolicyDocument,
    kind: RightKind | str,
    jurisdiction: Jurisdiction | None,
    received_at: datetime,
    *,
    working: WorkingCalendar | None = None,
) -> RequestDeadlines:
    """The due dates of a request of `kind` by a person of `jurisdiction`, received at `received_at` (aware).

    `working` defaults to `working_calendar(document)`; pass it to reuse one across many requests.
    """
    if received_at.tzinfo is None or received_at.utcoffset() is None:
        raise ValidationFailed("received_at needs a time zone.", [FieldProblem("received_at", "give a time zone")])
    right = right_for(document, kind, jurisdiction)
    deadline = right.deadline_for(jurisdiction) if jurisdiction is not None else right.deadline
    working = working or working_calendar(document)
    local = received_at.astimezone(working.zone)
    acknowledge = deadline.acknowledge_within
    return RequestDeadlines(
        kind=right.kind,
        jurisdiction=jurisdiction,
        received_at=local,
        deadline=deadline,
        respond_by=due_after(local, deadline.respond_within, working),
        acknowledge_by=due_after(local, acknowledge, working) if acknowledge is not None else None,
        extension_limit=extension_limit(local, deadline, working),
        working=working,
    )


def _extension_problem(deadlines: RequestDeadlines, until: date, at: datetime) -> FieldProblem | None:
    limit = deadlines.extension_limit
    if limit is None:
        return FieldProblem("until", "the policy allows no extension of this request (no extendable_by)")
    if deadlines.extension is not None:
        return FieldProblem("until", "this request was already extended; it can be extended once")
    if at >= deadlines.respond_by.ends_at:
        return FieldProblem("until", "the first deadline has passed; an extension is given before it ends")
    if until <= deadlines.respond_by.day:
        return FieldProblem("until", f"must be after the current deadline, {deadlines.respond_by.day.isoformat()}")
    if until > limit.day:
        allowed = deadlines.deadline.extendable_by.describe() if deadlines.deadline.extendable_by else ""
        return FieldProblem("until", f"at most {limit.day.isoformat()} (the policy's extendable_by: {allowed})")
    return None


def extend(deadlines: RequestDeadlines, *, until: date, reason: str, at: datetime) -> RequestDeadlines:
    """The deadlines with the response extended to the end of `until`, for `reason`, decided at `at` (aware).

    Refused (ValidationFailed naming `until` or `reason`; the deadlines given are unchanged) when the policy
    allows no extension, when `until` is not after the current deadline or is beyond the policy's
    `extendable_by`, when the request was already extended (CCPA §1798.130(a)(2)(A): "extended once"), or when
    the first deadline has passed: the person must be told of an extension, with its reasons, within the first
    period (GDPR Art 12(3); 11 CCR §7021(b): within the first 45 days).
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("at must be a timezone-aware datetime")
    problems: list[FieldProblem] = []
    if not reason.strip():
        problems.append(FieldProblem("reason", "give the reason for the extension; it is sent to the person"))
    elif len(reason) > MAX_REASON:
        problems.append(FieldProblem("reason", f"at most {MAX_REASON} characters"))
    problem = _extension_problem(deadlines, until, at)
    if problem is not None:
        problems.append(problem)
    if problems:
        raise ValidationFailed("The extension was refused.", problems)
    extension = Extension(Due(until, end_of_day(until, deadlines.working.zone)), reason.strip(), at)
    return replace(deadlines, extension=extension)
