"""Routes: a contact with the person and a stored-value balance, as the store's backend reports them (issue 15
item 3, docs/inactivity.md).

A contact (an order by phone, a letter, a visit to a shop) restarts the person's inactivity clock and cancels
an announced inactivity erasure (DPDP s.8(8), Rule 8(2)); sign-ins, rights requests, consent changes and
retention events restart it on their own. A balance (wallet, credit, gift card) is what an inactivity erasure
keeps (Third Schedule). Both carry ids, codes, instants and an integer amount: no personal value.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from fiduciary.auth.models import ApiKey
from fiduciary.auth.scopes import Scope
from fiduciary.policy.schema import LANGUAGE_PATTERN
from fiduciary.retention.inactivity_contacts import (
    CURRENCY_RE,
    INSTRUMENT_RE,
    MAX_MINOR,
    Balance,
    ContactChannel,
    ContactNames,
    record_contact,
    report_balance,
)
from fiduciary.runtime import Runtime
from fiduciary.web.contract import ContractRoute, IsoDateTime, PersonIdPath
from fiduciary.web.deps import SESSION_DEPENDENCY, runtime_dependency
from fiduciary.web.routes.audit import request_id
from fiduciary.web.security import require_scopes

router = APIRouter(prefix="/v1/people", tags=["people"], route_class=ContractRoute)

NAMES = ContactNames(
    person_id="path.person_id",
    occurred_at="body.occurred_at",
    language="body.language",
    instrument="body.instrument",
    currency="body.currency",
    amount_minor="body.amount_minor",
    reported_at="body.reported_at",
)


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    occurred_at: IsoDateTime = Field(description="When the person approached the store (RFC 3339 with a zone).")
    channel: ContactChannel = Field(default=ContactChannel.OTHER, description="How (recorded in the audit trail).")
    language: str | None = Field(
        default=None,
        pattern=LANGUAGE_PATTERN,
        max_length=35,
        description="The person's language as the contact showed it; the inactivity notices use it.",
    )


class ContactOut(BaseModel):
    person_id: str
    last_contact_at: datetime = Field(description="The clock after this report (a later contact stays).")


class BalanceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    instrument: str = Field(
        pattern=f"^{INSTRUMENT_RE.pattern}$",
        description="`wallet`, `store_credit`, or `gift_card.<card id>`: one balance per instrument.",
    )
    currency: str = Field(pattern=f"^{CURRENCY_RE.pattern}$", description="ISO 4217, e.g. INR.")
    amount_minor: int = Field(ge=0, le=MAX_MINOR, strict=True, description="In minor units (paise for INR).")
    reported_at: IsoDateTime = Field(description="When the store read this balance.")


class BalanceOut(BaseModel):
    person_id: str
    instrument: str
    currency: str
    amount_minor: int
    reported_at: datetime


@router.post(
    "/{person_id}/contacts",
    summary="Report that the person approached the store (restarts the inactivity clock, cancels its erasure)",
    response_model=ContactOut,
)
def report_contact(
    person_id: PersonIdPath,
    body: ContactIn,
    key: ApiKey = Depends(require_scopes(Scope.PEOPLE_WRITE)),
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
    req_id: str = Depends(request_id),
) -> ContactOut:
    last = record_contact(
        runtime,
        session,
        caller=key.id,
        person_id=person_id,
        occurred_at=body.occurred_at,
        channel=body.channel,
        language=body.language,
        request_id=req_id,
        names=NAMES,
    )
    return ContactOut(person_id=person_id, last_contact_at=last)


@router.put(
    "/{person_id}/balances",
    summary="Set a stored-value balance the store holds for the person (kept by an inactivity erasure)",
    response_model=BalanceOut,
)
def put_balance(
    person_id: PersonIdPath,
    body: BalanceIn,
    key: ApiKey = Depends(require_scopes(Scope.PEOPLE_WRITE)),
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
    req_id: str = Depends(request_id),
) -> BalanceOut:
    balance = Balance(body.instrument, body.currency, body.amount_minor, body.reported_at)
    report_balance(
        runtime, session, caller=key.id, person_id=person_id, balance=balance, request_id=req_id, names=NAMES
    )
    return BalanceOut(person_id=person_id, **asdict(balance))
