"""The API documentation pages, /docs (Swagger UI) and /redoc (ReDoc), served entirely by the service.

FastAPI's own pages load their JavaScript and CSS from a CDN, so they are blank on a machine without
internet access (a store's private network, a developer on a train), and they start Swagger UI with an
inline script, which a strict Content-Security-Policy must forbid. Here the assets come from the
`fastapi-offline` package (docs/decisions/0018-offline-api-docs.md), Swagger UI starts from a script file
of ours, and both pages carry a policy that allows scripts from this origin only: no inline script, no
eval, no other host.
"""

from __future__ import annotations

import html
from importlib.resources import files
from importlib.resources.abc import Traversable

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from fiduciary.errors import NotFound

router = APIRouter(include_in_schema=False)

ASSETS_PREFIX = "/docs/assets"
# Both pages: scripts and styles from this origin only, the spec fetched from this origin ("Try it out"
# sends its requests here too), never an inline script or eval.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
# ReDoc's styled-components write <style> elements, hence 'unsafe-inline' for its styles (never scripts),
# and it builds its search index in a worker from a blob: URL.
REDOC_CSP = DOCS_CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'") + "; worker-src 'self' blob:"
# name -> (package, path inside it, media type). Only these files are served: a fixed table, no path joins.
_ASSETS: dict[str, tuple[str, str, str]] = {
    "swagger-ui-bundle.js": ("fastapi_offline", "static/swagger-ui-bundle.js", "text/javascript"),
    "swagger-ui.css": ("fastapi_offline", "static/swagger-ui.css", "text/css"),
    "redoc.standalone.js": ("fastapi_offline", "static/redoc.standalone.js", "text/javascript"),
    "swagger-init.js": ("fiduciary.web", "static/swagger-init.js", "text/javascript"),
}
_cache: dict[str, bytes] = {}


def _asset(name: str) -> bytes:
    """The bytes of one asset, read once per process (the bundles are 1-1.5 MB and never change)."""
    body = _cache.get(name)
    if body is None:
        package, path, _ = _ASSETS[name]
        resource: Traversable = files(package).joinpath(path)
        body = _cache[name] = resource.read_bytes()
    return body


def _page(title: str, head: str, body: str, csp: str) -> HTMLResponse:
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n{head}</head>\n<body>\n{body}</body>\n</html>\n"
    )
    return HTMLResponse(page, headers={"Content-Security-Policy": csp, "Cache-Control": "no-cache"})


def _openapi_url(request: Request) -> str:
    return html.escape(request.scope.get("root_path", "") + (request.app.openapi_url or "/openapi.json"))


def _asset_url(request: Request, name: str) -> str:
    return html.escape(f"{request.scope.get('root_path', '')}{ASSETS_PREFIX}/{name}")


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI on the service's own OpenAPI document, every asset served from this origin."""
    head = f'<link rel="stylesheet" href="{_asset_url(request, "swagger-ui.css")}">\n'
    body = (
        f'<div id="swagger-ui" data-openapi-url="{_openapi_url(request)}"></div>\n'
        f'<script src="{_asset_url(request, "swagger-ui-bundle.js")}"></script>\n'
        f'<script src="{_asset_url(request, "swagger-init.js")}"></script>\n'
    )
    return _page(f"{request.app.title} API (Swagger UI)", head, body, DOCS_CSP)


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    """ReDoc on the same document; the standalone bundle starts itself on the <redoc> element."""
    body = (
        f'<redoc spec-url="{_openapi_url(request)}"></redoc>\n'
        f'<script src="{_asset_url(request, "redoc.standalone.js")}"></script>\n'
    )
    return _page(f"{request.app.title} API (ReDoc)", "", body, REDOC_CSP)


@router.get(ASSETS_PREFIX + "/{name}")
def asset(name: str) -> Response:
    """One of the fixed assets; anything else is a 404 problem."""
    if name not in _ASSETS:
        raise NotFound("No such documentation asset.", code="not_found")
    return Response(
        _asset(name),
        media_type=_ASSETS[name][2],
        headers={"Cache-Control": "public, max-age=86400"},
    )
