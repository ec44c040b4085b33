"""The privacy center's pages (issue 14 items 1 and 5): sign-in by a code read from the outbox, every page
signed in and signed out, one person's cookie never reaching another's data, CSRF, CSP and no personal
value in a URL or a title.

The client speaks https (`https://testserver`): the session cookie is `Secure` with the `__Host-` prefix,
and a cookie jar returns such a cookie over https only, as a browser does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from fiduciary.consent.service import state_for
from fiduciary.rights.models import RightsRequest
from fiduciary.runtime import Runtime
from fiduciary.web.app import create_app
from fiduciary.web.privacy_center.guard import SESSION_COOKIE
from outbox_support import newest_code
from requests_support import person_with_email

CENTER = "/privacy-center"
EMAIL_A, EMAIL_B = "asha.center@example.org", "bilal.center@example.org"
PAGES = ("", "/requests", "/download", "/consents", "/recipients", "/account", "/grievance")
_CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')
_CHALLENGE = re.compile(r'name="challenge_id" value="(vc_[0-9a-f]{32})"')
_TITLE = re.compile(r"<title>(.*?)</title>", re.S)


@pytest.fixture
def center(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime=runtime), base_url="https://testserver") as client:
        yield client


def _csrf(page: httpx.Response) -> str:
    match = _CSRF.search(page.text)
    assert match is not None, page.text
    return match.group(1)


def _sign_in(client: TestClient, runtime: Runtime, session: Session, email: str) -> None:
    form = client.get(f"{CENTER}/sign-in")
    assert form.status_code == 200
    asked = client.post(f"{CENTER}/sign-in", data={"csrf": _csrf(form), "kind": "email", "identifier": email})
    assert asked.status_code == 200, asked.text
    challenge = _CHALLENGE.search(asked.text)
    assert challenge is not None
    entered = client.post(
        f"{CENTER}/sign-in/code",
        data={"csrf": _csrf(asked), "challenge_id": challenge.group(1), "code": newest_code(runtime, session)},
        follow_redirects=False,
    )
    assert entered.status_code == 303 and entered.headers["location"] == CENTER
    cookie = entered.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=cst_")
    for flag in ("HttpOnly", "Secure", "SameSite=strict", "Path=/"):
        assert flag.lower() in cookie.lower()


def _requests(session: Session, person: str) -> list[RightsRequest]:
    session.rollback()
    rows = list(session.scalars(sa.select(RightsRequest).where(RightsRequest.person_id == person)))
    session.rollback()
    return rows


def test_sign_in_with_the_code_then_every_page_then_sign_out(
    center: TestClient, runtime: Runtime, session: Session
) -> None:
    person_with_email(session, runtime, EMAIL_A)
    _sign_in(center, runtime, session, EMAIL_A)
    for page in PAGES:
        answer = center.get(CENTER + page)
        assert answer.status_code == 200, (page, answer.text)
        assert answer.headers["cache-control"] == "no-store"
        assert '<html lang="en">' in answer.text and 'href="#main"' in answer.text
        assert f'href="{CENTER}{page}" aria-current="page"' in answer.text  # the menu says where you are
    overview = center.get(CENTER)
    out = center.post(f"{CENTER}/sign-out", data={"csrf": _csrf(overview)}, follow_redirects=False)
    assert out.status_code == 303
    assert center.get(CENTER, follow_redirects=False).status_code == 303
    actions = session.scalars(sa.text("select action from audit_events order by ledger_position")).all()
    assert actions[-2:] == ["session.open", "session.revoke"]


def test_signed_out_and_forged_cookies_are_sent_to_sign_in(
    center: TestClient, runtime: Runtime, session: Session
) -> None:
    person_with_email(session, runtime, EMAIL_A)
    for page in PAGES:
        answer = center.get(CENTER + page, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == f"{CENTER}/sign-in"
    _sign_in(center, runtime, session, EMAIL_A)
    token = center.cookies[SESSION_COOKIE]
    session_id, secret = token.split(".")
    for forged in (
        session_id + "." + ("A" if secret[0] != "A" else "B") + secret[1:],
        "cst_" + "0" * 32 + "." + "A" * 43,
        "x",
    ):
        center.cookies.clear()
        center.cookies.set(SESSION_COOKIE, forged)
        for page in PAGES:
            answer = center.get(CENTER + page, follow_redirects=False)
            assert answer.status_code == 303, (forged, page)
        made = center.post(f"{CENTER}/download", data={"csrf": "0" * 64}, follow_redirects=False)
        assert made.status_code == 303
    assert session.scalar(sa.select(sa.func.count()).select_from(RightsRequest)) == 0


def test_a_wrong_code_signs_nobody_in_and_an_unknown_identifier_looks_the_same(
    center: TestClient, runtime: Runtime, session: Session
) -> None:
    person_with_email(session, runtime, EMAIL_A)
    form = center.get(f"{CENTER}/sign-in")
    unknown = center.post(f"{CENTER}/sign-in", data={"csrf": _csrf(form), "kind": "email", "identifier": EMAIL_B})
    known = center.post(f"{CENTER}/sign-in", data={"csrf": _csrf(form), "kind": "email", "identifier": EMAIL_A})
    assert unknown.status_code == known.status_code == 200
    nonce = re.compile(r'nonce="[^"]+"')
    assert nonce.sub("", _CHALLENGE.sub("", unknown.text)) == nonce.sub("", _CHALLENGE.sub("", known.text))
    challenge = _CHALLENGE.search(known.text)
    assert challenge is not None
    code = newest_code(runtime, session)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    refused = center.post(
        f"{CENTER}/sign-in/code",
        data={"csrf": _csrf(known), "challenge_id": challenge.group(1), "code": wrong},
        follow_redirects=False,
    )
    assert refused.status_code == 401 and SESSION_COOKIE not in refused.headers.get("set-cookie", "")
    bad = center.post(f"{CENTER}/sign-in", data={"csrf": _csrf(form), "kind": "fax", "identifier": "1"})
    assert bad.status_code == 422


def test_a_pre_set_session_cookie_is_never_adopted(center: TestClient, runtime: Runtime, session: Session) -> None:
    """Session fixation: whatever cookie the browser held before, signing in sets a new session's token."""
    person_with_email(session, runtime, EMAIL_A)
    _sign_in(center, runtime, session, EMAIL_A)
    first = center.cookies[SESSION_COOKIE]
    _sign_in(center, runtime, session, EMAIL_A)
    second = center.cookies[SESSION_COOKIE]
    assert first != second and first.split(".")[0] != second.split(".")[0]
    center.cookies.clear()
    center.cookies.set(SESSION_COOKIE, first)
    assert center.get(CENTER, follow_redirects=False).status_code == 303  # the old one was revoked


