"""The JSON shapes of cases: the due listing across everything and grievances.

A grievance's text, notes and replies are returned to staff already redacted (card and identity numbers
masked when they were written); a non-customer's contact address is never returned, only whether there is
someone to write to. None of it is logged.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from fiduciary.cases.due import DueItem
from fiduciary.cases.notes import MAX_TEXT
from fiduciary.cases.views import CaseView
from fiduciary.cases.workflow import REASON_PATTERN
from fiduciary.codes import ACTOR_PATTERN
from fiduciary.web.contract import PersonIdField

_STRICT = ConfigDict(extra="forbid")
_TEXT = Field(min_length=1, max_length=MAX_TEXT, description="Free text; card and identity numbers are masked.")


class DueItemOut(BaseModel):
    kind: str = Field(description="A kind of case (grievance, …), or `request` for a rights request.")
    id: str = Field(description="The case or request id.")
    clock: str = Field(description="The clock's name (`respond` for a rights request).")
    due_at: datetime
    overdue: bool
    assigned_to: str | None
    state: str
    subkind: str | None = Field(description="A rights request's kind (access, erasure, …); null for a case.")


class DuePageOut(BaseModel):
    items: list[DueItemOut]
    next_cursor: str | None


def due_out(item: DueItem) -> DueItemOut:
    return DueItemOut(
        kind=item.kind,
        id=item.id,
        clock=item.clock,
        due_at=item.due_at,
        overdue=item.overdue,
        assigned_to=item.assigned_to,
        state=item.state,
        subkind=item.subkind,
    )


class GrievanceIn(BaseModel):
    model_config = _STRICT
    text: str = _TEXT
    person_id: PersonIdField | None = Field(default=None, description="The person on file; or give contact_email.")
    contact_email: EmailStr | None = Field(default=None, description="Where to answer someone not on file.")
    language: Literal["en", "hi"] | None = Field(default=None, description="The language of the answers.")
    channel: Literal["api", "email", "privacy_center"] = Field(
        default="api", description="How it reached the store: `email` for the grievance mailbox routed here."
    )


class AssignIn(BaseModel):
    model_config = _STRICT
    assigned_to: str | None = Field(max_length=100, pattern=ACTOR_PATTERN, description="A staff id; null: nobody.")


class TextIn(BaseModel):
    model_config = _STRICT
    text: str = _TEXT


class CloseIn(BaseModel):
    model_config = _STRICT
    reason: str = Field(
        max_length=64,
        pattern=REASON_PATTERN,
        description="resolved, not_upheld, duplicate, withdrawn, no_response or out_of_scope.",
    )
    text: str | None = Field(default=None, min_length=1, max_length=MAX_TEXT, description="Words for the person.")


class ClockOut(BaseModel):
    name: str
    due_at: datetime
    due_on: str
    status: str = Field(description="met, stopped, overdue, due_soon or on_track.")
    met_at: datetime | None
    escalated_at: datetime | None


class NoteOut(BaseModel):
    id: str
    kind: str = Field(description="internal (staff only) or reply (sent to the person).")
    author: str
    at: datetime
    text: str | None = Field(description="Null once the person's erasure destroyed the case key.")


class EventOut(BaseModel):
    at: datetime
    action: str
    from_state: str | None
    to_state: str
    actor: str
    reason: str | None


class GrievanceOut(BaseModel):
    id: str
    state: str
    person_id: str | None
    channel: str
    language: str | None
    assigned_to: str | None
    opened_at: datetime
    closed_at: datetime | None
    outcome_reason: str | None
    masked: dict[str, int] = Field(description="How many numbers of each type were masked in the text.")
    text: str | None = Field(default=None, description="The complaint, redacted; null once erased.")
    answerable: bool | None = Field(default=None, description="Whether there is someone to write to.")
    clocks: list[ClockOut]
    notes: list[NoteOut] | None = None
    history: list[EventOut] | None = None


class GrievancePage(BaseModel):
    items: list[GrievanceOut]
    next_cursor: str | None


def grievance_out(view: CaseView, *, detail: bool, answerable: bool | None = None) -> GrievanceOut:
    case = view.case
    masked = case.details.get("masked") if isinstance(case.details, dict) else None
    text = view.values.get("text")
    return GrievanceOut(
        id=case.id,
        state=case.state,
        person_id=case.person_id,
        channel=case.channel,
        language=case.language,
        assigned_to=case.assigned_to,
        opened_at=case.opened_at,
        closed_at=case.closed_at,
        outcome_reason=case.outcome_reason,
        masked=dict(masked) if isinstance(masked, dict) else {},
        text=text if detail and isinstance(text, str) else None,
        answerable=answerable,
        clocks=[
            ClockOut(
                name=c.name,
                due_at=c.due_at,
                due_on=c.due_on,
                status=c.status,
                met_at=c.met_at,
                escalated_at=c.escalated_at,
            )
            for c in view.clocks
        ],
        notes=[NoteOut(id=n.id, kind=n.kind, author=n.author, at=n.at, text=n.text) for n in view.notes]
        if detail
        else None,
        history=[
            EventOut(
                at=e.at, action=e.action, from_state=e.from_state, to_state=e.to_state, actor=e.actor, reason=e.reason
            )
            for e in view.history
        ]
        if detail
        else None,
    )
