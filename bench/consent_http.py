"""Benchmark: consent writes over HTTP, what a store backend sees (the cost of committing before answering).

    .venv/bin/python bench/consent_http.py [--engine sqlite|postgresql|both] [--requests 600] [--batches 20]

Against uvicorn on 127.0.0.1 (one worker process, `_support.server`), with 1,000 existing people:
`POST /v1/consents` with one grant, sent one after another on a keep-alive connection (p50/p99) and from 4
concurrent clients; and `POST /v1/consents/batch` with 100 items of 2 actions. Every answer is a 201 that
carries a signed receipt, and (since decision 0012) is sent only after the write has committed, fsynced
on SQLite per FIDUCIARY_SQLITE_SYNCHRONOUS (set it in the environment to compare levels; the server inherits
it). The figures are wall time on a shared machine: compare ratios taken in one sitting, not absolutes.
"""

from __future__ import annotations

import argparse
import statistics
import time

import httpx
from _support import Engine, database, engines, run_clients, server

from fiduciary.auth.service import create_api_key
from fiduciary.config import Settings
from fiduciary.people.service import create_person
from fiduciary.runtime import Runtime

PURPOSES = ("marketing.email", "marketing.sms", "analytics", "personalised_ads")


def populate(runtime: Runtime, n: int) -> tuple[list[str], str]:
    with runtime.sessions() as session:
        people = [create_person(session, policy=runtime.policy(), is_child=False) for _ in range(n)]
        _, key = create_api_key(session, "bench", ["consent:write"])
        session.commit()
    return [p.id for p in people], key


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def one(subject: str, i: int) -> dict[str, object]:
    action = "grant" if i % 3 else "withdraw"
    return {"subject_id": subject, "channel": "checkout", "actions": [{"purpose": PURPOSES[i % 4], "action": action}]}


def http(base: str, key: str, ids: list[str], requests_total: int, batches: int) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        client.post("/v1/consents", json=one(ids[0], 1)).raise_for_status()  # warm-up
        latencies = []
        started = time.perf_counter()
        for i in range(requests_total):
            t = time.perf_counter()
            r = client.post("/v1/consents", json=one(ids[i % len(ids)], i))
            latencies.append(time.perf_counter() - t)
            assert r.status_code == 201, r.text
        seconds = time.perf_counter() - started
    print(
        f"  HTTP single, 1 client     : {requests_total / seconds:>8,.0f} writes/s"
        f"  p50 {statistics.median(latencies) * 1000:.1f} ms  p99 {percentile(latencies, 0.99) * 1000:.1f} ms"
    )

    threads, per_thread = 4, requests_total // 4
    merged: list[list[float]] = [[] for _ in range(threads)]

    def worker(n: int) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=60) as own:
            for i in range(n * per_thread, (n + 1) * per_thread):
                t = time.perf_counter()
                r = own.post("/v1/consents", json=one(ids[(i * 7) % len(ids)], i))
                merged[n].append(time.perf_counter() - t)
                assert r.status_code == 201, r.text

    seconds = run_clients(threads, worker)
    flat = [x for lat in merged for x in lat]
    print(
        f"  HTTP single, 4 clients    : {len(flat) / seconds:>8,.0f} writes/s"
        f"  p50 {statistics.median(flat) * 1000:.1f} ms  p99 {percentile(flat, 0.99) * 1000:.1f} ms"
    )

    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
        latencies = []
        started = time.perf_counter()
        for b in range(batches):
            items = [
                {
                    "subject_id": ids[(b * 100 + j) % len(ids)],
                    "channel": "checkout",
                    "actions": [{"purpose": p, "action": "grant"} for p in PURPOSES[(b % 2) * 2 : (b % 2) * 2 + 2]],
                }
                for j in range(100)
            ]
            t = time.perf_counter()
            r = client.post("/v1/consents/batch", json={"items": items})
            latencies.append(time.perf_counter() - t)
            assert r.status_code == 201, r.text
        seconds = time.perf_counter() - started
    print(
        f"  HTTP batches of 200 events: {batches * 200 / seconds:>8,.0f} events/s"
        f"  p50 {statistics.median(latencies) * 1000:.0f} ms per batch"
    )


def run(engine_name: Engine, requests_total: int, batches: int) -> None:
    with database(engine_name) as (url, tmp):
        settings = Settings(database_url=url, data_dir=tmp / "data")
        runtime = Runtime.start(settings)
        ids, key = populate(runtime, 1000)
        runtime.close()
        print(f"[{engine_name}]")
        with server(settings.resolved_database_url, settings.data_dir) as base:
            http(base, key, ids, requests_total, batches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--requests", type=int, default=600, help="single writes per measurement")
    parser.add_argument("--batches", type=int, default=20, help="batches of 100 items (200 events)")
    args = parser.parse_args()
    for name in engines(args.engine):
        run(name, args.requests, args.batches)


if __name__ == "__main__":
    main()
