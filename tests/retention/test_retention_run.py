"""The sweep (issue 15 item 1): exactly what is due goes, once, in audited batches; holds win; anonymised
counts are k-anonymous; approval-gated rules run only from an approved plan."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from fiduciary.audit.models import AuditEventIndex
from fiduciary.config import Settings
from fiduciary.errors import Conflict
from fiduciary.retention.anonymise import kept_groups
from fiduciary.retention.holds import place_hold
from fiduciary.retention.models import RetentionBatch
from fiduciary.retention.sweep import approve_plan, run_sweep, save_plan
from fiduciary.vault.records import PersonalField
from fiduciary.vault.retention_events import RetentionEventRow
from sweep_support import NOW, categories_of, person_with
from vault_support import vault_runtime

HOLD_UNTIL = date(2027, 6, 30)


def test_due_data_goes_once_in_audited_batches_and_a_hold_keeps_its_person(settings: Settings) -> None:
    with vault_runtime(settings) as (runtime, vault), runtime.sessions() as session:
        due = [person_with(session, runtime, vault, closed_days_ago=40) for _ in range(5)]
        recent = person_with(session, runtime, vault, closed_days_ago=5)
        held = person_with(session, runtime, vault, closed_days_ago=40)
        place_hold(runtime, session, actor="staff_1", person_id=held, reason="dispute", until=HOLD_UNTIL)
        session.commit()
        report = run_sweep(runtime, actor="cli", batch_size=3, now=NOW)
        session.expire_all()
        assert all(categories_of(session, p) == set() for p in due)
        assert categories_of(session, recent) == {"identity.name", "contact.email"}
        assert categories_of(session, held) == {"identity.name", "contact.email"}
        account = report.per_rule()["account_data"]
        assert (account["people"], account["fields"]) == (5, 10)
        positions = [b["ledger_position"] for b in account["batches"]]
        events = session.scalars(sa.select(AuditEventIndex).where(AuditEventIndex.action == "retention.sweep")).all()
        assert sorted(e.ledger_position for e in events) == sorted(set(positions))
        assert len(positions) == len(set(positions))  # one event per batch
        again = run_sweep(runtime, actor="cli", batch_size=3, now=NOW)
    assert again.per_rule() == {} and not again.resumed


def test_a_hold_placed_during_a_run_is_respected_by_its_later_batches(settings: Settings) -> None:
    with vault_runtime(settings) as (runtime, vault), runtime.sessions() as session:
        people = [person_with(session, runtime, vault, closed_days_ago=40) for _ in range(4)]
        first = run_sweep(runtime, actor="cli", batch_size=2, now=NOW, max_batches=1)
        assert first.batches  # the run stopped after its first batch, unfinished
        session.expire_all()
        left = [p for p in people if categories_of(session, p)]
        place_hold(runtime, session, actor="staff_1", person_id=left[-1], reason="authority_order", until=HOLD_UNTIL)
        session.commit()
        resumed = run_sweep(runtime, actor="cli", batch_size=2, now=NOW)
        session.expire_all()
        assert resumed.resumed and resumed.run_id == first.run_id
        assert categories_of(session, left[-1]) == {"identity.name", "contact.email"}
        assert all(categories_of(session, p) == set() for p in people if p != left[-1])


def test_a_record_hold_keeps_only_its_category(settings: Settings) -> None:
    with vault_runtime(settings) as (runtime, vault), runtime.sessions() as session:
        person = person_with(session, runtime, vault, closed_days_ago=40)
        place_hold(
            runtime,
            session,
            actor="staff_1",
            person_id=person,
            category="contact.email",
            reason="dispute",
            until=HOLD_UNTIL,
        )
        session.commit()
        run_sweep(runtime, actor="cli", now=NOW)
        session.expire_all()
        assert categories_of(session, person) == {"contact.email"}


def _delivered(session, runtime, vault, status: str) -> str:  # type: ignore[no-untyped-def]
    person = person_with(
        session,
        runtime,
        vault,
        {"logistics.delivery_status": json.dumps({"status": status})},
        purpose="order_fulfilment",
    )
    session.add(RetentionEventRow(person_id=person, event="order_completed", occurred_at=NOW - timedelta(days=200)))
    session.commit()
    return person


def test_anonymised_counts_keep_only_groups_of_at_least_k(settings: Settings) -> None:
    with vault_runtime(settings) as (runtime, vault), runtime.sessions() as session:
        statuses = ["delivered"] * 7 + ["returned"] * 3 + ["lost"]
        people = [_delivered(session, runtime, vault, s) for s in statuses]
        report = run_sweep(runtime, actor="cli", batch_size=4, now=NOW)
        session.expire_all()
        groups = kept_groups(session, "delivery_data")
        left = session.scalar(
            sa.select(sa.func.count()).select_from(PersonalField).where(PersonalField.person_id.in_(people))
        )
    assert left == 0
    assert groups == [(['{"status":"delivered"}'], 7)]  # the vault stores JSON compactly
    assert all(n >= 5 for _, n in groups)
    assert report.anonymised == [{"rule": "delivery_data", "people_kept": 7, "people_suppressed": 4, "groups": 1}]


def test_approval_gated_rules_run_only_from_an_approved_plan(settings: Settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from fiduciary.config import DEMO_POLICY_PATH

    text = DEMO_POLICY_PATH.read_text(encoding="utf-8").replace(
        "    trigger: account_closed\n    keep_for: 30d\n",
        "    trigger: account_closed\n    keep_for: 30d\n    approval_required: true\n",
    )
    path = tmp_path / "approval.yaml"
    path.write_text(text, encoding="utf-8")
    gated = settings.model_copy(update={"policy_file": path})
    with vault_runtime(gated) as (runtime, vault), runtime.sessions() as session:
        person = person_with(session, runtime, vault, closed_days_ago=40)
        report = run_sweep(runtime, actor="cli", now=NOW)
        assert report.waiting_for_approval == ["account_data"] and report.per_rule() == {}
        plan_id, saved = save_plan(runtime, session, actor="admin_1", now=NOW)
        session.commit()
        assert next(r for r in saved.rules if r.rule == "account_data").people == 1
        with pytest.raises(Conflict):
            run_sweep(runtime, actor="cli", plan_id=plan_id)
        approve_plan(runtime, session, actor="admin_1", plan_id=plan_id)
        session.commit()
        approved = run_sweep(runtime, actor="cli", plan_id=plan_id)
        session.expire_all()
        assert categories_of(session, person) == set()
        assert approved.per_rule()["account_data"]["people"] == 1
        assert session.scalar(sa.select(sa.func.count()).select_from(RetentionBatch)) == 1
