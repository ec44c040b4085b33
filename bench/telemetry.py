"""What telemetry costs (issue 17 item 5): metrics per request, one process and several; a traced request; the
job-queue gauges' query on PostgreSQL with many waiting jobs.

- `observe_request`: CPU per call, in-process registry vs prometheus_client's multiprocess mode (what
  `serve --workers N` runs; each call writes to a memory-mapped file). Each mode in a child process, since
  prometheus_client picks it at import.
- tracing: CPU per request through `fiduciary.web.otel.TracingMiddleware` around a trivial ASGI app, spans
  batched to an exporter that drops them (the `otel` extra must be installed); 0 when tracing is off, since
  nothing is installed then.
- queue gauges (PostgreSQL): `--jobs` jobs of which a tenth wait, timed with the query before issue 17 item
  5 (an event lookup per waiting job) and the one `fiduciary.jobs.pg.depth` runs now.

Run: `PYTHONPATH=src .venv/bin/python bench/telemetry.py [--calls 200000] [--jobs 200000]`
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from _support import database

from fiduciary.config import Settings
from fiduciary.jobs import pg
from fiduciary.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent
OLD_DEPTH = (
    "SELECT count(*), min(COALESCE(j.scheduled_at,"
    " (SELECT min(e.at) FROM procrastinate_events e WHERE e.job_id = j.id)))"
    " FROM procrastinate_jobs j WHERE j.status = 'todo' AND (j.scheduled_at IS NULL OR j.scheduled_at <= now())"
)

_OBSERVE = """
import sys, time
from fiduciary.metrics import MULTIPROCESS_DIR, observe_request
calls = int(sys.argv[1])
for _ in range(1000):
    observe_request("POST", "/v1/decisions", 200, 0.003)
best = 1e9
for _ in range(5):
    started = time.process_time()
    for _ in range(calls):
        observe_request("POST", "/v1/decisions", 200, 0.003)
    best = min(best, (time.process_time() - started) / calls)
print(f"{'multiprocess' if MULTIPROCESS_DIR else 'one process'}: {best * 1e6:.2f} us CPU per call")
"""


def observe(calls: int) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    for multiprocess in (False, True):
        with tempfile.TemporaryDirectory() as folder:
            run_env = {**env, "PROMETHEUS_MULTIPROC_DIR": folder} if multiprocess else env
            done = subprocess.run([sys.executable, "-c", _OBSERVE, str(calls)], env=run_env, capture_output=True)
            print("observe_request,", done.stdout.decode().strip() or done.stderr.decode()[-500:])


async def _inner(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def _traced(requests: int) -> None:
    from opentelemetry.sdk.trace import TracerProvider  # the optional `otel` extra
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    from fiduciary.web.otel import TracingMiddleware

    class Drop(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Drop(), max_queue_size=requests * 2))
    traced = TracingMiddleware(_inner, provider.get_tracer("bench"))
    scope = {"type": "http", "method": "POST", "path": "/v1/decisions", "headers": [], "state": {"request_id": "r"}}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request"}

    async def send(_message: Any) -> None:
        return None

    for app, label in ((_inner, "no tracing"), (traced, "traced")):
        best = 1e9
        for _ in range(3):
            started = time.process_time()
            for _ in range(requests):
                await app(dict(scope), receive, send)
            best = min(best, (time.process_time() - started) / requests)
        print(f"request through the middleware, {label}: {best * 1e6:.1f} us CPU (spans exported by a thread)")
    provider.shutdown()


def queue_gauges(jobs: int) -> None:
    with database("postgresql") as (url, data_dir):
        runtime = Runtime.start(Settings(database_url=url, data_dir=data_dir))
        try:
            with runtime.engine.begin() as connection:
                connection.execute(
                    sa.text(
                        "INSERT INTO procrastinate_jobs (queue_name, task_name, status, scheduled_at)"
                        " SELECT 'default', 'jobs.noop',"
                        " (CASE WHEN g % 10 = 0 THEN 'todo' ELSE 'succeeded' END)::procrastinate_job_status,"
                        " CASE WHEN g % 3 = 0 THEN now() - interval '1 minute' END FROM generate_series(1, :n) g"
                    ),
                    {"n": jobs},
                )
                connection.execute(sa.text("ANALYZE procrastinate_jobs"))
            with runtime.sessions() as session:
                for label, read in (
                    ("before (a lookup per waiting job)", lambda: session.execute(sa.text(OLD_DEPTH)).one()),
                    ("now (fiduciary.jobs.pg.depth)", lambda: pg.depth(session)),
                ):
                    read()
                    timings = []
                    for _ in range(5):
                        started = time.perf_counter()
                        read()
                        timings.append(time.perf_counter() - started)
                    print(f"queue gauges, {jobs // 10} waiting of {jobs}, {label}: {min(timings) * 1e3:.1f} ms")
        finally:
            runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--jobs", type=int, default=200_000)
    args = parser.parse_args()
    print("load average:", " ".join(f"{x:.2f}" for x in os.getloadavg()))
    observe(args.calls)
    try:
        asyncio.run(_traced(args.requests))
    except ImportError:
        print("tracing: the `otel` extra is not installed; skipped")
    queue_gauges(args.jobs)
    print("load average:", " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
