"""Rights request deadlines (issue 13 item 3): counted on the policy's calendar with public holidays."""

from __future__ import annotations

import calendar as stdlib_calendar
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from fiduciary.config import DEMO_POLICY_PATH
from fiduciary.errors import ValidationFailed
from fiduciary.policy.calendar import WorkingCalendar, add_months, public_holiday_region
from fiduciary.policy.duration import Duration, DurationUnit
from fiduciary.policy.schema import BusinessCalendar, Deadline, Jurisdiction, PolicyDocument, PostalAddress
from fiduciary.rights.deadlines import deadlines_at_receipt, extend, extension_limit
from fiduciary.workflow.deadlines import DeadlineStatus, Due, due_after, due_soon_from, status, working_calendar

IST = ZoneInfo("Asia/Kolkata")
DEMO: dict[str, Any] = YAML(typ="safe").load(DEMO_POLICY_PATH.read_text(encoding="utf-8"))
RIGHT = {"identifiers": ["email"], "verification": ["email_otp"], "channels": ["privacy_center"]}
RIGHTS = [
    {
        "kind": "access",
        "deadline": {"respond_within": "1mo", "extendable_by": "2mo"},  # GDPR Art 12(3)
        "deadlines_by_jurisdiction": {
            # CCPA §1798.130(a)(2), 11 CCR §7021: 45 calendar days, once +45; confirm in 10 business days
            "US-CA": {"respond_within": "45d", "acknowledge_within": "10 business days", "extendable_by": "45d"}
        },
        **RIGHT,
    },
    {"kind": "correction", "deadline": {"respond_within": "15 business days", "acknowledge_within": "48h"}, **RIGHT},
    {"kind": "erasure", "deadline": {"respond_within": "30d"}, **RIGHT},
    {"kind": "opt_out_sale_sharing", "deadline": {"respond_within": "15 business days"},
     "jurisdictions": ["US-CA"], **RIGHT},
]  # fmt: skip


def document(*, holidays: list[dict[str, str]] | None = None, region: str | None = "Uttar Pradesh") -> PolicyDocument:
    data = {**DEMO, "rights": RIGHTS}
    data["calendar"] = {**DEMO["calendar"], "holidays": holidays or []}
    data["controller"] = {**DEMO["controller"], "address": {**DEMO["controller"]["address"], "region": region}}
    return PolicyDocument.model_validate(data)


POLICY = document()
WORKING = working_calendar(POLICY)


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0, tz: tzinfo = IST) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=tz)


def end_of(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=IST)


# -------------------------------------------------------------------------------------------- the edges


def test_one_month_from_31_january_ends_on_the_last_day_of_february_then_the_next_working_day() -> None:
    """ICO "Time limits for responding": no 31 February, so 28 February; a Saturday in 2026, so Monday 2 March."""
    dates = deadlines_at_receipt(POLICY, "access", None, at(2026, 1, 31))
    assert dates.respond_by == Due(date(2026, 3, 2), end_of(date(2026, 3, 2)))
    leap = deadlines_at_receipt(POLICY, "access", None, at(2028, 1, 31))
    assert leap.respond_by.day == date(2028, 2, 29)  # a Tuesday: not moved
    assert dates.acknowledge_by is None  # the policy sets none for this jurisdiction


def test_receipt_is_dated_in_the_policy_time_zone() -> None:
    """Friday 21:30 UTC is already Saturday 03:00 in Kolkata: 45 days run from the Saturday."""
    dates = deadlines_at_receipt(POLICY, "access", Jurisdiction.US_CA, at(2026, 12, 4, 21, 30, UTC))
    assert dates.received_at == at(2026, 12, 5, 3, 0)
    assert dates.respond_by.day == date(2027, 1, 19)  # 5 December + 45 (from the UTC date it would be 18 January)
    # Thursday 20:00 UTC is Friday in Kolkata: one business day later is Monday, not Friday
    assert due_after(at(2026, 12, 3, 20, 0, UTC), Duration.model_validate("1bd"), WORKING).day == date(2026, 12, 7)
    # a Friday evening in Kolkata (still Friday in UTC): the next business day is Monday
    assert due_after(at(2026, 12, 4, 22, 0), Duration.model_validate("1bd"), WORKING).day == date(2026, 12, 7)


def test_a_deadline_on_an_indian_public_holiday_moves_to_the_next_working_day() -> None:
    """Republic Day (26 January 2027, a Tuesday) comes from the `holidays` package: the policy lists none here."""
    dates = deadlines_at_receipt(POLICY, "access", Jurisdiction.EU, at(2026, 12, 26))
    assert dates.respond_by.day == date(2027, 1, 27)
    assert WORKING.is_public_holiday(date(2027, 1, 26))


