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
  instead of once on the event loop and again in the listener; the records of the event loop's thread go
  to the listener in batches (`BatchQueueListener`: one wake of its thread and one write a batch).
- `install_route_index`: find the router that serves a request without asking each of the routers
  included before it (FastAPI 0.165 keeps included routers nested and asks each one in turn, with its
  own bookkeeping per route: a tenth of a banner post's CPU went to routing).
- `planned_handler`: solve a route's dependencies by a plan made when the route is built (the same calls
  in the same order, the same cache and exit stacks) instead of classifying each one again on every
  request; FastAPI's own handler answers whatever the plan does not cover, every 422 included
  (docs/decisions/0039-planned-dependency-solving.md).

Measured with bench/request_path.py (CPU per request in process) and bench/serving.py (over HTTP, wrk).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.message
import functools
import logging
import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from logging.handlers import QueueHandler, QueueListener
from typing import Any, Final, ParamSpec, TypeVar

from fastapi import FastAPI, params
from fastapi._compat import ModelField, lenient_issubclass
from fastapi.dependencies.models import (
    Dependant,
    _get_cache_key,
    _is_async_gen_callable,
    _is_coroutine_callable,
    _is_gen_callable,
)
from fastapi.dependencies.utils import (
    _get_param_aliases,
    _solve_generator,
    get_typed_return_annotation,
    request_body_to_args,
    request_params_to_args,
)
from fastapi.routing import APIRoute, _effective_route_context_var
from fastapi.telemetry._api import get_telemetry_data
from starlette._utils import get_route_path
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
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

    def __init__(self, queue: Any) -> None:
        super().__init__(queue)
        self._pending: dict[asyncio.AbstractEventLoop, list[logging.LogRecord]] = {}

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

    def enqueue(self, record: logging.LogRecord) -> None:
        """On an event loop's thread, records below WARNING are gathered and handed to the listener together
        `HAND_OVER_SECONDS` after the first of them: one hand-over, one wake of the listener thread and one
        write for all of them. A wake, a format and a write per line were a fifth of a `/healthz` answer's
        CPU (bench/RESULTS.md). A WARNING or worse goes at once, with what was gathered before it; a record
        from any other thread too; `BatchQueueListener.stop` hands over the rest."""
        loop = asyncio._get_running_loop()
        if loop is None:
            self.queue.put_nowait(record)
            return
        pending = self._pending.get(loop)
        if record.levelno >= logging.WARNING:
            self._pending.pop(loop, None)
            self.queue.put_nowait([*pending, record] if pending else record)
            return
        if pending is None:
            pending = self._pending[loop] = []
            loop.call_later(HAND_OVER_SECONDS, self._hand_over, loop, pending)
        pending.append(record)

    def _hand_over(self, loop: asyncio.AbstractEventLoop, pending: list[logging.LogRecord]) -> None:
        if self._pending.get(loop) is pending:  # not already handed over with a warning
            del self._pending[loop]
            self.queue.put_nowait(pending)

    def hand_over_all(self) -> None:
        """Hand over what is still pending (at exit: a loop that stopped will not run its callbacks)."""
        for loop, pending in list(self._pending.items()):
            self._hand_over(loop, pending)


HAND_OVER_SECONDS: Final = 0.02
"""How long an access-log line may wait on the event loop's thread for others to go with it."""


class BatchQueueListener(QueueListener):
    """A `QueueListener` for `DeferredFormatQueueHandler`: an item is a record or a list of records (gathered
    on an event loop's thread), handled in order; `stop` first hands over what the handler still holds."""

    def __init__(self, front: DeferredFormatQueueHandler, *handlers: logging.Handler) -> None:
        super().__init__(front.queue, *handlers, respect_handler_level=True)
        self.front = front

    def handle(self, record: Any) -> None:
        if type(record) is not list:
            super().handle(record)
            return
        for handler in self.handlers:
            if type(handler) is logging.StreamHandler:
                _write_batch(handler, record)
            else:
                for item in record:
                    if item.levelno >= handler.level:
                        handler.handle(item)

    def stop(self) -> None:
        self.front.hand_over_all()
        super().stop()


def _write_batch(handler: logging.StreamHandler[Any], records: list[logging.LogRecord]) -> None:
    """What `handler.handle` does for each of `records` (level, filters, format, the handler's error
    handling), with one write and one flush for all of them instead of one each."""
    lines: list[str] = []
    for record in records:
        if record.levelno < handler.level or not handler.filter(record):
            continue
        try:
            lines.append(handler.format(record) + handler.terminator)
        except Exception:
            handler.handleError(record)
    if not lines:
        return
    with handler.lock or contextlib.nullcontext():
        try:
            handler.stream.write("".join(lines))
            handler.flush()
        except Exception:
            handler.handleError(records[-1])


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


