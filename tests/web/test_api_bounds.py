"""Integer query and path parameters are bounded: an oversized number is a 422 naming the field, on both engines.

Every integer parameter reaches the database (a ledger position, a policy version, a page size). SQLite
refuses integers beyond 64 bits in the driver and PostgreSQL's integer columns stop at 2^31 - 1 or 2^63 - 1,
so a number past a column's range must be refused by the request validation, as RFC 9457 problem+json
naming `query.…` / `path.…`, and change nothing (not even the audit event a successful read records). The
largest accepted value must still be answered normally (not a 5xx) on both engines.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from fiduciary.auth.service import create_api_key
from fiduciary.ledger.models import LedgerEvent

BIGINT_MAX = 2**63 - 1
BIGINT_MIN = -(2**63)
HUGE = 10**40


def _headers(session: Session) -> dict[str, str]:
    _row, plaintext = create_api_key(session, "bounds-tests", ["admin"])
    session.commit()
    return {"Authorization": f"Bearer {plaintext}"}


def _ledger_count(session: Session) -> int:
    session.expire_all()
    return int(session.scalar(sa.select(sa.func.count()).select_from(LedgerEvent)) or 0)


# (request template with {n}, the field the problem must name, largest accepted value, smallest accepted,
#  the status the largest accepted value answers on an empty database)
PARAMETERS: list[tuple[str, str, int, int, int]] = [
    ("/v1/audit?cursor={n}", "query.cursor", BIGINT_MAX, 0, 200),
    ("/v1/audit?limit={n}", "query.limit", 1000, 1, 200),
    ("/v1/cases/due?limit={n}", "query.limit", 1000, 1, 200),
    ("/v1/grievances?limit={n}", "query.limit", 1000, 1, 200),
    ("/v1/consents/receipts/{n}", "path.position", 2**53 - 1, 1, 404),
    ("/v1/policy/versions/{n}", "path.version", 2**31 - 1, 1, 404),
    ("/v1/policy/diff?from={n}", "query.from", 2**31 - 1, 1, 404),
    ("/v1/policy/diff?from=1&to={n}", "query.to", 2**31 - 1, 1, 404),
]
IDS = [p[1] for p in PARAMETERS]


def _problem(response: Any, field: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "validation_failed", body
    assert [e["field"] for e in body["errors"]] == [field], body


@pytest.mark.parametrize(("template", "field", "largest", "smallest", "status"), PARAMETERS, ids=IDS)
def test_numbers_past_the_bounds_are_a_422_naming_the_field(
    client: TestClient, session: Session, template: str, field: str, largest: int, smallest: int, status: int
) -> None:
    headers = _headers(session)
    before = _ledger_count(session)
    for value in (largest + 1, BIGINT_MAX + 1, HUGE, smallest - 1, BIGINT_MIN - 1, -HUGE):
        _problem(client.get(template.format(n=value), headers=headers), field)
    assert _ledger_count(session) == before  # refused before anything ran: no audit.read event either


@pytest.mark.parametrize(("template", "field", "largest", "smallest", "status"), PARAMETERS, ids=IDS)
def test_the_largest_accepted_number_reaches_the_database_cleanly(
    client: TestClient, session: Session, template: str, field: str, largest: int, smallest: int, status: int
) -> None:
    headers = _headers(session)
    response = client.get(template.format(n=largest), headers=headers)
    assert response.status_code == status, response.text
    if status == 404:
        assert response.headers["content-type"].startswith("application/problem+json")


def test_an_audit_page_after_the_largest_cursor_is_empty(client: TestClient, session: Session) -> None:
    headers = _headers(session)
    client.get("/v1/audit", headers=headers)  # at least one audit event exists now
    page = client.get(f"/v1/audit?cursor={BIGINT_MAX}", headers=headers).json()
    assert page == {"events": [], "next_cursor": None}
    newest = client.get(f"/v1/audit?cursor={BIGINT_MAX}&order=desc&limit=1", headers=headers).json()
    assert [e["action"] for e in newest["events"]] == ["audit.read"]


def _integer_schemas(schema: dict[str, Any]) -> list[dict[str, Any]]:
    if schema.get("type") == "integer":
        return [schema]
    return [s for option in schema.get("anyOf", []) for s in _integer_schemas(option)]


def test_every_integer_parameter_is_bounded_and_covered_here(client: TestClient) -> None:
    """A new integer query or path parameter without bounds fails here (and needs a row in PARAMETERS)."""
    spec = client.get("/openapi.json").json()
    found: dict[str, tuple[int, int]] = {}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                for schema in _integer_schemas(parameter["schema"]):
                    where = f"{method.upper()} {path} {parameter['in']}.{parameter['name']}"
                    assert "maximum" in schema and "minimum" in schema, f"{where} is unbounded"
                    assert BIGINT_MIN <= schema["minimum"] <= schema["maximum"] <= BIGINT_MAX, where
                    found[f"{parameter['in']}.{parameter['name']}"] = (schema["minimum"], schema["maximum"])
    assert found == {field: (smallest, largest) for _t, field, largest, smallest, _s in PARAMETERS}
