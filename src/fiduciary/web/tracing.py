"""OpenTelemetry tracing, optional: on when the `otel` extra is installed and an OTLP endpoint is configured.

Configured by `FIDUCIARY_OTEL_ENDPOINT` (the collector's OTLP/HTTP base URL, e.g. `http://collector:4318`;
spans go to `<it>/v1/traces`), or by OpenTelemetry's own `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` /
`OTEL_EXPORTER_OTLP_ENDPOINT`; `OTEL_SDK_DISABLED=true` turns it off. With none of them set, nothing is
imported and nothing is added to the request path; with one set but the extra missing, a warning says so
once and the service runs without spans. The spans themselves (a span per request named by its route
template, a child span around the database commit, never a path, query, header or body value) are made in
`fiduciary.web.otel`, the only module that imports OpenTelemetry's SDK (docs/operations.md "Tracing";
docs/decisions/0026-telemetry.md).

FastAPI's own telemetry is turned off (`FASTAPI_TELEMETRY_OFF`): from 0.142 FastAPI makes spans, metrics and
logs of every request as soon as a global tracer, meter or logger provider is configured (by
`opentelemetry-instrument`, by another library, or by `FASTAPI_OTEL_AUTO_CONFIGURE=true`), and its spans hold
the raw path (`url.path`: `/v1/people/per_…`) and query values (`url.query`), its logs the messages of
validation errors and exceptions; each of those can carry a personal value (decision 0017).
"""

from __future__ import annotations

import logging
import os
from contextlib import AbstractContextManager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Final, Protocol

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig

from fiduciary.config import Settings

log = logging.getLogger("fiduciary.tracing")

FASTAPI_TELEMETRY_OFF: Final[TelemetryConfig] = {
    "tracing": False,
    "metrics": False,
    "logs": False,
    "operation_spans": False,
    "auto_configure": False,
}

OTEL_ENDPOINT_VARIABLES: Final = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
TRACES_PATH: Final = "/v1/traces"


@dataclass(frozen=True)
class TracingTarget:
    """Where spans go: `endpoint` is the full traces URL, or None for the exporter to read `OTEL_*` itself."""

    endpoint: str | None


def tracing_target(settings: Settings, environ: dict[str, str] | None = None) -> TracingTarget | None:
    """The configured target, or None when tracing is off."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    if settings.otel_endpoint:
        base = settings.otel_endpoint.rstrip("/")
        return TracingTarget(base if base.endswith(TRACES_PATH) else base + TRACES_PATH)
    if any(env.get(name) for name in OTEL_ENDPOINT_VARIABLES):
        return TracingTarget(None)
    return None


def install_tracing(app: FastAPI, settings: Settings) -> bool:
    """Trace `app`'s requests when tracing is configured and the extra is installed; True when it is on."""
    target = tracing_target(settings)
    if target is None:
        return False
    try:
        from fiduciary.web import otel  # lazy: optional heavy dependency (the `otel` extra)
    except ImportError:
        log.warning("an OTLP endpoint is configured but the `otel` extra is not installed: no spans are sent")
        return False
    otel.install(app, otel.exporting_provider(target.endpoint))
    return True


class SpanStarter(Protocol):
    def __call__(self, name: str) -> AbstractContextManager[object]: ...


current_span_starter: ContextVar[SpanStarter | None] = ContextVar("fiduciary_span_starter", default=None)
"""Set by the tracing middleware for the request it traces (fiduciary.web.otel); None when not tracing."""

_NOTHING: Final = nullcontext()


def span(name: str) -> AbstractContextManager[object]:
    """A child span of the request's span around a step (`name`: a fixed word such as `decisions.decide`,
    never a value), or nothing at all when the request is not traced."""
    start = current_span_starter.get()
    return _NOTHING if start is None else start(name)
