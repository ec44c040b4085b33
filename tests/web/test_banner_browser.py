"""The cookie banner in a real browser: the demo shop (examples/demo-shop) in Debian's Chromium, live server.

What only a browser shows: tags and iframes wait for consent, Consent Mode calls come in order, GPC
pre-denies advertising, a withdrawal deletes the catalogue's cookie, focus stays in the dialog and comes
back, and axe-core finds no serious or critical violation. Each choice is then read back from the ledger.
Screenshots go to `$CI_ARTIFACTS/screenshots` (default `artifacts/screenshots`, git-ignored).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from browser_support import chromium_browser, live_app
from fiduciary.consent.models import GpcOptOut, ReconsentFloor
from fiduciary.ledger.models import LedgerEvent
from fiduciary.storage.base import utcnow
from fiduciary.web.demo_shop import default_demo_folder

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("CI_ARTIFACTS") or ROOT / "artifacts") / "screenshots"
DIALOG = ".fdy[role=dialog]"
SIGNALS = ("ad_storage", "ad_user_data", "ad_personalization", "analytics_storage")
GPC_SCRIPT = "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true});"


class Shop:
    def __init__(self, base_url: str, database: Path) -> None:
        self.base_url = base_url
        self.home = f"{base_url}/demo/"
        self.engine = sa.create_engine(f"sqlite:///{database}")

    def choices(self) -> list[dict[str, Any]]:
        """The banner's consent events in the ledger, oldest first."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(LedgerEvent.event_type, LedgerEvent.payload)
                .where(LedgerEvent.stream == "consent")
                .order_by(LedgerEvent.position)
            ).all()
        return [{"type": t, **json.loads(p)} for t, p in rows if json.loads(p).get("channel") == "banner"]

    def version(self) -> int:
        config: dict[str, Any] = json.loads(_get(f"{self.base_url}/v1/banner/config"))
        return int(config["version"])


def _get(url: str) -> str:
    import urllib.request  # lazy: only these tests read the live server without a browser

    with urllib.request.urlopen(url, timeout=10) as answer:
        return str(answer.read().decode("utf-8"))


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    folder = default_demo_folder()
    assert folder is not None, "examples/demo-shop is missing"
    tmp = tmp_path_factory.mktemp("banner")
    with live_app(tmp, demo_shop=folder, public_rate_limit_per_minute=100_000) as base_url:
        shop = Shop(base_url, tmp / "fiduciary.db")
        yield shop
        shop.engine.dispose()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with chromium_browser() as browser:
        yield browser


