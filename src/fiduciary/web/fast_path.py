"""The request path's speed tricks, each behind one named function here (bench/RESULTS.md "web layer CPU per
request"; docs/decisions/0038-request-path-fast-path.md).

None of them changes what a request is answered, only how much CPU the answer costs:

- `inline_when_policy_cached`: run a small function that may read the policy in force on the event loop
  when the policy is cached (no database access), in a worker thread only when it must be refreshed. A
  thread hop costs more CPU than the origin checks it carried (two per banner post).
- `add_missing_headers`: the baseline response headers added in one pass over the header list, pre-encoded
  (web.security), from the one request-context middleware that now also edits the headers (three
  middlewares, each with its own `send` wrapper, became one).
- `DeferredFormatQueueHandler`: an access-log record is formatted once, by the log's listener thread,
  instead of once on the event loop and again in the listener.
- `install_route_index`: find the router that serves a request without asking each of the routers
  included before it (FastAPI 0.165 keeps included routers nested and asks each one in turn, with its
  own bookkeeping per route: a tenth of a banner post's CPU went to routing).

Measured with bench/request_path.py (CPU per request in process) and bench/serving.py (over HTTP, wrk).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from logging.handlers import QueueHandler
from typing import Any, Final, ParamSpec, TypeVar

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette._utils import get_route_path
from starlette.concurrency import run_in_threadpool
from starlette.routing import BaseRoute, Match
from starlette.types import Receive, Scope, Send

from fiduciary.runtime import Runtime

_P = ParamSpec("_P")
_T = TypeVar("_T")


async def inline_when_policy_cached(
    runtime: Runtime, work: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs
) -> _T:
    """`work(*args, **kwargs)` inline when the policy in force is cached, else in a worker thread.

    Only for work whose one possible I/O is `runtime.policy()` (a database read every few seconds, when the
    cached version may be stale): with the policy cached it is a few microseconds of CPU, which a thread
    hop would multiply, and the refresh still never blocks the event loop.
    """
    if runtime.policy_is_cached():
        return work(*args, **kwargs)
    return await run_in_threadpool(work, *args, **kwargs)


def add_missing_headers(headers: list[tuple[bytes, bytes]], defaults: tuple[tuple[bytes, bytes], ...]) -> None:
    """Append each of `defaults` (lower-case names, encoded once at import) whose name `headers` lacks: what
    Starlette's `MutableHeaders.setdefault` does for each, in one pass over the list instead of one per
    header and without encoding names and values per request."""
    present = {name for name, _ in headers}
    headers.extend(header for header in defaults if header[0] not in present)


class DeferredFormatQueueHandler(QueueHandler):
    """A `QueueHandler` that leaves the formatting of a plain record to the listener thread.

    The standard one formats every record on the thread that logs it (the event loop, for the access log)
    and then the listener's handler formats it again. A record whose arguments are immutable scalars (the
    access log's: method, route template, counts, status, duration, request id) and that carries no
    traceback reads the same whenever it is formatted, so it is queued as it is and formatted once, in the
    listener. Any other record is prepared as the standard handler does.
    """

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        args = record.args
        if (
            record.exc_info is None
            and record.stack_info is None
            and isinstance(args, tuple)
            and all(arg is None or type(arg) in _SCALARS for arg in args)
        ):
            return record
        prepared: logging.LogRecord = super().prepare(record)
        return prepared


_SCALARS: Final = frozenset({str, int, float, bool})


# ------------------------------------------------------------------------------------------------ routing

_CHOSEN: Final = "fiduciary.route_index.chosen"
_GROUP = re.compile(r"\(\?P<[A-Za-z_][A-Za-z0-9_]*>")


def _is_included_router(route: BaseRoute) -> bool:
    """FastAPI's (private) `_IncludedRouter`: what `app.include_router` leaves among the app's routes."""
    return type(route).__name__ == "_IncludedRouter" and hasattr(route, "effective_route_contexts")


def _patterns(route: BaseRoute) -> list[tuple[str, frozenset[str]]] | None:
    """For an included router made only of API routes: each route's effective path pattern (its named
    groups made plain, so patterns can be joined) and methods, exactly what FastAPI's `matches` tests; None
    for any other entry, which the index then asks itself."""
    if not _is_included_router(route):
        return None
    found: list[tuple[str, frozenset[str]]] = []
    for effective in route.effective_route_contexts():  # type: ignore[attr-defined]
        if not isinstance(effective.original_route, APIRoute) or not effective.methods:
            return None
        found.append((_GROUP.sub("(?:", effective.path_regex.pattern), frozenset(effective.methods)))
    return found


class _Routers:
    """A run of consecutive included routers, as one regex per method: the alternative that matches first
    (alternatives are tried in order) names the first router with a route for the path and method."""

    def __init__(self, routers: list[tuple[BaseRoute, list[tuple[str, frozenset[str]]]]]) -> None:
        self.routers = [router for router, _ in routers]
        methods = {m for _, patterns in routers for _, ms in patterns for m in ms}
        self.by_method: dict[str, re.Pattern[str]] = {}
        for method in methods:
            alternatives = []
            for n, (_, patterns) in enumerate(routers):
                mine = [p for p, ms in patterns if method in ms]
                if mine:
                    alternatives.append(f"(?P<r{n}>" + "|".join(f"(?:{p})" for p in mine) + ")")
            self.by_method[method] = re.compile("|".join(alternatives))

    def first(self, path: str, method: str) -> BaseRoute | None:
        pattern = self.by_method.get(method)
        found = pattern.match(path) if pattern is not None else None
        return self.routers[int(found.lastgroup[1:])] if found is not None and found.lastgroup else None


class RouteIndex(BaseRoute):
    """The app's first route: it finds the first of the app's routes that matches a request in full, as
    FastAPI's router does, but skips the included routers none of whose routes' patterns fits the path and
    method (one regex per run of routers), instead of asking each in turn.

    It answers a request only when that first full match is an included router, and then with that router's
    own match and handler, so the request is served exactly as it would be otherwise. Anything else (a
    route at the top level matched first, a 404, a 405) it leaves to FastAPI's own scan, which then starts
    from the top as before. The table is rebuilt when routes are added to the app or to a router it includes.
    """

    def __init__(self, app: FastAPI) -> None:
        self._app = app
        self._sizes: list[tuple[list[BaseRoute], int]] = []
        self._table: list[BaseRoute | _Routers] = []

    def _stale(self) -> bool:
        return not self._sizes or any(len(routes) != size for routes, size in self._sizes)

    def _build(self) -> None:
        routes = [r for r in self._app.router.routes if r is not self]
        table: list[BaseRoute | _Routers] = []
        run: list[tuple[BaseRoute, list[tuple[str, frozenset[str]]]]] = []
        for route in routes:
            patterns = _patterns(route)
            if patterns is not None:
                run.append((route, patterns))
                continue
            if run:
                table.append(_Routers(run))
                run = []
            table.append(route)
        if run:
            table.append(_Routers(run))
        self._table = table
        self._sizes = [(self._app.router.routes, len(self._app.router.routes))] + [
            (r.original_router.routes, len(r.original_router.routes))  # type: ignore[attr-defined]
            for r in routes
            if _is_included_router(r)
        ]

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http":
            return Match.NONE, {}
        if self._stale():
            self._build()
        path, method = get_route_path(scope), scope["method"]
        for entry in self._table:
            if isinstance(entry, _Routers):
                router = entry.first(path, method)
                if router is None:
                    continue
                match, child_scope = router.matches(scope)
                if match == Match.FULL:
                    return Match.FULL, {**child_scope, _CHOSEN: router}
                return Match.NONE, {}  # pragma: no cover (the patterns are exact; FastAPI's scan decides)
            if _is_included_router(entry):
                match, child_scope = entry.matches(scope)
                if match == Match.FULL:
                    return Match.FULL, {**child_scope, _CHOSEN: entry}
                continue
            if entry.matches(scope)[0] != Match.NONE:
                return Match.NONE, {}  # a top-level route or a 405: FastAPI's own scan decides
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        route: Any = scope.pop(_CHOSEN)
        await route.handle(scope, receive, send)


def install_route_index(app: FastAPI) -> None:
    """Put a `RouteIndex` in front of the app's routes; call after every route is added (it follows later
    changes, but builds its table from what is there)."""
    app.router.routes.insert(0, RouteIndex(app))
