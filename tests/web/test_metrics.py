"""`/metrics` (issue 17, item 5): behind `metrics:read`, per route template, decisions by outcome, ledger
appends, and the job queue's gauges read from the queue at each scrape (a failed read keeps the last figures).
Across several worker processes: tests/web/test_serve_workers.py."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session

from consent_support import adult, api_headers
from fiduciary.jobs import enqueue
from fiduciary.runtime import Runtime


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_need_the_metrics_scope(client: TestClient, session: Session) -> None:
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=api_headers(session, ["decisions"])).status_code == 403
    answer = client.get("/metrics", headers=api_headers(session, ["metrics:read"]))
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")


def test_requests_decisions_and_appends_are_counted_without_ids(
    client: TestClient, session: Session, runtime: Runtime
) -> None:
    reader = api_headers(session, ["metrics:read"])
    caller = api_headers(session, ["decisions", "people:read"])
    person = adult(session, runtime)
    session.commit()
    before = _samples(client.get("/metrics", headers=reader).text)

    assert client.post("/v1/decisions", json={"subject_id": person, "purpose": "marketing.email"}, headers=caller)
    missing = "per_" + "a" * 26
    client.get(f"/v1/people/{missing}", params={"purpose": "orders.fulfilment"}, headers=caller)
    text = client.get("/metrics", headers=reader).text
    after = _samples(text)

    def grew(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert grew("fiduciary_http_requests_total", method="POST", route="/v1/decisions", status="200") == 1
    route = "/v1/people/{person_id}"
    people_requests = [
        v for (n, labels), v in after.items() if n == "fiduciary_http_requests_total" and ("route", route) in labels
    ]
    assert sum(people_requests) >= 1
    assert grew("fiduciary_http_request_duration_seconds_count", method="POST", route="/v1/decisions") == 1
    assert grew("fiduciary_decisions_total", outcome="deny") == 1  # no consent was given for marketing
    assert grew("fiduciary_ledger_appends_total", stream="audit") >= 1
    assert person not in text and missing not in text
    assert not re.search(r'route="/v1/people/per_', text)
    for gauge in ("fiduciary_job_queue_depth", "fiduciary_job_queue_oldest_age_seconds", "fiduciary_outbox_backlog"):
        assert (gauge, ()) in after


def _stop_local_jobs(client: TestClient) -> None:
    """On SQLite the app runs the queue itself; stopped, the jobs the test queues stay waiting."""
    runner = getattr(client.app.state, "jobs", None)  # type: ignore[attr-defined]
    if runner is not None:
        runner.stop()


def test_the_queue_gauges_are_read_from_the_queue_at_each_scrape(client: TestClient, session: Session) -> None:
    reader = api_headers(session, ["metrics:read"])
    session.commit()
    _stop_local_jobs(client)
    empty = _samples(client.get("/metrics", headers=reader).text)
    assert _value(empty, "fiduciary_job_queue_depth") == 0
    assert _value(empty, "fiduciary_job_queue_oldest_age_seconds") == 0

    enqueue(session, "jobs.noop", {}, run_at=datetime.now(UTC) - timedelta(minutes=2))  # due two minutes ago
    enqueue(session, "jobs.noop", {})
    enqueue(session, "jobs.noop", {}, run_at=datetime.now(UTC) + timedelta(days=1))  # not due: not counted
    session.commit()
    after = _samples(client.get("/metrics", headers=reader).text)
    assert _value(after, "fiduciary_job_queue_depth") == 2
    assert 120 <= _value(after, "fiduciary_job_queue_oldest_age_seconds") < 600
    assert _value(after, "fiduciary_outbox_backlog") == 0  # there is no outbox yet


def test_a_failed_queue_read_keeps_the_last_figures_and_the_scrape_answers(
    client: TestClient, session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    reader = api_headers(session, ["metrics:read"])
    session.commit()
    _stop_local_jobs(client)
    enqueue(session, "jobs.noop", {})
    session.commit()
    before = _samples(client.get("/metrics", headers=reader).text)
    assert _value(before, "fiduciary_job_queue_depth") == 1

    table = "procrastinate_jobs" if session.get_bind().dialect.name == "postgresql" else "job_queue"
    session.execute(sa.text(f"ALTER TABLE {table} RENAME TO {table}_away"))  # a real failing read
    session.commit()
    try:
        with caplog.at_level(logging.WARNING, logger="fiduciary.metrics"):
            answer = client.get("/metrics", headers=reader)
    finally:
        session.execute(sa.text(f"ALTER TABLE {table}_away RENAME TO {table}"))
        session.commit()
    assert answer.status_code == 200
    during = _samples(answer.text)
    assert _value(during, "fiduciary_job_queue_depth") == 1  # the last figure, not 0
    assert _value(during, "fiduciary_http_requests_total", method="GET", route="/metrics", status="200") >= 1
    failures = "fiduciary_metrics_read_failures_total"
    assert _value(during, failures, source="job_queue") == _value(before, failures, source="job_queue") + 1
    assert any("could not read the job queue" in r.getMessage() for r in caplog.records)


def test_a_method_outside_https_set_is_counted_as_other(client: TestClient, session: Session) -> None:
    reader = api_headers(session, ["metrics:read"])
    session.commit()
    client.request("ZEBULONCHECK", "/healthz")  # a method is the client's free text (it could be a name)
    text = client.get("/metrics", headers=reader).text
    assert "ZEBULONCHECK" not in text
    assert _value(_samples(text), "fiduciary_http_requests_total", method="_OTHER", route="/healthz", status="405")
