"""What docs/vault.md promises about erasure is what the HTTP API does (issue 10, item 4).

The erasure reason grammar is read from the page itself and compared with the pattern the API publishes in
its OpenAPI, then exercised at its edges; a read of an erased person is 410 `person_erased` for every
purpose, as the page says, never a 200 with every category denied.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from fiduciary.auth.service import create_api_key

ROOT = Path(__file__).resolve().parents[2]
VAULT_MD = ROOT / "docs" / "vault.md"
EMAIL = "tanvi.rao@example.in"
_serial = itertools.count()


def documented_reason_pattern() -> str:
    """The one anchored regular expression docs/vault.md gives for erasure reasons."""
    text = VAULT_MD.read_text(encoding="utf-8")
    section = text[text.index("Reasons are codes") :]
    found = re.search(r"`(\^[^`]+\$)`", section)
    assert found, "docs/vault.md no longer states the erasure reason pattern"
    return found.group(1)


def erase_reason_schema(client: TestClient) -> dict[str, Any]:
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/v1/people/{person_id}/erase"]["post"]["requestBody"]["content"]["application/json"]
    schema = body["schema"]
    if "anyOf" in schema:  # an optional body
        schema = next(s for s in schema["anyOf"] if "$ref" in s)
    name = schema["$ref"].rsplit("/", 1)[-1]
    reason: dict[str, Any] = spec["components"]["schemas"][name]["properties"]["reason"]
    return reason


def admin_headers(session: Session) -> dict[str, str]:
    _, plaintext = create_api_key(session, "docs-agree", ["admin"])
    session.commit()
    return {"Authorization": f"Bearer {plaintext}"}


def new_person(client: TestClient, headers: dict[str, str]) -> str:
    """A person with a name and an email (each one's email is unique; EMAIL is in all of them)."""
    email = f"{next(_serial)}.{EMAIL}"
    person: str = client.post("/v1/people", json={"is_child": False}, headers=headers).json()["id"]
    written = client.put(
        f"/v1/people/{person}/fields",
        json={
            "purpose_of_collection": "account",
            "source": "provided",
            "fields": {"identity.name": "Tanvi Rao", "contact.email": email},
            "identifiers": {"email": email},
        },
        headers=headers,
    )
    assert written.status_code == 200, written.text
    return person


def test_the_documented_reason_grammar_is_the_apis(client: TestClient, session: Session) -> None:
    pattern = documented_reason_pattern()
    schema = erase_reason_schema(client)
    assert schema["pattern"] == pattern and schema["maxLength"] == 64
    headers = admin_headers(session)
    longest = "a" + "b" * 63
    for reason in ("erasure_request", "account_deleted", "retention.inactivity", longest):
        assert re.fullmatch(pattern, reason)
        person = new_person(client, headers)
        erased = client.post(f"/v1/people/{person}/erase", json={"reason": reason}, headers=headers)
        assert erased.status_code == 200, erased.text
        assert erased.json()["reason"] == reason
    for reason in (longest + "c", "court-order", "retention:inactivity", "Erasure", "1st", "a..b", "a.", ""):
        assert not (re.fullmatch(pattern, reason) and len(reason) <= 64)
        person = new_person(client, headers)
        refused = client.post(f"/v1/people/{person}/erase", json={"reason": reason}, headers=headers)
        assert refused.status_code == 422, (reason, refused.text)
        body = refused.json()
        assert [e["field"] for e in body["errors"]] == ["body.reason"]
        assert reason not in str(body) or reason in ("", "a.")  # never echoed (short ones occur by chance)
        # Bad input changes nothing: the person is still readable.
        still = client.post(f"/v1/people/{person}/fields/read", json={"purpose": "account"}, headers=headers)
        assert still.status_code == 200 and EMAIL in still.json()["fields"]["contact.email"]


def test_reads_of_an_erased_person_answer_410_for_every_purpose(client: TestClient, session: Session) -> None:
    text = VAULT_MD.read_text(encoding="utf-8")
    assert "Every read then answers 410 `person_erased`" in text
    headers = admin_headers(session)
    person = new_person(client, headers)
    before = client.post(f"/v1/people/{person}/fields/read", json={"purpose": "marketing.email"}, headers=headers)
    assert before.status_code == 200 and before.json()["denied"]  # a deny is an answer while the data exists
    assert client.post(f"/v1/people/{person}/erase", headers=headers).status_code == 200
    for purpose in ("account", "tax_compliance", "marketing.email", "security", "not_a_purpose"):
        for categories in ([], ["contact.email"]):
            gone = client.post(
                f"/v1/people/{person}/fields/read",
                json={"purpose": purpose, "categories": categories},
                headers=headers,
            )
            assert gone.status_code == 410, (purpose, gone.text)
            assert gone.headers["content-type"].startswith("application/problem+json")
            assert gone.json()["code"] == "person_erased" and EMAIL not in gone.text
