"""The privacy center's notice history, marketing unsubscribe and complaint pages (issue 14 item 1), on SQLite
and PostgreSQL: the happy path, signed out, CSRF, one person never reaching another's data, and no personal
value in a URL, a title, a log or an audit event.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from test_privacy_center import _csrf, _sign_in

from fiduciary.cases.workflow import case_values, cases_of
from fiduciary.consent.service import state_for
from fiduciary.policy import versions
from fiduciary.rights.models import RightsRequest
from fiduciary.runtime import Runtime
from fiduciary.unit_of_work import UnitOfWork
from fiduciary.vault.service import VaultService
from fiduciary.web.app import create_app
from fiduciary.web.privacy_center.more import COMPLAINT_MAX
from requests_support import messages, person_with_email

CENTER = "/privacy-center"
EMAIL_A, EMAIL_B = "asha.more@example.org", "bilal.more@example.org"
SIGNED_IN_PAGES = ("/unsubscribe", "/complaint", "/my-data")
COMPLAINT = "The courier left my parcel with a neighbour, Meera Iyer, who opened it."
_TITLE = re.compile(r"<title>(.*?)</title>", re.S)


@pytest.fixture
def center(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime=runtime), base_url="https://testserver") as client:
        yield client


def _grant(client: TestClient, purpose: str) -> None:
    page = client.get(f"{CENTER}/consents")
    answer = client.post(f"{CENTER}/consents", data={"csrf": _csrf(page), "purpose": purpose, "action": "grant"})
    assert answer.status_code == 200, answer.text


def _requests(session: Session, person: str) -> list[RightsRequest]:
    session.rollback()
    rows = list(session.scalars(sa.select(RightsRequest).where(RightsRequest.person_id == person)))
    session.rollback()
    return rows


def _publish_second_version(session: Session, runtime: Runtime) -> int:
    document = runtime.policy().document
    data = document.model_dump(mode="json")
    data["cookies"].append(
        {
            "name": "wishlist",
            "provider": "Saffron Lane",
            "party": "first",
            "category": "functional",
            "lifetime": "30d",
            "purpose": "account",
            "description": "Keeps your wishlist.",
        }
    )
    published = versions.publish(session, type(document).model_validate(data), "# v2\n")
    session.commit()
    return int(published.version)


def test_the_notice_history_lists_every_version_with_what_changed_signed_out_and_in(
    center: TestClient, runtime: Runtime, session: Session
) -> None:
    first = center.get(f"{CENTER}/notice")
    assert first.status_code == 200 and "Version 1" in first.text and "The first version." in first.text
    assert 'href="/privacy"' in first.text and "Sign out" not in first.text  # public, signed out
    version = _publish_second_version(session, runtime)
    page = center.get(f"{CENTER}/notice")
    assert f"Version {version}" in page.text and "What changed" in page.text and "wishlist" in page.text
    assert page.text.index(f"Version {version}") < page.text.index("Version 1")  # newest first
    assert (
        page.headers["cache-control"] == "no-store"
        and "frame-ancestors 'none'" in page.headers["content-security-policy"]
    )
    person_with_email(session, runtime, EMAIL_A)
    _sign_in(center, runtime, session, EMAIL_A)
    signed_in = center.get(f"{CENTER}/notice")
    assert signed_in.status_code == 200 and "Sign out" in signed_in.text and "wishlist" in signed_in.text
    assert f'href="{CENTER}/notice" aria-current="page"' in signed_in.text
    hindi = center.get(f"{CENTER}/notice?lang=hi")
    assert '<html lang="hi">' in hindi.text and "Versions of the privacy notice" not in hindi.text


def test_signed_out_pages_are_sent_to_sign_in_and_posts_change_nothing(
    center: TestClient, runtime: Runtime, session: Session
) -> None:
    person = person_with_email(session, runtime, EMAIL_A)
    for page in SIGNED_IN_PAGES:
        answer = center.get(CENTER + page, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == f"{CENTER}/sign-in"
    for path, fields in (("/unsubscribe", {"purpose": "marketing.email"}), ("/complaint", {"complaint": "x"})):
        answer = center.post(CENTER + path, data={"csrf": "0" * 64, **fields}, follow_redirects=False)
        assert answer.status_code == 303
    assert _requests(session, person) == [] and state_for(session, [person]) == {}


def test_unsubscribe_turns_a_marketing_purpose_off_on_all_its_channels(
    center: TestClient, runtime: Runtime, session: Session
) -> None:
    person = person_with_email(session, runtime, EMAIL_A)
    _sign_in(center, runtime, session, EMAIL_A)
    _grant(center, "marketing.sms")
    page = center.get(f"{CENTER}/unsubscribe")
    assert page.status_code == 200 and 'aria-current="page"' in page.text
    assert "Offers by SMS and WhatsApp" in page.text and "SMS, WhatsApp" in page.text
    assert "Offers by email" in page.text and "not for each channel" in page.text
    assert "analytics" not in page.text  # not a marketing purpose
    assert page.text.count('name="purpose"') == 1  # only what is on can be turned off
    done = center.post(f"{CENTER}/unsubscribe", data={"csrf": _csrf(page), "purpose": "marketing.sms"})
    assert done.status_code == 200 and "you will get no more of these messages" in done.text
    row = state_for(session, [person])[person]["marketing.sms"]
    session.rollback()
    assert row.status == "withdrawn" and row.channel == "privacy_center"
    again = center.post(f"{CENTER}/unsubscribe", data={"csrf": _csrf(page), "purpose": "marketing.sms"})
    assert again.status_code == 200
    assert state_for(session, [person])[person]["marketing.sms"].ledger_position == row.ledger_position  # idempotent
    session.rollback()
    for purpose in ("analytics", "no.such", ""):
        refused = center.post(f"{CENTER}/unsubscribe", data={"csrf": _csrf(page), "purpose": purpose})
        assert refused.status_code == 404 and "Nothing was changed." in refused.text


def test_a_complaint_is_a_sealed_grievance_case_acknowledged_and_kept_out_of_logs_and_audit(
    center: TestClient, runtime: Runtime, session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    person = person_with_email(session, runtime, EMAIL_A)
    _sign_in(center, runtime, session, EMAIL_A)
    page = center.get(f"{CENTER}/complaint")
    assert page.status_code == 200 and "<textarea" in page.text and f'maxlength="{COMPLAINT_MAX}"' in page.text
    caplog.set_level(logging.DEBUG)
    made = center.post(f"{CENTER}/complaint", data={"csrf": _csrf(page), "complaint": f"  {COMPLAINT}  "})
    assert made.status_code == 200 and "Your complaint was received." in made.text, made.text
    (case,) = cases_of(session, person)
    assert (case.kind, case.channel, case.state) == ("grievance", "privacy_center", "acknowledged")
    assert case_values(UnitOfWork(runtime, session), case) == {"text": COMPLAINT}
    assert "cases.grievance.acknowledged" in [kind for kind, _ in messages(session, runtime)]
    session.rollback()
    assert "Meera" not in caplog.text
    audit = session.execute(sa.text("select * from audit_events")).all()
    stored = session.execute(sa.text("select * from cases")).all()
    session.rollback()
    assert "Meera" not in repr(audit) and "Meera" not in repr(stored)  # sealed, never in clear
    for text in ("", "   ", "x" * (COMPLAINT_MAX + 1)):
        refused = center.post(f"{CENTER}/complaint", data={"csrf": _csrf(page), "complaint": text})
        assert refused.status_code == 422 and "complaint:" in refused.text
    assert len(cases_of(session, person)) == 1 and _requests(session, person) == []


def test_csrf_missing_or_wrong_is_403_and_changes_nothing(
    center: TestClient, runtime: Runtime, session: Session
) -> None:
    person = person_with_email(session, runtime, EMAIL_A)
    _sign_in(center, runtime, session, EMAIL_A)
    _grant(center, "marketing.email")
    before = state_for(session, [person])[person]["marketing.email"].ledger_position
    session.rollback()
    good = _csrf(center.get(CENTER))
    for data in ({}, {"csrf": ""}, {"csrf": "0" * 64}, {"csrf": good[:-1] + ("0" if good[-1] != "0" else "1")}):
        for path, fields in (("/unsubscribe", {"purpose": "marketing.email"}), ("/complaint", {"complaint": "x"})):
            answer = center.post(CENTER + path, data={**data, **fields}, follow_redirects=False)
            assert answer.status_code == 403, (path, data)
    assert _requests(session, person) == []
    row = state_for(session, [person])[person]["marketing.email"]
    session.rollback()
    assert row.status == "granted" and row.ledger_position == before


def test_person_a_never_sees_or_changes_person_b(center: TestClient, runtime: Runtime, session: Session) -> None:
    person_a = person_with_email(session, runtime, EMAIL_A)
    person_b = person_with_email(session, runtime, EMAIL_B)
    with TestClient(center.app, base_url="https://testserver") as other:
        _sign_in(other, runtime, session, EMAIL_B)
        _grant(other, "marketing.email")
        page = other.get(f"{CENTER}/complaint")
        other.post(f"{CENTER}/complaint", data={"csrf": _csrf(page), "complaint": COMPLAINT})
    _sign_in(center, runtime, session, EMAIL_A)
    mine = center.get(f"{CENTER}/unsubscribe")
    assert 'name="purpose"' not in mine.text  # B's grant is not A's
    assert "Meera" not in center.get(f"{CENTER}/requests").text
    center.post(f"{CENTER}/unsubscribe", data={"csrf": _csrf(mine), "purpose": "marketing.email"})
    assert state_for(session, [person_b])[person_b]["marketing.email"].status == "granted"
    session.rollback()
    assert cases_of(session, person_a) == [] and len(cases_of(session, person_b)) == 1


def test_no_personal_value_in_urls_or_titles(center: TestClient, runtime: Runtime, session: Session) -> None:
    person_with_email(session, runtime, EMAIL_A)
    seen: list[httpx.Response] = []
    center.event_hooks["response"].append(lambda response: seen.append(response))  # type: ignore[arg-type]
    _sign_in(center, runtime, session, EMAIL_A)
    _grant(center, "marketing.email")
    page = center.get(f"{CENTER}/unsubscribe")
    center.post(f"{CENTER}/unsubscribe", data={"csrf": _csrf(page), "purpose": "marketing.email"})
    center.post(f"{CENTER}/complaint", data={"csrf": _csrf(page), "complaint": COMPLAINT})
    for path in ("/notice", *SIGNED_IN_PAGES, "/requests"):
        answer = center.get(CENTER + path)
        title = _TITLE.search(answer.text)
        assert title is not None and "@" not in title.group(1) and "Meera" not in title.group(1)
        for tag in re.findall(r"<(?:script|style)\b[^>]*>", answer.text):
            assert "nonce=" in tag
    for response in seen:
        url = str(response.request.url) + response.headers.get("location", "")
        assert EMAIL_A not in url and "%40" not in url and "Meera" not in url and "cst_" not in url


def test_my_data_lists_categories_with_masked_values_and_audits_the_view(
    center: TestClient, runtime: Runtime, session: Session
) -> None:
    person = person_with_email(session, runtime, EMAIL_A)
    other = person_with_email(session, runtime, EMAIL_B)
    vault = VaultService(runtime)
    vault.put_fields(session, person, {"identity.name": "Asha Rao"}, purpose="account", source="provided")
    vault.put_fields(session, other, {"identity.name": "Bilal Khan"}, purpose="account", source="provided")
    session.commit()
    _sign_in(center, runtime, session, EMAIL_A)
    page = center.get(f"{CENTER}/my-data")
    assert page.status_code == 200 and f'href="{CENTER}/my-data" aria-current="page"' in page.text
    name = runtime.policy().categories["identity.name"].name
    assert f"<dt>{name}</dt>" in page.text and "<dt>Email</dt>" in page.text
    for clear in ("Asha", "Rao", "asha.more", EMAIL_A, "Bilal", "Khan", "bilal.more"):
        assert clear not in page.text, clear  # masked, and never another person's
    session.rollback()
    events = session.execute(
        sa.text("select actor, person_id, outcome from audit_events where action = 'field.read'")
    ).all()
    session.rollback()
    assert [(e.person_id, e.outcome) for e in events] == [(person, "allowed")]
    assert events[0].actor.startswith("cs_")  # the customer session that looked