def test_person_a_never_sees_or_acts_on_person_b(center: TestClient, runtime: Runtime, session: Session) -> None:
    person_a = person_with_email(session, runtime, EMAIL_A)
    person_b = person_with_email(session, runtime, EMAIL_B)
    with TestClient(center.app, base_url="https://testserver") as other:
        _sign_in(other, runtime, session, EMAIL_B)
        page = other.get(f"{CENTER}/requests")
        other.post(f"{CENTER}/requests", data={"csrf": _csrf(page), "kind": "access"})
        consents = other.get(f"{CENTER}/consents")
        other.post(f"{CENTER}/consents", data={"csrf": _csrf(consents), "purpose": "analytics", "action": "grant"})
    (theirs,) = _requests(session, person_b)
    position = state_for(session, [person_b])[person_b]["analytics"].ledger_position
    session.rollback()
    _sign_in(center, runtime, session, EMAIL_A)
    assert theirs.id not in center.get(f"{CENTER}/requests").text
    assert center.get(f"{CENTER}/consents/receipts/{position}").status_code == 404
    page = center.get(f"{CENTER}/requests")
    cancelled = center.post(f"{CENTER}/requests/{theirs.id}/cancel", data={"csrf": _csrf(page)})
    assert cancelled.status_code == 404
    assert _requests(session, person_a) == []
    session.rollback()
    assert session.get(RightsRequest, theirs.id).state == theirs.state  # type: ignore[union-attr]
    assert "Give consent: Site analytics" in center.get(f"{CENTER}/consents").text  # A's own, not B's grant


def test_csrf_missing_or_wrong_is_403_and_changes_nothing(
    center: TestClient, runtime: Runtime, session: Session
) -> None:
    person = person_with_email(session, runtime, EMAIL_A)
    _sign_in(center, runtime, session, EMAIL_A)
    good = _csrf(center.get(f"{CENTER}/requests"))
    for data in ({}, {"csrf": ""}, {"csrf": "0" * 64}, {"csrf": good[:-1] + ("0" if good[-1] != "0" else "1")}):
        for path, fields in (
            ("/requests", {"kind": "access"}),
            ("/download", {}),
            ("/consents", {"purpose": "analytics", "action": "grant"}),
            ("/account/confirm", {"kind": "erasure", "confirm": "yes"}),
            ("/sign-out", {}),
        ):
            answer = center.post(CENTER + path, data={**data, **fields}, follow_redirects=False)
            assert answer.status_code == 403, (path, data)
            assert "content-security-policy" in answer.headers
    assert _requests(session, person) == []
    assert state_for(session, [person]) == {}
    assert center.get(CENTER).status_code == 200  # still signed in: sign-out without a token did nothing
    form = center.get(f"{CENTER}/sign-in")
    stale = center.post(f"{CENTER}/sign-in", data={"csrf": "0" * 64, "kind": "email", "identifier": EMAIL_A})
    assert form.status_code == 200 and stale.status_code == 403


