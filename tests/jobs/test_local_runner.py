"""The embedded queue (SQLite): the in-process runner runs jobs, retries then dead-letters a failing one,
runs one lock's jobs in order, puts back jobs a killed process left `doing`, and queues each periodic
occurrence once however many runners share the database."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from fiduciary.config import Settings
from fiduciary.jobs import JobCall, enqueue, failed_jobs, register_job
from fiduciary.jobs.local import LocalJobRunner
from fiduciary.jobs.models import QueuedJob
from fiduciary.runtime import Runtime
from fiduciary.storage.base import utcnow
from jobs_support import effects, queued, wait_for

ORDER: list[int] = []


def record_order(_host: Any, call: JobCall) -> Mapping[str, int]:
    ORDER.append(int(call.args["n"]))
    return {}


register_job("test.order", record_order, retries=0)
PERIODIC_SECONDS = {"value": 0.0}
register_job("test.periodic", lambda _h, _c: None, retries=0, every=lambda _s: PERIODIC_SECONDS["value"])


@pytest.fixture
def sqlite_runtime(sqlite_template: Path, tmp_path: Path) -> Iterator[Runtime]:
    target = tmp_path / "fiduciary.db"
    shutil.copyfile(sqlite_template, target)
    # No housekeeping and no outbox sweep: their occurrences would cross the periodic test's clock.
    settings = Settings(
        database_url=f"sqlite:///{target}",
        data_dir=tmp_path / "data",
        housekeeping_interval_minutes=0,
        outbox_sweep_seconds=0,
    )
    rt = Runtime.start(settings, migrate=False)
    try:
        yield rt
    finally:
        rt.close()


def runner_for(rt: Runtime, **kwargs: Any) -> LocalJobRunner:
    return LocalJobRunner(rt, rt.engine, rt.sessions, rt.settings, **kwargs)


def make_due(session: Session) -> None:
    """Skip the retry backoff: every waiting job is due now."""
    session.execute(sa.update(QueuedJob).where(QueuedJob.status == "todo").values(scheduled_at=utcnow()))
    session.commit()


def test_the_runner_runs_a_committed_job_once_and_wakes_on_commit(sqlite_runtime: Runtime) -> None:
    runner = runner_for(sqlite_runtime, poll_seconds=60)  # only the commit can wake it in time
    runner.start()
    try:
        with sqlite_runtime.sessions() as session:
            enqueue(session, "jobs.probe", {"key": "probe:a"})
            session.commit()
            assert wait_for(lambda: runner.succeeded == 1, 20)
            assert effects(session, "probe:") == 1
            assert [status for _, status in queued(session, "jobs.probe")] == ["succeeded"]
    finally:
        assert runner.stop()
    assert not runner.running


def test_a_job_that_always_fails_is_retried_then_dead_lettered(sqlite_runtime: Runtime) -> None:
    runner = runner_for(sqlite_runtime)
    with sqlite_runtime.sessions() as session:
        job_id = enqueue(session, "jobs.probe", {"fail": True})
        session.commit()
        assert runner.run_pending() == 1
        assert queued(session, "jobs.probe") == [(job_id, "todo")]  # retry 1 waits its backoff
        assert runner.run_pending() == 0
        for _ in range(2):
            make_due(session)
            assert runner.run_pending() == 1
        assert queued(session, "jobs.probe") == [(job_id, "failed")]
        [dead] = failed_jobs(session)
        assert (dead.id, dead.attempts, dead.error) == (job_id, 3, "ProbeFailed")


def test_a_job_of_no_registered_name_fails_without_retries(sqlite_runtime: Runtime) -> None:
    with sqlite_runtime.sessions() as session:
        session.execute(
            sa.insert(QueuedJob).values(
                task_name="gone.job", args={}, status="todo", scheduled_at=utcnow(), attempts=0, created_at=utcnow()
            )
        )
        session.commit()
        assert runner_for(sqlite_runtime).run_pending() == 1
        assert [job.error for job in failed_jobs(session)] == ["LookupError"]


def test_one_locks_jobs_run_in_queue_order(sqlite_runtime: Runtime) -> None:
    ORDER.clear()
    with sqlite_runtime.sessions() as session:
        later = utcnow() + timedelta(seconds=30)
        enqueue(session, "test.order", {"n": 1}, lock="per_1", run_at=later)
        enqueue(session, "test.order", {"n": 2}, lock="per_1")
        enqueue(session, "test.order", {"n": 3}, lock="per_2")
        session.commit()
        runner = runner_for(sqlite_runtime)
        assert runner.run_pending() == 1  # n=2 waits behind n=1 (same lock); n=3 runs
        assert ORDER == [3]
        make_due(session)
        assert runner.run_pending() == 2
        assert ORDER == [3, 1, 2]


def test_a_job_left_doing_by_a_killed_process_runs_again_and_takes_effect_once(sqlite_runtime: Runtime) -> None:
    with sqlite_runtime.sessions() as session:
        job_id = enqueue(session, "jobs.probe", {"key": "probe:stranded"})
        session.commit()
        # What a process killed after the job's effect committed leaves behind: the effect, and the job
        # `doing` with a heartbeat that stopped.
        session.execute(
            sa.update(QueuedJob)
            .where(QueuedJob.id == job_id)
            .values(status="doing", attempts=1, heartbeat_at=utcnow() - timedelta(seconds=10))
        )
        session.execute(sa.text("INSERT INTO job_effects VALUES ('probe:stranded', 'jobs.probe', '2026-01-01')"))
        session.commit()
        runner = runner_for(sqlite_runtime, stalled_after=5)
        assert runner.run_pending() == 0  # still `doing`
        assert runner.requeue_stalled() == 1
        assert runner.run_pending() == 1
        assert queued(session, "jobs.probe") == [(job_id, "succeeded")]
        assert effects(session, "probe:") == 1


def test_a_running_jobs_heartbeat_keeps_it_from_being_taken_back(sqlite_runtime: Runtime) -> None:
    runner = runner_for(sqlite_runtime, stalled_after=0.4)
    with sqlite_runtime.sessions() as session:
        enqueue(session, "jobs.probe", {"key": "probe:held", "hold_seconds": 1.5})
        session.commit()
    worker = threading.Thread(target=runner.run_pending)
    worker.start()
    other = runner_for(sqlite_runtime, stalled_after=0.4)
    taken_back = 0
    while worker.is_alive():
        taken_back += other.requeue_stalled()
        worker.join(0.1)
    assert taken_back == 0 and runner.succeeded == 1


def test_each_periodic_occurrence_is_queued_once_across_runners(sqlite_runtime: Runtime) -> None:
    PERIODIC_SECONDS["value"] = 60.0
    try:
        first, second = runner_for(sqlite_runtime), runner_for(sqlite_runtime)
        start = utcnow()
        assert first.schedule_periodic(start) == 0  # the clock starts: the first run is one period away
        assert second.schedule_periodic(start) == 0
        later = start + timedelta(seconds=60)
        assert first.schedule_periodic(later) + second.schedule_periodic(later) == 1
        assert first.schedule_periodic(later) + second.schedule_periodic(later) == 0
        much_later = start + timedelta(seconds=180)  # the previous one still waits: it stands for this one
        assert first.schedule_periodic(much_later) == 0
        with sqlite_runtime.sessions() as session:
            assert len(queued(session, "test.periodic")) == 1
    finally:
        PERIODIC_SECONDS["value"] = 0.0
