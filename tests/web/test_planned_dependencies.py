"""Planned dependency solving (`web.fast_path.planned_handler`) answers exactly what FastAPI's own solving
answers, runs the same dependencies in the same order, and steps aside for everything it does not plan.

A small app with the shapes our hot routes use (a route-level dependency, a security scheme, a
function-scoped generator shared by two dependants, a header with constraints, a sub-response, a path
parameter with a pattern, a JSON body) is asked the same requests twice: once planned, and once with a
dependency override in place, which sends every request to FastAPI's handler. The answers and the call
logs must be equal, for good requests and bad ones.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import fastapi.routing
import pytest
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Path, Request, Response, Security
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict, Field

from consent_support import api_headers, new_person
from fiduciary.runtime import Runtime
from fiduciary.web.app import create_app
from fiduciary.web.contract import ContractRoute
from fiduciary.web.problems import install_problem_handlers

LOG: list[str] = []


async def limited(request: Request) -> None:
    LOG.append("limit")
    if request.headers.get("x-limit") == "spent":
        raise HTTPException(status_code=429, detail="spent")


async def session_like() -> AsyncIterator[str]:
    LOG.append("open")
    try:
        yield "session"
    except Exception:
        LOG.append("rollback")
        raise
    LOG.append("commit")


SESSION = Depends(session_like, scope="function")
_bearer = HTTPBearer(auto_error=False)


async def caller(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Security(_bearer),
    session: str = SESSION,
) -> str:
    LOG.append(f"caller:{session}")
    return credentials.credentials if credentials is not None else "anonymous"


async def correlation(
    response: Response, x_id: Annotated[str | None, Header(alias="X-Id", max_length=8)] = None
) -> str:
    LOG.append("correlation")
    response.headers["X-Id"] = x_id or "none"  # a sub-response header: dropped when the endpoint answers itself
    return x_id or "none"


def plain_dependency() -> str:
    LOG.append("plain")
    return "plain"


class Thing(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n: int = Field(ge=0, strict=True)
    tags: list[str] = Field(default_factory=list, max_length=3)


router = APIRouter(prefix="/v1", route_class=ContractRoute, dependencies=[Depends(limited)])


@router.post("/things/{thing_id}")
async def post_thing(
    thing_id: Annotated[str, Path(pattern="^t[0-9]+$")],
    body: Thing,
    request: Request,
    who: str = Depends(caller),
    session: str = SESSION,
    rid: str = Depends(correlation),
    plain: str = Depends(plain_dependency),
    note: Annotated[str | None, Header(alias="X-Note")] = None,  # a plain optional header: read as it is
) -> Response:
    LOG.append("endpoint")
    if body.n == 13:
        raise HTTPException(status_code=409, detail="unlucky")
    answer = {"thing": thing_id, "n": body.n, "who": who, "session": session, "id": rid, "plain": plain, "note": note}
    return JSONResponse(answer)


@router.get("/things/{thing_id}")
async def get_thing(thing_id: str, who: str = Depends(caller)) -> dict[str, str]:
    LOG.append("endpoint")
    return {"thing": thing_id, "who": who}  # a model answer: FastAPI serialises it, so it is never planned


def unused_dependency() -> None:  # only ever overridden: its override sends every request to FastAPI
    return None


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(router)
    return app


def _solve_counter(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times FastAPI's own `solve_dependencies` ran (the planned path never calls it)."""
    calls = [0]
    original = fastapi.routing.solve_dependencies

    async def counting(**kwargs: Any) -> Any:
        calls[0] += 1
        return await original(**kwargs)

    monkeypatch.setattr(fastapi.routing, "solve_dependencies", counting)
    return calls


JSON = {"content-type": "application/json"}
REQUESTS: list[tuple[str, str, dict[str, str], bytes]] = [
    ("good", "/v1/things/t1", {**JSON, "authorization": "Bearer k1", "x-id": "abc", "x-note": "hi"}, b'{"n": 1}'),
    ("empty note", "/v1/things/t1", {**JSON, "x-note": ""}, b'{"n": 1, "tags": ["a"]}'),
    ("anonymous", "/v1/things/t2", JSON, b'{"n": 2}'),
    ("endpoint raises", "/v1/things/t3", JSON, b'{"n": 13}'),
    ("spent and bad body", "/v1/things/t4", {**JSON, "x-limit": "spent"}, b'{"n": -1}'),
    ("spent", "/v1/things/t4", {**JSON, "x-limit": "spent"}, b'{"n": 1}'),
    ("bad body", "/v1/things/t5", JSON, b'{"n": "1"}'),
    ("unknown field", "/v1/things/t5", JSON, b'{"n": 1, "m": 2}'),
    ("duplicate key", "/v1/things/t5", JSON, b'{"n": 1, "n": 2}'),
    ("not JSON", "/v1/things/t5", JSON, b'{"n": '),
    ("not UTF-8", "/v1/things/t5", JSON, b'{"n": "\xff"}'),
    ("no content type", "/v1/things/t5", {}, b'{"n": 1}'),
    ("text body", "/v1/things/t5", {"content-type": "text/plain"}, b'{"n": 1}'),
    ("JSON suffix type", "/v1/things/t5", {"content-type": "application/merge-patch+json"}, b'{"n": 1}'),
    ("empty body", "/v1/things/t5", JSON, b""),
    ("bad path", "/v1/things/x5", JSON, b'{"n": 1}'),
    ("long header", "/v1/things/t6", {**JSON, "x-id": "much-too-long"}, b'{"n": 1}'),
    ("bad bearer", "/v1/things/t7", {**JSON, "authorization": "Basic abc"}, b'{"n": 1}'),
]
REFUSED_BEFORE_SOLVING = {"duplicate key", "not JSON", "not UTF-8"}  # 422 before any dependency, either way


