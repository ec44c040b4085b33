"""The privacy center's choices that name what they cover (issue 14 item 1): an objection or a restriction
with the purposes ticked from those the policy lets the person stop, refused naming the field otherwise with
nothing filed; unsubscribing per channel as well as per purpose; every value of a multi-valued category on
"my data", each masked. On SQLite and PostgreSQL, over https (the `__Host-` cookie)."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from test_privacy_center import _csrf, _sign_in
from test_privacy_center_more import _grant

from fiduciary.config import Settings
from fiduciary.consent.restrictions import active_restrictions
from fiduciary.consent.service import state_for
from fiduciary.rights.models import RightsRequest
from fiduciary.runtime import Runtime
from fiduciary.vault.own_view import RECORDS_SHOWN, masked_own_view
from fiduciary.vault.service import VaultService
from fiduciary.web.app import create_app
from fiduciary.web.banner_config import CONSENT_COOKIE
from requests_support import person_with_email, policy_with_rights

CENTER = "/privacy-center"
EMAIL = "kiran.choices@example.org"
_RIGHT = {
    "identifiers": ["email", "phone"],
    "verification": ["signed_in_session", "email_otp"],
    "channels": ["privacy_center", "email"],
}
EXTRA = [
    {"kind": "objection", "deadline": {"respond_within": "30d"}, **_RIGHT},
    {"kind": "restriction", "deadline": {"respond_within": "30d"}, **_RIGHT},
]


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The demo policy, offering objection and restriction too (as a store serving the EU would)."""
    policy = policy_with_rights(tmp_path, {}, copy.deepcopy(EXTRA))
    return Settings(database_url=database_url, data_dir=tmp_path / "data", policy_file=policy)


@pytest.fixture
def center(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime=runtime), base_url="https://testserver") as client:
        yield client


def _requests(session: Session, person: str) -> list[RightsRequest]:
    session.rollback()
    rows = list(session.scalars(sa.select(RightsRequest).where(RightsRequest.person_id == person)))
    session.rollback()
    return rows


def _boxes(page: str, kind: str) -> list[str]:
    form = re.search(rf'<form [^>]*id="stop-{kind}">(.*?)</form>', page, re.S)
    assert form is not None, page
    return re.findall(r'name="purposes" value="([^"]+)"', form.group(1))


def test_the_objection_offers_only_objectable_purposes_and_files_those_ticked(
    center: TestClient, runtime: Runtime, session: Session
) -> None:
    person = person_with_email(session, runtime, EMAIL)
    _sign_in(center, runtime, session, EMAIL)
    page = center.get(f"{CENTER}/requests")
    assert page.status_code == 200
    # customer_support runs on data given voluntarily (DPDP s.7(a)); the contract purposes are objectable;
    # never a legal obligation (tax_compliance, security) nor a consent purpose (withdrawn instead).
    offered = _boxes(page.text, "objection")
    assert "customer_support" in offered
    assert not {"tax_compliance", "security", "analytics", "marketing.email"} & set(offered)
    assert "Which uses of your data do you object to?" in page.text
    made = center.post(
        f"{CENTER}/requests",
        data={"csrf": _csrf(page), "kind": "objection", "purposes": "customer_support"},
        follow_redirects=False,
    )
    assert made.status_code == 303 and made.headers["location"] == f"{CENTER}/requests?done=made"
    [row] = _requests(session, person)
    assert row.kind == "objection" and row.details["purposes"] == ["customer_support"]


@pytest.mark.parametrize(
    ("purposes", "field"),
    [
        ([], "purposes"),  # a blanket objection is not what the picker offers
        (["customer_support", "tax_compliance"], "purposes[1]"),  # a legal obligation
        (["analytics"], "purposes[0]"),  # consent: withdrawn, not objected to
        (["no.such.purpose"], "purposes[0]"),
        (["*"], "purposes[0]"),  # "every purpose" is a restriction's choice only
    ],
)
def test_an_objection_to_what_cannot_be_objected_to_is_refused_on_the_form(
    center: TestClient, runtime: Runtime, session: Session, purposes: list[str], field: str
) -> None:
    person = person_with_email(session, runtime, EMAIL)
    _sign_in(center, runtime, session, EMAIL)
    page = center.get(f"{CENTER}/requests")
    refused = center.post(f"{CENTER}/requests", data={"csrf": _csrf(page), "kind": "objection", "purposes": purposes})
    assert refused.status_code == 422
    assert "<h1>My requests</h1>" in refused.text and 'role="alert"' in refused.text  # the form again
    assert f"{field}: " in refused.text and "Nothing was changed." in refused.text
    assert "no.such.purpose" not in refused.text.split('id="stop-objection"')[1].split("</ul>")[0]  # not echoed
    assert 'aria-describedby="stop-objection-error"' in refused.text
    assert _requests(session, person) == []


