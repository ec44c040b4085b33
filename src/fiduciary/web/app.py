"""The FastAPI application: thin routers that parse, call a domain service and render."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from fiduciary import __version__
from fiduciary import housekeeping as _housekeeping  # noqa: F401 (registers the periodic job)
from fiduciary.comms import delivery as _delivery  # noqa: F401 (registers comms.deliver)
from fiduciary.config import Settings, get_settings
from fiduciary.jobs.local import LocalJobRunner
from fiduciary.rights.packages import job as _package_job  # noqa: F401 (registers rights.build_package)
from fiduciary.runtime import Runtime, tune_process
from fiduciary.serving import HousekeepingLeader, WorkerEnvironment, die_with_parent
from fiduciary.web.contract import document_scopes, install_methods
from fiduciary.web.demo_shop import install_demo_shop
from fiduciary.web.deps import install_database_gate
from fiduciary.web.fast_path import install_route_index
from fiduciary.web.privacy_center import install_privacy_center, security_pages
from fiduciary.web.problems import document_problems, install_problem_handlers
from fiduciary.web.routes import api_docs, apikeys, health, notice, policy, security_txt, signing_keys
from fiduciary.web.routes import audit as audit_routes
from fiduciary.web.routes import banner as banner_routes
from fiduciary.web.routes import breaches as breaches_routes
from fiduciary.web.routes import cases as cases_routes
from fiduciary.web.routes import consent as consent_routes
from fiduciary.web.routes import decisions as decisions_routes
from fiduciary.web.routes import disclosures as disclosures_routes
from fiduciary.web.routes import holds as holds_routes
from fiduciary.web.routes import identity as identity_routes
from fiduciary.web.routes import jobs as jobs_routes
from fiduciary.web.routes import metrics as metrics_routes
from fiduciary.web.routes import my_requests as my_requests_routes
from fiduciary.web.routes import packages as packages_routes
from fiduciary.web.routes import people as people_routes
from fiduciary.web.routes import receipts as receipts_routes
from fiduciary.web.routes import requests as requests_routes
from fiduciary.web.routes import unsubscribe as unsubscribe_routes
from fiduciary.web.routes import vulnerability_reports as vulnerability_routes
from fiduciary.web.security import install_security
from fiduciary.web.tracing import FASTAPI_TELEMETRY_OFF, install_tracing


def create_app_from_env() -> FastAPI:
    """The app of one `fiduciary serve --workers N` worker process (uvicorn's factory import string
    `fiduciary.web.app:create_app_from_env`): settings from the environment, as the supervisor had them, and
    what the supervisor decided (the origin it bound) from `WorkerEnvironment`."""
    die_with_parent()  # a SIGKILLed supervisor leaves no worker serving on its socket
    worker = WorkerEnvironment.from_environment()
    app = create_app(get_settings(), bound_base_url=worker.bound_base_url, single_process=worker.workers <= 1)
    tune_process()
    return app


def start_local_jobs(runtime: Runtime, leader: HousekeepingLeader | None = None) -> LocalJobRunner | None:
    """The in-process job runner on SQLite (the embedded default: no broker, no worker to start); None on
    PostgreSQL, where `fiduciary worker` processes run the jobs, and in every `serve --workers N` worker but
    the one holding the leader lock (fiduciary.serving): one runner per machine is enough."""
    if runtime.engine.dialect.name != "sqlite":
        return None
    if leader is not None and not leader.acquire():
        return None
    runner = LocalJobRunner(runtime, runtime.engine, runtime.sessions, runtime.settings)
    runner.start()
    return runner


def create_app(
    settings: Settings | None = None,
    runtime: Runtime | None = None,
    *,
    bound_base_url: str | None = None,
    single_process: bool = True,
) -> FastAPI:
    """Build the app. Tests pass a `runtime` bound to their database; `serve` lets the app start its own,
    telling it the origin it bound (`bound_base_url`) so generated links name the real port.
    `single_process=False` (one of several workers): housekeeping runs only in the worker that wins the
    leader lock."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = runtime is None
        app.state.runtime = runtime or Runtime.start(settings, bound_base_url=bound_base_url)
        install_database_gate(app, app.state.runtime)
        security_txt.check_at_start(app.state.runtime)  # a signing key gpg refuses stops the start here
        # Background jobs (housekeeping every few minutes, and whatever the domains queue): on SQLite run
        # here, by a thread stopped (and joined) before the runtime closes; on PostgreSQL by `fiduciary
        # worker` processes, so app.state.jobs is None.
        leader = None if single_process else HousekeepingLeader(app.state.runtime.settings.data_dir)
        app.state.jobs = start_local_jobs(app.state.runtime, leader)
        try:
            yield
        finally:
            if app.state.jobs is not None:
                app.state.jobs.stop()
            if leader is not None:
                leader.release()
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
        telemetry=FASTAPI_TELEMETRY_OFF,  # FastAPI's own spans record raw paths and queries (web/tracing.py)
    )
    app.state.single_process = single_process  # one of several workers: limits are shared (web/limits.py)
    install_problem_handlers(app)
    document_problems(app)
    health.install_healthz_shortcut(app)  # before install_security, which wraps it in the request middleware
    install_security(app)
    effective = runtime.settings if runtime is not None else settings or get_settings()
    install_tracing(app, effective)  # if configured
    for router in _api_routers():
        app.include_router(router)
    app.include_router(security_pages.router)  # the researcher's pages, outside the OpenAPI
    install_privacy_center(app)  # server-rendered pages, outside the OpenAPI (docs/privacy-center.md)
    if effective.demo_shop is not None:
        install_demo_shop(app, effective.demo_shop)  # `fiduciary serve --demo`: a store's pages at /demo/
    install_methods(app)  # after every router: OPTIONS answers 204 with Allow, other methods 405 with Allow
    install_route_index(app)  # after install_methods: routing skips the routers that cannot serve a request
    document_scopes(app)  # after document_problems: each operation's description names its scope
    return app


def _api_routers() -> tuple[APIRouter, ...]:
    """The routers of the API, in the order the OpenAPI document lists them."""
    return (
        health.router,
        api_docs.router,
        policy.router,
        notice.router,
        apikeys.router,
        signing_keys.router,
        security_txt.router,
        consent_routes.router,
        banner_routes.router,
        people_routes.router,
        identity_routes.router,
        decisions_routes.router,
        unsubscribe_routes.router,
        audit_routes.router,
        receipts_routes.router,
        requests_routes.router,
        breaches_routes.router,
        cases_routes.router,
        disclosures_routes.router,
        my_requests_routes.router,
        holds_routes.router,
        packages_routes.router,
        jobs_routes.router,
        metrics_routes.router,
        vulnerability_routes.router,
    )
