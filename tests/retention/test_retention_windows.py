"""The sweep's windows (issue 15 item 1): run window by window over a mixed population, it removes exactly what
the dry run, which reads the whole table in one statement, says is due, under the same rule, with every
conflict decided the same way (keeping wins, the longest period decides, holds beat every rule)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from fiduciary.config import Settings
from fiduciary.consent.models import ConsentState
from fiduciary.retention.holds import place_hold
from fiduciary.retention.planner import plan
from fiduciary.retention.sweep import run_sweep
from fiduciary.vault.records import PersonalField
from fiduciary.vault.retention_events import RetentionEventRow
from sweep_support import NOW, categories_of, person_with
from vault_support import vault_runtime

HOLD_UNTIL = date(2027, 6, 30)
BOTH = {"identity.name", "contact.email"}


def _consent(session: Session, person: str, status: str, at: datetime) -> None:
    session.add(
        ConsentState(
            subject_id=person, purpose="marketing.email", status=status, policy_version=1,
            notice_hash="sha256:" + "0" * 64, channel="web", language="en", updated_at=at, ledger_position=1,
        )
    )  # fmt: skip


def _order(session: Session, person: str, days_ago: int) -> None:
    session.add(
        RetentionEventRow(person_id=person, event="order_completed", occurred_at=NOW - timedelta(days=days_ago))
    )


def test_windowed_run_removes_exactly_what_the_plan_counts(settings: Settings) -> None:
    with vault_runtime(settings) as (runtime, vault), runtime.sessions() as session:

        def closed(days: int = 40) -> str:
            return person_with(session, runtime, vault, closed_days_ago=days)

        plain = [closed() for _ in range(4)]
        kept = {
            "recent": (closed(5), BOTH),  # 30 days after closing not yet run
            "open": (person_with(session, runtime, vault), BOTH),  # an open account keeps
            "held": (closed(), BOTH),  # a hold on the person beats every rule
            "email_held": (closed(), {"contact.email"}),  # a hold on one category keeps only it
            "ordered": (closed(), {"identity.name"}),  # transaction_records keeps the name 8 years
            "subscribed": (closed(), BOTH),  # a consent still given keeps marketing_contacts' categories
            "withdrew_lately": (closed(), BOTH),  # withdrawn 2 days ago: marketing's 7 days not run
        }
        withdrew_long_ago = closed()  # withdrawn 30 days ago: every rule due, all goes
        old_order = closed()  # ordered 9 years ago: transaction_records due too, all goes
        _order(session, kept["ordered"][0], 10)
        _order(session, old_order, 9 * 366)
        _consent(session, kept["subscribed"][0], "granted", NOW - timedelta(days=100))
        _consent(session, kept["withdrew_lately"][0], "withdrawn", NOW - timedelta(days=2))
        _consent(session, withdrew_long_ago, "withdrawn", NOW - timedelta(days=30))
        place_hold(runtime, session, actor="staff_1", person_id=kept["held"][0], reason="dispute", until=HOLD_UNTIL)
        place_hold(
            runtime,
            session,
            actor="staff_1",
            person_id=kept["email_held"][0],
            category="contact.email",
            reason="dispute",
            until=HOLD_UNTIL,
        )
        session.commit()
        before = session.scalar(sa.select(sa.func.count()).select_from(PersonalField))
        planned = {r.rule: (r.fields, r.people) for r in plan(session, runtime.policy(), now=NOW).rules if r.fields}
        session.rollback()

        report = run_sweep(runtime, actor="cli", batch_size=3, now=NOW)  # 13 people: 5 windows
        session.expire_all()
        after = session.scalar(sa.select(sa.func.count()).select_from(PersonalField))
        ran = {rule: (entry["fields"], entry["people"]) for rule, entry in report.per_rule().items()}
        assert len({b["seq"] for b in report.batches}) >= 3  # 8 people with something due, at most 3 a window
        assert ran == planned
        assert before - after == sum(fields for fields, _ in planned.values())
        for person, categories in kept.values():
            assert categories_of(session, person) == categories
        for person in [*plain, withdrew_long_ago, old_order]:
            assert categories_of(session, person) == set()
        # the name of the person with an old order goes under the rule that keeps it longest
        assert planned["transaction_records"] == (1, 1)
