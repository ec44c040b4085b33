"""`FiduciaryClient.report_retention_event` against the real app (issue 12), on both databases."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from fiduciary.auth.service import create_api_key
from fiduciary.config import Settings
from fiduciary.sdk import FiduciaryAPIError, FiduciaryClient
from retention_support import WARRANTY, write_events_policy


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, data_dir=tmp_path / "data", policy_file=write_events_policy(tmp_path))


def test_report_retention_event(client: TestClient, session: Session) -> None:
    _, plaintext = create_api_key(session, "warranty-job", ["people:write"])
    session.commit()
    sdk = FiduciaryClient.from_httpx(client, plaintext)
    person = sdk.create_person()["id"]
    at = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
    first = sdk.report_retention_event(person, WARRANTY, at)
    assert first["created"] is True and first["event"] == WARRANTY
    assert sdk.report_retention_event(person, WARRANTY, at)["created"] is False
    with pytest.raises(FiduciaryAPIError) as refused:
        sdk.report_retention_event(person, "warranty_endd", at)
    assert refused.value.status == 422 and refused.value.fields == ["body.event"]