def test_a_deadline_on_the_policy_own_holiday_moves_to_the_next_working_day() -> None:
    own = document(holidays=[{"date": "2027-03-15", "name": "Founders' Day"}])
    assert deadlines_at_receipt(own, "access", None, at(2027, 2, 15)).respond_by.day == date(2027, 3, 16)
    assert deadlines_at_receipt(POLICY, "access", None, at(2027, 2, 15)).respond_by.day == date(2027, 3, 15)


def test_45_calendar_days_are_not_moved_off_a_weekend() -> None:
    """CCPA §1798.130(a)(2): 45 calendar days; 18 November 2026 + 45 is Saturday 2 January 2027."""
    dates = deadlines_at_receipt(POLICY, "access", Jurisdiction.US_CA, at(2026, 11, 18))
    assert dates.respond_by.day == date(2027, 1, 2)
    # 11 CCR §7021(a): confirm receipt within 10 business days; Guru Nanak's Birthday (24 November) is a holiday
    assert dates.acknowledge_by is not None and dates.acknowledge_by.day == date(2026, 12, 3)
    assert dates.extension_limit is not None and dates.extension_limit.day == date(2027, 2, 16)  # 90 days


def test_15_business_days_skip_weekends_and_christmas() -> None:
    dates = deadlines_at_receipt(POLICY, "correction", None, at(2026, 12, 14))  # a Monday
    assert dates.respond_by.day == date(2027, 1, 5)  # 25 December (public holiday) and four weekends skipped
    assert dates.acknowledge_by is not None
    assert dates.acknowledge_by.ends_at == at(2026, 12, 16)  # 48h on the clock, not end of day


def test_the_extension_limit_of_one_plus_two_months_is_three_months_from_receipt() -> None:
    dates = deadlines_at_receipt(POLICY, "access", None, at(2026, 1, 31))
    assert dates.extension_limit is not None and dates.extension_limit.day == date(2026, 4, 30)  # not 28 April
    mixed = Deadline(respond_within=Duration.model_validate("30d"), extendable_by=Duration.model_validate("1mo"))
    limit = extension_limit(at(2026, 1, 1), mixed, WORKING)
    assert limit is not None and limit.day == date(2026, 3, 2)  # 31 January + 1 month: 28 February, a Saturday


def test_an_extension_exactly_at_the_limit_is_accepted_and_one_day_past_is_refused() -> None:
    dates = deadlines_at_receipt(POLICY, "access", None, at(2026, 1, 31))
    with pytest.raises(ValidationFailed) as refused:
        extend(dates, until=date(2026, 5, 1), reason="Many records across systems", at=at(2026, 2, 10))
    assert [p.field for p in refused.value.fields] == ["until"]
    assert "2026-04-30" in refused.value.fields[0].message
    extended = extend(dates, until=date(2026, 4, 30), reason="Many records across systems", at=at(2026, 2, 10))
    assert extended.due == Due(date(2026, 4, 30), end_of(date(2026, 4, 30)))
    assert extended.respond_by == dates.respond_by and dates.extension is None  # the original is unchanged
    assert extended.extension is not None and extended.extension.reason == "Many records across systems"


@pytest.mark.parametrize(
    ("kind", "until", "reason", "when", "field", "words"),
    [
        ("access", date(2026, 4, 1), " ", at(2026, 2, 10), "reason", "reason"),
        ("access", date(2026, 4, 1), "x" * 2001, at(2026, 2, 10), "reason", "2000"),
        ("access", date(2026, 3, 2), "complex", at(2026, 2, 10), "until", "after the current deadline"),
        ("access", date(2026, 4, 1), "complex", at(2026, 3, 3), "until", "has passed"),
        ("erasure", date(2026, 4, 1), "complex", at(2026, 2, 10), "until", "no extension"),
    ],
)
def test_bad_extensions_are_refused_naming_the_field(
    kind: str, until: date, reason: str, when: datetime, field: str, words: str
) -> None:
    dates = deadlines_at_receipt(POLICY, kind, None, at(2026, 1, 31))
    with pytest.raises(ValidationFailed) as refused:
        extend(dates, until=until, reason=reason, at=when)
    assert [p.field for p in refused.value.fields] == [field]
    assert words in refused.value.fields[0].message


def test_a_request_is_extended_once() -> None:
    dates = deadlines_at_receipt(POLICY, "access", None, at(2026, 1, 31))
    once = extend(dates, until=date(2026, 3, 31), reason="complex", at=at(2026, 2, 10))
    with pytest.raises(ValidationFailed) as refused:
        extend(once, until=date(2026, 4, 30), reason="still complex", at=at(2026, 2, 20))
    assert "once" in refused.value.fields[0].message


