"""Housekeeping: every ledger stream sealed, erased vault data purged, expired idempotency keys deleted;
one report with counts only; runs never overlap; the service runs it as a periodic job and stops it."""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from consent_support import adult, item
from fiduciary import housekeeping
from fiduciary.audit.service import AuditTrail
from fiduciary.cli.main import app
from fiduciary.config import Settings, get_settings
from fiduciary.consent.models import ConsentIdempotency
from fiduciary.consent.service import ConsentService
from fiduciary.housekeeping import exclusive, run_housekeeping
from fiduciary.jobs import enqueue
from fiduciary.jobs.local import LocalJobRunner
from fiduciary.jobs.models import PeriodicClock, QueuedJob
from fiduciary.ledger.models import LedgerEvent
from fiduciary.ledger.reads import checkpoint_covering
from fiduciary.people.models import PersonErasure
from fiduciary.runtime import Runtime
from fiduciary.vault.records import LegalHoldRecord, PersonalField
from fiduciary.vault.service import VaultService
from fiduciary.web.app import create_app

runner = CliRunner()
SENTINEL = "per_sentinelvaluenevertobelogged"


def heads(session: Session) -> dict[str, int]:
    session.expire_all()
    return {
        stream: int(position)
        for stream, position in session.execute(
            sa.select(LedgerEvent.stream, sa.func.max(LedgerEvent.position)).group_by(LedgerEvent.stream)
        )
    }


def sealed_at_head(session: Session) -> dict[str, bool]:
    out = {}
    for stream, head in heads(session).items():
        checkpoint = checkpoint_covering(session, stream, head)
        out[stream] = checkpoint is not None and checkpoint.position == head
    return out


def some_consent_and_audit(session: Session, runtime: Runtime) -> str:
    person = adult(session, runtime)
    service = ConsentService.for_runtime(runtime)
    service.record_many(session, [item(person, "marketing.email"), item(person, "analytics")])
    AuditTrail.for_runtime(runtime).record(
        session, actor="keyAAAAAAAAA", action="field.read", person_id=person, purpose="account"
    )
    session.commit()
    return person


def age_idempotency(session: Session, key: str, hours: float) -> None:
    session.execute(
        sa.update(ConsentIdempotency)
        .where(ConsentIdempotency.key == key)
        .values(created_at=datetime.now(UTC) - timedelta(hours=hours))
    )
    session.commit()


def add_expired_idempotency_keys(session: Session, count: int) -> None:
    """`count` stored answers three days old, past the default 24-hour TTL, for the purge to delete."""
    old = datetime.now(UTC) - timedelta(days=3)
    session.add_all(
        ConsentIdempotency(key=f"k:{i}", request_hash="0" * 64, response={"results": []}, created_at=old)
        for i in range(count)
    )
    session.commit()


