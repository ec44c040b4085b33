"""Every operation against a key holding each single scope: 403 exactly where the OpenAPI says the scope is not
enough, never where it is. The matrix is generated from the published OpenAPI, so a new operation is covered
the day it is added, and docs/api-keys.md's operation → scope table is checked against the same OpenAPI.

Requests carry well-formed ids of people that do not exist and an empty body: authorization runs before the
body is validated, so a sufficient key gets a 404 or 422, an insufficient one a 403 naming the scope.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from fiduciary.auth.scopes import Scope
from fiduciary.auth.service import create_api_key
from fiduciary.web.contract import CUSTOMER_SESSION_LINE, customer_session_operation, operation_scopes

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "api-keys.md"
BEGIN, END = "<!-- operation-scopes:begin -->", "<!-- operation-scopes:end -->"
# A value for each path parameter that has the right shape and names nothing that exists.
PATH_VALUES = {
    "person_id": "per_" + "a" * 26,
    "subject_id": "per_" + "a" * 26,
    "key_id": "A" * 12,
    "position": "1",
    "version": "1",
    "token": "A" * 40,
    "request_id": "rr_" + "a" * 26,
    "breach_id": "cs_" + "a" * 26,
    "case_id": "cs_" + "a" * 26,
    "hold_id": "hold_" + "a" * 26,
    "status_token": "A" * 32,
    "number": "1",
    "recipient_id": "couriers",
    "notice_id": "whd_" + "a" * 26,
}


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, list[str] | None]]:
    return [
        (method.upper(), path, operation_scopes(operation))
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "responses" in operation
    ]


def _customer_operations(spec: dict[str, Any]) -> set[tuple[str, str]]:
    """The operations a customer session authenticates (no API key, but not public either)."""
    return {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and customer_session_operation(operation)
    }


def _url(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], path)


def _call(client: TestClient, method: str, path: str, key: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"}
    body: dict[str, Any] | None = {} if method in ("POST", "PUT", "PATCH") else None
    response: httpx.Response = client.request(method, _url(path), json=body, headers=headers)
    return response


def test_each_single_scope_is_refused_exactly_where_the_openapi_says(client: TestClient, session: Session) -> None:
    spec = client.get("/openapi.json").json()
    keys = {scope: create_api_key(session, f"only-{scope.value}", [scope])[1] for scope in Scope}
    session.commit()
    protected = [(m, p, s) for m, p, s in _operations(spec) if s is not None]
    assert len(protected) >= 25, "the OpenAPI lost its security requirements"
    wrong: list[str] = []
    for method, path, needed in protected:
        assert needed is not None
        for scope, key in keys.items():
            sufficient = scope is Scope.ADMIN or set(needed) <= {scope.value}
            response = _call(client, method, path, key)
            if sufficient and response.status_code == 403:
                wrong.append(f"{method} {path} refused {scope.value}: {response.text}")
            if not sufficient:
                if response.status_code != 403:
                    wrong.append(f"{method} {path} let {scope.value} through ({response.status_code})")
                elif response.json()["code"] != "missing_scope" or needed[0] not in response.json()["detail"]:
                    wrong.append(f"{method} {path} refused {scope.value} without naming {needed[0]}")
    assert wrong == []


def test_public_operations_answer_without_a_key(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    customer = _customer_operations(spec)
    for method, path, needed in _operations(spec):
        if needed is None and method == "GET" and "{" not in path and (method, path) not in customer:
            assert client.get(path).status_code not in (401, 403), path


def test_customer_session_operations_refuse_a_request_without_a_session(client: TestClient) -> None:
    """An operation a customer session authenticates answers 401 (WWW-Authenticate) without one, and to an API
    key presented in its place."""
    spec = client.get("/openapi.json").json()
    customer = _customer_operations(spec)
    assert ("GET", "/v1/identity/sessions/current") in customer
    for method, path in customer:
        answer = client.request(method, _url(path), json={} if method in ("POST", "PUT", "PATCH") else None)
        assert answer.status_code == 401 and answer.headers["www-authenticate"].startswith("Bearer"), (method, path)
        assert answer.json()["code"] == "session_invalid"


def test_every_operation_names_its_scope_in_its_description(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            needed = operation_scopes(operation)
            line = operation["description"].splitlines()[-1]
            if customer_session_operation(operation):
                assert line == CUSTOMER_SESSION_LINE, (method, path)
            elif needed is None:
                assert line == "**Public**: no API key.", (method, path)
            elif needed:
                assert line.startswith("**Scope**: `" + needed[0] + "`"), (method, path)
            else:
                assert line == "**Scope**: any valid API key.", (method, path)


def test_erasure_and_export_need_rights_manage(client: TestClient) -> None:
    """docs/api-keys.md: erasure and access requests are rights requests, never people:write or people:read."""
    spec = client.get("/openapi.json").json()
    assert operation_scopes(spec["paths"]["/v1/people/{person_id}/erase"]["post"]) == ["rights:manage"]
    assert operation_scopes(spec["paths"]["/v1/people/{person_id}/export"]["get"]) == ["rights:manage"]


def scope_table(spec: dict[str, Any]) -> str:
    """docs/api-keys.md's operation → scope table, as the OpenAPI says it (regenerate: see the failure)."""
    rows = ["| operation | scope |", "|---|---|"]
    customer = _customer_operations(spec)
    for method, path, needed in sorted(_operations(spec), key=lambda o: (o[1], o[0])):
        scope = "public" if needed is None else (", ".join(f"`{s}`" for s in needed) or "any valid key")
        if (method, path) in customer:
            scope = "customer session"
        rows.append(f"| `{method} {path}` | {scope} |")
    return "\n".join(rows)


def test_the_scope_table_in_the_docs_matches_the_openapi(client: TestClient) -> None:
    text = DOC.read_text(encoding="utf-8")
    assert BEGIN in text and END in text, f"{DOC} lost its generated table markers"
    documented = text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    expected = scope_table(client.get("/openapi.json").json())
    assert documented == expected, f"docs/api-keys.md is out of date; put this between the markers:\n{expected}"


@pytest.mark.parametrize("scope", ["people:write", "people:read"])
def test_a_checkout_key_cannot_erase_or_export(client: TestClient, session: Session, scope: str) -> None:
    key = create_api_key(session, "checkout", [scope, "consent:write", "decisions"])[1]
    session.commit()
    person = "per_" + "b" * 26
    headers = {"Authorization": f"Bearer {key}"}
    for response in (
        client.post(f"/v1/people/{person}/erase", json={}, headers=headers),
        client.get(f"/v1/people/{person}/export", headers=headers),
    ):
        assert response.status_code == 403
        assert "rights:manage" in response.json()["detail"]
