"""The privacy notice in a real browser: Debian's Chromium through Playwright, against a live uvicorn server.

Checks what only a browser can: the page renders under its Content-Security-Policy with no console errors
(a CSP violation is reported there), the heading and the grievance officer are visible, and the page loads
nothing but itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from browser_support import chromium_browser, live_app

pytestmark = pytest.mark.browser


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[str]:
    """The app on an embedded SQLite database with the demo policy published, served by uvicorn."""
    with live_app(tmp_path) as base_url:
        yield base_url


@pytest.fixture
def chromium() -> Iterator[object]:
    with chromium_browser() as browser:
        yield browser


@pytest.mark.parametrize(("language", "heading"), [("en", "Contact us"), ("hi", "हमसे संपर्क करें")], ids=["en", "hi"])
def test_privacy_page_in_chromium(
    live_server: str, chromium: object, tmp_path: Path, language: str, heading: str
) -> None:
    from playwright.sync_api import Browser, ConsoleMessage, Request, expect

    assert isinstance(chromium, Browser)
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    console_errors: list[str] = []
    requests: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            console_errors.append(message.text)

    def on_request(request: Request) -> None:
        requests.append(request.url)

    page.on("console", on_console)
    page.on("pageerror", lambda error: console_errors.append(str(error)))
    page.on("request", on_request)

    url = f"{live_server}/privacy?lang={language}"
    response = page.goto(url, wait_until="load")
    assert response is not None and response.status == 200
    assert response.headers["content-security-policy"].startswith("default-src 'none'")

    expect(page.get_by_role("heading", level=1)).to_have_text("Saffron Lane privacy policy")
    expect(page.get_by_role("heading", level=2, name=heading)).to_be_visible()
    officer = page.locator("#contact-grievance_officer")
    officer.scroll_into_view_if_needed()
    expect(officer.get_by_text("Meera Iyer")).to_be_visible()
    expect(page.locator("#items tbody tr")).to_have_count(26)
    assert page.evaluate("document.documentElement.lang") == language

    # the calls to action (DPDP Rule 3(c)) lead to the rights table, which lists the store's channels: there
    # is no privacy center yet (tests/policy/test_notice_links.py checks every link of every notice)
    withdraw = page.locator("header .actions a").first
    assert withdraw.get_attribute("href") == "#right-withdraw_consent"
    withdraw.click()
    expect(page.locator("#right-withdraw_consent")).to_be_in_viewport()

    shot = tmp_path / f"privacy-{language}.png"
    page.screenshot(path=str(shot), full_page=False)
    assert shot.stat().st_size > 10_000

    page.close()
    assert console_errors == []
    assert requests == [url]  # no external assets, no favicon, nothing else
