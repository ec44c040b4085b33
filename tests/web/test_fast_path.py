"""The request path's speed tricks (web/fast_path.py) answer exactly what the plain path answers.

- the route index picks, for every path and method the app serves (and some it does not), the route
  FastAPI's own scan picks, or leaves the request to that scan;
- `add_missing_headers` does what Starlette's `MutableHeaders.setdefault` does, header by header;
- a deferred access-log record reads the same as one the standard `QueueHandler` prepared;
- `inline_when_policy_cached` runs inline only while the policy in force is cached.
"""

from __future__ import annotations

import logging
import queue
import re
import sys
import threading
from logging.handlers import QueueHandler
from typing import Any

import anyio
import pytest
from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.routing import Match

from fiduciary.runtime import Runtime
from fiduciary.web.app import create_app
from fiduciary.web.fast_path import (
    DeferredFormatQueueHandler,
    RouteIndex,
    add_missing_headers,
    inline_when_policy_cached,
)

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _scope(path: str, method: str) -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "root_path": "", "headers": [], "state": {}}


def _fastapi_first_full(app: FastAPI, scope: dict[str, Any]) -> Any:
    """The route FastAPI's router would hand the request to: the first of its routes (the index aside)
    that matches in full, or None."""
    for route in app.router.routes:
        if isinstance(route, RouteIndex):
            continue
        match, _ = route.matches(dict(scope))
        if match == Match.FULL:
            return route
    return None


def _sample_paths(app: FastAPI) -> set[str]:
    """Every route template of the app with each parameter filled in, plus paths no route serves."""
    from fastapi.routing import iter_route_contexts

    paths = {"/", "/nothing-here", "/v1/consents/", "/v1//consents", "/V1/POLICY"}
    for context in iter_route_contexts(app.routes):
        template = getattr(context, "path", None)
        if not isinstance(template, str):
            continue
        for value in ("x1", "per_aaaaaaaaaaaaaaaaaaaaaaaaaa", "12", "batch"):
            paths.add(re.sub(r"\{[^}:]+(:[a-z]+)?\}", value, template))
    return paths


def test_route_index_picks_the_route_fastapis_scan_picks(runtime: Runtime) -> None:
    app = create_app(runtime=runtime)
    index = app.router.routes[0]
    assert isinstance(index, RouteIndex)
    chosen_by_index = 0
    for path in sorted(_sample_paths(app)):
        for method in METHODS:
            scope = _scope(path, method)
            match, child = index.matches(dict(scope))
            expected = _fastapi_first_full(app, scope)
            if match == Match.FULL:
                chosen_by_index += 1
                assert child["fiduciary.route_index.chosen"] is expected, (method, path)
            else:  # left to FastAPI's scan: never a request an included router would take first
                assert type(expected).__name__ != "_IncludedRouter", (method, path)
    assert chosen_by_index > 100  # most API requests are routed by the index, not only a few


def test_route_index_follows_routes_added_later(runtime: Runtime) -> None:
    """A route added after the first request is seen: the index rebuilds its table when routes change."""
    app = create_app(runtime=runtime)
    index = app.router.routes[0]
    assert isinstance(index, RouteIndex)
    assert index.matches(_scope("/v1/policy", "GET"))[0] == Match.FULL  # the table is built

    @app.get("/late/{thing}")
    def late(thing: str) -> dict[str, str]:  # pragma: no cover (only routed here)
        return {"thing": thing}

    scope = _scope("/late/x", "GET")
    assert index.matches(dict(scope))[0] == Match.NONE  # a top-level route: FastAPI's scan serves it
    assert _fastapi_first_full(app, scope) is app.router.routes[-1]


@pytest.mark.parametrize(
    "given",
    [
        [],
        [(b"content-type", b"application/json")],
        [(b"x-frame-options", b"SAMEORIGIN"), (b"content-security-policy", b"default-src 'self'")],
        [(b"X-Frame-Options", b"SAMEORIGIN")],  # a name not in lower case counts as another header, as there
        [(b"referrer-policy", b"a"), (b"referrer-policy", b"b")],
    ],
)
def test_add_missing_headers_is_setdefault_header_by_header(given: list[tuple[bytes, bytes]]) -> None:
    defaults = (
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"x-frame-options", b"DENY"),
        (b"content-security-policy", b"default-src 'none'"),
    )
    expected = list(given)
    headers = MutableHeaders(raw=expected)
    for name, value in defaults:
        headers.setdefault(name.decode(), value.decode())
    ours = list(given)
    add_missing_headers(ours, defaults)
    assert ours == expected


def _formatted(handler: QueueHandler, record: logging.LogRecord) -> str:
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    handler.queue = records
    handler.emit(record)
    queued = records.get_nowait()
    return logging.Formatter("%(levelname)s %(name)s %(message)s").format(queued)


def _record(msg: str, args: tuple[Any, ...], exc_info: Any = None) -> logging.LogRecord:
    return logging.LogRecord("fiduciary.access", logging.INFO, __file__, 1, msg, args, exc_info)


def test_deferred_record_reads_as_the_standard_one() -> None:
    deferred = DeferredFormatQueueHandler(queue.SimpleQueue())
    standard = QueueHandler(queue.SimpleQueue())
    args = ("POST", "/v1/banner/consents", "-", 201, 1.25, "req_1")
    record = _record("%s %s query=%s %d %.1fms id=%s", args)
    queued: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    deferred.queue = queued
    deferred.emit(record)
    assert queued.get_nowait() is record  # queued as it is: formatted once, by the listener
    assert _formatted(deferred, _record(record.msg, args)) == _formatted(standard, _record(record.msg, args))


def test_other_records_are_prepared_where_they_are_logged() -> None:
    """A mutable argument or a traceback is formatted at once, as the standard handler does: the listener
    might otherwise see the argument changed, or the traceback gone."""
    deferred = DeferredFormatQueueHandler(queue.SimpleQueue())
    shown = ["a"]
    record = _record("items %s", (shown,))
    queued: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    deferred.queue = queued
    deferred.emit(record)
    prepared = queued.get_nowait()
    shown.append("b")
    assert prepared is not record and prepared.getMessage() == "items ['a']"
    try:
        raise ValueError("boom")
    except ValueError:
        failing = _record("failed %s", ("x",), sys.exc_info())
    deferred.emit(failing)
    prepared = queued.get_nowait()
    assert prepared.exc_info is None and "ValueError: boom" in prepared.getMessage()


def test_inline_only_while_the_policy_is_cached(runtime: Runtime) -> None:
    def where() -> int:
        return threading.get_ident()

    async def run() -> tuple[int, int, int]:
        runtime.policy()  # cached now
        cached = await inline_when_policy_cached(runtime, where)
        runtime._policy.invalidate()  # the next read must go to the database
        refreshed = await inline_when_policy_cached(runtime, where)
        return threading.get_ident(), cached, refreshed

    loop_thread, cached, refreshed = anyio.run(run)
    assert cached == loop_thread
    assert refreshed != loop_thread
