"""No value is echoed: problem documents carry an opaque request id, the access log carries route templates,
and the suite-wide leak guard (leak_guard.py) really fails when a value leaks (issue 8 item 5, decision 0017)."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from fiduciary.auth.service import create_api_key
from fiduciary.errors import NotFound
from fiduciary.runtime import Runtime
from fiduciary.web.access_log import INSTANCE_PREFIX, UNMATCHED, JsonLogFormatter, accept_request_id
from fiduciary.web.app import create_app
from leak_guard import LeakDetector, recording

PROBLEM = "application/problem+json"
EMAIL = "ravi.kumar@example.com"
PHONE = "+919876543210"


@pytest.fixture
def app(runtime: Runtime) -> FastAPI:
    app = create_app(runtime=runtime)

    @app.get("/test/leaky/{who}")
    def leaky(who: str, request: Request) -> None:
        logging.getLogger("fiduciary.test").warning("looked up %s", request.url.path)
        raise NotFound(f"Nobody is called {who}.")

    return app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture
def admin(session: Session) -> dict[str, str]:
    _, key = create_api_key(session, "admin", ["admin"])
    session.commit()
    return {"Authorization": f"Bearer {key}"}


def _access_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "fiduciary.access"]


# --- the detector itself ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("detail: no person ravi@example.com", "email address"),
        ("called 98765 43210 twice", "Indian phone number"),
        ("phone=9876543210;", "Indian phone number"),
        ("phone +14155550100 abroad", "E.164 phone number"),
        ("key fid_6itzILolr34W_SK9O2H9Gu7BhsKBDxhRfAuyPo9_24Uk91UjN8pA0i14 used", "API key"),
        ("instance /u/AQAAAABnZXRzb21ldGhpbmdoZXJlX3Rva2Vu", "unsubscribe token"),
        ("name Zebulon Quixotewright", "known personal value"),
    ],
)
def test_the_detector_finds_each_kind_of_value(text: str, kind: str) -> None:
    detector = LeakDetector()
    found = detector.scan(text, "a test string")
    assert kind in {f.kind for f in found}
    assert detector.findings and "a test string" in detector.report()


@pytest.mark.parametrize(
    "text",
    [
        "GET /v1/people/{person_id} query=purpose 404 3.1ms id=req_9876543210abcdef98765432",
        "hash 98765432109876543210ab position 9876543210123",
        "grievance officer privacy@saffronlane.example, +91 120 400 0000",  # the store's published contacts
        "instance urn:fiduciary:request:req_0123456789abcdef01234567 person per_01HZX9876543210ABCDEFGHJK",
        "/u/{token} 400",
    ],
)
def test_the_detector_ignores_ids_hashes_templates_and_published_contacts(text: str) -> None:
    assert LeakDetector().scan(text, "a test string") == []


def test_the_detector_remembers_presented_secrets_and_tokens() -> None:
    detector = LeakDetector()
    secret = "SK9O2H9Gu7BhsKBDxhRfAuyPo9_24Uk91UjN8pA0i14"
    token = "AQAAAABnZXRzb21ldGhpbmc"
    detector.learn_request(
        {"path": f"/u/{token}", "headers": [(b"authorization", f"Bearer fid_6itzILolr34W_{secret}".encode())]}
    )
    assert [f.kind for f in detector.scan(f"secret {secret[:43]}", "log")] == ["secret a request presented"]
    assert [f.kind for f in detector.scan(f"token={token}", "log")] == ["secret a request presented"]


def test_a_leak_through_a_real_app_is_caught_in_the_body_and_the_log(client: TestClient) -> None:
    with recording(LeakDetector()) as detector:
        answer = client.get(f"/test/leaky/{EMAIL}")
    assert answer.status_code == 404
    where = {f.where for f in detector.findings if f.kind == "email address"}
    assert "error body of GET /test/leaky/{who}" in where
    assert "log record of fiduciary.test" in where


INNER_CONFTEST = """
import sys
sys.path.insert(0, {tests!r})
from leak_guard import PLUGIN_NAME, LeakGuardPlugin, no_values_echoed  # noqa: F401

def pytest_configure(config):
    config.pluginmanager.register(LeakGuardPlugin(), PLUGIN_NAME)
"""
INNER_TEST = """
from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient

app = FastAPI()

@app.get("/x/{who}")
def x(who: str) -> None:
    raise HTTPException(404, detail=f"no {who}")

def test_clean() -> None:
    assert TestClient(app).get("/x/someone").status_code == 404

def test_leaks() -> None:
    assert TestClient(app).get("/x/ravi@example.com").status_code == 404