def test_a_restriction_names_purposes_or_every_purpose(center: TestClient, runtime: Runtime, session: Session) -> None:
    person = person_with_email(session, runtime, EMAIL)
    _sign_in(center, runtime, session, EMAIL)
    page = center.get(f"{CENTER}/requests")
    offered = _boxes(page.text, "restriction")
    assert offered[0] == "*" and "customer_support" in offered and "tax_compliance" not in offered
    refused = center.post(f"{CENTER}/requests", data={"csrf": _csrf(page), "kind": "restriction"})
    assert refused.status_code == 422 and "purposes: choose at least one purpose" in refused.text
    assert _requests(session, person) == []
    for chosen in (["customer_support"], ["*"]):
        made = center.post(
            f"{CENTER}/requests",
            data={"csrf": _csrf(page), "kind": "restriction", "purposes": chosen},
            follow_redirects=False,
        )
        assert made.status_code == 303, made.text
    first, every = sorted(_requests(session, person), key=lambda r: r.received_at)
    assert first.details["purposes"] == ["customer_support"] and every.details.get("purposes") is None
    assert every.details["stopped"] == [{"purpose": None, "kind": "restriction"}]  # every purpose (GDPR Art 18)


def test_an_objection_filed_here_stops_the_purpose(center: TestClient, runtime: Runtime, session: Session) -> None:
    person = person_with_email(session, runtime, EMAIL)
    _sign_in(center, runtime, session, EMAIL)
    page = center.get(f"{CENTER}/requests")
    center.post(f"{CENTER}/requests", data={"csrf": _csrf(page), "kind": "objection", "purposes": "customer_support"})
    session.rollback()  # a verified objection runs at receipt
    stopped = [(r.purpose, r.kind) for r in active_restrictions(session, [person]).get(person, [])]
    assert stopped == [("customer_support", "objection")]


# ------------------------------------------------------------------------------------------ unsubscribe


def _status(session: Session, person: str) -> dict[str, str]:
    session.rollback()
    found = {p: row.status for p, row in state_for(session, [person]).get(person, {}).items()}
    session.rollback()
    return found


def test_unsubscribe_by_channel_stops_each_purpose_sent_that_way_and_says_what_else_stops(
    center: TestClient, runtime: Runtime, session: Session
) -> None:
    person = person_with_email(session, runtime, EMAIL)
    _sign_in(center, runtime, session, EMAIL)
    _grant(center, "marketing.email")
    _grant(center, "marketing.sms")  # the demo declares it for SMS and WhatsApp
    page = center.get(f"{CENTER}/unsubscribe")
    assert re.findall(r'name="channel" value="([^"]+)"', page.text) == ["email", "sms", "whatsapp"]
    assert "Stop all marketing by WhatsApp" in page.text and "Stop all marketing by email" in page.text
    whatsapp = page.text.split('id="channel-whatsapp"')[1].split("</li>")[0]
    assert "also stops these messages on:" in whatsapp and "SMS" in whatsapp  # said before it is done
    done = center.post(f"{CENTER}/unsubscribe", data={"csrf": _csrf(page), "channel": "whatsapp"})
    assert done.status_code == 200 and "you will get no more of these messages" in done.text
    assert _status(session, person) == {"marketing.email": "granted", "marketing.sms": "withdrawn"}
    assert re.findall(r'name="channel" value="([^"]+)"', done.text) == ["email"]  # SMS is off as well now
    again = center.post(f"{CENTER}/unsubscribe", data={"csrf": _csrf(page), "channel": "sms"})
    assert again.status_code == 200  # already off: nothing more written
    center.post(f"{CENTER}/unsubscribe", data={"csrf": _csrf(page), "channel": "email"})
    assert _status(session, person) == {"marketing.email": "withdrawn", "marketing.sms": "withdrawn"}
    withdrawals = session.scalar(
        sa.text("select count(*) from ledger_events where stream = 'consent' and event_type = 'consent.withdrawn'")
    )
    session.rollback()
    assert withdrawals == 2
    for channel in ("fax", "push", "x" * 300):  # not a channel of the demo's marketing
        refused = center.post(f"{CENTER}/unsubscribe", data={"csrf": _csrf(page), "channel": channel})
        assert refused.status_code == 404 and "Nothing was changed." in refused.text


def test_a_choice_in_the_hindi_center_is_recorded_in_hindi(
    center: TestClient, runtime: Runtime, session: Session
) -> None:
    person = person_with_email(session, runtime, EMAIL)
    _sign_in(center, runtime, session, EMAIL)
    page = center.get(f"{CENTER}/consents?lang=hi")
    data = {"csrf": _csrf(page), "purpose": "analytics", "action": "grant"}
    answer = center.post(f"{CENTER}/consents?lang=hi", data=data)
    assert answer.status_code == 200 and '<html lang="hi">' in answer.text
    _grant(center, "marketing.email")
    session.rollback()
    rows = state_for(session, [person])[person]
    session.rollback()
    assert (rows["analytics"].language, rows["marketing.email"].language) == ("hi", "en")


