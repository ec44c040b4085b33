"""Background jobs: enqueue cost, worker throughput and end-to-end latency (issue 17 item 3).

- enqueue with commit: one transaction per job (`enqueue` + `commit`), jobs per second.
- time added to a transaction: `enqueue` inside an open transaction, p50/p99 (the target is <= 2 ms).
- no-op jobs per second per worker: N `jobs.noop` queued, then one `fiduciary worker --burst` (PostgreSQL,
  procrastinate; measured from its first job's start to its last job's end in procrastinate_events) or the
  embedded runner's `run_pending` (SQLite). Target >= 200/s; pgqueuer is the fallback if it binds.
- end-to-end latency with 2 workers (PostgreSQL) or the in-process runner (SQLite): jobs queued at a
  steady rate; latency = the job's end minus its commit.

Run: `.venv/bin/python bench/jobs.py [--engine both] [--jobs 2000] [--rate 50] [--seconds 10]`
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from _support import database, engines

from fiduciary.config import Settings
from fiduciary.jobs import enqueue
from fiduciary.jobs.local import LocalJobRunner
from fiduciary.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def enqueue_rate(rt: Runtime, count: int) -> tuple[float, float, float]:
    """(jobs/s with a commit each, p50 ms and p99 ms of `enqueue` inside an open transaction)."""
    began = time.perf_counter()
    for _ in range(count):
        with rt.sessions() as session:
            enqueue(session, "jobs.noop", {"n": 1})
            session.commit()
    rate = count / (time.perf_counter() - began)
    added: list[float] = []
    for _ in range(count):
        with rt.sessions() as session:
            session.execute(sa.text("SELECT 1"))  # the request's own work has begun the transaction
            t0 = time.perf_counter()
            enqueue(session, "jobs.noop", {"n": 1})
            added.append((time.perf_counter() - t0) * 1000)
            session.rollback()
    return rate, pct(added, 0.5), pct(added, 0.99)


def clear(rt: Runtime) -> None:
    with rt.engine.begin() as conn:
        if rt.engine.dialect.name == "postgresql":
            conn.execute(
                sa.text("TRUNCATE procrastinate_jobs, procrastinate_events, procrastinate_workers, job_effects CASCADE")
            )
        else:
            conn.execute(sa.text("DELETE FROM job_queue"))


def worker_env(url: str, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIDUCIARY_")}
    env.update(
        PYTHONPATH=str(ROOT / "src"),
        FIDUCIARY_DATABASE_URL=url,
        FIDUCIARY_DATA_DIR=str(data_dir),
        FIDUCIARY_HOUSEKEEPING_INTERVAL_MINUTES="0",
    )
    return env


def fiduciary(env: dict[str, str], *args: str, wait: bool = True) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "fiduciary.cli.main", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    if wait:
        proc.wait()
    return proc


def pg_throughput(rt: Runtime, env: dict[str, str], count: int, concurrency: int = 1) -> float:
    clear(rt)
    with rt.sessions() as session:
        for _ in range(count):
            enqueue(session, "jobs.noop", {})
        session.commit()
    fiduciary(env, "worker", "--burst", "--concurrency", str(concurrency))
    with rt.engine.connect() as conn:
        first, last, done = conn.execute(
            sa.text(
                "SELECT min(at) FILTER (WHERE type = 'started'), max(at) FILTER (WHERE type = 'succeeded'),"
                " count(*) FILTER (WHERE type = 'succeeded') FROM procrastinate_events"
            )
        ).one()
    return float(done) / (last - first).total_seconds()


def steady(rt: Runtime, rate: float, seconds: float) -> list[int]:
    """Queue `jobs.noop` at `rate` per second for `seconds`; returns the ids (one commit each)."""
    ids: list[int] = []
    interval = 1.0 / rate
    began = time.perf_counter()
    for n in range(int(rate * seconds)):
        delay = began + n * interval - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        with rt.sessions() as session:
            ids.append(enqueue(session, "jobs.noop", {"sent": time.time()}))
            session.commit()
    return ids


def pg_latency(rt: Runtime, env: dict[str, str], rate: float, seconds: float) -> list[float]:
    clear(rt)
    workers = [fiduciary(env, "worker", "--poll", "1", wait=False) for _ in range(2)]
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # both workers up (registered) before the first job
            with rt.engine.connect() as conn:
                if conn.scalar(sa.text("SELECT count(*) FROM procrastinate_workers")) >= 2:
                    break
            time.sleep(0.2)
        time.sleep(1)
        ids = steady(rt, rate, seconds)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with rt.engine.connect() as conn:
                left = conn.scalar(sa.text("SELECT count(*) FROM procrastinate_jobs WHERE status <> 'succeeded'"))
            if not left:
                break
            time.sleep(0.2)
    finally:
        for proc in workers:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
    with rt.engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT (args->>'sent')::float8, extract(epoch FROM e.at) FROM procrastinate_jobs j"
                " JOIN procrastinate_events e ON e.job_id = j.id AND e.type = 'succeeded' WHERE j.id = ANY(:ids)"
            ),
            {"ids": ids},
        ).all()
    return [(float(done) - float(sent)) * 1000 for sent, done in rows]


def sqlite_throughput(rt: Runtime, count: int) -> float:
    clear(rt)
    with rt.sessions() as session:
        for _ in range(count):
            enqueue(session, "jobs.noop", {})
        session.commit()
    runner = LocalJobRunner(rt, rt.engine, rt.sessions, rt.settings)
    began = time.perf_counter()
    ran = runner.run_pending()
    return ran / (time.perf_counter() - began)


def sqlite_latency(rt: Runtime, rate: float, seconds: float) -> list[float]:
    clear(rt)
    runner = LocalJobRunner(rt, rt.engine, rt.sessions, rt.settings)
    runner.start()
    try:
        ids = steady(rt, rate, seconds)
        deadline = time.monotonic() + 60
        while runner.succeeded < len(ids) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        runner.stop()
    with rt.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT args, finished_at FROM job_queue WHERE status = 'succeeded'")).all()
    return [(_epoch(finished) - float(json.loads(args)["sent"])) * 1000 for args, finished in rows]


def _epoch(value: object) -> float:
    """A timestamp read raw from SQLite (text, UTC without an offset) as seconds since the epoch."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine", default="both")
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    options = parser.parse_args()
    for name in engines(options.engine):
        with database(name) as (url, work):
            data_dir = work / "data"
            env = worker_env(url, data_dir)
            fiduciary(env, "init")
            rt = Runtime.start(Settings(database_url=url, data_dir=data_dir))
            try:
                rate, p50, p99 = enqueue_rate(rt, options.jobs)
                print(f"{name}: enqueue+commit {rate:,.0f} jobs/s; enqueue in an open transaction", end=" ")
                print(f"p50 {p50:.3f} ms p99 {p99:.3f} ms")
                if name == "postgresql":
                    per_worker = pg_throughput(rt, env, options.jobs)
                    concurrent = pg_throughput(rt, env, options.jobs, concurrency=8)
                    print(f"{name}: no-op jobs, one worker with --concurrency 8: {concurrent:,.0f}/s")
                    latencies = pg_latency(rt, env, options.rate, options.seconds)
                    label = "2 workers"
                else:
                    per_worker = sqlite_throughput(rt, options.jobs)
                    latencies = sqlite_latency(rt, options.rate, options.seconds)
                    label = "in-process runner"
                print(f"{name}: no-op jobs per worker {per_worker:,.0f}/s")
                print(
                    f"{name}: end-to-end latency ({label}, {options.rate:.0f} jobs/s for {options.seconds:.0f} s,"
                    f" {len(latencies)} jobs) p50 {statistics.median(latencies):.1f} ms"
                    f" p99 {pct(latencies, 0.99):.1f} ms"
                )
            finally:
                rt.close()


if __name__ == "__main__":
    main()
