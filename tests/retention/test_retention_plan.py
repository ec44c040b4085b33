"""The planner (issue 15 item 1): what each rule says is due, with conflicts and holds, and a dry run that
changes nothing at all."""

from __future__ import annotations

from pathlib import Path

from fiduciary.config import Settings
from fiduciary.retention.planner import plan
from sweep_support import NOW, age_fields, database_hash, person_with
from vault_support import vault_runtime


def _rule(result, rule_id):  # type: ignore[no-untyped-def]
    return next(r for r in result.rules if r.rule == rule_id)


def test_account_closed_rule_counts_only_accounts_closed_long_enough(settings: Settings, tmp_path: Path) -> None:
    with vault_runtime(settings) as (runtime, vault), runtime.sessions() as session:
        due = person_with(session, runtime, vault, closed_days_ago=31)
        person_with(session, runtime, vault, closed_days_ago=29)  # 30 days not yet run
        person_with(session, runtime, vault)  # open account: kept
        age_fields(session, due, 400)
        result = plan(session, runtime.policy(), now=NOW)
    account = _rule(result, "account_data")
    assert (account.fields, account.people) == (2, 1)
    assert account.earliest_due is not None and account.earliest_due.startswith("2026-11-30")
    assert _rule(result, "support_history").status == "swept"


def test_the_dry_run_changes_nothing_at_all(settings: Settings) -> None:
    with vault_runtime(settings) as (runtime, vault), runtime.sessions() as session:
        for days in (10, 31, 90):
            person_with(session, runtime, vault, closed_days_ago=days)
        before = database_hash(session)
        session.rollback()
        result = plan(session, runtime.policy(), now=NOW)
        session.rollback()
        after = database_hash(session)
    assert _rule(result, "account_data").people == 2
    assert before == after


def test_keeping_wins_where_rules_overlap(settings: Settings) -> None:
    """A recent order keeps the name 8 years (transaction_records) though the closed account's rule is due;
    a marketing consent still given keeps the name and email (marketing_contacts covers both)."""
    from datetime import timedelta

    import sqlalchemy as sa

    from fiduciary.consent.models import ConsentState
    from fiduciary.retention.sweep import run_sweep
    from fiduciary.vault.retention_events import RetentionEventRow
    from sweep_support import categories_of

    with vault_runtime(settings) as (runtime, vault), runtime.sessions() as session:
        ordered = person_with(session, runtime, vault, closed_days_ago=40)
        session.add(RetentionEventRow(person_id=ordered, event="order_completed", occurred_at=NOW - timedelta(days=10)))
        subscribed = person_with(session, runtime, vault, closed_days_ago=40)
        session.add(
            ConsentState(
                subject_id=subscribed, purpose="marketing.email", status="granted", policy_version=1,
                notice_hash="sha256:" + "0" * 64, channel="web", language="en", updated_at=NOW, ledger_position=1,
            )
        )  # fmt: skip
        session.commit()
        result = plan(session, runtime.policy(), now=NOW)
        assert (
            _rule(result, "account_data").fields == 1
        )  # ordered's email; marketing_contacts keeps both of subscribed's
        run_sweep(runtime, actor="cli", now=NOW)
        session.expire_all()
        assert categories_of(session, ordered) == {"identity.name"}
        assert categories_of(session, subscribed) == {"identity.name", "contact.email"}
        assert session.scalar(sa.select(sa.func.count()).select_from(ConsentState)) == 1
