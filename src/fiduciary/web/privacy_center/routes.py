"""The privacy center's pages for a signed-in person (issue 14 item 1): overview, my requests, download my
data, my consents with their receipts, delete or deactivate my account, and the grievance officer.

Every page acts for the cookie's session's person and nobody else: a request id or a receipt of someone else
answers like an unknown one (DPDP Rule 14(1); GDPR Art 12(6)). Requests go through `rights.request_flows`
(made by the person, verified by the session's check), consent changes through the consent service, so the
ledger holds each one with its signed receipt (DPDP s.6(4), GDPR Art 7(3): withdrawing is as easy as giving).
Each POST carries the session's CSRF token and answers 303 to a page (post/redirect/get).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from importlib.resources import files
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from fiduciary.comms.messages import grievance_contact
from fiduciary.consent.evidence import evidence_from
from fiduciary.consent.flows import record_with_gpc
from fiduciary.consent.gpc import gpc_enabled
from fiduciary.consent.restrictions import stoppable_purposes
from fiduciary.consent.service import ConsentChannel, ConsentInput, ConsentService, state_for
from fiduciary.errors import Conflict, FiduciaryError, FieldProblem, NotFound, ValidationFailed
from fiduciary.identity.sessions import CustomerSession
from fiduciary.people.service import get_person
from fiduciary.policy.schema import Right
from fiduciary.rights import request_flows as flows
from fiduciary.rights.models import RightsRequest
from fiduciary.rights.requests import MadeBy, NewRequest, get_request, requests_of
from fiduciary.rights.running import calendar_for
from fiduciary.runtime import Runtime
from fiduciary.storage.base import utcnow
from fiduciary.web.deps import SESSION_DEPENDENCY, request_base_url, runtime_dependency
from fiduciary.web.privacy_center.banner_sync import sync_banner_cookie
from fiduciary.web.privacy_center.guard import Posted, center_session, csrf_token, session_binding, signed_in_post
from fiduciary.web.privacy_center.pages import BASE, link, page_language, render
from fiduciary.web.routes.request_schemas import RequestOut, request_out
from fiduciary.web.security import public_rate_limit

router = APIRouter(prefix=BASE, include_in_schema=False, dependencies=[Depends(public_rate_limit)])

# Kinds a person can ask for with one button: they need nothing but the person's wish.
SIMPLE_KINDS: Final = (
    "access",
    "portability",
    "withdraw_consent",
    "opt_out_marketing",
    "opt_out_sale_sharing",
    "grievance",
)
# Kinds that name the purposes they stop, chosen on the page (GDPR Art 18, 21; DPDP s.7(a)).
STOP_KINDS: Final = ("objection", "restriction")
EVERY_PURPOSE: Final = "*"  # a restriction's "every purpose" choice (all but legal obligations, Art 18(2))
ACCOUNT_KINDS: Final = ("erasure", "deactivation")
OPEN_STATES: Final = frozenset({"received", "identity_check", "awaiting_approval"})
RequestIdPath = Annotated[str, Path(pattern=r"^rr_[0-9a-z]{26}$")]
PositionPath = Annotated[int, Path(ge=1, le=2**53 - 1)]
_CSS: Final = files("fiduciary.web.privacy_center").joinpath("static/center.css").read_bytes()


@dataclass(frozen=True)
class Context:
    """What every signed-in page needs."""

    request: Request
    runtime: Runtime
    session: Session
    customer: CustomerSession

    def page(self, template: str, status: int = 200, **values: Any) -> Response:
        return render(
            self.request,
            self.runtime,
            template,
            {"signed_in": True, **values},
            status=status,
            csrf=csrf_token(self.runtime, session_binding(self.customer)),
        )


def page_context(
    request: Request,
    customer: CustomerSession = Depends(center_session),
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
) -> Context:
    return Context(request, runtime, session, customer)


def back_to(request: Request, path: str, done: str | None = None) -> Response:
    """303 to a page of the center (`done` is a fixed code the page explains, never a value)."""
    target = link(request, BASE + path)
    if done:
        target += ("&" if "?" in target else "?") + f"done={done}"
    return RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})


def rights_offered(ctx: Context) -> list[Right]:
    """The policy's rights offered to this person where they live (the most specific entry per kind)."""
    policy = ctx.runtime.policy()
    where = policy.residence(get_person(ctx.session, ctx.customer.person_id).jurisdiction)
    rights = [r for r in policy.document.rights if not r.jurisdictions or where in r.jurisdictions]
    return sorted({r.kind.value: r for r in rights}.values(), key=lambda r: r.kind.value)


