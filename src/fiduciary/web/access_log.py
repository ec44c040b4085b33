"""Request ids and the access log: one opaque id per request, one log line per request, no values in either.

Paths and query strings carry identifiers (`/v1/people/{person_id}`) and secrets (`/u/{token}`), so nothing
here ever records or echoes them (decision 0017; DPDP s.8(5) security safeguards, Rule 6(1)(c) logs that let
unauthorised access be investigated without themselves exposing personal data):

- every request gets an id: the caller's `X-Request-ID` when it is well-formed (letters, digits, `._:-`, at
  most 64, and not only digits, which could be a phone or account number), else a fresh `req_<24 hex>`.
  It is returned as `X-Request-ID` on every response, put at `request.state.request_id` (audit events
  record it), and is the `instance` of every problem document (`urn:fiduciary:request:<id>`);
- the access log (logger `fiduciary.access`, level INFO) writes the method, the matched route's template
  (`/v1/people/{person_id}`, never the path sent; `<unmatched>` when no route matched), the names of the
  query parameters the route declares (values never; undeclared names only counted), the status, the
  duration and the request id. `fiduciary serve` turns uvicorn's own access log, which prints raw paths and
  query strings, off.

Plain ASGI rather than BaseHTTPMiddleware: it adds one closure per request and leaves streaming alone.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import random
import secrets
import time
import weakref
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from logging.handlers import QueueListener
from typing import Any, Final
from urllib.parse import parse_qsl

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fiduciary.codes import safe_request_id
from fiduciary.metrics import observe_request
from fiduciary.web.fast_path import BatchQueueListener, DeferredFormatQueueHandler

REQUEST_ID_HEADER: Final = "X-Request-ID"
INSTANCE_PREFIX: Final = "urn:fiduciary:request:"
UNMATCHED: Final = "<unmatched>"

access_log = logging.getLogger("fiduciary.access")
current_request_id: ContextVar[str | None] = ContextVar("fiduciary_request_id", default=None)
"""The id of the request being served, for every log line written while serving it (`RequestIdFilter`);
worker threads started with anyio's `to_thread` inherit it."""

_HEADER_KEY: Final = b"x-request-id"
# Declared query parameter names per route object, computed once (APIRoute is not hashable, so by id, with a
# weak reference that tells a live route from a new object that reused a collected one's id).
_declared_queries: dict[int, tuple[weakref.ref[APIRoute], frozenset[str]]] = {}


# Request ids need to be unique, not unguessable (they are handed to the caller), and `secrets` costs a system
# call per id (about 5 us on a loaded host, a third of this middleware's time). A PRNG seeded from the OS, and
# reseeded in every forked worker so no two processes share a sequence, gives 96 random bits in about 0.2 us.
_ids = random.Random(secrets.randbits(128))
os.register_at_fork(after_in_child=lambda: _ids.seed(secrets.randbits(128)))


def new_request_id() -> str:
    return f"req_{_ids.getrandbits(96):024x}"


def accept_request_id(value: str | None) -> str | None:
    """The caller's correlation id if it is safe to record and echo, else None (a fresh one is used)."""
    if value is None or value.isdigit():
        return None
    return safe_request_id(value)


def problem_instance(request_id: str | None) -> str | None:
    """The `instance` of a problem document: the request's opaque id, never its path or query."""
    return INSTANCE_PREFIX + request_id if request_id else None


def _incoming_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == _HEADER_KEY:
            try:
                accepted = accept_request_id(value.decode("ascii"))
            except UnicodeDecodeError:
                accepted = None
            return accepted or new_request_id()
    return new_request_id()


def route_template(scope: Scope) -> str:
    """The path template of the route routing chose (`/u/{token}`), or a fixed placeholder."""
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return template if isinstance(template, str) and template else UNMATCHED


def _query_names(dependant: Dependant) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def _declared(route: Any) -> frozenset[str]:
    if not isinstance(route, APIRoute):
        return frozenset()
    cached = _declared_queries.get(id(route))
    if cached is not None and cached[0]() is route:
        return cached[1]
    names = frozenset(_query_names(route.dependant))
    _declared_queries[id(route)] = (weakref.ref(route), names)
    return names


def query_summary(scope: Scope) -> str:
    """Names of the declared query parameters sent, values dropped; other names only counted (a name can
    itself be a value: `?someone@example.com`)."""
    raw: bytes = scope.get("query_string", b"")
    if not raw:
        return "-"
    declared = _declared(scope.get("route"))
    names: list[str] = []
    others = 0
    for name, _ in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        if name in declared:
            if name not in names:
                names.append(name)
        else:
            others += 1
    if others:
        names.append(f"+{others}")
    return ",".join(names) or "-"


