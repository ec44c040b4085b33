"""OpenTelemetry tracing (issue 17, item 5; the `otel` extra): a span per request named by its route template,
`db.commit` and flow (`consent.record`, `decisions.decide`) child spans, the caller's traceparent continued,
and no personal value anywhere in a span, checked with the SDK's in-memory exporter. Off, and nothing of the
SDK imported, unless an endpoint is configured; FastAPI's own telemetry off even under a global provider."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from sqlalchemy.orm import Session

from consent_support import adult, api_headers
from fiduciary.config import Settings
from fiduciary.runtime import Runtime
from fiduciary.web import otel
from fiduciary.web.app import create_app
from fiduciary.web.tracing import TracingTarget, span, tracing_target

ROOT = Path(__file__).resolve().parents[2]
EMAIL = "meera.iyer@example.in"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN_ID = "00f067aa0ba902b7"


@pytest.fixture
def traced(runtime: Runtime) -> Iterator[tuple[FastAPI, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = create_app(runtime=runtime)
    otel.install(app, provider)
    yield app, exporter
    provider.shutdown()


def _server_spans(spans: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name and s.kind is SpanKind.SERVER]


def test_a_span_per_request_by_route_template_and_never_a_personal_value(
    traced: tuple[FastAPI, InMemorySpanExporter], session: Session, runtime: Runtime
) -> None:
    app, exporter = traced
    headers = api_headers(session, ["admin"])
    person = adult(session, runtime)
    session.commit()
    actions = [{"purpose": "marketing.email", "action": "grant"}]
    grant = {"subject_id": person, "channel": "checkout", "actions": actions}
    with TestClient(app) as client:
        assert client.post("/v1/consents", json=grant, headers=headers).status_code == 201
        decided = client.post(
            "/v1/decisions",
            json={"subject_id": person, "purpose": "marketing.email"},
            headers={**headers, "traceparent": f"00-{TRACE_ID}-{CALLER_SPAN_ID}-01", "tracestate": f"shop={EMAIL}"},
        )
        assert decided.status_code == 200
        client.get(f"/v1/people/{person}", params={"purpose": "orders.fulfilment", "note": EMAIL}, headers=headers)
        client.post("/v1/people/lookup", json={"kind": "email", "value": EMAIL}, headers=headers)
        assert client.get(f"/no/such/{person}/{EMAIL}", headers=headers).status_code == 404
    spans = exporter.get_finished_spans()

    (consent,) = _server_spans(spans, "POST /v1/consents")
    assert consent.attributes is not None
    assert consent.attributes["http.request.method"] == "POST"
    assert consent.attributes["http.route"] == "/v1/consents"
    assert consent.attributes["http.response.status_code"] == 201
    assert str(consent.attributes["fiduciary.request_id"]).startswith("req_")
    commits = [s for s in spans if s.name == "db.commit" and s.parent is not None]
    assert consent.context is not None
    mine = [s for s in commits if s.parent is not None and s.parent.span_id == consent.context.span_id]
    assert len(mine) == 1 and mine[0].status.status_code is StatusCode.OK
    assert mine[0].attributes == {"db.system.name": session.get_bind().dialect.name}

    (flow,) = [s for s in spans if s.name == "consent.record"]
    assert flow.parent is not None and flow.parent.span_id == consent.context.span_id

    (decision,) = _server_spans(spans, "POST /v1/decisions")
    assert decision.context is not None and decision.parent is not None
    assert format(decision.context.trace_id, "032x") == TRACE_ID  # the caller's trace, continued
    assert format(decision.parent.span_id, "016x") == CALLER_SPAN_ID
    assert not decision.context.trace_state  # a caller's tracestate is free text: not carried on
    (deciding,) = [s for s in spans if s.name == "decisions.decide"]
    assert deciding.parent is not None and deciding.parent.span_id == decision.context.span_id

    assert _server_spans(spans, "GET /v1/people/{person_id}")
    assert _server_spans(spans, "POST /v1/people/lookup")
    (unmatched,) = _server_spans(spans, "GET <unmatched>")
    assert unmatched.attributes is not None and unmatched.attributes["http.response.status_code"] == 404

    for one in spans:
        text = one.to_json()  # name, attributes, events, links, status, resource
        assert person not in text and EMAIL not in text and "example.in" not in text, text
        assert "note" not in json.loads(text)["attributes"]


def test_a_failing_request_is_an_error_span_without_the_error_message(
    traced: tuple[FastAPI, InMemorySpanExporter], session: Session, runtime: Runtime
) -> None:
    app, exporter = traced
    person = adult(session, runtime)
    session.commit()

    @app.get("/v1/test-failure")
    def fail() -> None:
        with span("test.step"):
            raise RuntimeError(f"cannot handle {person}")

    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/v1/test-failure").status_code == 500
    spans = exporter.get_finished_spans()
    (request,) = _server_spans(spans, "GET /v1/test-failure")
    assert request.status.status_code is StatusCode.ERROR
    assert request.attributes is not None and request.attributes["http.response.status_code"] == 500
    (step,) = [s for s in spans if s.name == "test.step"]
    assert step.parent is not None and request.context is not None and step.parent.span_id == request.context.span_id
    assert step.status.status_code is StatusCode.ERROR
    assert step.attributes is not None and step.attributes["error.type"] == "RuntimeError"
    assert all(person not in s.to_json() and not s.events for s in spans)


def test_the_target_comes_from_fiduciary_or_otel_variables(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert tracing_target(settings, {}) is None
    assert tracing_target(settings, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}) == TracingTarget(None)
    ours = settings.model_copy(update={"otel_endpoint": "http://collector:4318/"})
    assert tracing_target(ours, {}) == TracingTarget("http://collector:4318/v1/traces")
    assert tracing_target(ours, {"OTEL_SDK_DISABLED": "true"}) is None


_BUILD = (
    "import sys; {prelude}"
    "from fiduciary.config import Settings; from fiduciary.web.app import create_app; "
    "create_app(Settings(data_dir=sys.argv[1])); "
    "ours = ('opentelemetry.sdk', 'fiduciary.web.otel'); "
    "print(sorted(m for m, v in sys.modules.items() if v and m.startswith(ours)))"
)


def _build_app(tmp_path: Path, endpoint: str | None, prelude: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FIDUCIARY_", "OTEL_"))}
    if endpoint:
        env["FIDUCIARY_OTEL_ENDPOINT"] = endpoint
    command = [sys.executable, "-c", _BUILD.format(prelude=prelude), str(tmp_path)]
    return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=True, timeout=120)


def test_without_an_endpoint_nothing_is_imported_and_with_one_it_is(tmp_path: Path) -> None:
    # FastAPI itself imports OpenTelemetry's API; the SDK, the exporter and our spans are ours to leave out
    assert _build_app(tmp_path, None).stdout.strip() == "[]"
    imported = _build_app(tmp_path, "http://127.0.0.1:9").stdout
    assert "'fiduciary.web.otel'" in imported and "'opentelemetry.sdk.trace'" in imported


def test_an_endpoint_without_the_extra_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    blocked = "sys.modules['opentelemetry.sdk'] = None; "  # as if the `otel` extra were not installed
    built = _build_app(tmp_path, "http://127.0.0.1:9", prelude=blocked)
    assert built.stdout.strip() == "[]"
    assert "the `otel` extra is not installed" in built.stderr


_FASTAPI_OWN = """
import sys
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from fiduciary.config import Settings
from fiduciary.web.app import create_app

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)  # as `opentelemetry-instrument` or another library would
plain = FastAPI()
plain.get("/ping")(lambda: None)
with TestClient(plain) as client:
    client.get("/ping")
control = len(exporter.get_finished_spans())
with TestClient(create_app(Settings(database_url=sys.argv[1], data_dir=sys.argv[2]))) as client:
    client.get("/v1/people/per_0123456789abcdefghjkmnpqrs", params={"purpose": "orders.fulfilment"})
print(control, [s.attributes.get("url.path") for s in exporter.get_finished_spans()[control:]])
"""


def test_fastapis_own_telemetry_is_off_even_with_a_global_provider(database_url: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FIDUCIARY_", "OTEL_"))}
    command = [sys.executable, "-c", _FASTAPI_OWN, database_url, str(tmp_path / "data")]
    ran = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=True, timeout=120)
    control, spans = ran.stdout.strip().split(" ", 1)
    assert int(control) > 0  # FastAPI does trace a plain app under a global provider (with its raw path)
    assert spans == "[]"  # and ours not at all
