"""Decide and audit, audience and audit: the one home of each, whoever asks.

`POST /v1/decisions`, `fiduciary decisions decide` and a process embedding Fiduciary all call these
functions, so every decision leaves the same audit event (DPDP Rule 6(1)(c): visibility of every use of
personal data) however it was asked; the route and the command only translate input and output.

Each flow runs in the caller's transaction: the decision's audit event is collected on the session's unit of
work (`fiduciary.unit_of_work`) and written when that transaction commits, or dropped if it rolls back. The
one exception is a refusal: an unknown person asked about a purpose that needs no consent raises `NotFound`,
and the unit of work rolls the caller's transaction back, records the refused attempt and commits it on its
own, so the attempt leaves its trace.

`caller` is who asked and is the audit event's actor (an API key id, `cli` at the command line); `actor`
is who will use the data when the caller names someone else (a staff id, a job), recorded as
`on_behalf_of` and decided as the actor.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy.orm import Session

from fiduciary.audit.service import Action, AuditEvent, attach_audit, decision_event
from fiduciary.codes import safe_request_id, safe_slug
from fiduciary.context import RuntimeContext
from fiduciary.decisions.audiences import check_audience_request
from fiduciary.decisions.engine import Decision, Reason
from fiduciary.decisions.service import DecisionRequest, DecisionService
from fiduciary.errors import NotFound
from fiduciary.metrics import count_decisions
from fiduciary.policy.compiled import CompiledPurpose
from fiduciary.policy.schema import Jurisdiction
from fiduciary.unit_of_work import unit_of_work


def decide_audited(
    runtime: RuntimeContext,
    session: Session,
    *,
    caller: str,
    subject_id: str,
    purpose: str,
    categories: Collection[str] = (),
    actor: str | None = None,
    strict: bool = False,
    request_id: str | None = None,
    jurisdiction: Jurisdiction | str | None = None,
) -> Decision:
    """One decision and its audit event; `jurisdiction` is where the person lives (None: each purpose's own
    ground; an unknown or undeclared one is a 422 before anything is recorded). An unknown person on a
    non-consent purpose raises `NotFound` after recording the refusal (decision `unknown_subject`) in its own
    committed transaction."""
    service = DecisionService.for_runtime(runtime)
    uow = unit_of_work(runtime, session)
    cats = list(categories)
    with uow.step():
        try:
            decision = service.decide(
                session, actor or caller, subject_id, purpose, cats, strict=strict, jurisdiction=jurisdiction
            )
        except NotFound as exc:
            refusal = decision_event(
                caller,
                subject_id,
                purpose,
                cats,
                False,
                [Reason.UNKNOWN_SUBJECT],
                on_behalf_of=actor,
                request_id=request_id,
            )
            raise attach_audit(exc, refusal) from None
        uow.audit(
            decision_event(
                caller,
                subject_id,
                purpose,
                cats,
                decision.allow,
                decision.reasons,
                on_behalf_of=actor,
                request_id=request_id,
            )
        )
    count_decisions(1 if decision.allow else 0, 0 if decision.allow else 1)
    return decision


def decide_many_audited(
    runtime: RuntimeContext,
    session: Session,
    *,
    caller: str,
    requests: Sequence[DecisionRequest],
    actor: str | None = None,
    strict: bool = False,
    request_id: str | None = None,
) -> list[Decision]:
    """Decisions for a batch, in request order, with one audit event each (appended all or nothing).
    An unknown person answers a deny with `unknown_subject`, so one stale id does not fail the batch."""
    made = DecisionService.for_runtime(runtime).decide_many(session, actor or caller, requests, strict=strict)
    unit_of_work(runtime, session).audit_many(
        [
            decision_event(
                caller,
                r.subject_id,
                r.purpose,
                list(r.categories),
                d.allow,
                d.reasons,
                on_behalf_of=actor,
                request_id=request_id,
            )
            for r, d in zip(requests, made, strict=True)
        ],
    )
    allowed = sum(1 for d in made if d.allow)
    count_decisions(allowed, len(made) - allowed)
    return made


def audience_audited(
    runtime: RuntimeContext,
    session: Session,
    *,
    caller: str,
    purpose: str,
    channel: str | None = None,
    subject_ids: Sequence[str] | None = None,
    request_id: str | None = None,
) -> CompiledPurpose:
    """Check an audience request and record that `caller` asked for it; the caller then streams
    `audiences.eligible_people` for the returned purpose (after committing, so the audit append does not
    hold SQLite's write lock while the list streams: decision 0012)."""
    policy = DecisionService.for_runtime(runtime).policy()
    compiled = check_audience_request(policy, purpose, channel, subject_ids)
    unit_of_work(runtime, session).audit(
        AuditEvent(
            actor=caller,
            action=Action.AUDIENCE,
            purpose=purpose,
            target=safe_slug(channel),
            count=len(subject_ids) if subject_ids is not None else None,
            request_id=safe_request_id(request_id),
        )
    )
    return compiled