# ------------------------------------------------------------------------------------------ dependency plans

RouteHandler = Callable[[Request], Coroutine[Any, Any, Response]]

_GENERATOR: Final = 0
_COROUTINE: Final = 1
_FUNCTION: Final = 2
_UNPLANNED_PARAMETERS: Final = ("websocket_param_name", "background_tasks_param_name", "security_scopes_param_name")


@dataclass(frozen=True, slots=True, eq=False)
class _Plan:
    """How FastAPI solves one dependant, worked out once: its sub-dependencies in order, each classified."""

    dependant: Dependant
    steps: tuple[_Step, ...]
    plain_headers: tuple[tuple[str, str], ...]  # (parameter name, header name) of `_plain_header` fields
    checked_headers: list[ModelField]  # the other header parameters: validated by FastAPI's own function
    needs_response: bool  # this dependant or one below asks for FastAPI's sub-response


@dataclass(frozen=True, slots=True, eq=False)
class _Step:
    dependant: Dependant  # the sub-dependant: its name, call and use_cache
    key: Any  # FastAPI's cache key of it (the call, its OAuth scopes if any, its scope)
    kind: int
    stack: str  # the request-scope key of the exit stack a generator's exit goes on
    plan: _Plan


def _plan(dependant: Dependant, *, top: bool) -> _Plan | None:
    """The plan of `dependant`, or None when it uses anything planned solving does not do (query or cookie
    parameters, a body below the top, a `BackgroundTasks`/`SecurityScopes`/WebSocket parameter, limited
    concurrency): FastAPI then solves it, as always."""
    if any(getattr(dependant, name) for name in _UNPLANNED_PARAMETERS):
        return None
    if dependant.query_params or dependant.cookie_params or (dependant.body_params and not top):
        return None
    steps: list[_Step] = []
    for sub in dependant.dependencies:
        inner = _plan(sub, top=False)
        if inner is None or sub.concurrency is not None or sub.call is None:
            return None
        if _is_async_gen_callable(sub.call) or _is_gen_callable(sub.call):
            kind = _GENERATOR
        elif _is_coroutine_callable(sub.call):
            kind = _COROUTINE
        else:
            kind = _FUNCTION
        stack = "fastapi_function_astack" if sub.scope == "function" else "fastapi_inner_astack"
        steps.append(_Step(sub, _get_cache_key(dependant=sub), kind, stack, inner))
    plain: list[tuple[str, str]] = []
    checked: list[ModelField] = []
    for field in dependant.header_params:
        header = _plain_header(field)
        if header is None:
            checked.append(field)
        else:
            plain.append((field.name, header))
    needs_response = dependant.response_param_name is not None or any(s.plan.needs_response for s in steps)
    return _Plan(dependant, tuple(steps), tuple(plain), checked, needs_response)


def _plain_header(field: ModelField) -> str | None:
    """The header a parameter reads when FastAPI would hand its value over as it is: an optional string
    with no constraint and no default but None (absent: None; present: the text). Else None, and the
    parameter is validated as FastAPI validates it."""
    info = field.field_info
    if (
        info.annotation != (str | None)
        or info.metadata
        or info.default is not None
        or info.is_required()
        or info.validate_default
    ):
        return None
    aliases = _get_param_aliases(field)
    return aliases[0][1] if len(aliases) == 1 else None


def _parameters(plan: _Plan, request: Request, found: dict[int, dict[str, Any]], response: Response | None) -> bool:
    """Validate the path and header parameters of every dependant of `plan` (pure: nothing runs), into
    `found` by plan; False at the first error, which FastAPI's own solving then reports in full.
    `response` is the request's one sub-response, as FastAPI gives a dependency that asks for one (its
    headers are not used: a planned endpoint returns its own `Response`, and FastAPI sends that as it is)."""
    dependant = plan.dependant
    values: dict[str, Any] = {}
    checked: tuple[tuple[list[ModelField], Any], ...] = (
        (dependant.path_params, request.path_params),
        (plan.checked_headers, request.headers),
    )
    for fields, received in checked:
        if fields:
            valid, errors = request_params_to_args(fields, received)
            if errors:
                return False
            values.update(valid)
    if plan.plain_headers:
        headers = request.headers
        for name, header in plan.plain_headers:
            values[name] = headers.get(header)
    if dependant.http_connection_param_name:
        values[dependant.http_connection_param_name] = request
    if dependant.request_param_name:
        values[dependant.request_param_name] = request
    if dependant.response_param_name:
        values[dependant.response_param_name] = response
    found[id(plan)] = values
    return all(_parameters(step.plan, request, found, response) for step in plan.steps)