def _ask(client: TestClient, path: str, headers: dict[str, str], body: bytes) -> tuple[Any, ...]:
    LOG.clear()
    answer = client.post(path, headers=headers, content=body)
    kept = {name: answer.headers.get(name) for name in ("content-type", "x-id", "retry-after")}
    return answer.status_code, answer.content, kept, list(LOG)


@pytest.mark.parametrize(("name", "path", "headers", "body"), REQUESTS, ids=[r[0] for r in REQUESTS])
def test_planned_answers_as_fastapi_answers(
    name: str, path: str, headers: dict[str, str], body: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _app()
    solved = _solve_counter(monkeypatch)
    with TestClient(app, raise_server_exceptions=False) as client:
        planned = _ask(client, path, headers, body)
        planned_solves = solved[0]
        app.dependency_overrides[unused_dependency] = lambda: None
        by_fastapi = _ask(client, path, headers, body)
    if name not in REFUSED_BEFORE_SOLVING:
        assert solved[0] > planned_solves, "the override must send the request to FastAPI's own solving"
    assert planned == by_fastapi
    if name in ("good", "anonymous", "endpoint raises", "spent", "JSON suffix type"):
        assert planned_solves == 0, "a well-formed request is served by the plan"
    if name == "good":
        status, content, headers_out, log = planned
        assert status == 200 and headers_out["x-id"] is None  # the sub-response's header is not sent
        assert b'"note":"hi"' in content and b'"who":"k1"' in content
        assert log == ["limit", "open", "caller:session", "correlation", "plain", "endpoint", "commit"]
    if name == "endpoint raises":
        assert planned[3][-1] == "rollback"  # the generator saw the endpoint's exception, as under FastAPI


def test_an_override_is_honoured_on_a_planned_route(monkeypatch: pytest.MonkeyPatch) -> None:
    app = _app()
    app.dependency_overrides[caller] = lambda: "overridden"
    with TestClient(app) as client:
        answer = client.post("/v1/things/t1", headers=JSON, content=b'{"n": 1}')
    assert answer.status_code == 200 and answer.json()["who"] == "overridden"


def test_a_route_that_answers_a_model_is_left_to_fastapi(monkeypatch: pytest.MonkeyPatch) -> None:
    app = _app()
    solved = _solve_counter(monkeypatch)
    with TestClient(app) as client:
        answer = client.get("/v1/things/t1", headers={"authorization": "Bearer k9"})
    assert answer.json() == {"thing": "t1", "who": "k9"}
    assert solved[0] == 1


@pytest.fixture
def hot_client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime=runtime)) as client:
        yield client


def test_the_hot_routes_are_planned(hot_client: TestClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """Decisions, consents and the banner's choices are served by their plans (bench/RESULTS.md)."""
    with runtime.sessions() as session:
        headers = api_headers(session, ["consent:write", "decisions"])
        person = new_person(session, runtime, is_child=False)
    solved = _solve_counter(monkeypatch)
    grant = {
        "subject_id": person,
        "channel": "checkout",
        "actions": [{"purpose": "marketing.email", "action": "grant"}],
    }
    assert hot_client.post("/v1/consents", json=grant, headers=headers).status_code == 201
    ask = {"subject_id": person, "purpose": "marketing.email"}
    answer = hot_client.post("/v1/decisions", json=ask, headers=headers)
    assert answer.status_code == 200 and answer.json()["allow"] is True
    banner = {"actions": [{"purpose": "analytics", "action": "grant"}]}
    origin = {"origin": runtime.public_base_url}
    assert hot_client.post("/v1/banner/consents", json=banner, headers=origin).status_code == 201
    assert solved[0] == 0
    assert hot_client.post("/v1/decisions", json={**ask, "purpose": 7}, headers=headers).status_code == 422
    assert solved[0] == 1  # a bad body is FastAPI's to answer