def _mine(ctx: Context) -> list[RequestOut]:
    now, working = utcnow(), calendar_for(ctx.runtime)
    rows = requests_of(ctx.session, ctx.customer.person_id)
    return [request_out(ctx.session, r, now=now, working=working) for r in reversed(list(rows))]


def _cancellable(item: RequestOut, now: datetime) -> bool:
    return item.state in OPEN_STATES or (
        item.state == "in_progress" and item.run_after is not None and now < item.run_after
    )


def submit_request(
    ctx: Context, kind: str, personal: dict[str, Any] | None = None, details: dict[str, Any] | None = None
) -> RightsRequest:
    if personal and "corrections" in personal:
        details = {"categories": sorted({c["category"] for c in personal["corrections"]})}
    new = NewRequest(
        kind=kind,
        person_id=ctx.customer.person_id,
        made_by=MadeBy.PERSON,
        channel="privacy_center",
        verified_by=ctx.customer.verified_by,  # the code the session was opened with is the identity check
        details=details or {},
        personal=personal or {},
        language=None,
    )
    ctx.session.commit()  # the session's last_used_at may have been written: the request is its own transaction
    return flows.submit(ctx.runtime, ctx.session, new, actor=ctx.customer.session_id)


@router.get("")
def overview(ctx: Context = Depends(page_context)) -> Response:
    """What the person can do here, and their open requests at a glance."""
    items = _mine(ctx)
    return ctx.page("overview.html.j2", open_count=sum(1 for i in items if i.closed_at is None))


def _stoppable(ctx: Context, kind: str) -> list[tuple[str, str]]:
    """(id, name) of each purpose an objection or restriction of `kind` may name for this person."""
    policy = ctx.runtime.policy()
    where = policy.residence(get_person(ctx.session, ctx.customer.person_id).jurisdiction)
    names = {p.id: p.name for p in policy.document.purposes}
    return [(pid, names.get(pid, pid)) for pid in stoppable_purposes(policy, kind, where)]


def _requests_page(ctx: Context, status: int = 200, **values: Any) -> Response:
    items, now = _mine(ctx), utcnow()
    offered = [r.kind.value for r in rights_offered(ctx)]
    categories = [(c.id, c.name) for c in ctx.runtime.policy().document.categories]
    picked: dict[str, Any] = {"stop_kind": "", "stop_problems": [], "chosen": []}
    return ctx.page(
        "requests.html.j2",
        status=status,
        items=items,
        cancellable={i.id for i in items if _cancellable(i, now)},
        simple=[k for k in SIMPLE_KINDS if k in offered],
        pickers={k: _stoppable(ctx, k) for k in STOP_KINDS if k in offered},
        every=EVERY_PURPOSE,
        correction="correction" in offered,
        nomination="nomination" in offered,
        categories=categories,
        done=ctx.request.query_params.get("done", "") if status == 200 else "",
        **(picked | values),
    )


@router.get("/requests")
def my_requests(ctx: Context = Depends(page_context)) -> Response:
    """Every request of the person with its status and due date; a form for each kind the policy offers."""
    return _requests_page(ctx)