def test_requests_consents_and_account_flows(center: TestClient, runtime: Runtime, session: Session) -> None:
    person = person_with_email(session, runtime, EMAIL_A)
    _sign_in(center, runtime, session, EMAIL_A)
    page = center.get(f"{CENTER}/requests")
    for kind in ("access", "withdraw_consent", "opt_out_marketing"):
        assert f'value="{kind}"' in page.text
        made = center.post(f"{CENTER}/requests", data={"csrf": _csrf(page), "kind": kind}, follow_redirects=False)
        assert made.status_code == 303, made.text
    corrected = center.post(
        f"{CENTER}/requests",
        data={"csrf": _csrf(page), "kind": "correction", "category": "identity.name", "value": "Asha Rao"},
    )
    assert corrected.status_code == 200 and "Your request was received." in corrected.text, corrected.text
    assert center.post(f"{CENTER}/requests", data={"csrf": _csrf(page), "kind": "teleport"}).status_code == 404
    refused = center.post(
        f"{CENTER}/requests", data={"csrf": _csrf(page), "kind": "correction", "category": "no.such", "value": "x"}
    )
    assert refused.status_code == 422 and "corrections[0]" in refused.text  # the field named, nothing made
    kinds = sorted(r.kind for r in _requests(session, person))
    nominated = center.post(
        f"{CENTER}/requests",
        data={"csrf": _csrf(page), "kind": "nomination", "name": "Ravi Rao", "contact": "ravi.rao@example.org"},
    )
    assert nominated.status_code == 200 and "Your request was received." in nominated.text, nominated.text
    kinds = sorted(r.kind for r in _requests(session, person))
    assert kinds == ["access", "correction", "nomination", "opt_out_marketing", "withdraw_consent"]
    listing = center.get(f"{CENTER}/requests")
    assert "Answer due by" in listing.text or "Completed" in listing.text
    # consents: grant then withdraw, each with a downloadable receipt of this person
    consents = center.get(f"{CENTER}/consents")
    granted = center.post(
        f"{CENTER}/consents", data={"csrf": _csrf(consents), "purpose": "analytics", "action": "grant"}
    )
    assert granted.status_code == 200 and "Withdraw consent: Site analytics" in granted.text
    row = state_for(session, [person])[person]["analytics"]
    session.rollback()
    assert row.status == "granted" and row.channel == "privacy_center"
    receipt = center.get(f"{CENTER}/consents/receipts/{row.ledger_position}")
    assert receipt.status_code == 200 and receipt.headers["content-type"] == "application/json"
    assert "attachment" in receipt.headers["content-disposition"] and '"signature"' in receipt.text
    unknown = center.post(
        f"{CENTER}/consents", data={"csrf": _csrf(consents), "purpose": "tax_compliance", "action": "grant"}
    )
    assert unknown.status_code == 404
    assert "<h2>Payment gateway</h2>" in center.get(f"{CENTER}/recipients").text  # as the policy names them
    # account: a confirmation step before anything is made
    account = center.get(f"{CENTER}/account")
    asked = center.post(f"{CENTER}/account", data={"csrf": _csrf(account), "kind": "erasure"})
    assert asked.status_code == 200 and 'name="confirm"' in asked.text
    before = len(_requests(session, person))
    unconfirmed = center.post(f"{CENTER}/account/confirm", data={"csrf": _csrf(account), "kind": "erasure"})
    assert unconfirmed.status_code == 422 and len(_requests(session, person)) == before
    confirmed = center.post(
        f"{CENTER}/account/confirm", data={"csrf": _csrf(account), "kind": "erasure", "confirm": "yes"}
    )
    assert confirmed.status_code == 200
    assert "erasure" in [r.kind for r in _requests(session, person)]


