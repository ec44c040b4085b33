"""Withdrawing in the privacy center stops the shop's analytics (issue 14 item 4), in Debian's Chromium.

The demo shop (`fiduciary serve --demo`): accept analytics in the banner and see the fake tag run; sign in to
the privacy center with the code from the outbox, where the banner's choice is now the person's; withdraw
analytics there; back on the shop the tag no longer runs and its cookie is gone, without the banner asking
again: the banner reads the choice the center wrote into its consent cookie. The ledger holds the grant
(banner) and the withdrawal (privacy center). An axe-core scan of every page visited finds no serious or
critical violation; screenshots at phone and desktop widths go to artifacts/screenshots/.

And the issue's "Done when" path: refuse analytics on the shop, grant it in the center and watch the tag run,
download the package through the link the outbox holds, request erasure.
"""

from __future__ import annotations

import contextlib
import os
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from browser_support import PAGE_SIZES, chromium_browser, live_app_and_runtime, scan_and_shoot
from fiduciary.comms.models import OutboxMessage
from fiduciary.comms.sealing import open_sealed
from fiduciary.consent.service import state_for
from fiduciary.ledger.models import LedgerEvent
from fiduciary.rights.models import RightsRequest
from fiduciary.runtime import Runtime
from fiduciary.web.banner_config import CONSENT_COOKIE
from fiduciary.web.demo_shop import default_demo_folder
from outbox_support import newest_code
from requests_support import person_with_email, policy_with_rights

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("CI_ARTIFACTS") or ROOT / "artifacts") / "screenshots"
EMAIL = "divya.shop@example.org"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Runtime]]:
    """The live server with the demo shop, and a second runtime on its database (the person, the outbox)."""
    folder = default_demo_folder()
    assert folder is not None, "examples/demo-shop is missing"
    with live_app_and_runtime(tmp_path, demo_shop=folder, public_rate_limit_per_minute=100_000) as served:
        yield served


def _analytics_ran(page: Any) -> bool:
    return bool(page.evaluate("window.__analyticsRan === true"))


def _cookies(page: Any) -> dict[str, str]:
    return {c["name"]: c["value"] for c in page.context.cookies()}


def _wait_until(page: Any, expression: str) -> None:
    for _ in range(200):  # the shop's CSP forbids wait_for_function's string evaluation
        if page.evaluate(expression):
            return
        page.wait_for_timeout(50)
    pytest.fail(f"never true: {expression}")


def _sign_in(page: Any, base_url: str, runtime: Runtime) -> None:
    from playwright.sync_api import expect

    page.goto(f"{base_url}/privacy-center", wait_until="load")
    page.get_by_label("Email address or phone number").fill(EMAIL)
    page.get_by_role("button", name="Send me a code").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Enter your code")
    with runtime.sessions() as session:
        code = newest_code(runtime, session)
    page.get_by_label("6-digit code").fill(code)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your privacy")


def test_withdrawing_analytics_in_the_center_stops_the_shops_tag(served: tuple[str, Runtime]) -> None:
    from playwright.sync_api import expect

    base_url, runtime = served
    with runtime.sessions() as session:
        person = person_with_email(session, runtime, EMAIL)
    found: list[str] = []
    with chromium_browser() as browser:
        page = browser.new_page(viewport=PAGE_SIZES["desktop"])
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

        # 1. The shop: nothing runs before consent; Accept all runs the analytics tag.
        page.goto(f"{base_url}/demo/", wait_until="load")
        dialog = page.get_by_role("dialog", name="Cookies on Saffron Lane")
        expect(dialog).to_be_visible()
        assert not _analytics_ran(page)
        dialog.get_by_role("button", name="Accept all").click()
        _wait_until(page, "window.__analyticsRan === true")
        page.wait_for_load_state("networkidle")  # the banner's post (keepalive) is recorded
        assert "_sl_stats" in _cookies(page)
        visitor = _cookies(page)[CONSENT_COOKIE].split(".")[0]
        page.reload(wait_until="load")
        _wait_until(page, "window.__analyticsRan === true")  # the stored choice runs it on every page
        scan_and_shoot(page, SHOTS, "center-stops-analytics-shop-accepted", found)

        # 2. The privacy center: the banner's grant is the person's, and it is withdrawn there.
        _sign_in(page, base_url, runtime)
        page.get_by_role("link", name="My consents").first.click()
        withdraw = page.get_by_role("button", name="Withdraw consent: Site analytics")
        expect(withdraw).to_be_visible()
        withdraw.click()
        expect(page.get_by_role("button", name="Give consent: Site analytics")).to_be_visible()
        scan_and_shoot(page, SHOTS, "center-stops-analytics-consents-withdrawn", found)

        # 3. Back on the shop: the tag no longer runs, its cookie is deleted, and the banner does not ask again.
        page.goto(f"{base_url}/demo/", wait_until="load")
        page.wait_for_timeout(500)
        assert not _analytics_ran(page)
        assert page.get_by_text("Analytics has not run on this page.").is_visible()
        assert "_sl_stats" not in _cookies(page)
        assert page.get_by_role("dialog").count() == 0
        page.reload(wait_until="load")
        page.wait_for_timeout(300)
        assert not _analytics_ran(page)
        scan_and_shoot(page, SHOTS, "center-stops-analytics-shop-after-withdrawal", found)
        assert errors == []
    assert found == []

    with runtime.sessions() as session:
        assert state_for(session, [person])[person]["analytics"].status == "withdrawn"
        rows = session.execute(
            sa.select(LedgerEvent.event_type, LedgerEvent.payload)
            .where(LedgerEvent.stream == "consent")
            .order_by(LedgerEvent.position)
        ).all()
    analytics = [(t, p) for t, p in rows if '"analytics"' in p]
    assert any(t == "consent.granted" and visitor in p and '"banner"' in p for t, p in analytics)
    assert any(t == "consent.withdrawn" and person in p and '"privacy_center"' in p for t, p in analytics)


