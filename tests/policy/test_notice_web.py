"""GET /privacy, /privacy.md, /privacy.json: the notice of the published policy, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest

versions = pytest.importorskip("fiduciary.policy.versions")

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from fiduciary.config import DEMO_POLICY_PATH, Settings  # noqa: E402
from fiduciary.policy.loader import load_policy  # noqa: E402
from fiduciary.runtime import Runtime  # noqa: E402
from fiduciary.storage.base import utcnow  # noqa: E402
from fiduciary.web.routes.notice import CONTENT_SECURITY_POLICY  # noqa: E402

EXPECTED_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def publish_second_version(session: Session, *, effective_in: timedelta | None = None) -> int:
    """Publish the demo policy with one more cookie: a new version with a change summary."""
    loaded = load_policy(DEMO_POLICY_PATH)
    data = loaded.document.model_dump(mode="json")
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
    document = type(loaded.document).model_validate(data)
    effective = utcnow() + effective_in if effective_in else None
    published = versions.publish(session, document, loaded.source + "\n# v2\n", effective_from=effective)
    session.commit()
    return int(published.version)


def test_privacy_page_renders_current_version_with_strict_headers(client: TestClient, session: Session) -> None:
    current = versions.current(session)
    assert current is not None
    response = client.get("/privacy")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-security-policy"] == EXPECTED_CSP == CONTENT_SECURITY_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["content-language"] == "en"
    assert "accept-language" in response.headers["vary"].lower()
    body = response.text
    assert body.startswith("<!DOCTYPE html>")
    assert '<html lang="en"' in body
    assert "Meera Iyer" in body
    assert current.content_hash in body
    assert f"Version {current.version}, in effect from" in body
    assert 'href="#right-withdraw_consent"' in body and "privacy-center" not in body  # no privacy center yet
    assert "<script" not in body


def test_language_from_query_or_accept_language(client: TestClient) -> None:
    hindi = client.get("/privacy", params={"lang": "hi"})
    assert hindi.status_code == 200
    assert '<html lang="hi"' in hindi.text and "आपके अधिकार" in hindi.text
    assert hindi.headers["content-language"] == "hi"
    negotiated = client.get("/privacy", headers={"Accept-Language": "ta-IN, hi;q=0.9, en;q=0.5"})
    assert '<html lang="hi"' in negotiated.text
    overridden = client.get("/privacy?lang=en", headers={"Accept-Language": "hi"})
    assert '<html lang="en"' in overridden.text
    fallback = client.get("/privacy?lang=ta")
    assert fallback.status_code == 200 and '<html lang="en"' in fallback.text


def test_markdown_and_json(client: TestClient, session: Session) -> None:
    md = client.get("/privacy.md")
    assert md.status_code == 200
    assert md.headers["content-type"] == "text/markdown; charset=utf-8"
    assert md.text.startswith("# Saffron Lane privacy policy")
    assert md.headers["content-security-policy"] == EXPECTED_CSP
    data = client.get("/privacy.json", params={"lang": "hi"})
    assert data.status_code == 200
    assert data.headers["content-type"] == "application/json"
    view = data.json()
    current = versions.current(session)
    assert current is not None
    assert view["language"] == "hi"
    assert view["version"]["version"] == current.version
    assert view["version"]["content_hash"] == current.content_hash
    assert len(view["items"]) == sum(len(p.categories) + len(p.optional_categories) for p in current.document.purposes)


@pytest.mark.parametrize("lang", ["<script>", "h", "x" * 40, "hi IN"])
def test_malformed_language_is_a_validation_problem(client: TestClient, lang: str) -> None:
    response = client.get("/privacy", params={"lang": lang})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["errors"][0]["field"] == "query.lang"
    if len(lang) > 2:
        assert lang not in json.dumps(problem)  # the submitted value is not echoed


def test_etag_gives_not_modified(client: TestClient) -> None:
    first = client.get("/privacy")
    etag = first.headers["etag"]
    again = client.get("/privacy", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    other_language = client.get("/privacy?lang=hi", headers={"If-None-Match": etag})
    assert other_language.status_code == 200


def test_new_version_shows_in_history_with_its_changes(client: TestClient, session: Session) -> None:
    before = client.get("/privacy.json").json()
    assert len(before["history"]) == 1
    version = publish_second_version(session)
    view = client.get("/privacy.json").json()
    assert view["version"]["version"] == version
    assert [v["version"] for v in view["history"]] == [version, version - 1]
    assert view["history"][0]["status"]["code"] == "current"
    assert view["history"][0]["changes"], "the change list comes from the versions store"
    assert any(c["name"] == "wishlist" for g in view["cookies"] for c in g["cookies"])
    page = client.get("/privacy").text
    assert "wishlist" in page


def test_scheduled_version_is_upcoming_and_not_yet_in_force(client: TestClient, session: Session) -> None:
    version = publish_second_version(session, effective_in=timedelta(days=30))
    view = client.get("/privacy.json").json()
    assert view["version"]["version"] == version - 1
    assert [(v["version"], v["status"]["code"]) for v in view["history"]] == [
        (version, "upcoming"),
        (version - 1, "current"),
    ]
    assert not any(c["name"] == "wishlist" for g in view["cookies"] for c in g["cookies"])


@pytest.fixture
def empty_client(settings: Settings) -> Iterator[tuple[TestClient, Runtime]]:
    """An app on a migrated database where nothing has been published."""
    from fiduciary.web.app import create_app

    runtime = Runtime.start(settings, migrate=False, bootstrap=False)
    try:
        with TestClient(create_app(runtime=runtime)) as c:
            yield c, runtime
    finally:
        runtime.close()


@pytest.mark.parametrize("path", ["/privacy", "/privacy.md", "/privacy.json"])
def test_nothing_published_is_503_problem(empty_client: tuple[TestClient, Runtime], path: str) -> None:
    client, runtime = empty_client
    response = client.get(path)
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["code"] == "policy_not_published"
    with runtime.sessions() as session:
        assert versions.history(session) == []  # reading the notice publishes nothing
