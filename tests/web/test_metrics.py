"""`/metrics` (issue 17, item 5): behind `metrics:read`, per route template, decisions by outcome, ledger
appends, and the queue gauges registered at 0 for the job queue to feed."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session

from consent_support import adult, api_headers
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
