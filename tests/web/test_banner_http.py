"""The cookie banner over HTTP: its size budget, caching, configuration, consent cookie and bad input.

The browser behaviour (gating, Consent Mode, GPC, focus) is in test_banner_browser.py; here is what a
plain HTTP client can check, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from consent_support import snapshot
from fiduciary.config import Settings
from fiduciary.consent.models import ConsentState, ReconsentFloor
from fiduciary.runtime import Runtime
from fiduciary.storage.base import utcnow
from fiduciary.web.app import create_app
from fiduciary.web.banner_config import ASK_AGAIN_AFTER_DAYS, CONSENT_COOKIE
from fiduciary.web.demo_shop import DEMO_CSP, default_demo_folder
from fiduciary.web.routes.banner import banner_language

STORE = "https://saffronlane.example"  # the demo policy's controller website
URL = "/v1/banner/consents"
BUDGET = 8 * 1024  # issue 14: script and style together, gzipped


def _post(client: TestClient, body: Any, origin: str | None = STORE, **headers: str) -> httpx.Response:
    sent = {**headers, **({"Origin": origin} if origin else {})}
    if isinstance(body, bytes):
        return client.post(URL, content=body, headers={**sent, "Content-Type": "application/json"})
    return client.post(URL, json=body, headers=sent)


def _choice(version: int | None, **actions: str) -> dict[str, Any]:
    body: dict[str, Any] = {"actions": [{"purpose": p, "action": a} for p, a in actions.items()]}
    if version is not None:
        body["policy_version"] = version
    return body


def _cookie(response: httpx.Response) -> str:
    cookies = [v for k, v in response.headers.multi_items() if k == "set-cookie"]
    assert len(cookies) == 1, cookies
    return cookies[0]


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    return problem


# ------------------------------------------------------------------------------------------------ assets


def test_script_and_style_fit_the_budget_gzipped(client: TestClient) -> None:
    script, style = client.get("/banner.js"), client.get("/banner.css")
    assert script.status_code == style.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert style.headers["content-type"].startswith("text/css")
    size = len(gzip.compress(script.content, 9)) + len(gzip.compress(style.content, 9))
    assert 1000 < size <= BUDGET, f"{size} bytes gzipped"


def test_assets_are_cached_long_by_version_and_revalidated_by_etag(client: TestClient) -> None:
    script = client.get("/banner.js")
    etag = script.headers["etag"]
    assert script.headers["cache-control"] == "public, max-age=3600"
    again = client.get("/banner.js", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    versioned = client.get(f"/banner.js?v={etag.strip(chr(34))}")
    assert versioned.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert client.get("/banner.js?v=0123").headers["cache-control"] == "public, max-age=3600"  # not this content
    assert client.get("/banner.js?v=not-hex").status_code == 422
    config = client.get("/v1/banner/config").json()
    css = client.get(f"/banner.css?v={config['css']}")
    assert css.headers["etag"] == f'"{config["css"]}"'
    assert css.headers["cache-control"].endswith("immutable")


# ------------------------------------------------------------------------------------------------ config


def test_config_is_the_policy_catalogue_by_category(client: TestClient, runtime: Runtime) -> None:
    answer = client.get("/v1/banner/config", headers={"Origin": STORE})
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == STORE
    assert answer.headers["cache-control"] == "public, max-age=300"
    config = answer.json()
    policy = runtime.policy()
    assert config["version"] == policy.version and config["min_version"] == 0
    assert config["ask_again_after_days"] == ASK_AGAIN_AFTER_DAYS and config["cookie"] == CONSENT_COOKIE
    categories = {c["id"]: c for c in config["categories"]}
    assert list(categories) == ["necessary", "functional", "analytics", "advertising"]
    assert not categories["necessary"]["optional"]
    assert not categories["functional"]["optional"]  # its only cookie serves a contract purpose
    analytics, ads = categories["analytics"], categories["advertising"]
    assert analytics["optional"] and analytics["purposes"] == ["analytics"] and not analytics["gpc"]
    assert analytics["consent_mode"] == ["analytics_storage"]
    assert ads["purposes"] == ["personalised_ads"] and ads["gpc"]
    assert ads["consent_mode"] == ["ad_storage", "ad_user_data", "ad_personalization"]
    assert [c["name"] for c in analytics["cookies"]] == ["_sl_stats"]
    assert analytics["uses"] == [
        {"name": policy.purposes["analytics"].name, "description": policy.purposes["analytics"].description}
    ]
    assert client.get("/v1/banner/config", headers={"If-None-Match": answer.headers["etag"]}).status_code == 304
    assert (
        "access-control-allow-origin"
        not in client.get("/v1/banner/config", headers={"Origin": "https://x.example"}).headers
    )


def test_a_material_change_raises_the_version_a_stored_choice_needs(client: TestClient, session: Session) -> None:
    before = client.get("/v1/banner/config")
    session.add(ReconsentFloor(purpose="analytics", min_version=7, since=utcnow()))
    session.commit()
    after = client.get("/v1/banner/config")
    assert after.json()["min_version"] == 7
    assert after.headers["etag"] != before.headers["etag"]


def test_config_speaks_hindi_when_asked_and_keeps_the_policys_own_texts(client: TestClient, runtime: Runtime) -> None:
    english, hindi = client.get("/v1/banner/config").json(), client.get("/v1/banner/config?lang=hi-IN")
    assert hindi.status_code == 200 and hindi.headers["content-language"] == "hi"
    assert "vary" not in hindi.headers or "accept-language" not in hindi.headers["vary"].lower()
    config = hindi.json()
    assert config["lang"] == "hi" and english["lang"] == "en"
    text = config["text"]
    assert (text["accept"], text["reject"], text["customise"], text["save"]) == (
        "सभी स्वीकार करें",
        "सभी अस्वीकार करें",
        "अपनी पसंद चुनें",
        "पसंद सहेजें",
    )
    assert english["text"]["accept"] == "Accept all" and english["text"]["title"] == "Cookies on Saffron Lane"
    assert text["title"] == "Saffron Lane पर कुकीज़"
    assert "विज्ञापन" in text["gpc"] and "Advertising" in english["text"]["gpc"]  # the category GPC keeps off
    ads = {c["id"]: c for c in config["categories"]}["advertising"]
    assert ads["name"] == "विज्ञापन"
    # The purposes and cookies are the policy's words in the policy's language, never translated.
    purpose = runtime.policy().purposes["personalised_ads"]
    assert {"name": purpose.name, "description": purpose.description} in ads["uses"]
    assert [c["cookies"] for c in config["categories"]] == [c["cookies"] for c in english["categories"]]
    assert config["language"] == english["language"] == runtime.policy().document.language
    assert hindi.headers["etag"] != client.get("/v1/banner/config?lang=en").headers["etag"]


def test_config_negotiates_accept_language_and_falls_back_to_english(client: TestClient) -> None:
    negotiated = client.get("/v1/banner/config", headers={"Accept-Language": "ta;q=1, hi-IN;q=0.8, en;q=0.5"})
    assert negotiated.json()["text"]["accept"] == "सभी स्वीकार करें"
    assert "accept-language" in negotiated.headers["vary"].lower()
    # A language without a catalogue: the header decides, then the policy's language (English here).
    unknown = client.get("/v1/banner/config?lang=ta", headers={"Accept-Language": "hi"})
    assert unknown.json()["text"]["accept"] == "सभी स्वीकार करें"
    fallback = client.get("/v1/banner/config?lang=ta-IN", headers={"Accept-Language": "fr, de;q=0.5"})
    assert fallback.status_code == 200 and fallback.headers["content-language"] == "en"
    assert fallback.json()["text"]["accept"] == "Accept all" and "accept-language" in fallback.headers["vary"].lower()


def test_without_a_usable_language_the_policys_language_decides() -> None:
    assert banner_language(None, None, "hi-IN") == ("hi", True)
    assert banner_language("ta", "fr", "hi") == ("hi", True)
    assert banner_language("ta", None, "ta") == ("en", True)
    assert banner_language("en-GB", "hi", "hi") == ("en", False)


@pytest.mark.parametrize("lang", ["h", "hi_IN", "x" * 40, "hi-!"])
def test_a_malformed_lang_is_refused_naming_the_field(client: TestClient, lang: str) -> None:
    problem = _problem(client.get("/v1/banner/config", params={"lang": lang}), 422)
    assert "lang" in str(problem)


# ------------------------------------------------------------------------------------------------ cookie


def test_each_choice_answers_with_the_consent_cookie(client: TestClient, runtime: Runtime, session: Session) -> None:
    version = runtime.policy().version
    answer = _post(client, _choice(version, analytics="grant", personalised_ads="deny"))
    assert answer.status_code == 201, answer.text
    visitor = answer.json()["visitor_id"]
    cookie = _cookie(answer)
    value, *attributes = cookie.split("; ")
    name, _, content = value.partition("=")
    got_visitor, got_version, chosen_at, categories = content.split(".")
    assert (name, got_visitor, int(got_version), categories) == (CONSENT_COOKIE, visitor, version, "analytics")
    assert abs(int(chosen_at) - utcnow().timestamp()) < 60
    assert sorted(attributes) == sorted(["Path=/", f"Max-Age={ASK_AGAIN_AFTER_DAYS * 86400}", "SameSite=Lax"])
    # the ledger's state is the version shown
    rows = session.scalars(sa.select(ConsentState).where(ConsentState.subject_id == visitor)).all()
    assert {(r.purpose, r.status, r.policy_version) for r in rows} == {
        ("analytics", "granted", version),
        ("personalised_ads", "denied", version),
    }

    rejected = _post(client, {**_choice(version, analytics="withdraw", personalised_ads="deny"), "visitor_id": visitor})
    assert rejected.status_code == 201
    assert _cookie(rejected).split("; ")[0].endswith(".")  # no category accepted


def test_the_cookie_is_secure_over_https(runtime: Runtime) -> None:
    with TestClient(create_app(runtime=runtime), base_url="https://testserver") as secure_client:
        answer = _post(secure_client, _choice(None, analytics="grant"))
    assert answer.status_code == 201, answer.text
    assert "Secure" in _cookie(answer).split("; ")


# ------------------------------------------------------------------------------------------------ bad input


BAD: list[tuple[str, Any, int, str | None]] = [
    ("malformed", b'{"actions": [', 422, None),
    ("not_an_object", b"[1, 2]", 422, None),
    ("too_many_actions", {"actions": [{"purpose": "analytics", "action": "grant"}] * 101}, 422, "body.actions"),
    (
        "duplicated_purpose",
        {"actions": [{"purpose": "analytics", "action": "grant"}] * 2},
        422,
        "body.actions.1.purpose",
    ),
    ("unknown_purpose", _choice(None, **{"no.such.purpose": "grant"}), 422, "body.actions.0.purpose"),
    ("category_field", {**_choice(None, analytics="grant"), "categories": ["telemetry"]}, 422, "body.categories"),
    ("version_as_text", {**_choice(None, analytics="grant"), "policy_version": "1"}, 422, "body.policy_version"),
    (
        "huge_visitor_id",
        {**_choice(None, analytics="grant"), "visitor_id": "vis_" + "a" * 5000},
        422,
        "body.visitor_id",
    ),
]


@pytest.mark.parametrize(("name", "body", "status", "field"), BAD, ids=[b[0] for b in BAD])
def test_bad_payloads_are_refused_and_change_nothing(
    client: TestClient, session: Session, name: str, body: Any, status: int, field: str | None
) -> None:
    before = snapshot(session)
    answer = _post(client, body)
    problem = _problem(answer, status)
    if field is not None:
        assert field in [e["field"] for e in problem["errors"]], problem
    assert "set-cookie" not in answer.headers
    assert snapshot(session) == before


def test_another_origin_is_refused(client: TestClient, session: Session) -> None:
    before = snapshot(session)
    for origin in ("https://evil.example", None):
        problem = _problem(_post(client, _choice(None, analytics="grant"), origin=origin), 403)
        assert problem["code"] == "origin_not_allowed"
    assert snapshot(session) == before


def test_a_stale_policy_version_is_refused_naming_the_field(
    client: TestClient, session: Session, runtime: Runtime
) -> None:
    version = runtime.policy().version
    assert version is not None
    before = snapshot(session)
    for shown in (version - 1, version + 1):
        if shown < 1:
            continue
        problem = _problem(_post(client, _choice(shown, analytics="grant")), 409)
        assert problem["code"] == "policy_version_stale"
        assert [e["field"] for e in problem["errors"]] == ["body.policy_version"]
    assert snapshot(session) == before
    assert _post(client, _choice(version, analytics="grant")).status_code == 201


def test_the_same_choice_sent_twice_is_recorded_twice_and_stays_one_state(
    client: TestClient, session: Session, runtime: Runtime
) -> None:
    body = {**_choice(runtime.policy().version, analytics="grant"), "visitor_id": "vis_" + "b" * 26}
    first, second = _post(client, body), _post(client, body)
    assert first.status_code == second.status_code == 201
    assert second.json()["results"][0]["ledger_position"] > first.json()["results"][0]["ledger_position"]
    states = session.scalars(sa.select(ConsentState).where(ConsentState.subject_id == body["visitor_id"])).all()
    assert [(s.purpose, s.status) for s in states] == [("analytics", "granted")]


# ------------------------------------------------------------------------------------------------ demo shop


@pytest.fixture
def demo_client(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    folder = default_demo_folder()
    assert folder is not None
    runtime = Runtime.start(
        Settings(database_url=database_url, data_dir=tmp_path / "data", demo_shop=folder), migrate=False
    )
    try:
        with TestClient(create_app(runtime=runtime)) as demo:
            yield demo
    finally:
        runtime.close()


def test_the_demo_shop_is_served_with_a_stores_headers(demo_client: TestClient) -> None:
    page = demo_client.get("/demo/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script src="/banner.js"></script>' in page.text
    assert 'type="text/plain" data-category="analytics"' in page.text
    assert page.headers["content-security-policy"] == DEMO_CSP and "unsafe" not in DEMO_CSP
    assert page.headers["x-frame-options"] == "SAMEORIGIN"  # the ad iframe is one of its own pages
    assert demo_client.get("/demo", follow_redirects=False).headers["location"] == "/demo/"
    assert demo_client.get("/demo/product.html").status_code == 200
    assert demo_client.get("/demo/analytics.js").headers["content-type"].startswith("text/javascript")


@pytest.mark.parametrize("path", ["/demo/%2e%2e/%2e%2e/pyproject.toml", "/demo/README.md", "/demo/none.html"])
def test_the_demo_shop_serves_nothing_else(demo_client: TestClient, path: str) -> None:
    assert demo_client.get(path).status_code == 404


def test_no_demo_shop_unless_asked(client: TestClient) -> None:
    assert client.get("/demo/").status_code == 404
