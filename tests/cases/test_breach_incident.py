"""An incident's facts checked before anything is written: future moments refused naming the field."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from fiduciary.cases.breach.incident import BreachNature, check_incident, check_update
from fiduciary.config import DEMO_POLICY_PATH
from fiduciary.errors import ValidationFailed
from fiduciary.policy.loader import load_policy

IST = ZoneInfo("Asia/Kolkata")
NOW = datetime(2026, 5, 4, 12, 0, tzinfo=IST)
POLICY = load_policy(DEMO_POLICY_PATH).document
CATEGORY = POLICY.categories[0].id


def body(**changes: Any) -> dict[str, Any]:
    return {
        "summary": "Order export bucket was public",
        "detected_at": "2026-05-04T09:00:00+05:30",
        "categories": [CATEGORY],
        "people_affected": 1200,
        **changes,
    }


def fields(exc: pytest.ExceptionInfo[ValidationFailed]) -> set[str]:
    return {p.field for p in exc.value.fields}


def test_a_plain_incident_is_accepted_and_awareness_defaults_to_detection() -> None:
    facts = check_incident(POLICY, body(natures=["confidentiality"], systems=["s3", "s3"]), NOW)
    assert facts.aware_at == facts.detected_at == datetime(2026, 5, 4, 9, 0, tzinfo=IST)
    assert facts.natures == (BreachNature.CONFIDENTIALITY,)
    assert facts.systems == ("s3",)


@pytest.mark.parametrize("name", ["detected_at", "aware_at", "occurred_at"])
def test_a_moment_in_the_future_is_refused_naming_the_field(name: str) -> None:
    tomorrow = (NOW + timedelta(days=1)).isoformat()
    values = body(detected_at=tomorrow) if name == "detected_at" else body(**{name: tomorrow})
    with pytest.raises(ValidationFailed) as exc:
        check_incident(POLICY, values, NOW)
    assert name in fields(exc)


def test_a_moment_a_minute_ahead_is_clock_skew_not_the_future() -> None:
    assert check_incident(POLICY, body(detected_at=(NOW + timedelta(minutes=1)).isoformat()), NOW)


def test_a_moment_long_past_is_accepted() -> None:
    assert check_incident(POLICY, body(detected_at="2024-01-01T00:00:00+00:00"), NOW).detected_at.year == 2024


def test_every_bad_field_is_named_at_once() -> None:
    values = {
        "summary": " ",
        "detected_at": "yesterday",
        "aware_at": "2026-05-04T10:00:00",  # no offset
        "categories": [CATEGORY, "not_a_category"],
        "people_affected": -1,
        "records_affected": True,
        "natures": ["leak"],
        "systems": "s3",
        "cert_in_reportable": "yes",
    }
    with pytest.raises(ValidationFailed) as exc:
        check_incident(POLICY, values, NOW)
    assert fields(exc) == {
        "summary", "detected_at", "aware_at", "categories[1]", "people_affected", "records_affected", "natures[0]",
        "systems", "cert_in_reportable",
    }  # fmt: skip


def test_awareness_before_detection_and_occurrence_after_it_are_refused() -> None:
    with pytest.raises(ValidationFailed) as exc:
        check_incident(POLICY, body(aware_at="2026-05-04T08:00:00+05:30", occurred_at="2026-05-04T10:00:00+05:30"), NOW)
    assert fields(exc) == {"aware_at", "occurred_at"}


def test_required_fields_are_named() -> None:
    with pytest.raises(ValidationFailed) as exc:
        check_incident(POLICY, {}, NOW)
    assert fields(exc) == {"summary", "detected_at", "categories"}


def test_an_update_fills_only_known_free_text_fields() -> None:
    assert check_update({"measures_taken": " Rotated keys "}) == {"measures_taken": "Rotated keys"}
    with pytest.raises(ValidationFailed) as exc:
        check_update({"detected_at": "x", "cause": ""})
    assert fields(exc) == {"detected_at", "cause"}
    with pytest.raises(ValidationFailed):
        check_update({})
