"""Pages for security researchers, in the privacy center's look: the report form, the status page a report's
token opens, and the hall of thanks. Public, so rate limited per address; the form's CSRF token is bound to
the browser's pre-session cookie, as the sign-in form's is. Everything a researcher typed is shown only
through Jinja2's autoescape, so HTML or script in any field is text, never markup.
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from fiduciary.cases import vulnerability_reports as reports
from fiduciary.errors import FiduciaryError, NotFound
from fiduciary.policy.security_txt import REPORT_FORM_PATH, THANKS_PATH
from fiduciary.runtime import Runtime
from fiduciary.unit_of_work import unit_of_work
from fiduciary.web.deps import SESSION_DEPENDENCY, request_base_url, runtime_dependency
from fiduciary.web.privacy_center.guard import (
    CSRF_FIELD,
    PRE_COOKIE,
    PRE_COOKIE_SECONDS,
    check_csrf,
    csrf_token,
    new_pre_value,
    pre_binding,
)
from fiduciary.web.privacy_center.pages import render
from fiduciary.web.privacy_center.sign_in import set_cookie
from fiduciary.web.routes.vulnerability_reports import read_report, submit_and_commit
from fiduciary.web.security import public_rate_limit, report_rate_limit

WITHDRAW_SUFFIX: Final = "/thanks/withdraw"
router = APIRouter(include_in_schema=False, dependencies=[Depends(public_rate_limit)])


def _rules(runtime: Runtime) -> dict[str, list[str]]:
    rules = runtime.policy().document.cases.vulnerability
    if rules is None:
        return {"out_of_scope": [], "researcher_rules": []}
    return {"out_of_scope": list(rules.out_of_scope), "researcher_rules": list(rules.researcher_rules)}


def _render_form(
    request: Request, runtime: Runtime, template: str, context: dict[str, Any], *, status: int = 200
) -> Response:
    """A page holding a form: its CSRF token is bound to the browser's pre-session cookie, set if missing."""
    binding = pre_binding(request)
    value = None
    if binding is None:
        value = new_pre_value()
        binding = f"pre:{value}"
    response = render(request, runtime, template, context, status=status, csrf=csrf_token(runtime, binding))
    if value is not None:
        set_cookie(response, PRE_COOKIE, value, PRE_COOKIE_SECONDS)
    return response


def _form_page(request: Request, runtime: Runtime, *, problems: list[str] | None = None, status: int = 200) -> Response:
    context = {**_rules(runtime), "problems": problems or [], "action": REPORT_FORM_PATH}
    return _render_form(request, runtime, "security_report.html.j2", context, status=status)


@router.get(REPORT_FORM_PATH)
def report_form(request: Request, runtime: Runtime = Depends(runtime_dependency)) -> Response:
    """The form, with the store's rules for researchers and what is out of scope."""
    return _form_page(request, runtime)


@router.post(REPORT_FORM_PATH, dependencies=[Depends(report_rate_limit)])
async def report_submit(
    request: Request, session: Session = SESSION_DEPENDENCY, runtime: Runtime = Depends(runtime_dependency)
) -> Response:
    """Submit; on success go to the status page (its link is the one place the token is shown)."""
    try:
        report, form = await read_report(request, "web")
        presented = form.get(CSRF_FIELD)
        check_csrf(runtime, pre_binding(request), presented if isinstance(presented, str) else None)
        submitted = await run_in_threadpool(submit_and_commit, runtime, session, report, request_base_url(request))
    except FiduciaryError as refused:
        problems = [f"{p.field}: {p.message}" for p in refused.fields] or [refused.detail]
        return _form_page(request, runtime, problems=problems, status=refused.status)
    return RedirectResponse(reports.STATUS_PATH + submitted.token + "?new=1", status_code=303)


@router.get(reports.STATUS_PATH + "{token}")
def status_page(
    token: str, request: Request, session: Session = SESSION_DEPENDENCY, runtime: Runtime = Depends(runtime_dependency)
) -> Response:
    """The report's state and the messages the researcher was sent; the same page for any unknown token."""
    try:
        case = reports.case_by_token(session, token)
    except NotFound:
        return render(request, runtime, "message.html.j2", {"missing": True, "error": None}, status=404)
    context = {
        "reference": case.id,
        "state": case.state,
        "severity": case.details.get("severity"),
        "entries": reports.status_entries(session, case),
        "replies": reports.replies_to_researcher(unit_of_work(runtime, session), case),
        "outcome": case.outcome_reason,
        "broken_rule": case.details.get("broken_rule"),
        "new": request.query_params.get("new") == "1",
        "link": request_base_url(request) + reports.STATUS_PATH + token,
        "thanks_name": reports.thanks_name_of(session, case),
        "withdraw_action": reports.STATUS_PATH + token + WITHDRAW_SUFFIX,
        "withdrawn": request.query_params.get("withdrawn") == "1",
    }
    return _render_form(request, runtime, "security_status.html.j2", context)


@router.post(reports.STATUS_PATH + "{token}" + WITHDRAW_SUFFIX)
async def withdraw_thanks(
    token: str, request: Request, session: Session = SESSION_DEPENDENCY, runtime: Runtime = Depends(runtime_dependency)
) -> Response:
    """The researcher takes their name off the hall of thanks (CSRF-checked form of their status page)."""
    form = await request.form(max_files=0, max_fields=2)
    presented = form.get(CSRF_FIELD)
    check_csrf(runtime, pre_binding(request), presented if isinstance(presented, str) else None)

    def withdraw() -> None:
        reports.withdraw_thanks(unit_of_work(runtime, session), token)
        session.commit()

    try:
        await run_in_threadpool(withdraw)
    except NotFound:
        return render(request, runtime, "message.html.j2", {"missing": True, "error": None}, status=404)
    return RedirectResponse(reports.STATUS_PATH + token + "?withdrawn=1", status_code=303)


@router.get(THANKS_PATH)
def thanks_page(
    request: Request, session: Session = SESSION_DEPENDENCY, runtime: Runtime = Depends(runtime_dependency)
) -> Response:
    response = render(request, runtime, "security_thanks.html.j2", {"names": reports.hall_of_thanks(session)})
    return response