def test_status_changes_at_the_exact_instants() -> None:
    dates = deadlines_at_receipt(POLICY, "erasure", None, at(2026, 12, 1))  # due Thursday 31 December 2026
    due = dates.due
    assert due.ends_at == at(2027, 1, 1, 0, 0)
    soon = due_soon_from(due, WORKING)
    assert soon == at(2026, 12, 29, 0, 0)  # the last 3 business days: 29, 30 and 31 December
    assert dates.status(soon - timedelta(microseconds=1)) is DeadlineStatus.ON_TRACK
    assert dates.status(soon) is DeadlineStatus.DUE_SOON
    assert dates.status(due.ends_at - timedelta(microseconds=1)) is DeadlineStatus.DUE_SOON
    assert dates.status(due.ends_at) is DeadlineStatus.OVERDUE
    assert dates.status(due.ends_at.astimezone(UTC)) is DeadlineStatus.OVERDUE  # the same instant in UTC
    window = Duration.model_validate("1d")
    assert status(due, at(2026, 12, 30, 23, 59), WORKING, due_soon=window) is DeadlineStatus.ON_TRACK
    assert status(due, at(2026, 12, 31, 0, 0), WORKING, due_soon=window) is DeadlineStatus.DUE_SOON


def test_an_extended_request_is_on_track_again() -> None:
    dates = deadlines_at_receipt(POLICY, "access", None, at(2026, 1, 31))
    now = at(2026, 3, 1)
    assert dates.status(now) is DeadlineStatus.DUE_SOON
    assert extend(dates, until=date(2026, 4, 30), reason="complex", at=now).status(now) is DeadlineStatus.ON_TRACK


@pytest.mark.parametrize(
    ("kind", "jurisdiction"),
    [
        ("access_everything", None),
        ("portability", None),
        ("opt_out_sale_sharing", None),
        ("opt_out_sale_sharing", "IN"),
    ],
)
def test_a_kind_not_offered_is_refused_naming_kind_and_the_offered_kinds(kind: str, jurisdiction: str | None) -> None:
    with pytest.raises(ValidationFailed) as refused:
        deadlines_at_receipt(POLICY, kind, Jurisdiction(jurisdiction) if jurisdiction else None, at(2026, 1, 1))
    assert [p.field for p in refused.value.fields] == ["kind"]
    assert "access, correction, erasure" in refused.value.fields[0].message


def test_a_kind_offered_to_a_jurisdiction_uses_its_entry() -> None:
    dates = deadlines_at_receipt(POLICY, "opt_out_sale_sharing", Jurisdiction.US_CA, at(2026, 12, 14))
    assert dates.respond_by.day == date(2027, 1, 5)


def test_a_naive_receipt_time_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationFailed) as refused:
        deadlines_at_receipt(POLICY, "access", None, datetime(2026, 1, 1, 10, 0))
    assert [p.field for p in refused.value.fields] == ["received_at"]


def test_public_holidays_come_from_the_controller_address() -> None:
    def address(country: str, region: str | None) -> PostalAddress:
        return PostalAddress(country=country, region=region)

    assert public_holiday_region(address("IN", "Uttar Pradesh")) == ("IN", "UP")
    assert public_holiday_region(address("IN", "up")) == ("IN", "UP")
    assert public_holiday_region(address("IN", None)) == ("IN", None)
    assert public_holiday_region(address("IN", "Atlantis")) == ("IN", None)  # unknown: national holidays only
    assert public_holiday_region(address("US", "California")) == ("US", "CA")
    assert (WORKING.country, WORKING.subdivision) == ("IN", "UP")
    national = working_calendar(document(region=None))
    assert (national.country, national.subdivision) == ("IN", None)
    assert national.is_public_holiday(date(2027, 1, 26))
    # Raksha Bandhan (17 August 2027) is an Uttar Pradesh holiday, not a national one
    assert WORKING.is_public_holiday(date(2027, 8, 17)) and not national.is_public_holiday(date(2027, 8, 17))


def test_a_calendar_without_a_working_day_is_refused() -> None:
    closed = WorkingCalendar.of(
        BusinessCalendar(weekend=["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"])
    )
    with pytest.raises(ValueError, match="no working day"):
        closed.add_working_days(date(2026, 1, 1), 1)


# ----------------------------------------------------------------------------------------------- properties

