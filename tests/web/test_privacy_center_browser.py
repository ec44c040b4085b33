"""The privacy center in a real browser (issue 14 item 4): Debian's Chromium through Playwright against a
live uvicorn server on SQLite. Sign in with the code read from the outbox, give a consent, ask for a copy
of the data and see its status; no console error (a CSP violation is reported there); screenshots of each
page at phone (390x844) and desktop (1280x800) widths under artifacts/screenshots/ (kept by CI).

Chromium counts http://127.0.0.1 as a secure context, so it keeps the `Secure` `__Host-` session cookie.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from browser_support import PAGE_SIZES, chromium_browser, live_app_and_runtime, scan_and_shoot
from fiduciary.consent.service import state_for
from fiduciary.runtime import Runtime
from outbox_support import newest_code
from requests_support import person_with_email

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "screenshots"
EMAIL = "meera.browser@example.org"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Runtime]]:
    """The live server, and a second runtime on its database to put a person on file and read the outbox."""
    with live_app_and_runtime(tmp_path) as served:
        yield served


SERIOUS: list[str] = []  # what axe-core finds on the pages `_shoot` visits, serious or critical


def _code(runtime: Runtime) -> str:
    with runtime.sessions() as session:
        return newest_code(runtime, session)


def _shoot(page: Any, name: str) -> None:
    """Screenshots at both widths, and an axe-core scan of the page: no serious or critical violation may be
    left (WCAG 2.2 AA)."""
    scan_and_shoot(page, SHOTS, f"privacy-center-{name}", SERIOUS)


def test_sign_in_give_consent_ask_for_data_in_chromium(served: tuple[str, Runtime]) -> None:
    from playwright.sync_api import Browser, expect

    base_url, runtime = served
    with runtime.sessions() as session:
        person = person_with_email(session, runtime, EMAIL)
    with chromium_browser() as browser:
        assert isinstance(browser, Browser)
        page = browser.new_page(viewport=PAGE_SIZES["desktop"])
        errors: list[str] = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))

        page.goto(f"{base_url}/privacy-center", wait_until="load")
        expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
        _shoot(page, "sign-in")
        page.get_by_label("Email address or phone number").fill(EMAIL)
        page.get_by_role("button", name="Send me a code").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Enter your code")
        _shoot(page, "code")
        page.get_by_label("6-digit code").fill(_code(runtime))
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Your privacy")
        assert EMAIL not in page.url and EMAIL not in page.title()
        cookies = {c["name"]: c for c in page.context.cookies()}
        session_cookie = cookies["__Host-fiduciary_center"]
        assert session_cookie["httpOnly"] and session_cookie["secure"] and session_cookie["sameSite"] == "Strict"
        _shoot(page, "overview")

        page.get_by_role("link", name="My consents").first.click()
        page.get_by_role("button", name="Give consent: Site analytics").click()
        expect(page.get_by_role("button", name="Withdraw consent: Site analytics")).to_be_visible()
        expect(page.get_by_role("link", name="Download the receipt of the last change").first).to_be_visible()
        _shoot(page, "consents")
        with runtime.sessions() as session:
            assert state_for(session, [person])[person]["analytics"].status == "granted"

        page.get_by_role("link", name="Download my data").first.click()
        page.get_by_role("button", name="Ask for a copy of my data").click()
        expect(page.get_by_role("status")).to_contain_text("Your request was received.")
        expect(page.locator(".requests .state").first).to_have_text(re.compile("In progress|Completed|Received"))
        _shoot(page, "download")

        page.get_by_role("link", name="My requests").first.click()
        expect(page.locator(".requests .card h3").first).to_have_text("A copy of my data")
        _shoot(page, "requests")
        for name, path in (
            ("recipients", "/recipients"),
            ("account", "/account"),
            ("grievance", "/grievance"),
            ("my-data", "/my-data"),
            ("unsubscribe", "/unsubscribe"),
            ("complaint", "/complaint"),
            ("notice-history", "/notice"),
        ):
            page.goto(f"{base_url}/privacy-center{path}", wait_until="load")
            _shoot(page, name)
        page.goto(f"{base_url}/privacy-center?lang=hi", wait_until="load")
        expect(page.get_by_role("heading", level=1)).to_have_text("आपकी गोपनीयता")
        _shoot(page, "overview-hi")
        page.get_by_role("button", name="साइन आउट करें").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("साइन इन करें")
        assert errors == []
        assert SERIOUS == []
