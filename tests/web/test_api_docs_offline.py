"""/docs and /redoc work with no network and under a strict Content-Security-Policy (issue 10, item 5).

Chromium loads each page from a live server while every request to a host other than the loopback
address is aborted, and must render the API's operations; a CSP violation (an inline script, a CDN) fails
the test. The headers and the asset routes are also checked without a browser.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from browser_support import chromium_browser, live_app
from fiduciary.web.routes.api_docs import ASSETS_PREFIX, DOCS_CSP, REDOC_CSP

try:
    import fastapi_offline  # noqa: F401  (the package that ships the Swagger UI and ReDoc bundles)
except ImportError:  # pragma: no cover - the dependency is in pyproject.toml
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        raise
    pytest.skip("fastapi-offline is not installed in this environment", allow_module_level=True)

# An operation each page must show: it proves the OpenAPI document was fetched and rendered.
OPERATION_SUMMARY = "Find a person by an exact identifier"


def csp_directives(value: str) -> dict[str, list[str]]:
    return {part.split()[0]: part.split()[1:] for part in (p.strip() for p in value.split(";")) if part}


def test_docs_pages_have_a_strict_csp_and_load_only_local_assets(client: TestClient) -> None:
    for path in ("/docs", "/redoc"):
        page = client.get(path)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        csp = csp_directives(page.headers["content-security-policy"])
        assert csp["default-src"] == ["'none'"] and csp["script-src"] == ["'self'"], path
        assert csp["frame-ancestors"] == ["'none'"] and csp["connect-src"] == ["'self'"]
        assert csp["style-src"] == (["'self'"] if path == "/docs" else ["'self'", "'unsafe-inline'"])
        assert "<script>" not in page.text and "cdn" not in page.text.lower() and "https://" not in page.text
        assert page.headers["x-content-type-options"] == "nosniff"
    for name, kind in (
        ("swagger-ui-bundle.js", "text/javascript"),
        ("swagger-ui.css", "text/css"),
        ("redoc.standalone.js", "text/javascript"),
        ("swagger-init.js", "text/javascript"),
    ):
        asset = client.get(f"{ASSETS_PREFIX}/{name}")
        assert asset.status_code == 200 and asset.headers["content-type"].startswith(kind), name
        assert len(asset.content) > 200
    for bad in ("../../config.py", "%2e%2e%2fapp.py", "favicon.png", "nope.js"):
        missing = client.get(f"{ASSETS_PREFIX}/{bad}")
        assert missing.status_code == 404 and missing.headers["content-type"].startswith("application/problem+json")
    assert client.get("/docs/oauth2-redirect").status_code == 404  # FastAPI's OAuth2 helper page: not used


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with live_app(tmp_path_factory.mktemp("api-docs")) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium_browser() as b:
        yield b


def offline_page(browser: Any) -> tuple[Any, Any, list[str], list[str]]:
    """A page whose requests to any non-loopback host are aborted; returns it with the blocked URLs and
    the console errors (a CSP violation is reported there)."""
    context = browser.new_context()
    page = context.new_page()
    blocked: list[str] = []
    errors: list[str] = []

    def route(r: Any) -> None:
        host = urlsplit(r.request.url).hostname or ""
        if r.request.url.startswith(("data:", "blob:")) or host in ("127.0.0.1", "localhost", "::1"):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return context, page, blocked, errors


def test_swagger_ui_renders_the_operations_offline(browser: Any, live_server: str) -> None:
    context, page, blocked, errors = offline_page(browser)
    try:
        page.goto(f"{live_server}/docs")
        page.wait_for_selector(".opblock-summary-description", timeout=30_000)
        summaries = page.locator(".opblock-summary-description").all_inner_texts()
        assert any(OPERATION_SUMMARY in s for s in summaries), summaries[:5]
        assert page.locator(".opblock").count() > 20
        page.locator("#operations-personal_data-lookup_v1_people_lookup_post .opblock-summary").first.click()
        page.wait_for_selector(".opblock.is-open .parameters-container, .opblock.is-open .opblock-section")
    finally:
        context.close()
    assert not blocked, blocked
    assert not [e for e in errors if "Content Security Policy" in e or "Refused" in e], errors


def test_redoc_renders_the_operations_offline(browser: Any, live_server: str) -> None:
    context, page, blocked, errors = offline_page(browser)
    try:
        page.goto(f"{live_server}/redoc")
        heading = page.locator("h2", has_text=OPERATION_SUMMARY)  # one heading per operation
        heading.first.wait_for(timeout=30_000)
        assert page.locator("h2").count() > 20
    finally:
        context.close()
    assert not blocked, blocked
    # ReDoc always renders its vendor's logo from a CDN in the sidebar footer; the CSP refuses that image
    # (and ReDoc hides it on error). Nothing else may be refused.
    refused = [e for e in errors if "Content Security Policy" in e or "Refused" in e]
    assert all("https://cdn.redoc.ly/redoc/logo-mini.svg" in e and "img-src" in e for e in refused), refused


def test_the_policies_have_no_escape_hatch_for_scripts() -> None:
    """No inline script, no eval, no other origin, on either page."""
    for policy in (DOCS_CSP, REDOC_CSP):
        assert csp_directives(policy)["script-src"] == ["'self'"]
        assert "'unsafe-eval'" not in policy and "*" not in policy and "http" not in policy
