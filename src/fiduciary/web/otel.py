"""The spans, with OpenTelemetry (imported only when tracing is configured: fiduciary.web.tracing).

What a span may hold is fixed here, as the metrics' labels are in fiduciary/metrics.py: paths, query
strings, headers and bodies carry identifiers, e-mail addresses and secrets (decision 0017), so none of them
is ever read into a span.

- one SERVER span per HTTP request, named `<method> <route template>` (`GET /v1/people/{person_id}`,
  `GET <unmatched>`), with `http.request.method` (`_OTHER` for a method outside HTTP's set),
  `http.route`, `http.response.status_code` and `fiduciary.request_id` (the id the logs carry); status ERROR
  for a 5xx, with `error.type` the status or the exception's class name, never its message;
- a W3C `traceparent` sent by the caller makes the request's span a child of the caller's (its
  `tracestate` and baggage are ignored: free text a client chooses);
- a `db.commit` span around each commit made while serving a traced request (flush, COMMIT and, on SQLite,
  the fsync), with `db.system.name`;
- a child span per named step (`fiduciary.web.tracing.span(name)`: `consent.record`, `decisions.decide`),
  status ERROR with `error.type` the exception's class when the step raised.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from typing import Final

from fastapi import FastAPI
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fiduciary import __version__
from fiduciary.metrics import method_label
from fiduciary.web.access_log import route_template
from fiduciary.web.tracing import current_span_starter

INSTRUMENTATION_NAME: Final = "fiduciary"
COMMIT_SPAN: Final = "db.commit"
_COMMIT_KEY: Final = "fiduciary_otel_commit_span"
_TRACEPARENT: Final = b"traceparent"
_propagator: Final = TraceContextTextMapPropagator()

_request_tracer: ContextVar[Tracer | None] = ContextVar("fiduciary_request_tracer", default=None)


def exporting_provider(endpoint: str | None) -> TracerProvider:
    """A provider that batches spans to the OTLP/HTTP collector (`endpoint`, or the `OTEL_*` variables).

    Sampling follows `OTEL_TRACES_SAMPLER` (default: every request, or as the caller's traceparent says).
    """
    attributes: dict[str, str] = {"service.version": __version__}
    if not os.environ.get("OTEL_SERVICE_NAME"):
        attributes["service.name"] = "fiduciary"
    provider = TracerProvider(resource=Resource.create(attributes))
    exporter = OTLPSpanExporter(endpoint=endpoint) if endpoint else OTLPSpanExporter()
    provider.add_span_processor(BatchSpanProcessor(exporter))  # exported by a thread, off the request path
    return provider


def install(app: FastAPI, provider: TracerProvider) -> None:
    """Trace every HTTP request of `app` with `provider`'s tracer, outermost (so the span covers the whole
    answer, error answers included), and the commits made while serving them."""
    tracer = provider.get_tracer(INSTRUMENTATION_NAME, __version__)
    build = app.build_middleware_stack

    def build_traced() -> ASGIApp:
        return TracingMiddleware(build(), tracer)

    setattr(app, "build_middleware_stack", build_traced)  # noqa: B010 (as install_security does)
    if not event.contains(Session, "before_commit", _before_commit):
        event.listen(Session, "before_commit", _before_commit)
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_transaction_end", _after_transaction_end)


def _parent(scope: Scope) -> Context | None:
    for name, value in scope.get("headers", ()):
        if name == _TRACEPARENT:
            return _propagator.extract({"traceparent": value.decode("latin-1")})
    return None


class TracingMiddleware:
    """One SERVER span per HTTP request; see the module's docstring for what it holds."""

    def __init__(self, app: ASGIApp, tracer: Tracer) -> None:
        self.app = app
        self.tracer = tracer

    def _child(self, name: str) -> AbstractContextManager[object]:
        return _step(self.tracer, name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = method_label(scope.get("method", ""))
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        error_type: str | None = None
        with self.tracer.start_as_current_span(
            method,
            context=_parent(scope),
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method},
            record_exception=False,  # an exception's message and traceback can hold values
            set_status_on_exception=False,
        ) as span:
            tracer_token = _request_tracer.set(self.tracer)
            starter_token = current_span_starter.set(self._child)
            try:
                await self.app(scope, receive, send_and_note)
            except BaseException as exc:
                error_type = type(exc).__qualname__
                raise
            finally:
                current_span_starter.reset(starter_token)
                _request_tracer.reset(tracer_token)
                _finish(span, scope, method, status, error_type)


def _finish(span: Span, scope: Scope, method: str, status: int, error_type: str | None) -> None:
    route = route_template(scope)
    span.update_name(f"{method} {route}")
    span.set_attribute("http.route", route)
    span.set_attribute("http.response.status_code", status)
    request_id = scope.get("state", {}).get("request_id")
    if isinstance(request_id, str):
        span.set_attribute("fiduciary.request_id", request_id)
    if status >= 500 or error_type is not None:
        span.set_status(Status(StatusCode.ERROR))
        span.set_attribute("error.type", error_type or str(status))


@contextmanager
def _step(tracer: Tracer, name: str) -> Iterator[Span]:
    with tracer.start_as_current_span(name, record_exception=False, set_status_on_exception=False) as span:
        try:
            yield span
        except BaseException as exc:
            span.set_status(Status(StatusCode.ERROR))
            span.set_attribute("error.type", type(exc).__qualname__)
            raise


# The commit span: opened when a session of a traced request starts committing (before its flush), closed
# when its transaction ends; committed or not, said by the span's status. Session events run in the thread
# that commits, which carries the request's context (anyio copies it into worker threads).


def _before_commit(session: Session) -> None:
    tracer = _request_tracer.get()
    if tracer is None or _COMMIT_KEY in session.info:
        return
    dialect = session.get_bind().dialect.name
    session.info[_COMMIT_KEY] = tracer.start_span(COMMIT_SPAN, attributes={"db.system.name": dialect})


def _after_commit(session: Session) -> None:
    span: Span | None = session.info.pop(_COMMIT_KEY, None)
    if span is not None:
        span.set_status(Status(StatusCode.OK))
        span.end()


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    """A commit span still open when the transaction ends: the commit failed and the work was rolled back."""
    if transaction.parent is not None:
        return
    span: Span | None = session.info.pop(_COMMIT_KEY, None)
    if span is not None:
        span.set_status(Status(StatusCode.ERROR))
        span.set_attribute("error.type", "rollback")
        span.end()
