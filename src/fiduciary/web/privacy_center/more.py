"""More privacy center pages (issue 14 item 1): the notice's version history with what changed, one control
per marketing purpose to stop it on its channels, my data by category (masked), and a complaint form for the
grievance officer.

- The version history is public (signed in or not: the notice itself is public, DPDP s.5(1), GDPR Art 13(3)
  "information on further processing"); each version after the first lists what changed in the diff engine's
  plain sentences (`policy.diff`: identifiers and store-authored labels only, never a contact's details).
- Unsubscribing: by channel (every marketing purpose sent by SMS, say) or by purpose. Consent is recorded per
  purpose, not per channel (the ledger has no channel of marketing, only the channel a choice was made on), so
  a purpose declaring two channels stops on both, and the page names the other channels a control also stops.
  It is a withdrawal through the consent service, like the consents page and `/u/{token}`
  (DPDP s.6(4), GDPR Art 7(3) and Art 21(3): stopping direct marketing is as easy as agreeing to it).
- The complaint is a grievance case (`cases.grievances`; DPDP s.8(10), s.13, Rule 14(3)), acknowledged at
  once through the outbox; its text is redacted and sealed under the case's key by the cases domain, so it
  never reaches a log, an audit event or a URL.
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session

from fiduciary.cases.grievances import LANGUAGES, GrievanceIntake, file_grievance
from fiduciary.cases.notes import MAX_TEXT
from fiduciary.consent.service import state_for
from fiduciary.errors import FiduciaryError, FieldProblem, NotFound, ValidationFailed
from fiduciary.identity.sessions import CustomerSession
from fiduciary.people.service import get_person
from fiduciary.policy import versions
from fiduciary.runtime import Runtime
from fiduciary.vault.own_view import masked_own_view
from fiduciary.web.deps import SESSION_DEPENDENCY, runtime_dependency
from fiduciary.web.privacy_center.guard import Posted, csrf_token, optional_session, session_binding, signed_in_post
from fiduciary.web.privacy_center.pages import BASE, page_language, render
from fiduciary.web.privacy_center.routes import (
    Context,
    back_to,
    page_context,
    record_choice,
    refused_page,
    rights_offered,
)
from fiduciary.web.security import public_rate_limit

router = APIRouter(prefix=BASE, include_in_schema=False, dependencies=[Depends(public_rate_limit)])

COMPLAINT_MAX: Final = MAX_TEXT  # characters: a complaint, not a document (bounded before it is sealed and stored)


@router.get("/notice")
def notice_history(
    request: Request,
    customer: CustomerSession | None = Depends(optional_session),
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
) -> Response:
    """Every published version of the notice, newest first, with what changed from the one before it."""
    in_force = versions.current(session)
    rows: list[dict[str, Any]] = [
        {
            "version": v.version,
            "name": v.name,
            "effective_from": v.effective_from.date().isoformat(),
            "in_force": in_force is not None and v.version == in_force.version,
            "first": index == 0,
            "material": v.material,
            "changes": [{"summary": c.summary, "material": c.material} for c in v.changes],
        }
        for index, v in enumerate(versions.history(session))
    ]
    csrf = csrf_token(runtime, session_binding(customer)) if customer is not None else None
    context = {"signed_in": customer is not None, "rows": list(reversed(rows))}
    return render(request, runtime, "notice.html.j2", context, csrf=csrf)


def _marketing_rows(ctx: Context) -> list[dict[str, Any]]:
    """The consent purposes with `marketing_channels` where the person lives, with their state."""
    policy = ctx.runtime.policy()
    where = policy.residence(get_person(ctx.session, ctx.customer.person_id).jurisdiction)
    purposes = policy.purposes_for(where)
    state = state_for(ctx.session, [ctx.customer.person_id]).get(ctx.customer.person_id, {})
    rows = []
    for purpose in sorted(policy.document.purposes, key=lambda p: p.id):
        if not purpose.is_marketing or purpose.id not in purposes or purpose.id not in policy.consent_purposes:
            continue  # marketing on another ground is stopped by an objection request (opt_out_marketing)
        row = state.get(purpose.id)
        rows.append(
            {
                "id": purpose.id,
                "name": purpose.name,
                "channels": [str(c) for c in purpose.marketing_channels],
                "on": row is not None and row.status == "granted",
            }
        )
    return rows


def _channel_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per channel the marketing purposes use: the purposes on it that are on, and the other channels
    turning it off stops too (a purpose's one consent covers all its channels)."""
    channels = sorted({c for row in rows for c in row["channels"]})
    out = []
    for channel in channels:
        on = [r for r in rows if channel in r["channels"] and r["on"]]
        also = sorted({c for r in on for c in r["channels"]} - {channel})
        out.append({"channel": channel, "on": bool(on), "purposes": [r["name"] for r in on], "also": also})
    return out