def wait_for(condition: Callable[[], bool], seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


# ------------------------------------------------------------------------------------------------- jobs


def test_seal_covers_the_head_of_every_stream(session: Session, runtime: Runtime) -> None:
    some_consent_and_audit(session, runtime)
    assert {"consent", "audit"} <= set(heads(session))
    assert not all(sealed_at_head(session).values())  # an unsigned tail to bound
    unsealed = sum(1 for ok in sealed_at_head(session).values() if not ok)
    report = run_housekeeping(runtime, jobs=("ledger_seal",))
    assert report.ok and [j.name for j in report.jobs] == ["ledger_seal"]
    assert all(sealed_at_head(session).values())
    counts = report.jobs[0].counts
    assert counts["checkpoints_written"] == unsealed and counts["streams"] >= 2
    again = run_housekeeping(runtime, jobs=("ledger_seal",)).jobs[0].counts
    assert again["checkpoints_written"] == 0 and again["already_sealed"] == counts["streams"] - counts["empty"]


def test_vault_purge_deletes_erased_ciphertext_and_expired_holds(session: Session, runtime: Runtime) -> None:
    vault = VaultService(runtime)
    erased, kept = adult(session, runtime), adult(session, runtime)
    for person in (erased, kept):
        vault.create_person_record(
            session, person, {"identity.name": "Zebulon Quixotewright"}, purpose="account", source="provided"
        )
    record_id = vault.add_legal_hold_record(
        session, kept, record_type="invoice", basis="CGST Act 2017 s.36", purge_after=date.today(), content="x"
    )
    session.commit()
    session.execute(
        sa.update(LegalHoldRecord)
        .where(LegalHoldRecord.id == record_id)
        .values(purge_after=date.today() - timedelta(days=1))
    )
    vault.erase_person(session, erased, "rights_request")
    session.commit()

    def rows(person: str) -> int:
        return int(session.scalar(sa.select(sa.func.count()).where(PersonalField.person_id == person)) or 0)

    before = rows(erased)
    assert before > 0 and rows(kept) > 0
    report = run_housekeeping(runtime, jobs=("vault_purge",))
    assert report.ok, report
    counts = report.jobs[0].counts
    assert counts["ciphertext_rows_deleted"] == before and counts["people_completed"] == 1
    assert counts["legal_hold_records_purged"] == 1
    assert counts["sqlite_wal_truncated"] == int(runtime.engine.dialect.name == "sqlite")
    session.expire_all()
    assert rows(erased) == 0 and rows(kept) > 0
    erasure = session.get(PersonErasure, erased)
    assert erasure is not None and erasure.purged_at is not None
    hold = session.get(LegalHoldRecord, record_id)
    assert hold is not None and hold.purged_at is not None and hold.ciphertext is None
    idle = run_housekeeping(runtime, jobs=("vault_purge",)).jobs[0].counts
    assert idle == {
        "ciphertext_rows_deleted": 0,
        "people_completed": 0,
        "legal_hold_records_purged": 0,
        "sqlite_wal_truncated": 0,
    }


def test_idempotency_keys_expire_after_the_ttl(session: Session, runtime: Runtime) -> None:
    person = adult(session, runtime)
    service = ConsentService.for_runtime(runtime)
    first = service.record(session, item(person, "analytics"), idempotency_key="k:old")
    service.record(session, item(person, "marketing.email"), idempotency_key="k:new")
    session.commit()
    age_idempotency(session, "k:old", 25)
    age_idempotency(session, "k:new", 23)
    report = run_housekeeping(runtime, jobs=("idempotency_purge",))
    assert report.jobs[0].counts == {"keys_deleted": 1, "keys_kept": 1}
    session.expire_all()
    assert session.get(ConsentIdempotency, "k:old") is None
    assert session.get(ConsentIdempotency, "k:new") is not None
    # A replay after expiry is a new request: a new event, not the stored answer.
    again = service.record(session, item(person, "analytics"), idempotency_key="k:old")
    session.commit()
    assert not again.replayed and again.ledger_position > first.ledger_position
    replay = service.record(session, item(person, "marketing.email"), idempotency_key="k:new")
    assert replay.replayed


def test_the_ttl_is_configurable(database_url: str, tmp_path: Path) -> None:
    settings = Settings(database_url=database_url, data_dir=tmp_path / "data", idempotency_ttl_hours=48)
    rt = Runtime.start(settings, migrate=False)
    try:
        with rt.sessions() as session:
            person = adult(session, rt)
            ConsentService.for_runtime(rt).record(session, item(person, "analytics"), idempotency_key="k:1")
            session.commit()
            age_idempotency(session, "k:1", 25)
            assert run_housekeeping(rt, jobs=("idempotency_purge",)).jobs[0].counts["keys_deleted"] == 0
            age_idempotency(session, "k:1", 49)
            assert run_housekeeping(rt, jobs=("idempotency_purge",)).jobs[0].counts["keys_deleted"] == 1
    finally:
        rt.close()


def test_idempotency_purge_works_in_bounded_batches(session: Session, runtime: Runtime) -> None:
    add_expired_idempotency_keys(session, 7)
    counts = housekeeping.purge_idempotency_keys(runtime, batch_size=3)
    assert counts == {"keys_deleted": 7, "keys_kept": 0}


@pytest.mark.parametrize(("field", "value"), [("housekeeping_interval_minutes", -1), ("idempotency_ttl_hours", 0)])
def test_bad_settings_are_refused_naming_the_field(field: str, value: float) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(**{field: value})  # type: ignore[arg-type]
    assert field in str(caught.value)


# ----------------------------------------------------------------------------------------------- report


def test_a_failing_job_is_reported_without_values_and_the_others_still_run(
    session: Session, runtime: Runtime, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    some_consent_and_audit(session, runtime)

    def broken(_runtime: Runtime, _stop: threading.Event) -> dict[str, int]:
        raise RuntimeError(f"driver said: key ({SENTINEL}) is broken")

    monkeypatch.setitem(housekeeping.JOBS, "vault_purge", broken)
    with caplog.at_level(logging.DEBUG, logger="fiduciary.housekeeping"):
        report = run_housekeeping(runtime)
    assert not report.ok
    by_name = {j.name: j for j in report.jobs}
    assert list(by_name) == ["ledger_seal", "vault_purge", "idempotency_purge"]
    assert by_name["vault_purge"].error == "RuntimeError" and not by_name["vault_purge"].ok
    assert by_name["ledger_seal"].ok and by_name["idempotency_purge"].ok
    assert all(sealed_at_head(session).values())
    assert any("vault_purge" in r.getMessage() for r in caplog.records)
    text = repr(report.to_dict()) + report.summary() + "".join(r.getMessage() for r in caplog.records)
    assert SENTINEL not in text


def test_a_report_never_names_a_person(session: Session, runtime: Runtime) -> None:
    person = some_consent_and_audit(session, runtime)
    report = run_housekeeping(runtime)
    assert report.ok and not report.skipped
    assert person not in repr(report.to_dict()) and person not in report.summary()


def test_unknown_job_names_are_refused(runtime: Runtime) -> None:
    with pytest.raises(ValueError, match="nope"):
        run_housekeeping(runtime, jobs=("nope",))


# ------------------------------------------------------------------------------------------- exclusion


def test_a_run_in_progress_in_this_process_makes_another_skip(session: Session, runtime: Runtime) -> None:
    some_consent_and_audit(session, runtime)
    with exclusive(runtime) as mine:
        assert mine
        report = run_housekeeping(runtime)
    assert report.skipped and report.jobs == () and report.ok
    assert not all(sealed_at_head(session).values())  # nothing ran
    assert not run_housekeeping(runtime).skipped  # the lock was released


@pytest.fixture
def other_process_lock(runtime: Runtime) -> Iterator[None]:
    """Hold the database-level lock the way another process would: its own connection or file handle."""
    engine = runtime.engine
    if engine.dialect.name == "postgresql":
        other = sa.create_engine(engine.url)
        with other.connect() as conn:
            assert conn.scalar(sa.select(sa.func.pg_try_advisory_lock(housekeeping._ADVISORY_KEY)))
            try:
                yield
            finally:
                conn.scalar(sa.select(sa.func.pg_advisory_unlock(housekeeping._ADVISORY_KEY)))
        other.dispose()
        return
    fd = os.open(f"{engine.url.database}.housekeeping-lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield
    finally:
        os.close(fd)


def test_a_run_in_another_process_makes_this_one_skip(
    session: Session, runtime: Runtime, other_process_lock: None
) -> None:
    some_consent_and_audit(session, runtime)
    report = run_housekeeping(runtime)
    assert report.skipped
    assert not all(sealed_at_head(session).values())


# ------------------------------------------------------------------------------------------- background


def short_interval_runtime(database_url: str, tmp_path: Path, minutes: float) -> Runtime:
    # The outbox sweep (`comms.deliver`) is off: these tests count the periodic clocks housekeeping starts.
    settings = Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        housekeeping_interval_minutes=minutes,
        outbox_sweep_seconds=0,
    )
    return Runtime.start(settings, migrate=False)


def housekeeping_runs(rt: Runtime, status: str = "succeeded") -> int:
    with rt.sessions() as session:
        return int(
            session.scalar(
                sa.select(sa.func.count())
                .select_from(QueuedJob)
                .where(QueuedJob.task_name == "housekeeping", QueuedJob.status == status)
            )
            or 0
        )


def test_the_service_runs_housekeeping_as_a_periodic_job_and_stops_it(database_url: str, tmp_path: Path) -> None:
    rt = short_interval_runtime(database_url, tmp_path, 0.002)  # 0.12 s
    try:
        with rt.sessions() as session:
            some_consent_and_audit(session, rt)
            assert not all(sealed_at_head(session).values())
        with TestClient(create_app(runtime=rt)) as client:
            runner = client.app.state.jobs  # type: ignore[attr-defined]
            if rt.engine.dialect.name == "postgresql":
                assert runner is None  # `fiduciary worker` processes run the jobs (tests/jobs/test_worker.py)
                return
            assert isinstance(runner, LocalJobRunner) and runner.running
            assert wait_for(lambda: housekeeping_runs(rt) >= 2)
            assert client.get("/healthz").status_code == 200
            assert runner.failed == 0
        assert not runner.running  # stopped on shutdown
        with rt.sessions() as session:
            assert all(sealed_at_head(session).values())
        runs = housekeeping_runs(rt)
        time.sleep(0.3)
        assert housekeeping_runs(rt) == runs
    finally:
        rt.close()


def test_the_first_run_waits_one_interval_and_zero_disables(database_url: str, tmp_path: Path) -> None:
    # housekeeping and the sweeps of rights requests, cases, retention and inactivity all follow
    # housekeeping_interval_minutes
    following = {
        "housekeeping",
        "rights.requests_sweep",
        "cases.escalation_sweep",
        "retention.sweep",
        "retention.inactivity_sweep",
    }
    for minutes, clocks in ((10, following), (0, set())):
        rt = short_interval_runtime(database_url, tmp_path, minutes)
        try:
            if rt.engine.dialect.name == "postgresql":
                return  # no runner in the API process on PostgreSQL (see the test above)
            with rt.sessions() as session:
                session.execute(sa.delete(PeriodicClock))
                session.commit()
            with TestClient(create_app(runtime=rt)) as client:
                runner = client.app.state.jobs  # type: ignore[attr-defined]
                assert wait_for(lambda: runner.running)
                time.sleep(0.3)  # several rounds of the runner
                assert housekeeping_runs(rt, "todo") + housekeeping_runs(rt) == 0
            with rt.sessions() as session:
                started = set(session.scalars(sa.select(PeriodicClock.name)))
            assert started == clocks  # 10 min: the clock started, the first run one interval away; 0: off
        finally:
            rt.close()


def test_housekeeping_errors_fail_the_job_without_values_and_the_runner_goes_on(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls = 0

    def broken(_runtime: Runtime, _stop: threading.Event) -> dict[str, int]:
        nonlocal calls
        calls += 1
        raise RuntimeError(f"cannot delete {SENTINEL}")

    def exploding(*_args: object, **_kwargs: object) -> housekeeping.HousekeepingReport:
        raise RuntimeError(f"run failed for {SENTINEL}")

    monkeypatch.setitem(housekeeping.JOBS, "idempotency_purge", broken)
    rt = short_interval_runtime(database_url, tmp_path, 0.002)
    try:
        if rt.engine.dialect.name == "postgresql":
            return  # the worker's handling of failures: tests/jobs/test_worker.py
        with (
            caplog.at_level(logging.INFO),
            TestClient(create_app(runtime=rt)) as client,
        ):
            runner = client.app.state.jobs  # type: ignore[attr-defined]
            assert wait_for(lambda: runner.failed >= 1)
            monkeypatch.setattr(housekeeping, "run_housekeeping", exploding)  # even the run raising
            with rt.sessions() as session:
                probe = enqueue(session, "jobs.probe", {"fail": True})
                session.commit()
            assert wait_for(lambda: runner.failed >= 2)
            assert runner.running
            assert client.get("/healthz").status_code == 200
            with rt.sessions() as session:
                row = session.get(QueuedJob, probe)
                assert row is not None and row.error == "ProbeFailed"
                failed = session.scalars(sa.select(QueuedJob.error).where(QueuedJob.task_name == "housekeeping"))
                assert "HousekeepingFailed" in set(failed)
    finally:
        rt.close()
    assert calls >= 1
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("fiduciary.")]
    assert any("idempotency_purge" in m and "RuntimeError" in m for m in messages)
    assert any("housekeeping" in m and "HousekeepingFailed" in m for m in messages)
    assert not any(SENTINEL in m for m in messages)


def test_stop_ends_a_run_between_batches(session: Session, runtime: Runtime) -> None:
    add_expired_idempotency_keys(session, 5)
    stop = threading.Event()
    stop.set()
    report = run_housekeeping(runtime, stop=stop)
    assert report.stopped and report.jobs == ()
    assert housekeeping.purge_idempotency_keys(runtime, stop, batch_size=1)["keys_deleted"] == 0


# ------------------------------------------------------------------------------------------------- CLI


def test_cli_runs_every_job_and_prints_the_report(session: Session, runtime: Runtime, cli_env: None) -> None:
    person = some_consent_and_audit(session, runtime)
    result = runner.invoke(app, ["housekeeping"])
    assert result.exit_code == 0, result.output
    for name in ("ledger_seal", "vault_purge", "idempotency_purge"):
        assert name in result.output
    assert "checkpoints_written" in result.output and person not in result.output
    assert all(sealed_at_head(session).values())


def test_cli_runs_only_the_named_jobs(session: Session, runtime: Runtime, cli_env: None) -> None:
    some_consent_and_audit(session, runtime)
    result = runner.invoke(app, ["housekeeping", "--job", "idempotency_purge"])
    assert result.exit_code == 0, result.output
    assert "idempotency_purge" in result.output and "ledger_seal" not in result.output
    assert not all(sealed_at_head(session).values())


def test_cli_refuses_an_unknown_job(cli_env: None) -> None:
    result = runner.invoke(app, ["housekeeping", "--job", "nope"])
    assert result.exit_code == 2 and "nope" in result.output


def test_cli_exits_1_when_a_job_fails(
    session: Session, runtime: Runtime, cli_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    some_consent_and_audit(session, runtime)
    monkeypatch.setenv("FIDUCIARY_SIGNING_KEY", "not-a-key")  # the seal job cannot sign
    get_settings.cache_clear()
    result = runner.invoke(app, ["housekeeping"])
    assert result.exit_code == 1, result.output
    assert "FAILED" in result.output and "signing_key_unusable" in result.output
    assert result.output.count("ok") >= 2  # the other jobs still ran
    assert not all(sealed_at_head(session).values())
