"""Holds and erasure (issue 15 item 2): an erasure keeps what a hold covers as legal-hold records, says so,
and the access package lists the hold; the scheduled sweep job; a built-in clock the backend reports."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from fiduciary.config import Settings
from fiduciary.errors import ValidationFailed
from fiduciary.jobs.registry import JobCall
from fiduciary.personal_data.registry import registry_for
from fiduciary.retention.holds import HOLD_RECORD_TYPE, place_hold
from fiduciary.retention.jobs import SWEEP_JOB, sweep
from fiduciary.retention.models import RetentionHold
from fiduciary.rights.flows import erase_person
from fiduciary.vault.legal_holds import held_records, purge_legal_holds
from fiduciary.vault.retention_events import record_retention_event
from sweep_support import categories_of, person_with
from vault_support import vault_runtime

UNTIL = date(2030, 1, 31)


def test_erasure_keeps_the_held_record_and_the_package_lists_the_hold(settings: Settings) -> None:
    with vault_runtime(settings) as (runtime, vault), runtime.sessions() as session:
        person = person_with(session, runtime, vault)
        hold = place_hold(
            runtime, session, actor="staff_1", person_id=person, category="contact.email", reason="dispute", until=UNTIL
        )
        session.commit()
        exported = registry_for(runtime).export_person(session, person)["domains"]["retention_holds"]
        assert [h["id"] for h in exported["holds"]] == [hold.id]
        summary = erase_person(runtime, session, actor="staff_1", person_id=person)
        session.commit()
        report = next(r for r in summary.reports if r.domain == "retention_holds")
        assert report.kept == 1 and report.detail == {"values_kept": 1}
        kept = held_records(session, person)
        assert [(k.record_type, k.count, k.kept_until) for k in kept] == [
            (f"{HOLD_RECORD_TYPE}.contact.email", 1, UNTIL)
        ]
        assert hold.id in kept[0].basis
        assert categories_of(session, person) == {"identity.name", "contact.email"}  # shredded, purged later
        assert purge_legal_holds(session, today=UNTIL) == 0  # kept through the hold's last day
        assert purge_legal_holds(session, today=UNTIL + timedelta(days=1)) == 1


def test_bad_holds_name_each_field_and_write_nothing(settings: Settings) -> None:
    with vault_runtime(settings) as (runtime, vault), runtime.sessions() as session:
        person = person_with(session, runtime, vault)
        with pytest.raises(ValidationFailed) as caught:
            place_hold(
                runtime, session, actor="staff_1", person_id=person, category="no.such", reason="whim",
                until=date(2001, 1, 1), note="",
            )  # fmt: skip
        assert {p.field for p in caught.value.fields} == {"category", "reason", "until", "note"}
        with pytest.raises(ValidationFailed) as unknown:
            place_hold(runtime, session, actor="staff_1", person_id="per_" + "a" * 26, reason="dispute", until=UNTIL)
        assert [p.field for p in unknown.value.fields] == ["person_id"]
        assert session.scalar(sa.select(sa.func.count()).select_from(RetentionHold)) == 0


def test_the_scheduled_sweep_runs_what_needs_no_approval(settings: Settings) -> None:
    with vault_runtime(settings) as (runtime, vault), runtime.sessions() as session:
        person = person_with(session, runtime, vault, closed_days_ago=400)
        counts = sweep(runtime, JobCall(job_id=1, task_name=SWEEP_JOB, args={}))
        session.expire_all()
        assert counts["fields"] == 2 and categories_of(session, person) == set()


def test_the_backend_reports_order_completed_for_the_built_in_clock(settings: Settings) -> None:
    with vault_runtime(settings) as (runtime, vault), runtime.sessions() as session:
        person = person_with(session, runtime, vault)
        at = datetime.now(UTC) - timedelta(days=1)
        reported = record_retention_event(session, runtime.policy(), person, "order_completed", at)
        assert reported.created