@router.get("/unsubscribe")
def unsubscribe_page(ctx: Context = Depends(page_context)) -> Response:
    """One control per channel (email, SMS, …) and one per marketing purpose, naming what each stops."""
    done, rows = ctx.request.query_params.get("done", ""), _marketing_rows(ctx)
    return ctx.page("unsubscribe.html.j2", rows=rows, channels=_channel_rows(rows), done=done)


@router.post("/unsubscribe")
def unsubscribe(posted: Posted = Depends(signed_in_post), ctx: Context = Depends(page_context)) -> Response:
    """Withdraw one marketing purpose, or every marketing purpose using one channel, through the consent
    service (each on all its channels); idempotent: what is already off writes nothing."""
    purpose, channel = posted.get("purpose"), posted.get("channel")
    try:
        rows = _marketing_rows(ctx)
        chosen = [r for r in rows if (channel in r["channels"] if channel else r["id"] == purpose)]
        if not chosen:
            raise NotFound("No marketing purpose of the policy has this name or channel.", code="purpose_not_found")
        for row in chosen:
            if row["on"]:  # nothing to withdraw: no second event
                record_choice(ctx, row["id"], "withdraw")  # the rules and the GPC handling of the consents page
    except FiduciaryError as error:
        ctx.session.rollback()
        return refused_page(ctx, "message.html.j2", error)
    return back_to(ctx.request, "/unsubscribe", "unsubscribed")


@router.get("/my-data")
def my_data(ctx: Context = Depends(page_context)) -> Response:
    """The categories the person has data in, every value masked (`vault.own_view`); the view is audited."""
    items = masked_own_view(ctx.runtime, ctx.session, ctx.customer.session_id, ctx.customer.person_id)
    ctx.session.commit()  # the view's audit event (and the session's last use) are recorded
    return ctx.page("my_data.html.j2", items=items)


def _complaints_offered(ctx: Context) -> bool:
    return "grievance" in {r.kind.value for r in rights_offered(ctx)}


@router.get("/complaint")
def complaint_form(ctx: Context = Depends(page_context)) -> Response:
    """A complaint to the grievance officer, when the policy offers it to this person."""
    done = ctx.request.query_params.get("done", "") == "made"  # a fixed code, never echoed
    return ctx.page("complaint.html.j2", offered=_complaints_offered(ctx), limit=COMPLAINT_MAX, done=done)


@router.post("/complaint")
def make_complaint(posted: Posted = Depends(signed_in_post), ctx: Context = Depends(page_context)) -> Response:
    """File a grievance case with the complaint's text, in the page's language; it is acknowledged through
    the outbox at once (`cases.grievances.file_grievance`)."""
    text = posted.get("complaint").strip()
    language = page_language(ctx.request, ctx.runtime)
    try:
        if not _complaints_offered(ctx):
            raise NotFound("This kind of request is not offered here.", code="kind_not_offered")
        if not text or len(text) > COMPLAINT_MAX:
            raise ValidationFailed(
                "The complaint is empty or too long.",
                [FieldProblem("complaint", f"must be 1 to {COMPLAINT_MAX} characters")],
            )
        ctx.session.commit()  # the session's last_used_at may have been written: the case is its own transaction
        intake = GrievanceIntake(
            text=text,
            channel="privacy_center",
            person_id=ctx.customer.person_id,
            language=language if language in LANGUAGES else None,
        )
        file_grievance(ctx.runtime, ctx.session, intake, actor=ctx.customer.session_id)
        ctx.session.commit()
    except FiduciaryError as error:
        ctx.session.rollback()
        return refused_page(ctx, "message.html.j2", error)
    return back_to(ctx.request, "/complaint", "made")