async def _solve(
    plan: _Plan, request: Request, cache: dict[Any, Any], found: dict[int, dict[str, Any]]
) -> dict[str, Any]:
    """FastAPI's `solve_dependencies` for a plan whose parameters are valid: the same calls in the same
    order, the same per-request cache, generators entered on the same exit stacks by FastAPI's own
    `_solve_generator`; without classifying each dependency again on every request."""
    values: dict[str, Any] = {}
    for step in plan.steps:
        sub_values = await _solve(step.plan, request, cache, found)
        sub = step.dependant
        call: Any = sub.call
        if sub.use_cache and step.key in cache:
            solved = cache[step.key]
        elif step.kind == _GENERATOR:
            stack = request.scope[step.stack]
            solved = await _solve_generator(dependant=sub, stack=stack, sub_values=sub_values, request=request)
        elif step.kind == _COROUTINE:
            solved = await call(**sub_values)
        else:
            solved = await run_in_threadpool(call, **sub_values)
        if sub.name is not None:
            values[sub.name] = solved
        cache.setdefault(step.key, solved)
    values.update(found[id(plan)])
    return values


def planned_handler(route: APIRoute, solved: RouteHandler) -> RouteHandler:
    """A handler that serves `route`'s well-formed requests by a plan of its dependencies made once, with
    FastAPI's own handler `solved` for everything else.

    FastAPI classifies every dependency, computes its cache key and builds its bookkeeping on every request:
    a fifth of a banner post's CPU (bench/RESULTS.md). The plan does the same solving, in the same order,
    from what it worked out when the route was built. Whatever it does not do the way FastAPI does, FastAPI
    does: a route whose dependencies the plan cannot express, an endpoint that does not return a `Response`
    itself, a body that is not JSON or not valid, a parameter that does not validate (so every 422 is
    FastAPI's own, with its dependencies run first as FastAPI runs them), dependency overrides, FastAPI's
    own telemetry. Nothing runs before the request is known to be one the plan serves.
    """
    effective = _effective_route_context_var.get()  # FastAPI's included-route context, as its own handler reads
    shape: Any = effective if effective is not None and effective.original_route is route else route
    dependant: Dependant = shape.dependant
    call: Any = dependant.call
    plan = _plan(dependant, top=True)
    if (
        plan is None
        or not _is_coroutine_callable(call)
        or _is_async_gen_callable(call)
        or not lenient_issubclass(get_typed_return_annotation(call), Response)
        or (shape.body_field is not None and isinstance(shape.body_field.field_info, params.Form))
    ):
        return solved
    body_params = dependant.body_params
    embed: bool = shape._embed_body_fields
    overrides = shape.dependency_overrides_provider

    async def handle(request: Request) -> Response:
        if getattr(overrides, "dependency_overrides", None) or get_telemetry_data() is not None:
            return await solved(request)
        found: dict[int, dict[str, Any]] = {}
        sub_response = _sub_response() if plan.needs_response else None
        if body_params:
            content_type = request.headers.get("content-type")
            if not content_type or not is_json_media_type(content_type) or not await request.body():
                return await solved(request)
            try:
                body = await request.json()
            except ValueError:  # not JSON, not UTF-8: FastAPI's answer
                return await solved(request)
            body_values, errors = await request_body_to_args(body_params, body, embed)
            if errors:
                return await solved(request)
            if not _parameters(plan, request, found, sub_response):
                return await solved(request)
            found[id(plan)].update(body_values)
        elif not _parameters(plan, request, found, sub_response):
            return await solved(request)
        values = await _solve(plan, request, {}, found)
        response = await call(**values)
        if not isinstance(response, Response):  # its annotation said otherwise: a programming error
            raise TypeError(f"{route.path}: the endpoint returned {type(response).__name__}, not a Response")
        return response

    return handle


def _sub_response() -> Response:
    """FastAPI's sub-response, as `solve_dependencies` makes it for a dependency that asks for one."""
    response = Response()
    del response.headers["content-length"]
    response.status_code = None  # type: ignore[assignment]
    return response


@functools.lru_cache(maxsize=256)
def is_json_media_type(content_type: str) -> bool:
    """FastAPI's rule for a JSON body (`application/json` or `application/*+json`), memoised: clients send
    the same few values, and parsing one with `email.message` on every request was a measurable share of a
    small POST."""
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))