"""


def test_the_session_fails_when_a_value_leaks(tmp_path: Path) -> None:
    """A whole pytest session with the guard: the leaking test passes on its own, the session fails."""
    (tmp_path / "conftest.py").write_text(INNER_CONFTEST.format(tests=str(Path(__file__).resolve().parents[1])))
    (tmp_path / "test_inner.py").write_text(INNER_TEST)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "test_inner.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert run.returncode == 1, run.stdout + run.stderr
    summary = run.stdout.strip().splitlines()[-1]
    assert "2 passed" in summary and "1 error" in summary, run.stdout
    assert "ERROR at teardown of test_leaks" in run.stdout
    assert "test_inner.py::test_leaks: email address in error body of GET /x/{who}" in run.stdout


# --- the service: no values in problem documents or the access log --------------------------------------


def test_problems_carry_the_request_id_never_the_path(
    client: TestClient, admin: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    with recording(LeakDetector()) as detector, caplog.at_level(logging.INFO, logger="fiduciary.access"):
        answers = [
            client.get(f"/v1/people/{EMAIL}/export", headers=admin),  # an e-mail where a person id belongs
            client.get(f"/v1/people/{EMAIL}/export"),  # and without a key
            client.get(f"/no/such/{PHONE}?email={EMAIL}"),  # unmatched path
            client.post("/u/AQAAAABnZXRzb21ldGhpbmdoZXJlX3Rva2Vu", headers={"Accept": "application/json"}),
            client.get("/u/AQAAAABnZXRzb21ldGhpbmdoZXJlX3Rva2Vu"),  # the HTML page for a bad link
        ]
    for answer in answers[:4]:
        assert answer.status_code >= 400 and answer.headers["content-type"].startswith(PROBLEM), answer.text
        request_id = answer.headers["x-request-id"]
        assert answer.json()["instance"] == INSTANCE_PREFIX + request_id
    assert answers[4].status_code == 400 and answers[4].headers["x-request-id"]
    assert detector.findings == []
    lines = _access_lines(caplog)
    assert len(lines) == len(answers)
    assert lines[0].startswith("GET /v1/people/{person_id}/export query=- 4")
    assert lines[2].startswith(f"GET {UNMATCHED} query=+1 404")
    assert lines[3].startswith("POST /u/{token} query=- 400") and lines[4].startswith("GET /u/{token} query=- 400")
    assert all(answers[i].headers["x-request-id"] in line for i, line in enumerate(lines))
    records = [r for r in caplog.records if r.name == "fiduciary.access"]
    # the JSON line's own field, not only the message text (it once said null)
    json_lines = [json.loads(JsonLogFormatter().format(r)) for r in records]
    assert [j["request_id"] for j in json_lines] == [a.headers["x-request-id"] for a in answers]


def test_the_access_log_names_declared_query_parameters_never_values(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="fiduciary.access"):
        client.get(f"/privacy?lang=hi&{EMAIL}=1&utm={PHONE}")
    (line,) = _access_lines(caplog)
    assert line.startswith("GET /privacy query=lang,+2 200")
    assert EMAIL not in line and PHONE not in line and "hi" not in line.split()[2]


def test_500_answers_carry_the_request_id_and_are_logged(runtime: Runtime, caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(runtime=runtime)

    @app.get("/test/boom/{who}")
    def boom(who: str) -> None:
        raise RuntimeError("internal")

    with TestClient(app, raise_server_exceptions=False) as c, caplog.at_level(logging.INFO, logger="fiduciary.access"):
        answer = c.get(f"/test/boom/{EMAIL}")
    assert answer.status_code == 500
    assert answer.json()["instance"] == INSTANCE_PREFIX + answer.headers["x-request-id"]
    (line,) = _access_lines(caplog)
    assert line.startswith("GET /test/boom/{who} query=- 500") and EMAIL not in line


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("checkout-42", True),
        ("trace.9:a_b", True),
        ("9876543210", False),  # only digits: could be a phone or account number
        ("ravi@example.com", False),
        ("bad id!", False),
        ("x" * 65, False),
    ],
)
def test_a_callers_request_id_is_kept_only_when_safe(client: TestClient, sent: str, kept: bool) -> None:
    assert (accept_request_id(sent) == sent) is kept
    answer = client.get("/no/such/page", headers={"X-Request-ID": sent})
    returned = answer.headers["x-request-id"]
    assert (returned == sent) is kept
    if not kept:
        assert returned.startswith("req_") and len(returned) == 28
    assert answer.json()["instance"] == INSTANCE_PREFIX + returned
    assert answer.headers.get_list("x-request-id") == [returned]  # one header, never two


# --- a real `fiduciary serve`: only our access line, never uvicorn's raw one ------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_fiduciary_serve_logs_route_templates_and_no_raw_paths(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(sys.path),
        "FIDUCIARY_DATA_DIR": str(tmp_path / "data"),
        "FIDUCIARY_HOUSEKEEPING_INTERVAL_MINUTES": "0",
    }
    env.pop("FIDUCIARY_DATABASE_URL", None)
    env.pop("FIDUCIARY_POLICY_FILE", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "fiduciary.cli.main", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    token = "AQAAAABnZXRzb21ldGhpbmdoZXJlX3Rva2Vu"
    try:
        deadline = time.monotonic() + 60
        while True:  # wait for start-up; failing to start within a minute is the failure, not a timing claim
            try:
                httpx.get(base + "/healthz", timeout=1.0)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, "fiduciary serve did not start"
                time.sleep(0.2)
        answers = [
            httpx.get(f"{base}/v1/people/{EMAIL}/export?purpose={PHONE}"),
            httpx.post(f"{base}/u/{token}", headers={"Accept": "application/json"}),
            httpx.get(f"{base}/no/such/{PHONE}"),
        ]
    finally:
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=60)
    assert [a.status_code for a in answers] == [401, 400, 404]
    logged = out + err
    records = [json.loads(line) for line in logged.splitlines() if line.startswith("{")]
    access = [r["message"] + " id=" + str(r["request_id"]) for r in records if r["logger"] == "fiduciary.access"]
    assert len(access) >= 4, logged  # the health probe(s) and the three requests
    assert any("GET /v1/people/{person_id}/export query=+1 401" in line for line in access), access
    assert any("POST /u/{token} query=- 400" in line for line in access), access
    assert any(f"GET {UNMATCHED} query=- 404" in line for line in access), access
    for answer in answers:
        assert any(answer.headers["x-request-id"] in line for line in access)
    for value in (EMAIL, PHONE, token, ' HTTP/1.1"'):  # how uvicorn's own access line ends its request line
        assert value not in logged, logged