ResponseHeaderEditor = Callable[[Scope, list[tuple[bytes, bytes]]], Awaitable[None]]
"""Edits a response's header list in place as the response starts (web.security's CORS and baseline headers)."""


class RequestContextMiddleware:
    """Assigns the request id, returns it as a header, and writes the access-log line when the request ends.

    `edit_headers`, if given, edits every response's headers first (after routing, so `scope` holds the
    chosen endpoint and the request's state): one middleware and one `send` wrapper instead of one per
    concern, each of which cost a coroutine frame and a pass over the headers per request.
    """

    def __init__(self, app: ASGIApp, edit_headers: ResponseHeaderEditor | None = None) -> None:
        self.app = app
        self.edit_headers = edit_headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _incoming_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        raw_id = request_id.encode("ascii")
        status = 500
        edit = self.edit_headers

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                if edit is not None:
                    await edit(scope, headers)
                if not any(name.lower() == _HEADER_KEY for name, _ in headers):
                    headers.append((_HEADER_KEY, raw_id))
                message["headers"] = headers
            await send(message)

        token = current_request_id.set(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            current_request_id.reset(token)
            seconds = time.perf_counter() - started
            method, route = scope.get("method", "-"), route_template(scope)
            observe_request(method, route, status, seconds)
            if access_log.isEnabledFor(logging.INFO):
                access_log.info(
                    "%s %s query=%s %d %.1fms id=%s",
                    method,
                    route,
                    query_summary(scope),
                    status,
                    seconds * 1000.0,
                    request_id,
                    # the id is named here: the context variable was reset above, so the filter would say None
                    extra={
                        "route": route,
                        "status": status,
                        "duration_ms": round(seconds * 1000.0, 2),
                        "request_id": request_id,
                    },
                )


class RequestIdFilter(logging.Filter):
    """Puts the id of the request being served (or None) on every record as `request_id`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id.get()
        return True


# Attributes a record may carry into a JSON line besides the fixed ones: only what our own code sets, and only
# values that are never personal (route templates, statuses, durations, ids we generate or vetted).
_JSON_EXTRAS: Final = ("route", "status", "duration_ms")


class JsonLogFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, request_id, and the access-log
    fields. A traceback is kept as text under `exception` (our messages never hold values; decision 0017)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for name in _JSON_EXTRAS:
            if hasattr(record, name):
                line[name] = getattr(record, name)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def serve_log_config(log_format: str = "json") -> dict[str, Any]:
    """uvicorn's logging configuration plus our loggers (access log and housekeeping lines) at INFO on stderr,
    every line of uvicorn's and ours as JSON (`log_format="json"`) or text.

    Passed with `access_log=False`, so uvicorn's own access lines (raw path and query) are never written.
    """
    from uvicorn.config import LOGGING_CONFIG  # lazy: only `fiduciary serve` configures logging

    config: dict[str, Any] = {
        key: (dict(value) if isinstance(value, dict) else value) for key, value in LOGGING_CONFIG.items()
    }
    config["filters"] = {"request_id": {"()": RequestIdFilter}}
    if log_format == "json":
        config["formatters"]["fiduciary"] = {"()": JsonLogFormatter}
        config["handlers"]["default"] = {**config["handlers"]["default"], "formatter": "fiduciary"}
    else:
        config["formatters"]["fiduciary"] = {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    config["handlers"]["fiduciary"] = {
        "formatter": "fiduciary",
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
        "filters": ["request_id"],
    }
    config["loggers"]["fiduciary"] = {"handlers": ["fiduciary"], "level": "INFO", "propagate": False}
    return config


def start_log_queue(logger_names: tuple[str, ...] = ("fiduciary", "uvicorn")) -> list[QueueListener]:
    """Put each of `logger_names`' handlers behind a queue written by a listener thread: a request then only
    queues its access-log record instead of formatting and writing it on the event loop.

    Call after logging is configured; stop the listeners at exit (each writes what is queued first).
    """
    listeners: list[QueueListener] = []
    for name in logger_names:
        logger = logging.getLogger(name)
        handlers = list(logger.handlers)
        if not handlers:
            continue
        records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
        front = DeferredFormatQueueHandler(records)  # formats in the listener only (web.fast_path)
        front.addFilter(RequestIdFilter())  # read the request's id where the record is made, not in the thread
        for handler in handlers:
            logger.removeHandler(handler)
        logger.addHandler(front)
        listener = BatchQueueListener(front, *handlers)
        listener.start()
        listeners.append(listener)
    return listeners