def _stop_request(posted: Posted, ctx: Context, kind: str) -> Response:
    """An objection or restriction of the purposes ticked (a restriction may tick "every purpose"); a purpose
    not offered to this person, or none ticked, re-renders the form naming the field, and nothing is filed."""
    chosen = posted.all("purposes")
    allowed = {pid for pid, _ in _stoppable(ctx, kind)} | ({EVERY_PURPOSE} if kind == "restriction" else set())
    problems = [FieldProblem("purposes", "choose at least one purpose")] if not chosen else []
    problems += [
        FieldProblem(f"purposes[{i}]", f"is not a purpose you can ask this for ({kind})")
        for i, pid in enumerate(chosen)
        if pid not in allowed
    ]
    try:
        if problems:
            raise ValidationFailed("Choose the purposes from the list.", problems)
        purposes = None if EVERY_PURPOSE in chosen else list(dict.fromkeys(chosen))
        submit_request(ctx, kind, details={"purposes": purposes} if purposes else None)
    except FiduciaryError as error:
        ctx.session.rollback()
        found = [f"{p.field}: {p.message}" for p in error.fields] or [error.detail]
        return _requests_page(ctx, error.status, stop_kind=kind, stop_problems=found, chosen=chosen)
    return back_to(ctx.request, "/requests", "made")


def refused_page(ctx: Context, template: str, error: FiduciaryError, **values: Any) -> Response:
    """The page again with the refusal's own words (they name fields and rules, never a person's value)."""
    problems = [f"{p.field}: {p.message}" for p in error.fields]
    return ctx.page(template, status=error.status, error=error.detail, problems=problems, **values)


@router.post("/requests")
def make_request(posted: Posted = Depends(signed_in_post), ctx: Context = Depends(page_context)) -> Response:
    """Make a request of one kind the policy offers (correction: one category and its corrected value)."""
    kind = posted.get("kind")
    offered = {r.kind.value for r in rights_offered(ctx)}
    personal: dict[str, Any] | None = None
    if kind == "correction":
        personal = {"corrections": [{"category": posted.get("category")[:64], "value": posted.get("value")[:10_000]}]}
    elif kind == "nomination":  # DPDP s.14: someone to act for the person in death or incapacity
        nominee = {"name": posted.get("name").strip()[:200], "contact": posted.get("contact").strip()[:320]}
        personal = {"nominee": {**nominee, "relationship": posted.get("relationship").strip()[:100] or None}}
    elif kind not in SIMPLE_KINDS and kind not in STOP_KINDS:
        kind = ""
    try:
        if kind not in offered:
            raise NotFound("This kind of request is not offered here.", code="kind_not_offered")
        if kind in STOP_KINDS:
            return _stop_request(posted, ctx, kind)
        submit_request(ctx, kind, personal)
    except FiduciaryError as error:
        ctx.session.rollback()
        return refused_page(ctx, "message.html.j2", error)
    return back_to(ctx.request, "/requests", "made")


def _own(ctx: Context, request_id: str) -> RightsRequest:
    row = get_request(ctx.session, request_id)
    if row.person_id != ctx.customer.person_id:
        raise NotFound("No request has this id.", code="request_not_found")  # the same answer as an unknown id
    return row


@router.post("/requests/{request_id}/cancel")
def cancel_request(
    request_id: RequestIdPath, posted: Posted = Depends(signed_in_post), ctx: Context = Depends(page_context)
) -> Response:
    """Cancel one of the person's requests while it can be (an erasure until its waiting period ends)."""
    try:
        _own(ctx, request_id)
        flows.cancel(ctx.runtime, ctx.session, request_id, actor=posted.customer.session_id)
    except FiduciaryError as error:
        ctx.session.rollback()
        return refused_page(ctx, "message.html.j2", error)
    return back_to(ctx.request, "/requests", "cancelled")


