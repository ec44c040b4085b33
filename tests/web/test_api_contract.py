"""The OpenAPI and the server agree exactly: ids carry the domain's own patterns, dates are ISO strings only,
integers are whole numbers, duplicate JSON keys are refused, and every path answers OPTIONS with `Allow`.

Each refusal is a 422 problem naming the field and changes nothing. The generated side of the same contract
is tests/web/test_api_fuzz.py; this file pins the cases the issue reported and the one-definition rule.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from fiduciary.auth.service import KEY_ID_PATTERN, create_api_key
from fiduciary.cases.vulnerability_reports import TOKEN_PATTERN as STATUS_TOKEN_PATTERN
from fiduciary.cases.workflow import CASE_ID_PATTERN
from fiduciary.comms.unsubscribe import TOKEN_PATTERN
from fiduciary.decisions.ids import PERSON_ID_PATTERN, SUBJECT_ID_PATTERN, VISITOR_ID_PATTERN
from fiduciary.disclosures.models import DELIVERY_ID_PATTERN
from fiduciary.ledger.models import LedgerEvent
from fiduciary.people.models import Person
from fiduciary.policy.schema import ID_PATTERN
from fiduciary.retention.holds import HOLD_ID_PATTERN
from fiduciary.rights.packages.links import TOKEN_PATTERN as PACKAGE_TOKEN_PATTERN
from fiduciary.rights.requests import REQUEST_ID_PATTERN
from fiduciary.vault.age_tokens import AGE_TOKEN_PATTERN
from fiduciary.web.app import create_app
from fiduciary.web.contract import ContractRoute, parse_json_body

PERSON = "per_" + "a" * 26
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def headers(session: Session) -> dict[str, str]:
    key = create_api_key(session, "contract", ["admin"])[1]
    session.commit()
    return {"Authorization": f"Bearer {key}"}


def _count(session: Session, model: Any) -> int:
    session.expire_all()
    return int(session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def _refused(response: Any, field: str) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert [e["field"] for e in problem["errors"]] == [field], problem
    return problem


# ------------------------------------------------------------------------------------------------ duplicate keys


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"is_child": true, "is_child": false}', "body.is_child"),
        (b'{"date_of_birth": "2000-01-01", "is_child": null, "date_of_birth": "2010-01-01"}', "body.date_of_birth"),
    ],
)
def test_a_duplicate_key_is_a_422_naming_it_and_creates_nobody(
    client: TestClient, session: Session, headers: dict[str, str], body: bytes, field: str
) -> None:
    problem = _refused(client.post("/v1/people", content=body, headers={**headers, **JSON}), field)
    assert "duplicate" in problem["errors"][0]["message"]
    assert "2010" not in json.dumps(problem)  # the values are never echoed
    assert _count(session, Person) == 0


def test_a_nested_duplicate_is_located_and_nothing_is_recorded(
    client: TestClient, session: Session, headers: dict[str, str]
) -> None:
    item = '{"subject_id": "vis_%s", "channel": "api", "actions": [%s]}'
    good = '{"purpose": "analytics", "action": "grant"}'
    twice = '{"purpose": "analytics", "action": "grant", "action": "deny"}'
    body = '{"items": [' + item % ("a" * 26, good) + "," + item % ("b" * 26, good + "," + twice) + "]}"
    before = _count(session, LedgerEvent)
    _refused(
        client.post("/v1/consents/batch", content=body.encode(), headers={**headers, **JSON}),
        "body.items.1.actions.1.action",
    )
    assert _count(session, LedgerEvent) == before
    accepted = client.post(
        "/v1/consents/batch", content=body.replace(', "action": "deny"', "").encode(), headers={**headers, **JSON}
    )
    assert accepted.status_code == 201, accepted.text


def test_parse_json_body() -> None:
    assert parse_json_body(b'{"a": [{"b": 1}, {"b": 2}], "c": {"d": null}}') == {
        "a": [{"b": 1}, {"b": 2}],
        "c": {"d": None},
    }
    with pytest.raises(RequestValidationError) as refused:
        parse_json_body(b'{"a": [{"b": 1}, {"b": 2, "c": {"x": 1, "x": 1}}]}')
    assert refused.value.errors()[0]["loc"] == ("body", "a", 1, "c", "x")
    with pytest.raises(json.JSONDecodeError):
        parse_json_body(b"{not json")


def test_a_body_that_is_not_json_still_gets_fastapis_decode_error(client: TestClient, headers: dict[str, str]) -> None:
    answer = client.post("/v1/people", content=b'{"is_child": tru', headers={**headers, **JSON})
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"].startswith("body")


def test_every_api_route_parses_bodies_through_the_contract(runtime: Any) -> None:
    app = create_app(runtime=runtime)
    routes = [
        r.original_route
        for r in iter_route_contexts(app.routes)
        if isinstance(r.original_route, APIRoute) and r.original_route.include_in_schema  # not OPTIONS/405
    ]
    assert routes and all(isinstance(r, ContractRoute) for r in routes), [
        r.path for r in routes if not isinstance(r, ContractRoute)
    ]


# ------------------------------------------------------------------------------------------------ strict types


@pytest.mark.parametrize("value", [0, 1.5, "0", "2000-01-01T00:00:00", "20000101", True, "2000-1-1"])
def test_a_date_of_birth_is_an_iso_date_string_only(
    client: TestClient, session: Session, headers: dict[str, str], value: object
) -> None:
    """The issue: `{"date_of_birth": 0}` created an adult born on 1970-01-01."""
    _refused(client.post("/v1/people", json={"date_of_birth": value}, headers=headers), "body.date_of_birth")
    assert _count(session, Person) == 0
    ok = client.post("/v1/people", json={"date_of_birth": "2000-01-01"}, headers=headers)
    assert ok.status_code == 201 and ok.json()["age_status"] == "adult"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("until=0.5", "query.until"),
        ("since=1700000000", "query.since"),
        ("since=2026-01-01", "query.since"),
        ("since=2026-01-01T00:00:00", "query.since"),  # no time zone
        ("limit=1.5", "query.limit"),
        ("limit=1e2", "query.limit"),
        ("limit=true", "query.limit"),
        ("cursor=0x10", "query.cursor"),
    ],
)
def test_audit_query_types_are_strict(client: TestClient, headers: dict[str, str], query: str, field: str) -> None:
    _refused(client.get(f"/v1/audit?{query}", headers=headers), field)


def test_well_formed_audit_queries_are_accepted(client: TestClient, headers: dict[str, str]) -> None:
    # 7.0 is the integer 7 in JSON Schema's terms (a number without a fractional part), so it is accepted.
    for query in ("since=2026-01-01T00:00:00Z&until=2099-01-01T00:00:00.5%2B05:30", "limit=7&cursor=0", "limit=7.0"):
        assert client.get(f"/v1/audit?{query}", headers=headers).status_code == 200, query


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/decisions", {"subject_id": PERSON, "purpose": "analytics", "strict": "true"}, "body.strict"),
        ("/v1/decisions", {"subject_id": PERSON, "purpose": "analytics", "strict": 1}, "body.strict"),
        ("/v1/people", {"is_child": 0}, "body.is_child"),
        (
            "/v1/comms/unsubscribe-headers",
            {"subject_id": PERSON, "purpose": "marketing.email", "valid_days": 365.5},
            "body.valid_days",
        ),
        (
            "/v1/comms/unsubscribe-headers",
            {"subject_id": PERSON, "purpose": "marketing.email", "valid_days": "365"},
            "body.valid_days",
        ),
        (
            "/v1/comms/unsubscribe-headers",
            {"subject_id": PERSON, "purpose": "marketing.email", "valid_days": True},
            "body.valid_days",
        ),
    ],
)
def test_no_coercion_of_booleans_and_integers(
    client: TestClient, headers: dict[str, str], path: str, body: dict[str, Any], field: str
) -> None:
    _refused(client.post(path, json=body, headers=headers), field)


# ------------------------------------------------------------------------------------------------ patterns


@pytest.mark.parametrize(
    ("method", "url", "body", "field"),
    [
        ("GET", "/v1/people/per_123", None, "path.person_id"),
        ("POST", "/v1/people/PER_" + "A" * 26 + "/close", None, "path.person_id"),
        ("GET", "/v1/consents/vis_" + "1" * 26, None, "path.subject_id"),
        ("DELETE", "/v1/apikeys/short", None, "path.key_id"),
        (
            "POST",
            "/v1/consents",
            {"subject_id": PERSON, "channel": "api", "actions": [{"purpose": "Analytics", "action": "grant"}]},
            "body.actions.0.purpose",
        ),
        (
            "POST",
            "/v1/consents",
            {"subject_id": "per_", "channel": "api", "actions": [{"purpose": "analytics", "action": "grant"}]},
            "body.subject_id",
        ),
        ("POST", f"/v1/people/{PERSON}/link-visitor", {"visitor_id": PERSON}, "body.visitor_id"),
        (
            "POST",
            "/v1/decisions",
            {"subject_id": PERSON, "purpose": "analytics", "categories": ["contact email"]},
            "body.categories.0",
        ),
        (
            "POST",
            "/v1/audiences",
            {"purpose": "marketing.email", "subject_ids": ["vis_" + "a" * 26]},
            "body.subject_ids.0",
        ),
        ("DELETE", f"/v1/people/{PERSON}/restrictions?purpose=a..b", None, "query.purpose"),
    ],
)
def test_malformed_ids_are_refused_by_pattern(
    client: TestClient, headers: dict[str, str], method: str, url: str, body: Any, field: str
) -> None:
    kwargs: dict[str, Any] = {"json": body} if body is not None else {}
    _refused(client.request(method, url, headers=headers, **kwargs), field)


def test_a_decision_is_one_or_a_batch_in_the_openapi_too(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]["DecisionIn"]
    assert [sorted(option["required"]) for option in schema["anyOf"]] == [["purpose", "subject_id"], ["requests"]]


def _string_schemas(schema: dict[str, Any]) -> list[dict[str, Any]]:
    if schema.get("type") == "string":
        return [schema]
    return [s for option in schema.get("anyOf", []) for s in _string_schemas(option)]


def test_every_id_in_the_openapi_has_the_domains_pattern(client: TestClient) -> None:
    """One definition: the OpenAPI states the very patterns the domain checks with."""
    spec = client.get("/openapi.json").json()
    expected = {
        "person_id": {PERSON_ID_PATTERN},
        "subject_id": {SUBJECT_ID_PATTERN, PERSON_ID_PATTERN},  # person-only where only a person makes sense
        "key_id": {KEY_ID_PATTERN},
        "token": {TOKEN_PATTERN, PACKAGE_TOKEN_PATTERN},  # an unsubscribe link's or a package link's
        "request_id": {REQUEST_ID_PATTERN},
        "breach_id": {CASE_ID_PATTERN},
        "case_id": {CASE_ID_PATTERN},
        "hold_id": {HOLD_ID_PATTERN},
        "visitor_id": {VISITOR_ID_PATTERN},
        "guardian_id": {PERSON_ID_PATTERN},
        "purpose": {ID_PATTERN},
        "recipient_id": {ID_PATTERN},
        "recipient": {ID_PATTERN},
        "purpose_of_collection": {ID_PATTERN},
        "AgeTokenIn.token": {AGE_TOKEN_PATTERN},  # a verifier's token, not an unsubscribe token
        "status_token": {STATUS_TOKEN_PATTERN},  # a researcher's status link (cases.vulnerability_reports)
        "notice_id": {DELIVERY_ID_PATTERN},  # a notice to a recipient (disclosures.models)
    }
    seen: set[str] = set()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", []):
                for schema in _string_schemas(parameter["schema"]):
                    if parameter["in"] == "path":
                        assert schema.get("pattern") in expected[parameter["name"]], (method, path, parameter["name"])
                        seen.add(parameter["name"])
    for name, component in spec["components"]["schemas"].items():
        if not name.endswith(("In", "Write", "Read", "Request", "Batch", "Item", "Create", "Declaration")):
            continue
        for field, schema in component.get("properties", {}).items():
            key = f"{name}.{field}" if f"{name}.{field}" in expected else field
            if key in expected:
                for string in _string_schemas(schema):
                    assert string.get("pattern") in expected[key], (name, field)
                    seen.add(key)
    assert seen == set(expected)


# ------------------------------------------------------------------------------------------------ methods


def test_options_answers_204_with_allow_on_every_path(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path, item in spec["paths"].items():
        url = path.replace("{person_id}", PERSON).replace("{subject_id}", PERSON).replace("{key_id}", "A" * 12)
        url = url.replace("{position}", "1").replace("{version}", "1").replace("{token}", "A" * 40)
        url = url.replace("{case_id}", "cs_" + "a" * 26).replace("{status_token}", "A" * 32).replace("{number}", "1")
        answer = client.options(url)
        assert answer.status_code == 204, (path, answer.status_code)
        documented = {m.upper() for m in item} | {"OPTIONS"}
        assert {m.strip() for m in answer.headers["allow"].split(",")} == documented, path


def test_an_unserved_method_is_405_with_allow_not_a_shadowing_route(
    client: TestClient, headers: dict[str, str]
) -> None:
    """`GET /v1/consents/batch` is not `GET /v1/consents/{subject_id}` with a malformed id."""
    for method, url, allow in [
        ("GET", "/v1/consents/batch", "OPTIONS, POST"),
        ("DELETE", "/v1/apikeys/self", "GET, OPTIONS"),
        ("GET", "/v1/people/lookup", "OPTIONS, POST"),
        ("PATCH", "/v1/policy", "GET, OPTIONS"),
        ("PATCH", f"/v1/people/{PERSON}/restrictions", "DELETE, GET, OPTIONS, POST"),
        ("GET", "/v1/apikeys/" + "A" * 12, "DELETE, OPTIONS"),
    ]:
        answer = client.request(method, url, headers=headers)
        assert answer.status_code == 405, (method, url, answer.text)
        assert answer.headers["allow"] == allow
        assert answer.json()["code"] == "method_not_allowed"


def test_the_banner_preflight_keeps_its_cors_answer_and_gains_allow(client: TestClient) -> None:
    answer = client.options(
        "/v1/banner/consents",
        headers={"Origin": "https://saffronlane.example", "Access-Control-Request-Method": "POST"},
    )
    assert answer.status_code == 204
    assert answer.headers["allow"] == "OPTIONS, POST"
    assert answer.headers["access-control-allow-origin"] == "https://saffronlane.example"
    assert answer.headers["access-control-allow-methods"] == "POST"
