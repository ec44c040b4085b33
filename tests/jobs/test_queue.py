"""`enqueue` on both engines: the job commits or rolls back with the caller's transaction; bad input is
refused naming the field and queues nothing; cancellation; the dead-letter list through the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from fiduciary.auth.service import create_api_key
from fiduciary.errors import Conflict, ValidationFailed
from fiduciary.jobs import cancel, effect_once, enqueue, failed_jobs, queue_depth, register_job
from fiduciary.jobs.local import LocalJobRunner
from fiduciary.runtime import Runtime
from fiduciary.web.app import create_app
from jobs_support import queued


def test_a_committed_enqueue_leaves_exactly_one_job_and_a_rolled_back_one_none(session: Session) -> None:
    session.execute(sa.text("SELECT 1"))  # the caller's own work, in the same transaction
    enqueue(session, "jobs.probe", {"key": "rolled-back"})
    session.rollback()
    assert queued(session, "jobs.probe") == []
    job_id = enqueue(session, "jobs.probe", {"key": "committed"})
    session.commit()
    assert queued(session, "jobs.probe") == [(job_id, "todo")]


def test_the_job_shares_the_callers_transaction(session: Session, runtime: Runtime) -> None:
    """Until the caller commits, another connection sees no job; after, it sees it."""
    enqueue(session, "jobs.noop", {})
    with runtime.sessions() as other:
        assert queued(other, "jobs.noop") == []
    session.commit()
    with runtime.sessions() as other:
        assert len(queued(other, "jobs.noop")) == 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"job_name": "no.such.job", "args": {}}, "job_name"),
        ({"job_name": "jobs.noop", "args": {"when": datetime.now(UTC)}}, "args"),
        ({"job_name": "jobs.noop", "args": {"x": float("nan")}}, "args"),
        ({"job_name": "jobs.noop", "args": {"blob": "x" * 20_000}}, "args"),
        ({"job_name": "jobs.noop", "args": {}, "lock": ""}, "lock"),
        ({"job_name": "jobs.noop", "args": {}, "queueing_lock": "q" * 201}, "queueing_lock"),
        ({"job_name": "jobs.noop", "args": {}, "run_at": datetime(2030, 1, 1)}, "run_at"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_queues_nothing(
    session: Session, kwargs: dict[str, object], field: str
) -> None:
    kwargs = dict(kwargs)  # the parameters are shared by both engines' runs
    job_name = str(kwargs.pop("job_name"))
    args = kwargs.pop("args")
    assert isinstance(args, dict)
    with pytest.raises(ValidationFailed) as caught:
        enqueue(session, job_name, args, **kwargs)  # type: ignore[arg-type]
    assert [p.field for p in caught.value.fields] == [field]
    session.commit()
    assert queued(session, "jobs.noop") == []


def test_a_second_waiting_job_with_the_same_queueing_lock_is_a_conflict_and_the_transaction_goes_on(
    session: Session,
) -> None:
    first = enqueue(session, "jobs.noop", {}, queueing_lock="person-1")
    with pytest.raises(Conflict) as caught:
        enqueue(session, "jobs.noop", {}, queueing_lock="person-1")
    assert caught.value.code == "job_already_queued"
    other = enqueue(session, "jobs.noop", {}, queueing_lock="person-2")  # the transaction is still usable
    session.commit()
    assert [job_id for job_id, _ in queued(session, "jobs.noop")] == [first, other]


def test_a_job_scheduled_far_ahead_waits_and_can_be_cancelled(session: Session) -> None:
    job_id = enqueue(session, "jobs.noop", {}, run_at=datetime.now(UTC) + timedelta(days=365 * 5))
    session.commit()
    assert queue_depth(session).waiting == 0  # not due
    assert cancel(session, job_id)
    session.commit()
    assert queued(session, "jobs.noop") == [(job_id, "cancelled")]
    assert not cancel(session, job_id)  # only a waiting job can be cancelled
    assert not cancel(session, 2**40)


def test_queue_depth_counts_due_jobs_and_their_age(session: Session) -> None:
    assert queue_depth(session).waiting == 0
    enqueue(session, "jobs.noop", {})
    enqueue(session, "jobs.noop", {})
    session.commit()
    depth = queue_depth(session)
    assert depth.waiting == 2 and depth.oldest_age_seconds >= 0


def test_an_effect_is_recorded_once(session: Session) -> None:
    assert effect_once(session, "effect-1", "jobs.probe")
    assert not effect_once(session, "effect-1", "jobs.probe")  # the transaction stays usable
    assert effect_once(session, "effect-2", "jobs.probe")
    session.commit()
    assert session.scalar(sa.text("SELECT count(*) FROM job_effects")) == 2


def test_registering_a_taken_name_or_a_bad_name_is_refused() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_job("jobs.noop", lambda _host, _call: None)
    with pytest.raises(ValueError, match="job names"):
        register_job("Bad Name", lambda _host, _call: None)


def test_the_dead_letter_list_needs_jobs_read_and_names_no_argument(session: Session, runtime: Runtime) -> None:
    if runtime.engine.dialect.name == "postgresql":
        pytest.skip("dead-lettering by real workers on PostgreSQL: tests/jobs/test_worker.py")
    job_id = enqueue(session, "jobs.probe", {"fail": True, "key": "per_secret_looking_value"})
    session.commit()
    runner = LocalJobRunner(runtime, runtime.engine, runtime.sessions, runtime.settings)
    for _ in range(3):  # the first run and two retries, without waiting out the backoff
        runner.run_pending()
        session.execute(sa.text("UPDATE job_queue SET scheduled_at = created_at WHERE status = 'todo'"))
        session.commit()
    assert [job.id for job in failed_jobs(session)] == [job_id]
    _, reader = create_api_key(session, "ops", ["jobs:read"])
    _, other = create_api_key(session, "checkout", ["consent:write"])
    session.commit()
    with TestClient(create_app(runtime=runtime)) as client:  # its own runner starts only now
        assert client.get("/v1/jobs/failed").status_code == 401
        assert client.get("/v1/jobs/failed", headers={"Authorization": f"Bearer {other}"}).status_code == 403
        response = client.get("/v1/jobs/failed", headers={"Authorization": f"Bearer {reader}"})
        bad = client.get("/v1/jobs/failed?limit=0", headers={"Authorization": f"Bearer {reader}"})
    assert response.status_code == 200
    [listed] = response.json()["failed"]
    assert listed["id"] == job_id and listed["attempts"] == 3 and listed["error"] == "ProbeFailed"
    assert "per_secret_looking_value" not in response.text
    assert bad.status_code == 422 and "limit" in bad.text
