"""When data falls due under each retention rule (issue 12): durations counted in the policy's time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from ruamel.yaml import YAML

from fiduciary.config import DEMO_POLICY_PATH
from fiduciary.policy.compiled import CompiledPolicy
from fiduciary.policy.duration import Duration
from fiduciary.policy.retention_due import DueStatus, add_duration, due_dates, rule_due
from fiduciary.policy.schema import BusinessCalendar, PolicyDocument, RetentionRule

IST = ZoneInfo("Asia/Kolkata")
KOLKATA = BusinessCalendar()


def d(text: str) -> Duration:
    return Duration.model_validate(text)


@pytest.mark.parametrize(
    ("start", "duration", "expected"),
    [
        # calendar months end on the same date, or the month's last day (Reg 1182/71 Art 3(2)(c))
        (datetime(2026, 1, 31, 10, 0, tzinfo=IST), "1mo", datetime(2026, 2, 28, 10, 0, tzinfo=IST)),
        (datetime(2026, 3, 31, 10, 0, tzinfo=IST), "1mo", datetime(2026, 4, 30, 10, 0, tzinfo=IST)),
        (datetime(2024, 2, 29, 9, 0, tzinfo=IST), "1y", datetime(2025, 2, 28, 9, 0, tzinfo=IST)),
        (datetime(2026, 11, 15, 9, 0, tzinfo=IST), "P2Y", datetime(2028, 11, 15, 9, 0, tzinfo=IST)),
        (datetime(2026, 11, 15, 9, 0, tzinfo=IST), "13mo", datetime(2027, 12, 15, 9, 0, tzinfo=IST)),
        (datetime(2026, 12, 31, 23, 50, tzinfo=IST), "30min", datetime(2027, 1, 1, 0, 20, tzinfo=IST)),
        (datetime(2026, 12, 31, 23, 50, tzinfo=IST), "PT2H", datetime(2027, 1, 1, 1, 50, tzinfo=IST)),
        (datetime(2026, 12, 1, 9, 0, tzinfo=IST), "2w", datetime(2026, 12, 15, 9, 0, tzinfo=IST)),
        # Friday + 1 business day is Monday
        (datetime(2026, 12, 4, 9, 0, tzinfo=IST), "1 business day", datetime(2026, 12, 7, 9, 0, tzinfo=IST)),
    ],
)
def test_add_duration(start: datetime, duration: str, expected: datetime) -> None:
    assert add_duration(start, d(duration), KOLKATA) == expected


def test_the_start_is_dated_in_the_policy_time_zone() -> None:
    """20:00 UTC on 1 March is already 2 March in India: one day later is 3 March there."""
    due = add_duration(datetime(2026, 3, 1, 20, 0, tzinfo=UTC), d("1d"), KOLKATA)
    assert due == datetime(2026, 3, 3, 1, 30, tzinfo=IST)
    assert due.date().isoformat() == "2026-03-03"


def test_days_keep_the_wall_time_across_a_dst_change_and_hours_do_not() -> None:
    berlin = BusinessCalendar(timezone="Europe/Berlin")
    start = datetime(2026, 3, 28, 12, 0, tzinfo=ZoneInfo("Europe/Berlin"))  # clocks go forward on 29 March
    assert add_duration(start, d("1d"), berlin).hour == 12
    assert add_duration(start, d("24h"), berlin).hour == 13


def test_business_days_skip_the_weekend_and_holidays() -> None:
    calendar = BusinessCalendar(holidays=[{"date": "2026-12-07", "name": "A holiday"}])  # type: ignore[list-item]
    start = datetime(2026, 12, 4, 9, 0, tzinfo=IST)  # a Friday
    assert add_duration(start, d("1 business day"), calendar) == datetime(2026, 12, 8, 9, 0, tzinfo=IST)


def test_a_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        add_duration(datetime(2026, 1, 1), d("1d"), KOLKATA)


def rule(**fields: Any) -> RetentionRule:
    return RetentionRule.model_validate({"id": "r", "categories": ["c"], "action": "delete", **fields})


WHEN = datetime(2026, 6, 1, 4, 30, tzinfo=UTC)  # 10:00 in India


def test_an_event_rule_waits_for_its_event_then_counts_from_it() -> None:
    r = rule(trigger={"event": "warranty_ended"}, keep_for="1y")
    assert rule_due(r, {}, KOLKATA).status is DueStatus.WAITING
    assert rule_due(r, {"event:other": WHEN}, KOLKATA).due_at is None
    due = rule_due(r, {"event:warranty_ended": WHEN}, KOLKATA)
    assert (due.status, due.trigger) == (DueStatus.DUE, "event:warranty_ended")
    assert due.due_at == datetime(2027, 6, 1, 10, 0, tzinfo=IST)
    assert due.started_at == datetime(2026, 6, 1, 10, 0, tzinfo=IST)
    assert not due.is_due(datetime(2027, 6, 1, 4, 29, tzinfo=UTC))
    assert due.is_due(datetime(2027, 6, 1, 4, 30, tzinfo=UTC))


def test_without_keep_for_data_falls_due_at_the_trigger() -> None:
    due = rule_due(rule(trigger={"event": "dispute_closed"}), {"event:dispute_closed": WHEN}, KOLKATA)
    assert due.due_at == WHEN


def test_until_erasure_waits_for_the_request_and_law_requires_is_set_by_the_law() -> None:
    until = rule(trigger="erasure_requested")
    assert rule_due(until, {"event:x": WHEN}, KOLKATA).status is DueStatus.WAITING
    assert rule_due(until, {"erasure_requested": WHEN}, KOLKATA).due_at == WHEN
    law = rule(trigger="law_requires", law="Companies Act 2013 s.128(5)")
    due = rule_due(law, {"law_requires": WHEN}, KOLKATA)
    assert (due.status, due.law, due.due_at) == (DueStatus.SET_BY_LAW, "Companies Act 2013 s.128(5)", None)


def test_a_legal_hold_longer_than_the_period_decides() -> None:
    r = rule(trigger="account_closed", keep_for="30d", legal_hold={"minimum": "1y", "basis": "DPDP Rule 8(3)"})
    assert rule_due(r, {"account_closed": WHEN}, KOLKATA).due_at == datetime(2027, 6, 1, 10, 0, tzinfo=IST)
    shorter = rule(trigger="account_closed", keep_for="2y", legal_hold={"minimum": "1y", "basis": "DPDP Rule 8(3)"})
    assert rule_due(shorter, {"account_closed": WHEN}, KOLKATA).due_at == datetime(2028, 6, 1, 10, 0, tzinfo=IST)


def test_due_dates_lists_the_rules_covering_a_category_for_a_purpose() -> None:
    data = YAML(typ="safe").load(DEMO_POLICY_PATH.read_text(encoding="utf-8"))
    policy = CompiledPolicy.build(PolicyDocument.model_validate(data), "sha256:" + "0" * 64)
    starts = {"account_closed": WHEN, "order_completed": WHEN}
    everything = due_dates(policy, "identity.name", starts)
    assert [r.rule for r in everything] == ["account_data", "transaction_records", "marketing_contacts"]
    assert [r.status for r in everything] == [DueStatus.DUE, DueStatus.DUE, DueStatus.WAITING]
    for_tax = due_dates(policy, "identity.name", starts, purpose="tax_compliance")
    assert [r.rule for r in for_tax] == ["transaction_records"]
    assert for_tax[0].due_at == datetime(2034, 6, 1, 10, 0, tzinfo=IST)  # 8 years after the order
    assert due_dates(policy, "no.such.category", starts) == []