def test_csp_nonce_frame_denial_and_no_personal_value_in_urls_or_titles(
    center: TestClient, runtime: Runtime, session: Session
) -> None:
    person_with_email(session, runtime, EMAIL_A)
    seen: list[httpx.Response] = []
    center.event_hooks["response"].append(lambda response: seen.append(response))  # type: ignore[arg-type]
    _sign_in(center, runtime, session, EMAIL_A)
    nonces = set()
    for page in ("/sign-in", *PAGES):
        answer = center.get(CENTER + page)
        csp = answer.headers["content-security-policy"]
        nonce = re.search(r"'nonce-([A-Za-z0-9_-]+)'", csp)
        assert nonce is not None and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert "default-src 'none'" in csp
        assert answer.headers["x-frame-options"] == "DENY"
        nonces.add(nonce.group(1))
        for tag in re.findall(r"<(?:script|style)\b[^>]*>", answer.text):
            assert f'nonce="{nonce.group(1)}"' in tag
        title = _TITLE.search(answer.text)
        assert title is not None and "@" not in title.group(1) and not re.search(r"[0-9]{6}", title.group(1))
    assert len(nonces) == len(PAGES) + 1  # a fresh nonce on every response
    for response in seen:
        url = str(response.request.url) + response.headers.get("location", "")
        assert EMAIL_A not in url and "%40" not in url and "cst_" not in url


def test_the_stylesheet_is_served_and_pages_reference_it(center: TestClient) -> None:
    css = center.get(f"{CENTER}/static/center.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert ":focus-visible" in css.text
    page = center.get(f"{CENTER}/sign-in?lang=hi")
    assert '<html lang="hi">' in page.text and f"{CENTER}/static/center.css" in page.text
    assert "<title>साइन इन करें · गोपनीयता केंद्र</title>" in page.text  # the catalogue's Hindi
    assert f'action="{CENTER}/sign-in?lang=hi"' in page.text  # the chosen language follows the forms


def test_bad_input_is_refused_naming_nothing_personal_and_changes_nothing(
    center: TestClient, runtime: Runtime, session: Session
) -> None:
    person = person_with_email(session, runtime, EMAIL_A)
    form = center.get(f"{CENTER}/sign-in")
    token = _csrf(form)
    for data in (
        {"kind": "email", "identifier": "a" * 400 + "@example.org"},
        {"kind": "email", "identifier": "   "},
        {"kind": "", "identifier": EMAIL_A},
    ):
        refused = center.post(f"{CENTER}/sign-in", data={"csrf": token, **data})
        assert refused.status_code == 422 and EMAIL_A not in refused.text
    for challenge, code in (("vc_nothex", "123456"), ("vc_" + "0" * 32, "12345"), ("vc_" + "0" * 32, "1" * 30)):
        refused = center.post(f"{CENTER}/sign-in/code", data={"csrf": token, "challenge_id": challenge, "code": code})
        assert refused.status_code == 422
    unknown = center.post(
        f"{CENTER}/sign-in/code", data={"csrf": token, "challenge_id": "vc_" + "0" * 32, "code": "123456"}
    )
    assert unknown.status_code == 401 and SESSION_COOKIE not in center.cookies
    _sign_in(center, runtime, session, EMAIL_A)
    token = _csrf(center.get(CENTER))
    for action in ("delete", "", "grant" * 100):
        answer = center.post(f"{CENTER}/consents", data={"csrf": token, "purpose": "analytics", "action": action})
        assert answer.status_code == 404
    assert center.post(f"{CENTER}/account", data={"csrf": token, "kind": "access"}).status_code == 409
    assert center.get(f"{CENTER}/consents/receipts/0").status_code == 422
    assert center.get(f"{CENTER}/consents/receipts/999").status_code == 404
    assert center.post(f"{CENTER}/requests/rr_bad/cancel", data={"csrf": token}).status_code == 422
    assert _requests(session, person) == [] and state_for(session, [person]) == {}


def test_a_gpc_browser_is_opted_out_of_sale_and_ads_when_it_changes_a_consent(
    center: TestClient, runtime: Runtime, session: Session
) -> None:
    person = person_with_email(session, runtime, EMAIL_A)
    _sign_in(center, runtime, session, EMAIL_A)
    token = _csrf(center.get(f"{CENTER}/consents"))
    answer = center.post(
        f"{CENTER}/consents",
        data={"csrf": token, "purpose": "analytics", "action": "grant"},
        headers={"Sec-GPC": "1"},
    )
    assert answer.status_code == 200
    state = state_for(session, [person])[person]
    session.rollback()
    assert state["analytics"].status == "granted"  # the person's own choice stands
    assert state["personalised_ads"].status == "withdrawn" and state["personalised_ads"].channel == "gpc"
