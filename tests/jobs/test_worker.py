"""Real `fiduciary worker` processes on PostgreSQL (procrastinate).

A worker killed with `kill -9` while holding a job: another worker runs the job again and its effect
happens once. A job that always fails: retried, then dead-lettered and listed by `fiduciary jobs failed`
and GET /v1/jobs/failed. Periodic jobs: two workers, each occurrence queued once.
"""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from fiduciary.auth.service import create_api_key
from fiduciary.config import Settings
from fiduciary.jobs import enqueue
from fiduciary.runtime import Runtime
from fiduciary.storage import create_engine_for_url
from fiduciary.web.app import create_app
from jobs_support import cli_env, effects, fiduciary, queued, start_worker, wait_for

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_runtime(postgres_database: str, tmp_path: Path) -> Iterator[Runtime]:
    engine = create_engine_for_url(postgres_database)
    with engine.begin() as conn:
        tables = conn.scalars(sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).all()
        kept = [t for t in tables if t != "alembic_version"]
        conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{t}"' for t in kept) + " RESTART IDENTITY CASCADE"))
    engine.dispose()
    env = cli_env(postgres_database, tmp_path / "data")
    assert fiduciary(env, "init").returncode == 0
    rt = Runtime.start(Settings(database_url=postgres_database, data_dir=tmp_path / "data"), migrate=False)
    try:
        yield rt
    finally:
        rt.close()


@pytest.fixture
def workers(pg_runtime: Runtime, tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """The test's worker processes; every one still alive at the end is killed."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)


def env_of(rt: Runtime, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = cli_env(rt.settings.resolved_database_url, tmp_path / "data")
    env.update(extra)
    return env


def statuses(rt: Runtime, task: str) -> list[str]:
    with rt.sessions() as session:
        return [status for _, status in queued(session, task)]


def test_a_worker_killed_holding_a_job_leaves_it_to_another_and_the_effect_happens_once(
    pg_runtime: Runtime, tmp_path: Path, workers: list[subprocess.Popen[bytes]]
) -> None:
    with pg_runtime.sessions() as session:
        job_id = enqueue(session, "jobs.probe", {"key": "probe:kill", "hold_seconds": 120})
        session.commit()
    env = env_of(pg_runtime, tmp_path)
    log = (tmp_path / "workers.log").open("ab")
    first = start_worker(env, log, "--stalled-after", "2", "--name", "first")
    workers.append(first)

    def took_effect() -> bool:
        with pg_runtime.sessions() as session:
            return effects(session, "probe:kill") == 1

    assert wait_for(took_effect, 60), (tmp_path / "workers.log").read_text()[-3000:]
    assert statuses(pg_runtime, "jobs.probe") == ["doing"]  # committed its effect, still holding the job
    first.send_signal(signal.SIGKILL)
    first.wait(30)
    second = start_worker(env, log, "--stalled-after", "2", "--name", "second")
    workers.append(second)
    assert wait_for(lambda: statuses(pg_runtime, "jobs.probe") == ["succeeded"], 60), (
        tmp_path / "workers.log"
    ).read_text()[-3000:]
    with pg_runtime.sessions() as session:
        assert effects(session, "probe:kill") == 1
        started = session.scalar(
            sa.text("SELECT count(*) FROM procrastinate_events WHERE job_id = :id AND type = 'started'"),
            {"id": job_id},
        )
    assert started == 2  # it ran again, to no further effect


def test_a_job_that_always_fails_is_dead_lettered_and_staff_see_it(
    pg_runtime: Runtime, tmp_path: Path, workers: list[subprocess.Popen[bytes]]
) -> None:
    with pg_runtime.sessions() as session:
        job_id = enqueue(session, "jobs.probe", {"fail": True, "key": "per_secret_looking_value"})
        ok_id = enqueue(session, "jobs.probe", {"key": "probe:ok"})
        _, reader = create_api_key(session, "ops", ["jobs:read"])
        session.commit()
    # Housekeeping every 3 s: two workers, each occurrence queued once (procrastinate's periodic defers).
    env = env_of(pg_runtime, tmp_path, FIDUCIARY_HOUSEKEEPING_INTERVAL_MINUTES="0.05")
    log = (tmp_path / "workers.log").open("ab")
    workers.extend(start_worker(env, log, "--poll", "0.2") for _ in range(2))
    assert wait_for(lambda: "failed" in statuses(pg_runtime, "jobs.probe"), 90), (tmp_path / "workers.log").read_text()[
        -3000:
    ]
    assert wait_for(lambda: len(statuses(pg_runtime, "housekeeping")) >= 2, 30)
    with pg_runtime.sessions() as session:
        assert dict(queued(session, "jobs.probe")) == {job_id: "failed", ok_id: "succeeded"}
        runs, occurrences = session.execute(
            sa.text(
                "SELECT count(*), count(DISTINCT args->>'timestamp') FROM procrastinate_jobs"
                " WHERE task_name = 'housekeeping'"
            )
        ).one()
        assert runs == occurrences
    listed = fiduciary(env, "jobs", "failed", "--json")
    assert listed.returncode == 0, listed.stderr
    [dead] = json.loads(listed.stdout)["failed"]
    assert dead["id"] == job_id and dead["task_name"] == "jobs.probe" and dead["attempts"] == 3
    assert "per_secret_looking_value" not in listed.stdout
    with TestClient(create_app(runtime=pg_runtime)) as client:
        response = client.get("/v1/jobs/failed", headers={"Authorization": f"Bearer {reader}"})
    assert response.status_code == 200
    assert [job["id"] for job in response.json()["failed"]] == [job_id]
    assert "per_secret_looking_value" not in (tmp_path / "workers.log").read_text()
