"""The request's commit happens before its answer is sent, on every route (decision 0012, issue 8).

Structural: every route and the API-key dependency get the session through `SessionDep`, whose scope is
"function" (FastAPI runs its exit after the path operation returns, before the response is sent); no module
asks for `Depends(get_session)` itself. Behavioural: the commit is seen before `http.response.start` for a
write, a banner write, a streamed audience and an audited read; and a commit that fails answers 500 with
no receipt and stores nothing.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.orm import Session
from starlette.types import Message, Receive, Scope, Send

import fiduciary.web.routes as routes_package
from consent_support import adult, api_headers, ledger_length
from fiduciary.runtime import Runtime
from fiduciary.web import deps
from fiduciary.web.app import create_app

STORE = "https://saffronlane.example"
WEB = Path(deps.__file__).resolve().parent


def _session_dependants(dependant: Dependant) -> Iterator[Dependant]:
    for sub in dependant.dependencies:
        if sub.call is deps.get_session:
            yield sub
        yield from _session_dependants(sub)


def _routes() -> list[APIRoute]:
    found: list[APIRoute] = []
    # every module, sub-packages' too (the /v1/people router is a package of three modules)
    for info in pkgutil.walk_packages(routes_package.__path__, prefix=f"{routes_package.__name__}."):
        module = importlib.import_module(info.name)
        router = getattr(module, "router", None)
        found += [r for r in getattr(router, "routes", []) if isinstance(r, APIRoute)]
    return found


def test_every_session_is_committed_before_the_answer() -> None:
    routes = _routes()
    using = {r.path + " " + ",".join(sorted(r.methods)) for r in routes if any(_session_dependants(r.dependant))}
    assert len(using) >= 30, using  # the session is reached (directly or through the API-key dependency)
    for route in routes:
        for dependant in _session_dependants(route.dependant):
            assert dependant.scope == "function", f"{route.path}: session dependency with scope {dependant.scope}"


def test_no_module_asks_for_the_session_any_other_way() -> None:
    offenders = [
        str(path.relative_to(WEB))
        for path in WEB.rglob("*.py")
        if path.name != "deps.py" and "Depends(get_session" in path.read_text(encoding="utf-8")
    ]
    assert offenders == []


@pytest.fixture
def recorded(runtime: Runtime) -> Iterator[tuple[TestClient, list[str]]]:
    """A client whose app notes each commit of a request session and each response start, in order."""
    events: list[str] = []

    def on_commit(_session: Session) -> None:
        if threading.current_thread().name != "fiduciary-jobs":  # the in-process job runner's own commits
            events.append("commit")

    event.listen(runtime.sessions, "after_commit", on_commit)
    app = create_app(runtime=runtime)

    async def recorder(scope: Scope, receive: Receive, send: Send) -> None:
        async def noting(message: Message) -> None:
            if message["type"] == "http.response.start":
                events.append("answer")
            await send(message)

        await app(scope, receive, noting)

    try:
        with TestClient(recorder) as client:
            yield client, events
    finally:
        event.remove(runtime.sessions, "after_commit", on_commit)


def _grant(subject: str) -> dict[str, Any]:
    return {"subject_id": subject, "channel": "checkout", "actions": [{"purpose": "analytics", "action": "grant"}]}


def test_commit_precedes_the_answer(recorded: tuple[TestClient, list[str]], session: Session, runtime: Runtime) -> None:
    client, events = recorded
    headers = api_headers(session, ["consent:write", "people:read", "decisions", "rights:manage"])
    person = adult(session, runtime)
    calls = [
        lambda: client.post("/v1/consents", json=_grant(person), headers=headers),
        lambda: client.post(
            "/v1/banner/consents",
            json={"actions": [{"purpose": "analytics", "action": "grant"}]},
            headers={"Origin": STORE},
        ),
        lambda: client.get(f"/v1/people/{person}/export", headers=headers),
        lambda: client.get("/v1/policy/versions"),  # a router with router-level dependencies
        lambda: client.post("/v1/audiences", json={"purpose": "marketing.email", "channel": "email"}, headers=headers),
    ]
    for call in calls:
        events.clear()
        answer = call()
        assert answer.status_code in (200, 201), answer.text
        assert "commit" in events and events[-1] == "answer", events  # nothing committed after the answer


def test_a_failed_commit_is_an_error_never_a_receipt(runtime: Runtime, session: Session) -> None:
    headers = api_headers(session, ["consent:write"])
    person = adult(session, runtime)
    before = ledger_length(session)
    failing = {"on": False}

    def fail(_session: Session) -> None:
        if failing["on"]:
            raise OSError("disk full")  # what a real commit can raise: the write is not stored

    event.listen(runtime.sessions, "before_commit", fail)
    try:
        with TestClient(create_app(runtime=runtime), raise_server_exceptions=False) as client:
            failing["on"] = True
            answer = client.post("/v1/consents", json=_grant(person), headers=headers)
            failing["on"] = False
    finally:
        event.remove(runtime.sessions, "before_commit", fail)
    assert answer.status_code == 500
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "receipt" not in answer.text and "signature" not in answer.text
    session.expire_all()
    assert ledger_length(session) == before