@router.get("/download")
def download(ctx: Context = Depends(page_context)) -> Response:
    """Download my data: an access request; the package's link is sent to the email on file (the outbox)."""
    access = [i for i in _mine(ctx) if i.kind == "access"]
    offered = "access" in {r.kind.value for r in rights_offered(ctx)}
    return ctx.page("download.html.j2", items=access, offered=offered, done=ctx.request.query_params.get("done", ""))


@router.post("/download")
def request_download(posted: Posted = Depends(signed_in_post), ctx: Context = Depends(page_context)) -> Response:
    try:
        submit_request(ctx, "access")
    except FiduciaryError as error:
        ctx.session.rollback()
        return refused_page(ctx, "message.html.j2", error)
    return back_to(ctx.request, "/download", "made")


def _consent_rows(ctx: Context) -> list[dict[str, Any]]:
    """One row per optional (consent) purpose where the person lives, with its current state and receipt."""
    policy = ctx.runtime.policy()
    where = policy.residence(get_person(ctx.session, ctx.customer.person_id).jurisdiction)
    purposes = policy.purposes_for(where)
    state = state_for(ctx.session, [ctx.customer.person_id]).get(ctx.customer.person_id, {})
    declared = {p.id: p for p in policy.document.purposes}
    rows = []
    for pid in sorted(p for p in policy.consent_purposes if p in purposes and p in declared):
        row = state.get(pid)
        rows.append(
            {
                "id": pid,
                "name": declared[pid].name,
                "description": declared[pid].description,
                "granted": row is not None and row.status == "granted",
                "status": row.status if row is not None else "not_asked",
                "position": row.ledger_position if row is not None else None,
            }
        )
    return rows


@router.get("/consents")
def consents(ctx: Context = Depends(page_context)) -> Response:
    """One control per optional purpose; each change is recorded in the consent ledger with a receipt."""
    return ctx.page("consents.html.j2", rows=_consent_rows(ctx), done=ctx.request.query_params.get("done", ""))


def record_choice(ctx: Context, purpose: str, action: Literal["grant", "withdraw"]) -> None:
    """One consent change by the signed-in person, through the consent service (the rules of
    `POST /v1/consents`). A browser's `Sec-GPC: 1` is honoured here as on every consent endpoint (CCPA 11 CCR
    §7025), before the person's own choice, which then stands (consent.flows)."""
    request = ctx.request
    evidence = evidence_from(request.headers.get("user-agent"), request.client.host if request.client else None)
    item = ConsentInput(
        subject_id=ctx.customer.person_id,
        purpose=purpose,
        action=action,
        channel=ConsentChannel.PRIVACY_CENTER,
        language=page_language(request, ctx.runtime),  # the language the person read the page in (evidence)
        evidence=evidence,
    )
    signalled = gpc_enabled(request.headers.getlist("sec-gpc"))
    record_with_gpc(
        ConsentService.for_runtime(ctx.runtime),
        ctx.session,
        [item],
        gpc_signals=[(ctx.customer.person_id, evidence)] if signalled else (),
        base_url=request_base_url(request),
    )


@router.post("/consents")
def change_consent(posted: Posted = Depends(signed_in_post), ctx: Context = Depends(page_context)) -> Response:
    """Grant or withdraw one purpose, through the consent service (the same rules as `POST /v1/consents`)."""
    purpose, action = posted.get("purpose"), posted.get("action")
    try:
        if action not in ("grant", "withdraw") or purpose not in {r["id"] for r in _consent_rows(ctx)}:
            raise NotFound("No optional purpose of the policy has this name.", code="purpose_not_found")
        record_choice(ctx, purpose, "grant" if action == "grant" else "withdraw")
    except FiduciaryError as error:
        ctx.session.rollback()
        return refused_page(ctx, "message.html.j2", error)
    response = back_to(ctx.request, "/consents", "granted" if action == "grant" else "withdrawn")
    sync_banner_cookie(ctx.runtime, ctx.session, ctx.request, ctx.customer.person_id, response)  # the shop's tags
    return response