# The `holidays` package has Indian holidays to 2035: receipts up to 2033 keep every extension inside its range.
DAYS = st.dates(min_value=date(2020, 1, 1), max_value=date(2033, 12, 31))
RECEIVED = st.builds(
    lambda d, minute: datetime.combine(d, time(0), tzinfo=UTC) + timedelta(minutes=minute),
    DAYS,
    st.integers(0, 24 * 60 - 1),
)
WEEKENDS = st.lists(
    st.sampled_from(["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]),
    max_size=3,
    unique=True,
)
OWN_HOLIDAYS = st.lists(st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31)), max_size=40)


def calendar_of(weekend: list[str], own: list[date], timezone: str = "Asia/Kolkata") -> WorkingCalendar:
    business = BusinessCalendar.model_validate(
        {"timezone": timezone, "weekend": weekend, "holidays": [{"date": d, "name": "Closed"} for d in own]}
    )
    return WorkingCalendar.of(business, country="IN")


@settings(max_examples=150, deadline=None)
@given(RECEIVED, st.integers(1, 60), WEEKENDS, OWN_HOLIDAYS)
def test_counted_in_business_days_a_due_date_is_a_working_day(
    received: datetime, n: int, weekend: list[str], own: list[date]
) -> None:
    working = calendar_of(weekend, own)
    due = due_after(received, Duration(amount=n, unit=DurationUnit.BUSINESS_DAYS), working)
    assert working.is_working_day(due.day)
    assert due.day.weekday() not in working.weekend and due.day not in own
    local = received.astimezone(working.zone).date()
    working_days = [d for d in (local + timedelta(days=i) for i in range(1, (due.day - local).days + 1))]
    assert sum(working.is_working_day(d) for d in working_days) == n  # exactly n, the last on the due day


# up to 2 years, so that receipt + period + extension stays inside the package's range
DURATIONS = st.sampled_from(list(DurationUnit)).flatmap(
    lambda unit: st.builds(Duration, amount=st.integers(1, 1 if unit is DurationUnit.YEARS else 12), unit=st.just(unit))
)
ZONES = st.sampled_from(["Asia/Kolkata", "Europe/Berlin", "America/Los_Angeles", "UTC"])


@settings(max_examples=200, deadline=None)
@given(RECEIVED, DURATIONS, ZONES)
def test_a_due_date_is_never_before_receipt(received: datetime, duration: Duration, zone: str) -> None:
    working = calendar_of(["saturday", "sunday"], [], zone)
    due = due_after(received, duration, working)
    assert due.ends_at > received
    assert due.day >= received.astimezone(working.zone).date()


@settings(max_examples=150, deadline=None)
@given(RECEIVED, DURATIONS, DURATIONS, st.integers(-10, 200), st.integers(0, 120))
def test_an_extension_never_exceeds_the_policy(
    received: datetime, respond: Duration, more: Duration, days_after: int, decided_after_minutes: int
) -> None:
    working = calendar_of(["saturday", "sunday"], [], "Asia/Kolkata")
    deadline = Deadline(respond_within=respond, extendable_by=more)
    limit = extension_limit(received, deadline, working)
    first = due_after(received, respond, working)
    assert limit is not None and limit.day >= first.day
    dates = deadlines_at_receipt(document_with(deadline), "access", None, received, working=working)
    until = first.day + timedelta(days=days_after)
    try:
        extended = extend(dates, until=until, reason="complex", at=received + timedelta(minutes=decided_after_minutes))
    except ValidationFailed as refused:
        assert [p.field for p in refused.fields] == ["until"]
        event("refused")
        return
    event("accepted")
    assert first.day < extended.due.day <= limit.day


def document_with(deadline: Deadline) -> PolicyDocument:
    rights = [{"kind": "access", "deadline": deadline.model_dump(exclude_none=True), **RIGHT}]
    return PolicyDocument.model_validate({**DEMO, "rights": rights})


@settings(max_examples=200, deadline=None)
@given(DAYS, st.integers(1, 36), WEEKENDS, OWN_HOLIDAYS)
def test_months_end_on_the_same_date_or_the_month_last_day_moved_only_to_a_working_day(
    received: date, months: int, weekend: list[str], own: list[date]
) -> None:
    working = calendar_of(weekend, own)
    due = due_after(
        datetime.combine(received, time(12), tzinfo=working.zone), Duration(amount=months, unit="months"), working
    )
    base = add_months(received, months)
    last = stdlib_calendar.monthrange(base.year, base.month)[1]
    assert base.day == min(received.day, last)  # the same date, or the month's last day
    assert due.day >= base and working.is_working_day(due.day)
    assert all(not working.is_working_day(base + timedelta(days=i)) for i in range((due.day - base).days))
