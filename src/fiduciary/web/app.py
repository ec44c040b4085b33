"""The FastAPI application: thin routers that parse, call a domain service and render."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from fiduciary import __version__
from fiduciary.config import Settings
from fiduciary.housekeeping import start_background_housekeeping
from fiduciary.runtime import Runtime
from fiduciary.web.contract import document_scopes, install_methods
from fiduciary.web.deps import install_database_gate
from fiduciary.web.problems import document_problems, install_problem_handlers
from fiduciary.web.routes import api_docs, apikeys, health, keys, notice, policy
from fiduciary.web.routes import audit as audit_routes
from fiduciary.web.routes import consent as consent_routes
from fiduciary.web.routes import decisions as decisions_routes
from fiduciary.web.routes import metrics as metrics_routes
from fiduciary.web.routes import people as people_routes
from fiduciary.web.routes import receipts as receipts_routes
from fiduciary.web.routes import unsubscribe as unsubscribe_routes
from fiduciary.web.routes import vault as vault_routes
from fiduciary.web.security import install_security


def create_app(
    settings: Settings | None = None, runtime: Runtime | None = None, *, bound_base_url: str | None = None
) -> FastAPI:
    """Build the app. Tests pass a `runtime` bound to their database; `serve` lets the app start its own,
    telling it the origin it bound (`bound_base_url`) so generated links name the real port."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = runtime is None
        app.state.runtime = runtime or Runtime.start(settings, bound_base_url=bound_base_url)
        install_database_gate(app, app.state.runtime)
        # Seal the ledgers, purge erased data and expired idempotency keys every few minutes, in a daemon
        # thread stopped (and joined) before the runtime closes; None when the interval is 0.
        app.state.housekeeping = start_background_housekeeping(app.state.runtime)
        try:
            yield
        finally:
            if app.state.housekeeping is not None:
                app.state.housekeeping.stop()
            if owned:
                app.state.runtime.close()

    app = FastAPI(
        title="Fiduciary",
        version=__version__,
        summary="An online store's privacy policy, executable.",
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc come from routes/api_docs.py: assets served here, a strict CSP
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    install_problem_handlers(app)
    document_problems(app)
    install_security(app)
    app.include_router(health.router)
    app.include_router(api_docs.router)
    app.include_router(policy.router)
    app.include_router(notice.router)
    app.include_router(apikeys.router)
    app.include_router(keys.router)
    app.include_router(consent_routes.router)
    app.include_router(people_routes.router)
    app.include_router(decisions_routes.router)
    app.include_router(unsubscribe_routes.router)
    app.include_router(audit_routes.router)
    app.include_router(vault_routes.router)
    app.include_router(receipts_routes.router)
    app.include_router(metrics_routes.router)
    install_methods(app)  # after every router: OPTIONS answers 204 with Allow, other methods 405 with Allow
    document_scopes(app)  # after document_problems: each operation's description names its scope
    return app