def _newest_body(runtime: Runtime, kind: str) -> str:
    """The newest outbox message of `kind`, opened with the person's key as the deliverer does."""
    with runtime.sessions() as session:
        row = session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.created_at.desc())
        ).first()
        assert row is not None, f"no {kind} message in the outbox"
        return open_sealed(runtime, session, row.person_id, row.key_version, row.id, "body", row.body or b"")


def _package_link(page: Any, runtime: Runtime) -> str:
    """The download link of the access package, once the in-process job has built it and the outbox has it."""
    for _ in range(200):
        try:
            body = _newest_body(runtime, "rights.package_ready")
        except AssertionError:
            page.wait_for_timeout(100)
            continue
        match = re.search(r"(http://\S+/v1/packages/\S+)", body)
        assert match is not None, "the message holds no link"
        return match.group(1)
    pytest.fail("the package was never ready")


def test_the_quickstart_refuse_then_grant_in_the_center_download_and_erase(served: tuple[str, Runtime]) -> None:
    """Issue 14, "Done when": refuse analytics on the shop, sign in to the center with the code from the
    outbox, grant analytics there and watch the tag run on the shop, download the data, request erasure; the
    ledger and the audit trail record it all."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import expect

    base_url, runtime = served
    with runtime.sessions() as session:
        person = person_with_email(session, runtime, EMAIL)
    with chromium_browser() as browser:
        page = browser.new_page(viewport=PAGE_SIZES["desktop"], accept_downloads=True)
        page.goto(f"{base_url}/demo/", wait_until="load")
        page.get_by_role("dialog", name="Cookies on Saffron Lane").get_by_role("button", name="Reject all").click()
        page.wait_for_load_state("networkidle")
        page.reload(wait_until="load")
        page.wait_for_timeout(300)
        assert not _analytics_ran(page)

        _sign_in(page, base_url, runtime)
        page.get_by_role("link", name="My consents").first.click()
        page.get_by_role("button", name="Give consent: Site analytics").click()
        expect(page.get_by_role("button", name="Withdraw consent: Site analytics")).to_be_visible()
        page.goto(f"{base_url}/demo/", wait_until="load")
        _wait_until(page, "window.__analyticsRan === true")  # the center's grant reached the banner's cookie
        assert page.get_by_role("dialog").count() == 0

        page.goto(f"{base_url}/privacy-center/download", wait_until="load")
        page.get_by_role("button", name="Ask for a copy of my data").click()
        expect(page.get_by_role("status")).to_contain_text("Your request was received.")
        link = _package_link(page, runtime)
        # A navigation that ends in a download reports an error; the download is what counts.
        with page.expect_download() as downloading, contextlib.suppress(PlaywrightError):
            page.goto(link)
        package = downloading.value.path()
        assert package is not None and zipfile.is_zipfile(package)
        assert any(name.endswith("/package.json") for name in zipfile.ZipFile(package).namelist())

        page.goto(f"{base_url}/privacy-center/account", wait_until="load")
        page.get_by_role("button", name="Erase my data").click()
        page.get_by_label("Yes, I want this.").check()
        page.get_by_role("button", name="Erase my data").click()
        # The demo's erasure runs at once (no waiting period): the account's sessions end with it.
        expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")

    with runtime.sessions() as session:
        events = [t for (t,) in session.execute(sa.text("select event_type from ledger_events order by position"))]
        actions = set(session.scalars(sa.text("select action from audit_events")).all())
        states = {
            r.kind: r.state for r in session.scalars(sa.select(RightsRequest).where(RightsRequest.person_id == person))
        }
    assert "consent.denied" in events and "consent.granted" in events  # the banner's refusal, the center's grant
    assert states == {"access": "completed", "erasure": "completed"}
    assert {"session.open", "package.download"} <= actions, actions


def test_the_objection_picker_and_its_refusal_pass_axe(tmp_path: Path) -> None:
    """The purpose picker (a policy offering objection and restriction, as a store serving the EU would) and
    the form re-rendered with its refusal: no serious or critical axe-core violation, screenshots."""
    from playwright.sync_api import expect

    right = {"identifiers": ["email"], "verification": ["email_otp"], "channels": ["privacy_center"]}
    extra = [{"kind": k, "deadline": {"respond_within": "30d"}, **right} for k in ("objection", "restriction")]
    policy = policy_with_rights(tmp_path, {}, extra)
    found: list[str] = []
    with live_app_and_runtime(tmp_path, policy_file=policy) as (base_url, runtime):
        with runtime.sessions() as session:
            person_with_email(session, runtime, EMAIL)
        with chromium_browser() as browser:
            page = browser.new_page(viewport=PAGE_SIZES["desktop"])
            _sign_in(page, base_url, runtime)
            page.goto(f"{base_url}/privacy-center/requests", wait_until="load")
            objection = page.locator("#stop-objection")
            expect(objection.get_by_role("group", name="Which uses of your data do you object to?")).to_be_visible()
            scan_and_shoot(page, SHOTS, "privacy-center-requests-picker", found)
            objection.get_by_role("button", name="Send my objection").click()  # nothing ticked
            expect(page.locator("#stop-objection-error")).to_contain_text("purposes: choose at least one purpose")
            scan_and_shoot(page, SHOTS, "privacy-center-requests-picker-refused", found)
            page.locator("#stop-objection").get_by_role("checkbox").first.check()
            page.locator("#stop-objection").get_by_role("button", name="Send my objection").click()
            expect(page.get_by_role("status")).to_contain_text("Your request was received.")
    assert found == []
