"""`FiduciaryClient.report_contact` and `set_balance` against the real app (docs/inactivity.md), both databases."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from fiduciary.auth.service import create_api_key
from fiduciary.sdk import FiduciaryAPIError, FiduciaryClient


def test_report_contact_and_set_balance(client: TestClient, session: Session) -> None:
    _, plaintext = create_api_key(session, "store-backend", ["people:write"])
    session.commit()
    sdk = FiduciaryClient.from_httpx(client, plaintext)
    person = sdk.create_person()["id"]
    at = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
    answer = sdk.report_contact(person, at, channel="phone", language="hi")
    assert datetime.fromisoformat(answer["last_contact_at"]) == at
    balance = sdk.set_balance(person, "wallet", "INR", 25_000, at)
    assert (balance["instrument"], balance["amount_minor"]) == ("wallet", 25_000)
    with pytest.raises(FiduciaryAPIError) as refused:
        sdk.report_contact(person, datetime(2999, 1, 1, tzinfo=UTC))
    assert refused.value.status == 422 and refused.value.fields == ["body.occurred_at"]
