"""Routes: the breach register, for the store's privacy and security staff (`breaches:manage`).

Thin: each parses, calls one step of `fiduciary.cases.breach` (the same the CLI calls) and renders. A moment
in the future is a 422 naming its field; the incident's text is never echoed in an error.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from fiduciary.auth.models import ApiKey
from fiduciary.auth.scopes import Scope
from fiduciary.cases.breach import flows, reads
from fiduciary.cases.breach.incident import MAX_COUNT, MAX_ITEMS, MAX_SHORT, MAX_TEXT, BreachNature
from fiduciary.cases.breach.kind import CLOSE_REASONS, RECORDED_STEPS
from fiduciary.cases.breach.reports import MEDIA_TYPES, ReportFormat, ReportKind
from fiduciary.cases.workflow import CASE_ID_PATTERN
from fiduciary.policy.schema import ID_MAX_LENGTH, ID_PATTERN
from fiduciary.runtime import Runtime
from fiduciary.unit_of_work import unit_of_work
from fiduciary.web.contract import ContractRoute, IsoDateTime
from fiduciary.web.deps import SESSION_DEPENDENCY, runtime_dependency
from fiduciary.web.security import require_scopes

router = APIRouter(prefix="/v1/breaches", tags=["breaches"], route_class=ContractRoute)

BreachIdPath = Annotated[str, Path(pattern=CASE_ID_PATTERN, description="An incident's case id.")]
_MANAGE = Depends(require_scopes(Scope.BREACHES_MANAGE))
_STRICT = ConfigDict(extra="forbid")
Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
Short = Annotated[str, Field(min_length=1, max_length=MAX_SHORT)]
CategoryId = Annotated[str, Field(max_length=ID_MAX_LENGTH, pattern=ID_PATTERN)]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]


class FactsIn(BaseModel):
    """Free text filled in at opening or later; each shown as missing in the reports until then."""

    model_config = _STRICT
    summary: Text | None = Field(default=None, description="What happened (its nature).")
    location: Text | None = Field(default=None, description="Where it happened (DPDP Rule 7(2)(a)).")
    incident_type: Short | None = Field(default=None, description="The CERT-In Annexure I type (e.g. data breach).")
    likely_consequences: Text | None = Field(default=None, description="DPDP Rule 7(1)(b); GDPR Art 33(3)(c).")
    measures_taken: Text | None = Field(default=None, description="DPDP Rule 7(1)(c); GDPR Art 33(3)(d).")
    safety_measures: Text | None = Field(default=None, description="What people can do (DPDP Rule 7(1)(d)).")
    circumstances: Text | None = Field(default=None, description="DPDP Rule 7(2)(b)(ii).")
    cause: Text | None = Field(default=None, description="Who or what caused it (DPDP Rule 7(2)(b)(iv)).")
    remedial_measures: Text | None = Field(default=None, description="DPDP Rule 7(2)(b)(v).")
    delay_reasons: Text | None = Field(default=None, description="Why later than 72 hours (GDPR Art 33(1)).")


class BreachIn(FactsIn):
    summary: Text = Field(description="What happened (its nature).")
    detected_at: IsoDateTime = Field(description="When it was first noticed or reported; not in the future.")
    aware_at: IsoDateTime | None = Field(
        default=None, description="When the store became aware it is a personal-data breach (default: detected_at)."
    )
    occurred_at: IsoDateTime | None = Field(default=None, description="When it happened, if known.")
    categories: list[CategoryId] = Field(min_length=1, max_length=MAX_ITEMS, description="The policy's category ids.")
    people_affected: Count | None = Field(default=None, description="Approximate number of people.")
    records_affected: Count | None = Field(default=None, description="Approximate number of records.")
    natures: list[BreachNature] = Field(default_factory=list, max_length=3)
    systems: list[Short] = Field(default_factory=list, max_length=MAX_ITEMS)
    cert_in_reportable: bool = Field(default=True, description="False: not a CERT-In listed incident type.")


class StepIn(BaseModel):
    model_config = _STRICT
    step: Literal[tuple(s.value for s in RECORDED_STEPS)] = Field(description="What was done.")  # type: ignore[valid-type]
    at: IsoDateTime | None = Field(default=None, description="When it was done (default: now); not in the future.")


class NotifyIn(BaseModel):
    model_config = _STRICT
    categories: list[CategoryId] | None = Field(
        default=None, min_length=1, max_length=MAX_ITEMS, description="Default: the incident's categories."
    )
    stored_before: IsoDateTime | None = Field(default=None, description="Fields stored before this moment.")
    stored_after: IsoDateTime | None = Field(default=None, description="Fields stored at or after this moment.")


class CloseIn(BaseModel):
    model_config = _STRICT
    reason: Literal[tuple(sorted(CLOSE_REASONS))] = Field(description="Why it is closed.")  # type: ignore[valid-type]


class NotifyOut(BaseModel):
    added: int = Field(description="People added to the set by this selection.")
    selected: int = Field(description="Everyone in the set.")
    jobs: int = Field(description="Batches queued (one job each).")


def _values(body: BaseModel) -> dict[str, Any]:
    return body.model_dump(mode="json", exclude_none=True)


@router.post("", status_code=201, summary="Record a personal-data breach and start its clocks")
def open_breach(
    body: BreachIn,
    key: ApiKey = _MANAGE,
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
) -> dict[str, Any]:
    uow = unit_of_work(runtime, session)
    case = flows.open_breach(uow, _values(body), actor=key.id)
    return reads.breach_view(uow, case.id, actor=key.id)


@router.get("/{breach_id}", summary="An incident with its clocks and the intimations so far")
def get_breach(
    breach_id: BreachIdPath,
    key: ApiKey = _MANAGE,
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
) -> dict[str, Any]:
    return reads.breach_view(unit_of_work(runtime, session), breach_id, actor=key.id)


@router.patch("/{breach_id}", summary="Fill in or correct the incident's facts")
def update_breach(
    breach_id: BreachIdPath,
    body: FactsIn,
    key: ApiKey = _MANAGE,
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
) -> dict[str, Any]:
    uow = unit_of_work(runtime, session)
    flows.update_facts(uow, breach_id, _values(body), actor=key.id)
    return reads.breach_view(uow, breach_id, actor=key.id)


@router.post("/{breach_id}/steps", summary="Record a report sent or people told (meets its clocks)")
def record_step(
    breach_id: BreachIdPath,
    body: StepIn,
    key: ApiKey = _MANAGE,
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
) -> dict[str, Any]:
    uow = unit_of_work(runtime, session)
    flows.record_step(uow, breach_id, body.step, actor=key.id, at=body.at)
    return reads.breach_view(uow, breach_id, actor=key.id)


@router.post("/{breach_id}/notify", status_code=202, summary="Select the affected people and queue their notices")
def notify(
    breach_id: BreachIdPath,
    body: NotifyIn,
    key: ApiKey = _MANAGE,
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
) -> NotifyOut:
    result = flows.notify_affected(unit_of_work(runtime, session), breach_id, _values(body), actor=key.id)
    return NotifyOut(added=result.added, selected=result.selected, jobs=result.jobs)


@router.post("/{breach_id}/close", summary="Close the incident (its open clocks stop)")
def close(
    breach_id: BreachIdPath,
    body: CloseIn,
    key: ApiKey = _MANAGE,
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
) -> dict[str, Any]:
    uow = unit_of_work(runtime, session)
    flows.close_breach(uow, breach_id, body.reason, actor=key.id)
    return reads.breach_view(uow, breach_id, actor=key.id)


@router.get("/{breach_id}/timeline", summary="Every step with its time and actor, and each clock")
def timeline(
    breach_id: BreachIdPath,
    key: ApiKey = _MANAGE,
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
) -> dict[str, Any]:
    return reads.timeline(unit_of_work(runtime, session), breach_id)


@router.get(
    "/{breach_id}/report",
    summary="A regulator's report (DPDP Rule 7(2)(a)/(b), CERT-In, GDPR Art 33(3)); missing fields shown as missing",
    responses={200: {"content": {MEDIA_TYPES[f]: {} for f in ReportFormat}}},
    response_class=Response,
)
def report(
    breach_id: BreachIdPath,
    kind: Annotated[ReportKind, Query(description="Which regulator's report.")],
    format: Annotated[ReportFormat, Query(description="json, html or md.")] = ReportFormat.JSON,
    key: ApiKey = _MANAGE,
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
) -> Response:
    text, fmt = reads.report(unit_of_work(runtime, session), breach_id, kind.value, format.value, actor=key.id)
    headers = {
        "Cache-Control": "no-store",
        "Content-Disposition": f'inline; filename="{breach_id}-{kind.value}.{fmt.value}"',
    }
    return Response(content=text, media_type=MEDIA_TYPES[fmt], headers=headers)
