"""The demo shop (examples/demo-shop) at /demo/: a store's pages embedding the cookie banner.

Served only when `Settings.demo_shop` names its folder (`fiduciary serve --demo`), for the quickstart and
the browser tests. It stands for the store's own website, so it gets the headers a store would send: a
Content-Security-Policy that allows its own scripts and the banner's origin (here the same), and framing
by its own pages only (the fake ad iframe).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import Depends, FastAPI, Response
from starlette.requests import Request

from fiduciary.errors import NotFound
from fiduciary.web.security import public_rate_limit

MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
DEMO_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
)


def default_demo_folder() -> Path | None:
    """examples/demo-shop of a source checkout (the package's repository), if it is there."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "examples" / "demo-shop"
        if (candidate / "index.html").is_file():
            return candidate
    return None


def _file(folder: Path, name: str) -> Path:
    """The file `name` inside `folder`, refusing anything that would leave it or is not a known type."""
    if not name or name.endswith("/"):
        name += "index.html"
    path = (folder / name).resolve()
    if not path.is_relative_to(folder) or path.suffix not in MEDIA_TYPES or not path.is_file():
        raise NotFound("No such page in the demo shop.")
    return path


def install_demo_shop(app: FastAPI, folder: Path) -> None:
    """Serve `folder` at /demo/ (GET only, rate limited like every public route; no OpenAPI entry)."""
    root = folder.resolve()

    @app.get("/demo", include_in_schema=False)
    def demo_home() -> Response:
        return Response(status_code=308, headers={"Location": "/demo/"})

    @app.get("/demo/{name:path}", include_in_schema=False, dependencies=[Depends(public_rate_limit)])
    def demo_file(name: str, request: Request) -> Response:
        path = _file(root, name)
        headers = {
            "Content-Security-Policy": DEMO_CSP,
            "X-Frame-Options": "SAMEORIGIN",
            "Cache-Control": "no-cache",
        }
        return Response(path.read_bytes(), media_type=MEDIA_TYPES[path.suffix], headers=headers)
