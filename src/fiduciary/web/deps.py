"""Request-scoped dependencies: the runtime, one database session (one transaction) per request, and the
base URL of links.

Every route and the API-key dependency take the session as `SessionDep` (or with `= SESSION_DEPENDENCY` as its
default), never `Depends(get_session)` directly: the alias carries `scope="function"`, which makes FastAPI run
the commit after the path operation returns and *before* the response is sent. With the default scope (a
`yield` dependency's exit runs after the response has gone out, since FastAPI 0.118) a client could hold a 201
for a write that a crash then lost (issue 8; docs/decisions/0012-commit-before-answering.md).
tests/web/test_durability_crash.py kills a real server right after each acknowledged write, and
tests/web/test_session_scope.py checks that every route's session dependency is the function-scoped one.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, ParamSpec, TypeVar

from anyio import CancelScope, to_thread
from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from fiduciary.runtime import Runtime
from fiduciary.storage.group_commit import DatabaseGate


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def runtime_dependency(request: Request) -> Runtime:
    """`get_runtime` as a dependency: async, because FastAPI runs a plain function dependency in a worker
    thread, and a thread hop per trivial dependency was a measurable share of a request (issue 17)."""
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One transaction per request: committed when the handler returns, rolled back on any error.

    Use it only through `SessionDep`. A failed commit raises here, before the response exists, so the client
    gets a problem+json 500 and never a receipt for a write that was not stored.

    Async so that waiting for the database gate (`database_gate`) holds no worker thread. On SQLite the
    commit (a local fsync, sub-millisecond on an idle disk) runs inline: the gate already serialises the
    database work, and a hop to a worker thread and back cost more CPU than the commit (bench/RESULTS.md
    "serving": /healthz 2.4 → 1.4 ms of CPU). On PostgreSQL it runs in a worker thread (a network round
    trip). Creating the session does no I/O (it connects on first use).
    """
    gate = database_gate(request.app)
    if gate is None:
        async with _session(request) as session:
            yield session
        return
    if gate.group_commit and _joins_group(request):
        async with gate.joined(get_runtime(request).sessions) as session:
            yield session
        return
    async with gate.exclusive(), _session(request, inline=True) as session:
        yield session


_GROUP_COMMIT_ATTRIBUTE = "fiduciary_group_commit"

_E = TypeVar("_E", bound=Callable[..., Any])


def joins_group_commit(endpoint: _E) -> _E:
    """Mark a route whose request's transaction may share one COMMIT with the requests queued behind it on
    SQLite (storage/group_commit.py): its answer still waits for that COMMIT. Only for routes whose work
    is all on the request's session (no session of their own that writes, no `after_commit` listener they
    rely on); every other route takes the gate for a transaction of its own."""
    setattr(endpoint, _GROUP_COMMIT_ATTRIBUTE, True)
    return endpoint


def _joins_group(request: Request) -> bool:
    route = request.scope.get("route")
    return getattr(getattr(route, "endpoint", None), _GROUP_COMMIT_ATTRIBUTE, False) is True


@asynccontextmanager
async def _session(request: Request, *, inline: bool = False) -> AsyncIterator[Session]:
    session = get_runtime(request).sessions()
    try:
        yield session
        if inline:
            _commit_and_close(session)
        else:
            await to_thread.run_sync(_commit_and_close, session)
    except BaseException:
        if inline:
            _rollback_and_close(session)
        else:
            with CancelScope(shield=True):
                await to_thread.run_sync(_rollback_and_close, session)
        raise


def _commit_and_close(session: Session) -> None:
    try:
        session.commit()
    finally:
        session.close()


def _rollback_and_close(session: Session) -> None:
    try:
        session.rollback()
    finally:
        session.close()


GATE_STATE = "fiduciary_database_gate"


def install_database_gate(app: Any, runtime: Runtime) -> None:
    """On SQLite, one request at a time holds a session in this process (`DatabaseGate`: an `anyio.Lock`,
    first come first served, with group commit for the routes marked `joins_group_commit` when this is the
    only process serving); elsewhere, none. Called by the app's lifespan, inside the event loop that will
    use the lock.

    SQLite has one writer at a time, and a writer that finds the database locked waits in SQLite's busy
    handler, which sleeps 1, 2, 5, 10 ... 100 ms between tries: under eight concurrent requests most of
    them slept, and p99 was above a second (bench/RESULTS.md "serving"). Queueing for the database here,
    in order, without holding a worker thread, replaces those sleeps with a wait of about one request's
    service time. Other processes (the CLI, other workers) still meet at SQLite's own lock.
    """
    gate = None
    if runtime.engine.dialect.name == "sqlite":
        gate = DatabaseGate(runtime.engine, group_commit=getattr(app.state, "single_process", True))
    setattr(app.state, GATE_STATE, gate)


def database_gate(app: Any) -> DatabaseGate | None:
    gate: DatabaseGate | None = getattr(app.state, GATE_STATE, None)
    return gate


_P = ParamSpec("_P")
_T = TypeVar("_T")


async def run_request_work(request: Request, work: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """Run a route's database work for this request: inline on SQLite, in a worker thread elsewhere.

    On SQLite the request already holds the database gate and the work is local (no network wait), so a
    hop to a worker thread and back would only add two thread hand-offs, which were a quarter of a
    decision's time under load (bench/RESULTS.md "serving"), as for the commit. Use it for work bounded
    by one request's size (one decision, one subject's consents), not for batches that could hold the
    event loop for long.

    Only in a single-process server (`serve --workers 1`, tests): there the only other writers are this
    process's job thread and the occasional CLI command, whose short transactions are all the work could
    wait for in SQLite's busy handler. Several workers on one SQLite file meet at its write lock on every
    write, and a busy wait inline would stall the worker's event loop (and its `/healthz`), so they keep the
    thread pool."""
    if database_gate(request.app) is not None and getattr(request.app.state, "single_process", True):
        return work(*args, **kwargs)
    return await run_in_threadpool(work, *args, **kwargs)


SESSION_DEPENDENCY = Depends(get_session, scope="function")
"""The one way to ask for the request's session (FastAPI caches it per scope, so every user shares it)."""

SessionDep = Annotated[Session, SESSION_DEPENDENCY]
"""The request's session, committed (durably, per the engine's settings) before the response is sent."""


# A Host header we are willing to put into a link: a DNS name or bracketed IPv6 address, optional port.
_HOST_RE = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
    r"|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?"
)


def request_base_url(request: Request) -> str:
    """The origin for links in the answer to `request` (unsubscribe links, notice URLs, the key issuer).

    FIDUCIARY_PUBLIC_BASE_URL when set; else, with FIDUCIARY_TRUST_PROXY_HOST on, the request's own scheme
    and Host (what the proxy in front was asked for); else the address the service bound. A Host that is
    not a plain host[:port] is never copied into a link.
    """
    runtime = get_runtime(request)
    settings = runtime.settings
    if settings.public_base_url is None and settings.trust_proxy_host:
        host = request.headers.get("host", "")
        if _HOST_RE.fullmatch(host) and request.url.scheme in ("http", "https"):
            return f"{request.url.scheme}://{host.lower()}"
    return runtime.public_base_url