@pytest.fixture
def context(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    yield context
    context.close()


def _open(context: Any, url: str) -> Any:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.errors = errors
    page.goto(url, wait_until="load")
    return page


def _until(page: Any, expression: str, timeout: float = 10.0) -> None:
    """Poll `expression` with page.evaluate: wait_for_function evaluates strings, which the shop's CSP forbids."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            pytest.fail(f"never true: {expression}")
        page.wait_for_timeout(50)


def _dialog(page: Any) -> Any:
    from playwright.sync_api import expect

    dialog = page.get_by_role("dialog", name="Cookies on Saffron Lane")
    expect(dialog).to_be_visible()
    return dialog


def _consent_calls(page: Any) -> list[list[Any]]:
    """dataLayer as lists (gtag pushes `arguments`), and other pushes (the fake tag's event) as they are."""
    calls: list[list[Any]] = page.evaluate(
        "window.dataLayer.map(e => (e && typeof e.length === 'number') ? Array.from(e) : [e])"
    )
    return calls


def _recorded(shop: Shop, context: Any, page: Any, at_least: int) -> list[dict[str, Any]]:
    """The visitor's banner choices in the ledger, once there are `at_least` of them.

    The banner writes its cookie before its keepalive POST answers, so a test that reads the cookie and then
    the ledger at once races the POST; `networkidle` does not help, it fires once per navigation.
    """
    deadline = time.monotonic() + 10.0
    while True:
        visitor = next(c for c in context.cookies() if c["name"] == "fiduciary_consent")["value"].split(".")[0]
        mine = [c for c in shop.choices() if c["subject"] == visitor]
        if len(mine) >= at_least:
            return mine
        if time.monotonic() > deadline:
            pytest.fail(f"the ledger holds {len(mine)} banner choices of {visitor}, expected {at_least}")
        page.wait_for_timeout(50)


def _cookie_names(context: Any) -> set[str]:
    return {c["name"] for c in context.cookies()}


def test_analytics_waits_for_consent_then_runs_after_accept(shop: Shop, context: Any) -> None:
    page = _open(context, shop.home)
    dialog = _dialog(page)
    page.wait_for_timeout(300)  # the tags would have had time to run
    assert page.evaluate("window.__analyticsRan") is None
    assert page.evaluate("window.__adLoaded") is None
    assert page.locator("iframe").get_attribute("src") is None
    assert "_sl_stats" not in _cookie_names(context)
    assert _consent_calls(page) == [["consent", "default", dict.fromkeys(SIGNALS, "denied")]]
    # equal prominence: the three first-layer choices are the same element with the same style
    buttons = dialog.get_by_role("button")
    assert buttons.all_inner_texts() == ["Accept all", "Reject all", "Customise"]
    styles = [b.evaluate("e => [e.tagName, e.className, getComputedStyle(e).backgroundColor]") for b in buttons.all()]
    assert len({json.dumps(s) for s in styles}) == 1

    dialog.get_by_role("button", name="Accept all").click()
    _until(page, "window.__analyticsRan === true && window.__adLoaded === true")
    assert page.get_by_role("dialog").count() == 0
    assert "_sl_stats" in _cookie_names(context)
    calls = _consent_calls(page)
    assert calls[0][:2] == ["consent", "default"]
    assert calls[1] == ["consent", "update", dict.fromkeys(SIGNALS, "granted")]
    assert calls[2] == [{"event": "demo_analytics_ran"}]  # the tag ran after the update, never before
    _recorded(shop, context, page, at_least=2)

    page.goto(f"{shop.base_url}/demo/product.html", wait_until="load")
    _until(page, "window.__analyticsRan === true")
    assert page.get_by_role("dialog").count() == 0  # the stored choice is used, not asked again
    assert page.errors == []
    mine = _recorded(shop, context, page, at_least=2)
    assert {(c["purpose"], c["version"]) for c in mine} == {
        ("analytics", shop.version()),
        ("personalised_ads", shop.version()),
    }


def test_reject_keeps_analytics_off_across_reloads(shop: Shop, context: Any) -> None:
    page = _open(context, shop.home)
    _dialog(page).get_by_role("button", name="Reject all").click()
    mine = _recorded(shop, context, page, at_least=2)
    assert _consent_calls(page)[1] == ["consent", "update", dict.fromkeys(SIGNALS, "denied")]
    for _ in range(2):
        page.reload(wait_until="load")
        page.wait_for_timeout(300)
        assert page.get_by_role("dialog").count() == 0
        assert page.evaluate("window.__analyticsRan") is None
        assert page.locator("iframe").get_attribute("src") is None
    assert "_sl_stats" not in _cookie_names(context)
    visitor = next(c for c in context.cookies() if c["name"] == "fiduciary_consent")["value"].split(".")[0]
    assert visitor.startswith("vis_")  # the endpoint's Set-Cookie named the visitor it recorded
    assert mine == [c for c in shop.choices() if c["subject"] == visitor]
    assert sorted(c["purpose"] for c in mine) == ["analytics", "personalised_ads"]
    assert all(c["version"] == shop.version() for c in mine)
    assert page.errors == []


def test_withdrawal_stops_the_tag_and_deletes_its_cookie(shop: Shop, context: Any) -> None:
    page = _open(context, shop.home)
    _dialog(page).get_by_role("button", name="Accept all").click()
    _until(page, "window.__analyticsRan === true")
    _recorded(shop, context, page, at_least=2)  # the withdrawal below must reuse the visitor this POST names
    assert "_sl_stats" in _cookie_names(context)

    settings = page.get_by_role("button", name="Cookie settings")
    settings.focus()
    page.keyboard.press("Enter")
    _dialog(page).get_by_role("button", name="Reject all").click()
    assert page.evaluate("document.activeElement.textContent") == "Cookie settings"  # focus came back
    recorded = _recorded(shop, context, page, at_least=4)
    assert "_sl_stats" not in _cookie_names(context)

    page.reload(wait_until="load")
    page.wait_for_timeout(300)
    assert page.evaluate("window.__analyticsRan") is None
    assert page.locator("iframe").get_attribute("src") is None
    mine = [(c["purpose"], c["type"]) for c in recorded]
    assert len(mine) == 4 and {t for _, t in mine[2:]} == {"consent.withdrawn"}, mine


def test_a_hindi_page_shows_the_banner_in_hindi_and_records_hindi(shop: Shop, context: Any) -> None:
    from playwright.sync_api import expect

    def hindi(route: Any) -> None:  # the demo shop's home page, declared Hindi
        page = route.fetch()
        route.fulfill(response=page, body=page.text().replace('<html lang="en">', '<html lang="hi">', 1))

    page = context.new_page()
    page.route(shop.home, hindi)
    page.goto(shop.home, wait_until="load")
    dialog = page.get_by_role("dialog", name="Saffron Lane पर कुकीज़")
    expect(dialog).to_be_visible()
    assert dialog.get_attribute("lang") == "hi"
    for name in ("सभी स्वीकार करें", "सभी अस्वीकार करें", "अपनी पसंद चुनें"):
        expect(dialog.get_by_role("button", name=name)).to_be_visible()
    dialog.get_by_role("button", name="अपनी पसंद चुनें").click()
    expect(page.get_by_role("dialog", name="अपनी कुकीज़ चुनें")).to_be_visible()
    expect(page.get_by_role("button", name="पसंद सहेजें")).to_be_visible()

    # The choice is evidence of the notice the person read: the ledger records Hindi, not the policy's English.
    page.get_by_role("dialog", name="अपनी कुकीज़ चुनें").get_by_role("button", name="सभी स्वीकार करें").click()
    mine = _recorded(shop, context, page, at_least=2)
    assert {c["lang"] for c in mine} == {"hi"}, mine


def test_gpc_pre_denies_advertising_and_says_so(shop: Shop, chromium: Any) -> None:
    context = chromium.new_context(extra_http_headers={"Sec-GPC": "1"})
    context.add_init_script(GPC_SCRIPT)
    try:
        page = _open(context, shop.home)
        dialog = _dialog(page)
        note = dialog.locator(".fdy-gpc")
        assert "Global Privacy Control" in note.inner_text() and "Advertising" in note.inner_text()
        dialog.get_by_role("button", name="Customise").click()
        ads = page.get_by_role("checkbox", name="Advertising")
        assert ads.is_disabled() and not ads.is_checked()
        page.get_by_role("button", name="Accept all").click()
        _until(page, "window.__analyticsRan === true")
        page.wait_for_timeout(300)
        assert page.evaluate("window.__adLoaded") is None
        update = _consent_calls(page)[1]
        assert update[2] == {
            "ad_storage": "denied",
            "ad_user_data": "denied",
            "ad_personalization": "denied",
            "analytics_storage": "granted",
        }
        mine = {c["purpose"]: c["type"] for c in _recorded(shop, context, page, at_least=2)}
        visitor = next(c for c in context.cookies() if c["name"] == "fiduciary_consent")["value"].split(".")[0]
        assert mine["analytics"] == "consent.granted" and mine["personalised_ads"] != "consent.granted"
        with shop.engine.connect() as connection:
            assert connection.scalar(sa.select(sa.func.count()).where(GpcOptOut.subject_id == visitor)) == 1
        assert page.errors == []
    finally:
        context.close()


def test_gpc_overrides_an_earlier_accept_of_advertising(shop: Shop, chromium: Any) -> None:
    context = chromium.new_context()
    context.add_init_script(GPC_SCRIPT)
    stored = f"vis_{'d' * 26}.{shop.version()}.{int(time.time())}.advertising-analytics"
    context.add_cookies([{"name": "fiduciary_consent", "value": stored, "url": shop.base_url}])
    try:
        page = _open(context, shop.home)
        _until(page, "window.__analyticsRan === true")
        page.wait_for_timeout(300)
        assert page.get_by_role("dialog").count() == 0
        assert page.evaluate("window.__adLoaded") is None
        assert _consent_calls(page)[1][2]["ad_storage"] == "denied"
    finally:
        context.close()


def test_keyboard_focus_stays_in_the_dialog(shop: Shop, context: Any) -> None:
    page = _open(context, shop.home)
    dialog = _dialog(page)
    assert dialog.get_attribute("aria-modal") == "true"
    title = page.locator("#" + str(dialog.get_attribute("aria-labelledby")))
    assert title.inner_text() == "Cookies on Saffron Lane"
    inside = f"document.querySelector('{DIALOG}').contains(document.activeElement)"
    assert page.evaluate(inside)  # focus moved into the dialog when it opened
    for key in ["Tab"] * 6 + ["Shift+Tab"] * 6:
        page.keyboard.press(key)
        assert page.evaluate(inside), key
    page.get_by_role("button", name="Customise").focus()
    page.keyboard.press("Enter")
    assert page.get_by_role("checkbox", name="Analytics").is_visible()
    for _ in range(12):
        page.keyboard.press("Tab")
        assert page.evaluate(inside)
    page.keyboard.press("Escape")  # back to the first layer
    expect_first = page.get_by_role("button", name="Customise")
    assert expect_first.is_visible()
    page.get_by_role("button", name="Reject all").focus()
    page.keyboard.press("Enter")
    assert page.get_by_role("dialog").count() == 0


def test_reduced_motion_turns_the_animation_off(shop: Shop, chromium: Any) -> None:
    for motion, expected in (("reduce", "none"), ("no-preference", "fdy-in")):
        context = chromium.new_context(reduced_motion=motion)
        try:
            page = _open(context, shop.home)
            _dialog(page)
            assert page.evaluate(f"getComputedStyle(document.querySelector('{DIALOG}')).animationName") == expected
        finally:
            context.close()


def test_asks_again_after_a_material_change_or_the_period(shop: Shop, chromium: Any) -> None:
    version = shop.version()
    now = int(time.time())

    def shown_with(value: str) -> bool:
        context = chromium.new_context()
        context.add_cookies([{"name": "fiduciary_consent", "value": value, "url": shop.base_url}])
        try:
            page = _open(context, shop.home)
            _until(page, "document.readyState === 'complete'")
            page.wait_for_timeout(500)
            return bool(page.get_by_role("dialog").count())
        finally:
            context.close()

    assert not shown_with(f"vis_{'c' * 26}.{version}.{now}.analytics")
    assert shown_with(f"vis_{'c' * 26}.{version}.{now - 181 * 86400}.analytics")  # older than the period
    with shop.engine.begin() as connection:
        connection.execute(
            sa.insert(ReconsentFloor).values(purpose="analytics", min_version=version + 1, since=utcnow())
        )
    try:
        assert shown_with(f"vis_{'c' * 26}.{version}.{now}.analytics")  # the policy changed materially since
    finally:
        with shop.engine.begin() as connection:
            connection.execute(sa.delete(ReconsentFloor))


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1280, 800)], ids=["phone", "desktop"])
def test_screenshots_and_axe_find_no_serious_violation(shop: Shop, chromium: Any, width: int, height: int) -> None:
    from axe_playwright_python.sync_playwright import Axe

    SHOTS.mkdir(parents=True, exist_ok=True)
    context = chromium.new_context(viewport={"width": width, "height": height}, bypass_csp=True)
    try:
        page = _open(context, shop.home)
        _dialog(page)
        page.wait_for_timeout(400)  # the slide-in animation
        found: list[str] = []
        for layer in ("first", "second"):
            if layer == "second":
                page.get_by_role("button", name="Customise").click()
                page.locator(".fdy details").first.evaluate("e => e.open = true")
            shot = SHOTS / f"banner-{layer}-{width}x{height}.png"
            page.screenshot(path=str(shot))
            assert shot.stat().st_size > 5_000
            results = Axe().run(page, context=DIALOG)
            found += [
                f"{layer}: {v['id']} ({v['impact']}): {v['help']}"
                for v in results.response["violations"]
                if v["impact"] in ("serious", "critical")
            ]
        assert found == []
    finally:
        context.close()
