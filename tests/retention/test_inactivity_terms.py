"""The terms of inactivity erasure read from the policy (docs/inactivity.md): no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from fiduciary.policy.compiled import CompiledPolicy
from fiduciary.policy.duration import Duration
from fiduciary.policy.loader import load_policy_text
from fiduciary.policy.problems import PolicyInvalid
from fiduciary.policy.retention_due import add_duration
from fiduciary.retention.inactivity_terms import MINIMUM_NOTICE, inactivity_terms
from inactivity_support import inactivity_policy_text

IST = ZoneInfo("Asia/Kolkata")


def compiled(text: str) -> CompiledPolicy:
    return CompiledPolicy.build(load_policy_text(text).document, "0" * 64)


def test_the_rule_gives_period_notice_and_reminder() -> None:
    terms = inactivity_terms(compiled(inactivity_policy_text("3y", "72h", "30d")))
    assert terms is not None
    assert (terms.rule, str(terms.period), str(terms.notice), str(terms.reminder)) == (
        "inactive_accounts", "3y", "72h", "30d"
    )  # fmt: skip


def test_the_notice_is_never_under_48_hours() -> None:
    """A rule without notice loads (with a warning) and gets 48 hours; one with less does not load at all."""
    terms = inactivity_terms(compiled(inactivity_policy_text("3y", None, None)))
    assert terms is not None and terms.notice == MINIMUM_NOTICE == Duration.model_validate("48h")
    with pytest.raises(PolicyInvalid):
        load_policy_text(inactivity_policy_text("3y", "47h", None))


def test_no_inactivity_rule_no_terms() -> None:
    text = inactivity_policy_text(reminder=None).replace("trigger: last_activity", "trigger: collected")
    assert inactivity_terms(compiled(text)) is None


def test_the_notice_is_due_exactly_48_hours_before() -> None:
    terms = inactivity_terms(compiled(inactivity_policy_text("3y", "48h", "30d")))
    assert terms is not None
    due = terms.due_at(datetime(2023, 1, 10, 10, 0, tzinfo=IST))
    assert due == datetime(2026, 1, 10, 10, 0, tzinfo=IST)
    assert due > terms.limits(due - timedelta(hours=48, microseconds=1)).notify_by
    assert due == terms.limits(due - timedelta(hours=48)).notify_by
    reminder = terms.limits(due - timedelta(days=30)).remind_by
    assert reminder is not None and due <= reminder
    assert terms.limits(due).told_by == due - timedelta(hours=48)
    told = due - timedelta(days=5)
    assert terms.erase_at(due, told) == due
    assert terms.erase_at(due, due - timedelta(hours=1)) == due + timedelta(hours=47)


def test_the_scan_bound_leaves_out_no_one_due() -> None:
    """Every contact the bound excludes is not due for anything yet, across leap years and month ends."""
    terms = inactivity_terms(compiled(inactivity_policy_text("3y", "48h", "30d")))
    assert terms is not None
    for now in (datetime(2027, 2, 28, 2, 0, tzinfo=IST), datetime(2026, 3, 31, 23, 59, tzinfo=IST)):
        bound = terms.latest_candidate_contact(now)
        just_after = bound + timedelta(seconds=1)
        limits = terms.limits(now)
        assert limits.remind_by is not None and terms.due_at(just_after) > limits.remind_by


@pytest.mark.parametrize("period", ["3y", "18mo", "45d", "10bd", "36h"])
def test_the_cached_due_date_is_add_duration(period: str) -> None:
    """`due_at` caches the end's date per start date; it must agree with `add_duration` to the microsecond,
    across month ends, leap days and both sides of midnight in Kolkata."""
    terms = inactivity_terms(compiled(inactivity_policy_text(period, "48h", None)))
    assert terms is not None
    start = datetime(2023, 12, 27, 0, 0, tzinfo=UTC)
    for step in range(0, 90 * 24 * 60, 97):  # about every 1.6 hours over 90 days, through 29 February 2024
        at = start + timedelta(minutes=step, microseconds=step)
        assert terms.due_at(at) == add_duration(at.astimezone(IST), terms.period, terms.calendar), at


COMMENCEMENT_DUE = datetime(2030, 5, 13, 0, 0, tzinfo=IST)  # 3 years from midnight, 13 May 2027, in Kolkata
SECOND = timedelta(seconds=1)


def test_a_contact_before_counts_from_counts_from_its_midnight_in_the_policy_zone() -> None:
    """DPDP Rule 8(1), Third Schedule: 3 years from the last contact or the Rules' commencement, whichever is
    later; the commencement date is a local date, midnight in the policy's time zone (Asia/Kolkata)."""
    terms = inactivity_terms(compiled(inactivity_policy_text("3y", "48h", None, counts_from="2027-05-13")))
    assert terms is not None and terms.counts_from is not None and terms.counts_from.isoformat() == "2027-05-13"
    assert terms.due_at(datetime(2023, 1, 10, 10, 0, tzinfo=IST)) == COMMENCEMENT_DUE
    assert terms.due_at(datetime(2027, 5, 12, 23, 59, 59, 999999, tzinfo=IST)) == COMMENCEMENT_DUE
    assert terms.due_at(datetime(2027, 5, 13, 0, 0, tzinfo=IST)) == COMMENCEMENT_DUE
    assert terms.due_at(datetime(2027, 5, 13, 0, 0, 1, tzinfo=IST)) == COMMENCEMENT_DUE + SECOND
    # 18:30 UTC on 12 May is midnight of the 13th in Kolkata: the zone decides which side a contact falls on
    assert terms.due_at(datetime(2027, 5, 12, 18, 29, 59, tzinfo=UTC)) == COMMENCEMENT_DUE
    assert terms.due_at(datetime(2027, 5, 12, 18, 30, 1, tzinfo=UTC)) == COMMENCEMENT_DUE + SECOND
    assert terms.due_at(datetime(2028, 2, 29, 9, 0, tzinfo=IST)) == datetime(2031, 2, 28, 9, 0, tzinfo=IST)


def test_without_counts_from_an_old_contact_keeps_its_own_date() -> None:
    terms = inactivity_terms(compiled(inactivity_policy_text("3y", "48h", None)))
    assert terms is not None and terms.counts_from is None
    assert terms.due_at(datetime(2023, 1, 10, 10, 0, tzinfo=IST)) == datetime(2026, 1, 10, 10, 0, tzinfo=IST)


def test_the_scan_bound_still_leaves_out_no_one_due_with_counts_from() -> None:
    terms = inactivity_terms(compiled(inactivity_policy_text("3y", "48h", "30d", counts_from="2027-05-13")))
    assert terms is not None
    for now in (COMMENCEMENT_DUE - timedelta(days=30), COMMENCEMENT_DUE + timedelta(days=400)):
        just_after = terms.latest_candidate_contact(now) + SECOND
        limits = terms.limits(now)
        assert limits.remind_by is not None and terms.due_at(just_after) > limits.remind_by
