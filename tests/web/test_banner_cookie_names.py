"""The notice names exactly the cookies the service sets (issue 14: the banner says what the ledger enforces;
ePrivacy Art 5(3), DPDP s.5: a notice must not promise a cookie the code does not set, nor hide one it does).

The Set-Cookie names of the banner endpoint and of the privacy center's sign-in are compared with the demo
policy's cookie catalogue, and the script's own cookie name with the endpoint's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from test_privacy_center import _sign_in

from fiduciary.policy.schema import CookieCategory
from fiduciary.runtime import Runtime
from fiduciary.web.app import create_app
from fiduciary.web.banner_config import CONSENT_COOKIE
from fiduciary.web.privacy_center.guard import PRE_COOKIE, SESSION_COOKIE
from fiduciary.web.routes.banner import ASSETS
from requests_support import person_with_email

STORE = "https://saffronlane.example"  # the demo policy's controller website: an allowed origin


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime=runtime), base_url="https://testserver") as client:
        yield client


def _set_names(response: httpx.Response) -> set[str]:
    return {v.split("=", 1)[0] for k, v in response.headers.multi_items() if k == "set-cookie"}


def _catalogue(runtime: Runtime) -> dict[str, CookieCategory]:
    return {c.name: c.category for c in runtime.policy().document.cookies}


def test_the_banner_sets_only_the_consent_cookie_the_catalogue_names(client: TestClient, runtime: Runtime) -> None:
    body = {"actions": [{"purpose": "analytics", "action": "grant"}]}
    answer = client.post("/v1/banner/consents", json=body, headers={"Origin": STORE})
    assert answer.status_code == 201, answer.text
    assert _set_names(answer) == {CONSENT_COOKIE}
    assert _catalogue(runtime).get(CONSENT_COOKIE) is CookieCategory.NECESSARY
    script = ASSETS["banner.js"].body.decode("utf-8")
    assert re.findall(r'NAME = "([^"]+)"', script) == [CONSENT_COOKIE]  # the script reads and writes the same one


def test_the_privacy_centers_cookies_are_in_the_catalogue(
    client: TestClient, runtime: Runtime, session: Session
) -> None:
    person_with_email(session, runtime, "cookie.names@example.org")
    seen: set[str] = set()
    client.event_hooks["response"] = [lambda response: seen.update(_set_names(response))]
    _sign_in(client, runtime, session, "cookie.names@example.org")
    catalogue = _catalogue(runtime)
    assert seen == {SESSION_COOKIE, PRE_COOKIE} and seen <= set(catalogue), seen - set(catalogue)
    assert {catalogue[name] for name in seen} == {CookieCategory.NECESSARY}


def test_the_catalogue_names_no_first_party_cookie_of_ours_that_nothing_sets(runtime: Runtime) -> None:
    ours = {name for name in _catalogue(runtime) if "fiduciary" in name}
    assert ours == {CONSENT_COOKIE, SESSION_COOKIE, PRE_COOKIE}