@router.get("/consents/receipts/{position}")
def consent_receipt(position: PositionPath, ctx: Context = Depends(page_context)) -> Response:
    """A receipt of the person's own consent event as a JSON file (signed: verifiable offline)."""
    try:
        receipt = ConsentService.for_runtime(ctx.runtime).receipt(
            ctx.session, position, base_url=request_base_url(ctx.request)
        )
    except NotFound:
        receipt = {}
    if receipt.get("header", {}).get("pii_principal_id") != ctx.customer.person_id:  # ISO/IEC 27560 header
        return ctx.page("message.html.j2", status=404, error=None, missing=True)  # another's: like none at all
    return Response(
        content=json.dumps(receipt, ensure_ascii=False, indent=2),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="consent-receipt-{position}.json"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/account")
def account(ctx: Context = Depends(page_context)) -> Response:
    """Delete or deactivate my account: what each does, then a confirmation step."""
    offered = [k for k in ACCOUNT_KINDS if k in {r.kind.value for r in rights_offered(ctx)}]
    return ctx.page("account.html.j2", kinds=offered, confirm=None, done=ctx.request.query_params.get("done", ""))


@router.post("/account")
def account_confirm(posted: Posted = Depends(signed_in_post), ctx: Context = Depends(page_context)) -> Response:
    """The confirmation step: nothing is made until the person confirms on this page."""
    kind = posted.get("kind")
    offered = [k for k in ACCOUNT_KINDS if k in {r.kind.value for r in rights_offered(ctx)}]
    if kind not in offered:
        return refused_page(ctx, "message.html.j2", Conflict("This is not offered.", code="kind_not_offered"))
    return ctx.page("account.html.j2", kinds=offered, confirm=kind, done="")


@router.post("/account/confirm")
def account_request(posted: Posted = Depends(signed_in_post), ctx: Context = Depends(page_context)) -> Response:
    kind = posted.get("kind")
    offered = [k for k in ACCOUNT_KINDS if k in {r.kind.value for r in rights_offered(ctx)}]
    if kind not in offered or posted.get("confirm") != "yes":
        return ctx.page(
            "account.html.j2",
            status=422,
            kinds=offered,
            confirm=kind if kind in offered else None,
            done="",
            unconfirmed=True,
        )
    try:
        submit_request(ctx, kind)
    except FiduciaryError as error:
        ctx.session.rollback()
        return refused_page(ctx, "message.html.j2", error)
    return back_to(ctx.request, "/requests", "made")


@router.get("/grievance")
def grievance(ctx: Context = Depends(page_context)) -> Response:
    """The grievance officer (DPDP Rule 9, s.8(10)) as the policy names them."""
    contacts = ctx.runtime.policy().document.contacts
    officer = contacts.grievance_officer or contacts.data_protection_officer or contacts.privacy_contact
    try:
        line = grievance_contact(ctx.runtime.policy())
    except Conflict:
        line = ""
    return ctx.page("grievance.html.j2", officer=officer, line=line)


@router.get("/recipients")
def recipients(ctx: Context = Depends(page_context)) -> Response:
    """Who received my data: until the disclosure log exists, the recipients the policy names for each
    category it holds (GDPR Art 15(1)(c), DPDP s.11(1)(b)), with where they process it."""
    document = ctx.runtime.policy().document
    names = {c.id: c.name for c in document.categories}
    rows = [
        {
            "name": r.name,
            "kind": r.kind.value,
            "description": r.description,
            "countries": r.countries,
            "categories": [names.get(c, c) for c in r.categories],
        }
        for r in document.recipients
    ]
    return ctx.page("recipients.html.j2", rows=rows)


@router.get("/static/center.css")
def stylesheet() -> Response:
    """The center's one stylesheet (no inline style anywhere, so the CSP needs no `unsafe-inline`)."""
    return Response(_CSS, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"})