# ---------------------------------------------------------------------------------------------- my data


def test_my_data_shows_every_value_of_a_category_masked(center: TestClient, runtime: Runtime, session: Session) -> None:
    person = person_with_email(session, runtime, EMAIL)
    vault = VaultService(runtime)
    vault.add_identifiers(session, person, {"phone": "+919812345678"})
    vault.add_identifiers(session, person, {"phone": "+919876501234"})
    addresses = ["12 MG Road, Bengaluru 560001", "4 Park Street, Kolkata 700016", "9 Marine Drive, Mumbai 400002"]
    vault.append_records(session, person, "contact.address", addresses, purpose="order_fulfilment", source="provided")
    session.commit()
    _sign_in(center, runtime, session, EMAIL)
    page = center.get(f"{CENTER}/my-data")
    assert page.status_code == 200
    address = runtime.policy().categories["contact.address"].name
    listed = page.text.split(f"<dt>{address}</dt>")[1].split("</dd>")[0]
    assert listed.count("<li>") == 3
    phones = page.text.split("<dt>Phone</dt>")[1].split("</dd>")[0]
    assert phones.count("<li>") == 2
    for clear in ("MG Road", "Park Street", "Marine Drive", "9812345678", "9876501234", "98123", "98765"):
        assert clear not in page.text, clear


def test_my_data_shows_the_newest_records_and_counts_the_rest(runtime: Runtime, session: Session) -> None:
    person = person_with_email(session, runtime, EMAIL)
    orders = [f'{{"order": "SL-{i:04d}"}}' for i in range(RECORDS_SHOWN + 3)]
    VaultService(runtime).append_records(
        session, person, "commerce.orders", orders, purpose="order_fulfilment", source="provided"
    )
    session.commit()
    [held] = [i for i in masked_own_view(runtime, session, "cs_test", person) if i.category == "commerce.orders"]
    session.rollback()
    assert (len(held.values), held.more) == (RECORDS_SHOWN, 3)


# ------------------------------------------------------------------------------ the banner of this browser


def _consent_cookies(response: httpx.Response) -> list[str]:
    return [v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith(CONSENT_COOKIE + "=")]


def test_the_banner_visitor_is_linked_at_sign_in_and_its_cookie_follows_the_center(
    center: TestClient, runtime: Runtime, session: Session
) -> None:
    person = person_with_email(session, runtime, EMAIL)
    other = person_with_email(session, runtime, "someone.else@example.org")
    body = {"actions": [{"purpose": "analytics", "action": "grant"}]}
    banner = center.post("/v1/banner/consents", json=body, headers={"Origin": "https://saffronlane.example"})
    visitor = banner.json()["visitor_id"]
    version, chosen_at = center.cookies[CONSENT_COOKIE].split(".")[1:3]
    assert center.cookies[CONSENT_COOKIE] == f"{visitor}.{version}.{chosen_at}.analytics"
    _sign_in(center, runtime, session, EMAIL)
    assert _status(session, person)["analytics"] == "granted"  # the banner's choice is the person's
    page = center.get(f"{CENTER}/consents")
    withdrawn = center.post(
        f"{CENTER}/consents",
        data={"csrf": _csrf(page), "purpose": "analytics", "action": "withdraw"},
        follow_redirects=False,
    )
    [cookie] = _consent_cookies(withdrawn)
    # The same visitor, version and time (the banner asks again when it would have), no category accepted.
    assert cookie.startswith(f"{CONSENT_COOKIE}={visitor}.{version}.{chosen_at}.;") and "Secure" in cookie
    granted = center.post(f"{CENTER}/consents", data={"csrf": _csrf(page), "purpose": "analytics", "action": "grant"})
    assert granted.status_code == 200 and center.cookies[CONSENT_COOKIE].endswith(".analytics")
    center.cookies.delete(CONSENT_COOKIE)
    center.cookies.set(CONSENT_COOKIE, "not-a-consent-cookie")
    untouched = center.post(
        f"{CENTER}/consents",
        data={"csrf": _csrf(page), "purpose": "analytics", "action": "withdraw"},
        follow_redirects=False,
    )
    assert untouched.status_code == 303 and _consent_cookies(untouched) == []
    # Another person signing in on this browser is not given this visitor's history.
    center.cookies.delete(CONSENT_COOKIE)
    center.cookies.set(CONSENT_COOKIE, f"{visitor}.{version}.{chosen_at}.analytics")
    _sign_in(center, runtime, session, "someone.else@example.org")
    assert "analytics" not in _status(session, other)
    # and this browser's banner follows the one signed in now (the answer's cookie; the jar keeps the test's too)
    assert f"{visitor}.{version}.{chosen_at}." in [c.value for c in center.cookies.jar if c.name == CONSENT_COOKIE]
