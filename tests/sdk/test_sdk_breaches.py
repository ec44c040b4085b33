"""The SDK's breach methods against the real app, on both databases: the round trip and a refused future."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from breach_support import NOTICE_TEXTS
from fiduciary.auth.service import create_api_key
from fiduciary.sdk import FiduciaryAPIError, FiduciaryBreachClient
from fiduciary.storage.base import utcnow


@pytest.fixture
def sdk(client: TestClient, session: Session) -> FiduciaryBreachClient:
    _, plaintext = create_api_key(session, "security-staff", ["breaches:manage"])
    session.commit()
    return FiduciaryBreachClient.from_httpx(client, plaintext)


def test_the_breach_round_trip(sdk: FiduciaryBreachClient) -> None:
    opened = sdk.open_breach(
        summary="Export left open", detected_at=utcnow() - timedelta(hours=1), categories=["contact.email"]
    )
    breach_id = opened["id"]
    stepped = sdk.record_breach_step(breach_id, "cert_in_not_needed")
    assert {c["name"]: c["state"] for c in stepped["clocks"]}["cert_in"] == "met"
    sdk.update_breach(breach_id, **NOTICE_TEXTS)
    assert sdk.notify_breach(breach_id) == {"added": 0, "selected": 0, "jobs": 0}
    report = sdk.breach_report(breach_id, "gdpr_art33")
    assert report["report"] == "gdpr_art33" and "records" in report["missing"]
    steps = [e["step"] for e in sdk.breach_timeline(breach_id)["events"]]
    assert steps == ["opened", "cert_in_not_needed", "update", "select_affected"]
    assert sdk.close_breach(breach_id, "resolved")["state"] == "closed"


def test_a_future_detection_raises_naming_the_field(sdk: FiduciaryBreachClient) -> None:
    with pytest.raises(FiduciaryAPIError) as exc:
        sdk.open_breach(summary="x", detected_at=utcnow() + timedelta(days=1), categories=["contact.email"])
    assert exc.value.status == 422 and "detected_at" in str(exc.value.fields)
