"""Prometheus metrics: the named functions the service calls, and the registry `/metrics` renders (issue 17).

Other code never touches prometheus_client: it calls these functions, so the metric names, labels and
buckets live here alone, and a caller cannot add a label that carries a raw path, an id or a value.

- `fiduciary_http_requests_total{method,route,status}` and `fiduciary_http_request_duration_seconds
  {method,route}`: per route *template* (`/v1/people/{person_id}`, or `<unmatched>`), never the path sent;
- `fiduciary_decisions_total{outcome}`: allow or deny;
- `fiduciary_ledger_appends_total{stream}`: events written to a ledger stream (counted when written, so a
  transaction that then rolls back is included);
- `fiduciary_job_queue_depth`, `fiduciary_job_queue_oldest_age_seconds`, `fiduciary_outbox_backlog`:
  gauges for the job queue and the outbox, 0 until the code that owns them reports (`set_job_queue`,
  `set_outbox_backlog`).

One registry per process. With several worker processes each keeps its own figures, and a scrape through
a load balancer sees one worker's: scrape each worker (docs/operations.md).
"""

from __future__ import annotations

from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

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
_job_depth = Gauge("fiduciary_job_queue_depth", "Jobs waiting to run.", registry=REGISTRY)
_job_age = Gauge("fiduciary_job_queue_oldest_age_seconds", "Age of the oldest waiting job.", registry=REGISTRY)
_outbox = Gauge("fiduciary_outbox_backlog", "Outbox messages not yet delivered.", registry=REGISTRY)

_allow = _decisions.labels("allow")
_deny = _decisions.labels("deny")


# The labelled children per (method, route, status), looked up once: `labels()` costs a lock and a tuple key
# build per call, about three times the increment itself.
_request_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """One answered request; `route` must be a route template (access_log.route_template), never a path."""
    key = (method, route, status)
    children = _request_children.get(key)
    if children is None:
        children = (_requests.labels(method, route, str(status)), _latency.labels(method, route))
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


def render() -> bytes:
    """The text exposition of every metric of this process."""
    return generate_latest(REGISTRY)
