"""The privacy center: server-rendered pages where a customer signs in by one-time code and manages their
data (issue 14 items 1 and 5; docs/privacy-center.md). `install_privacy_center(app)` adds its routes and the
answers to its two refusals (no session: to the sign-in form; a bad CSRF token: a 403 page)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response

from fiduciary.web.deps import get_runtime
from fiduciary.web.privacy_center import disclosures, more, routes, sign_in
from fiduciary.web.privacy_center.guard import CsrfRefused, SignInRequired


def install_privacy_center(app: FastAPI) -> None:
    """Include the center's routers and its refusal handlers."""

    async def to_sign_in(request: Request, _exc: Exception) -> Response:
        return sign_in.signed_out_redirect(request)

    async def csrf_refused(request: Request, _exc: Exception) -> Response:
        return sign_in.csrf_refused_page(request, get_runtime(request))

    app.add_exception_handler(SignInRequired, to_sign_in)
    app.add_exception_handler(CsrfRefused, csrf_refused)
    app.include_router(sign_in.router)
    app.include_router(routes.router)
    app.include_router(more.router)
    app.include_router(disclosures.router)
