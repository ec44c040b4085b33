"""The JSON shapes of rights requests, shared by the staff routes and the customer's own routes.

An answer names the request's codes, dates and states; what the person proposed (corrected values, a
nominee's contact, a proof reference) is sealed and never returned. The reasons staff wrote for the person
(a rejection, an extension) are returned to staff and to the person, never logged.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from fiduciary.errors import FieldProblem, ValidationFailed
from fiduciary.policy.calendar import WorkingCalendar
from fiduciary.policy.schema import RightKind
from fiduciary.rights.listing import deadline_status
from fiduciary.rights.models import RightsRequest
from fiduciary.rights.requests import history_of, steps_of
from fiduciary.web.contract import PersonIdField, PurposeId

_STRICT = ConfigDict(extra="forbid")
MAX_CORRECTIONS = 50


class StepOut(BaseModel):
    position: int
    system: str
    action: str | None
    confirmed_by: str | None
    confirmed_at: datetime | None


class HistoryOut(BaseModel):
    at: datetime
    action: str
    from_state: str | None
    to_state: str
    actor: str
    reason: str | None


class RequestOut(BaseModel):
    id: str
    kind: str
    state: str
    person_id: str
    made_by: str
    channel: str
    verified_by: str | None
    received_at: datetime
    acknowledge_by: datetime | None
    due_on: date = Field(description="The last day to answer, in the policy's time zone.")
    due_at: datetime = Field(description="The instant the request becomes overdue.")
    deadline_status: str | None = Field(description="on_track, due_soon or overdue; null once closed.")
    extended: bool
    extension_reason: str | None
    run_after: datetime | None = Field(
        description="When an erasure's waiting period ends; it can be cancelled until then."
    )
    closed_at: datetime | None
    outcome_reason: str | None
    outcome_note: str | None
    details: dict[str, Any]
    steps: list[StepOut] | None = Field(default=None, description="Manual steps; in a single request's answer.")
    history: list[HistoryOut] | None = Field(default=None, description="Transitions; in a single request's answer.")


class RequestPage(BaseModel):
    items: list[RequestOut]
    next_cursor: str | None = Field(description="Pass as `after` for the next page; null on the last one.")


class CorrectionIn(BaseModel):
    model_config = _STRICT
    category: str = Field(min_length=1, max_length=64, description="A data category of the policy.")
    value: str = Field(max_length=10_000, description="The corrected value; validated like any vault write.")


class NomineeIn(BaseModel):
    model_config = _STRICT
    name: str = Field(min_length=1, max_length=200)
    contact: str = Field(min_length=3, max_length=320, description="An email address or a phone number.")
    relationship: str | None = Field(default=None, max_length=100)


class RequestParams(BaseModel):
    """What a kind of request needs: purposes for a restriction, objection or withdrawal; corrections for a
    correction; a nominee for a nomination."""

    model_config = _STRICT
    purposes: list[PurposeId] | None = Field(default=None, max_length=100)
    corrections: list[CorrectionIn] | None = Field(default=None, max_length=MAX_CORRECTIONS)
    nominee: NomineeIn | None = None
    language: str | None = Field(default=None, max_length=16, pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


class RequestIn(RequestParams):
    kind: str = Field(min_length=1, max_length=32, description="A kind of request the policy offers.")
    person_id: PersonIdField
    made_by: str = Field(default="store", pattern="^(store|agent|nominee)$")
    channel: str = Field(default="email", min_length=1, max_length=32, description="A channel the policy lists.")
    verified_by: str | None = Field(
        default=None,
        pattern="^signed_in_session$",
        description="The store vouches the person is signed in to their account now (where the policy accepts it).",
    )
    proof_reference: str | None = Field(
        default=None, min_length=1, max_length=200, description="An agent's or nominee's proof, checked by staff."
    )


def refuse_grievance(kind: str) -> None:
    """One home for grievances: the cases domain, with its own clocks (DPDP s.13, Rule 14(3); decision 0033).
    Both doors that make requests (the store's and the person's own) refuse the kind and point there; the
    rights handler stays for grievance requests received before cases existed, which staff still complete."""
    if kind == RightKind.GRIEVANCE:
        raise ValidationFailed(
            "A grievance is filed as a case.", [FieldProblem("kind", "file a grievance at POST /v1/grievances")]
        )


def split_params(body: RequestParams, proof_reference: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(details, personal): codes in clear, what the person wrote sealed."""
    details: dict[str, Any] = {}
    personal: dict[str, Any] = {}
    if body.purposes is not None:
        details["purposes"] = list(dict.fromkeys(body.purposes))
    if body.corrections is not None:
        details["categories"] = sorted({c.category for c in body.corrections})
        personal["corrections"] = [c.model_dump() for c in body.corrections]
    if body.nominee is not None:
        personal["nominee"] = body.nominee.model_dump()
    if proof_reference is not None:
        personal["proof_reference"] = proof_reference
    return details, personal


def request_out(
    session: Session, row: RightsRequest, *, now: datetime, working: WorkingCalendar, detail: bool = False
) -> RequestOut:
    status = deadline_status(row, now, working)
    return RequestOut(
        id=row.id,
        kind=row.kind,
        state=row.state,
        person_id=row.person_id,
        made_by=row.made_by,
        channel=row.channel,
        verified_by=row.verified_by,
        received_at=row.received_at,
        acknowledge_by=row.acknowledge_by,
        due_on=row.due_on,
        due_at=row.due_at,
        deadline_status=status.value if status is not None else None,
        extended=row.extended_at is not None,
        extension_reason=row.extension_reason,
        run_after=row.run_after,
        closed_at=row.closed_at,
        outcome_reason=row.outcome_reason,
        outcome_note=row.outcome_note,
        details=dict(row.details),
        steps=[
            StepOut(
                position=s.position,
                system=s.system,
                action=s.action,
                confirmed_by=s.confirmed_by,
                confirmed_at=s.confirmed_at,
            )
            for s in steps_of(session, row.id)
        ]
        if detail
        else None,
        history=[
            HistoryOut(
                at=e.at, action=e.action, from_state=e.from_state, to_state=e.to_state, actor=e.actor, reason=e.reason
            )
            for e in history_of(session, row.id)
        ]
        if detail
        else None,
    )
