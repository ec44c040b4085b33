"""CompiledPolicy.today: the date in the policy's own time zone, the one "today" for age rules (DPDP s.2(f))."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from fiduciary.config import DEMO_POLICY_PATH
from fiduciary.policy.compiled import CompiledPolicy
from fiduciary.policy.loader import load_policy
from fiduciary.policy.schema import BusinessCalendar

EVENING_UTC = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)  # 01:30 on 2 March in India


def compiled(timezone_name: str | None = None) -> CompiledPolicy:
    document = load_policy(DEMO_POLICY_PATH).document
    if timezone_name is not None:
        document = document.model_copy(update={"calendar": BusinessCalendar(timezone=timezone_name)})
    return CompiledPolicy.build(document, "sha256:test", 1)


def test_demo_policy_counts_days_in_india() -> None:
    policy = compiled()
    assert policy.document.calendar.timezone == "Asia/Kolkata"
    assert EVENING_UTC.date() == date(2026, 3, 1)
    assert policy.today(EVENING_UTC) == date(2026, 3, 2)


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        (datetime(2026, 3, 1, 18, 29, 59, tzinfo=UTC), date(2026, 3, 1)),  # 23:59:59 IST
        (datetime(2026, 3, 1, 18, 30, tzinfo=UTC), date(2026, 3, 2)),  # midnight IST (UTC+05:30)
        (datetime(2026, 3, 1, 23, 59, 59, tzinfo=UTC), date(2026, 3, 2)),
        (datetime(2026, 3, 2, 0, 0, tzinfo=UTC), date(2026, 3, 2)),
        (datetime(2026, 12, 31, 18, 30, tzinfo=UTC), date(2027, 1, 1)),  # a new year in India first
    ],
)
def test_midnight_in_kolkata(instant: datetime, expected: date) -> None:
    assert compiled("Asia/Kolkata").today(instant) == expected


def test_the_declared_zone_is_the_one_used() -> None:
    assert compiled("UTC").today(EVENING_UTC) == date(2026, 3, 1)
    assert compiled("America/Los_Angeles").today(datetime(2026, 3, 2, 5, 0, tzinfo=UTC)) == date(2026, 3, 1)
    assert compiled("Pacific/Kiritimati").today(datetime(2026, 3, 1, 10, 0, tzinfo=UTC)) == date(2026, 3, 2)


def test_any_aware_offset_is_the_same_instant() -> None:
    policy = compiled("Asia/Kolkata")
    same_instant = EVENING_UTC.astimezone(timezone(timedelta(hours=-8)))  # 12:00 on 1 March in UTC-8
    assert same_instant.date() == date(2026, 3, 1)
    assert policy.today(same_instant) == date(2026, 3, 2)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        compiled().today(datetime(2026, 3, 1, 20, 0))


def test_default_is_now_in_the_policy_zone() -> None:
    policy = compiled("Asia/Kolkata")
    before = datetime.now(ZoneInfo("Asia/Kolkata")).date()
    today = policy.today()
    after = datetime.now(ZoneInfo("Asia/Kolkata")).date()
    assert today in (before, after)
