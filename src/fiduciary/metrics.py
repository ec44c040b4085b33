"""Prometheus metrics: the named functions the service calls, and the registry `/metrics` renders (issue 17).

Other code never touches prometheus_client: it calls these functions, so the metric names, labels and
buckets live here alone, and a caller cannot add a label that carries a raw path, an id or a value.

- `fiduciary_http_requests_total{method,route,status}` and `fiduciary_http_request_duration_seconds
  {method,route}`: per route *template* (`/v1/people/{person_id}`, or `<unmatched>`), never the path sent;
- `fiduciary_decisions_total{outcome}`: allow or deny;
- `fiduciary_ledger_appends_total{stream}`: events written to a ledger stream (counted when written, so a
  transaction that then rolls back is included);
- `fiduciary_job_queue_depth`, `fiduciary_job_queue_oldest_age_seconds`: read from the queue's table when
  `/metrics` is scraped (`set_job_queue`); a failed read keeps the last figures and counts
  `fiduciary_metrics_read_failures_total{source}`;
- `fiduciary_outbox_backlog`: 0 until an outbox exists (`set_outbox_backlog` is for it to call).

One process (`fiduciary serve`, one worker): the figures live in this process's registry. Several workers
(`fiduciary serve --workers N`): the supervisor points `PROMETHEUS_MULTIPROC_DIR` at a fresh private folder
before it starts them, every worker writes its figures to files there (prometheus_client's multiprocess
mode, chosen when prometheus_client is first imported), and a scrape answered by any worker adds up every
worker's, including workers that have exited (docs/decisions/0026-telemetry.md).
"""

from __future__ import annotations

import os
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, values
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROCESS_VARIABLE: Final = "PROMETHEUS_MULTIPROC_DIR"
# The folder the metrics below write to, if prometheus_client chose its multiprocess mode (it reads the
# variable once, when it is first imported; a variable set later changes nothing in this process).
MULTIPROCESS_DIR: Final = (
    os.environ.get(MULTIPROCESS_VARIABLE) or None if getattr(values.ValueClass, "_multiprocess", False) else None
)

REGISTRY: Final = CollectorRegistry(auto_describe=True)
CONTENT_TYPE: Final = CONTENT_TYPE_LATEST

# Seconds; the request-path targets of issue 17 are p99 < 20 ms (decisions) and < 50 ms (consents).
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

_requests = Counter(
    "fiduciary_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ("method", "route", "status"),
    registry=REGISTRY,
)
_latency = Histogram(
    "fiduciary_http_request_duration_seconds",
    "Time from the request's arrival to the end of its response, by method and route template.",
    ("method", "route"),
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
_decisions = Counter("fiduciary_decisions", "Decisions made, by outcome.", ("outcome",), registry=REGISTRY)
_appends = Counter(
    "fiduciary_ledger_appends", "Events written to a ledger stream, by stream.", ("stream",), registry=REGISTRY
)
# The queue gauges are figures of the shared database, not of a process: with several workers the one read
# last is the truth ("mostrecent"; a worker that exits keeps its file, so the last figure survives it).
_job_depth = Gauge(
    "fiduciary_job_queue_depth", "Jobs due and waiting to run.", registry=REGISTRY, multiprocess_mode="mostrecent"
)
_job_age = Gauge(
    "fiduciary_job_queue_oldest_age_seconds",
    "How long the oldest due job has waited.",
    registry=REGISTRY,
    multiprocess_mode="mostrecent",
)
_outbox = Gauge(
    "fiduciary_outbox_backlog",
    "Outbox messages not yet delivered (0: there is no outbox yet).",
    registry=REGISTRY,
    multiprocess_mode="mostrecent",
)
# Set, not only created: in multiprocess mode a "mostrecent" gauge never set is left out of the scrape.
_outbox.set(0)
_read_failures = Counter(
    "fiduciary_metrics_read_failures",
    "Scrape-time reads that failed (the gauges kept their last figures), by source.",
    ("source",),
    registry=REGISTRY,
)

_allow = _decisions.labels("allow")
_deny = _decisions.labels("deny")


# The labelled children per (method, route, status), looked up once: `labels()` costs a lock and a tuple key
# build per call, about three times the increment itself.
_request_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}


# HTTP methods named in a label; any other token a client sends is counted as `_OTHER` (a method is the
# client's free text, and one label value per invented method would grow the series without bound).
KNOWN_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})
OTHER_METHOD: Final = "_OTHER"


def method_label(method: str) -> str:
    return method if method in KNOWN_METHODS else OTHER_METHOD


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """One answered request; `route` must be a route template (access_log.route_template), never a path."""
    key = (method if method in KNOWN_METHODS else OTHER_METHOD, route, status)
    children = _request_children.get(key)
    if children is None:
        children = (_requests.labels(key[0], route, str(status)), _latency.labels(key[0], route))
        _request_children[key] = children
    children[0].inc()
    children[1].observe(seconds)


def count_decisions(allowed: int, denied: int) -> None:
    if allowed:
        _allow.inc(allowed)
    if denied:
        _deny.inc(denied)


def count_ledger_appends(stream: str, events: int) -> None:
    """`stream` is a ledger stream name (a fixed set chosen by the code, e.g. consent, audit)."""
    _appends.labels(stream).inc(events)


def set_job_queue(depth: int, oldest_age_seconds: float) -> None:
    _job_depth.set(depth)
    _job_age.set(oldest_age_seconds)


def set_outbox_backlog(messages: int) -> None:
    _outbox.set(messages)


def count_read_failure(source: str) -> None:
    """`source` names what could not be read (a fixed word chosen by the code, e.g. `job_queue`)."""
    _read_failures.labels(source).inc()


def render() -> bytes:
    """The text exposition: this process's registry, or with several workers every worker's figures."""
    if MULTIPROCESS_DIR is None:
        return generate_latest(REGISTRY)
    # A registry per scrape, as prometheus_client's multiprocess mode requires: it reads every worker's files.
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=MULTIPROCESS_DIR)  # type: ignore[no-untyped-call]  # untyped upstream
    return generate_latest(registry)
