"""Benchmark: decisions per second in process (target >= 200,000/s with state cached) and over HTTP.

    .venv/bin/python bench/decisions.py [--engine sqlite|postgresql|both] [--people 1000] [--http-requests 2000]

1. In process, state cached: `DecisionService.prepare` loads policy, floors and the facts of 1,000 people
   once, then `DecisionContext.decide` answers a rotating mix of questions (consent and non-consent
   purposes, with and without categories, allowed and denied). This is the path a store backend embedding
   Fiduciary uses within one request.
2. In process with loading: `decide_many` batches of 1,000, each loading its facts from the database
   (best of 3); and `prepare` for one person at a time, what an audited vault read does first.
3. Over HTTP against uvicorn on 127.0.0.1 (one worker process): single decisions sent one after another on a
   keep-alive connection (latency p50/p99), the same from 4 concurrent clients, and batches of 1,000.
   The number of requests is bounded by --http-requests.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import httpx
from _support import Engine, database, engines, run_clients, server

from fiduciary.auth.service import create_api_key
from fiduciary.config import Settings
from fiduciary.consent.service import ConsentChannel, ConsentInput, ConsentService
from fiduciary.decisions.service import DecisionRequest, DecisionService
from fiduciary.people.service import create_person
from fiduciary.runtime import Runtime

QUESTIONS = [
    ("marketing.email", ("contact.email",)),
    ("marketing.sms", ()),
    ("analytics", ("usage.browsing", "device.identifiers")),
    ("order_fulfilment", ("contact.address", "usage.browsing")),
    ("customer_support", ()),
    ("tax_compliance", ("government.pan",)),
    ("undeclared.purpose", ()),
]


def populate(runtime: Runtime, n: int) -> tuple[list[str], str]:
    """n people (5% children, who get only withdrawals and refusals), 70% with a choice per marketing purpose."""
    rng = random.Random(11)
    policy = runtime.policy()
    with runtime.sessions() as session:
        people = [create_person(session, policy=policy, is_child=rng.random() < 0.05) for _ in range(n)]
        session.commit()
        items: list[ConsentInput] = []
        for person in people:
            for purpose in ("marketing.email", "marketing.sms"):
                if rng.random() < 0.7:
                    action = rng.choice(
                        ["withdraw", "deny"] if person.age_status == "child" else ["grant", "grant", "withdraw", "deny"]
                    )
                    items.append(ConsentInput(person.id, purpose, action, ConsentChannel.API))  # type: ignore[arg-type]
        service = ConsentService.for_runtime(runtime)
        for start in range(0, len(items), 1000):
            service.record_many(session, items[start : start + 1000])
        session.commit()
        _, key = create_api_key(session, "bench", ["decisions"])
        session.commit()
    return [p.id for p in people], key


def in_process(runtime: Runtime, ids: list[str], rounds: int) -> None:
    service = DecisionService(runtime)
    with runtime.sessions() as session:
        ctx = service.prepare(session, ids)
        asks = [(pid, purpose, cats) for pid in ids for purpose, cats in QUESTIONS]
        allowed = 0
        best_wall, best_cpu, done = float("inf"), float("inf"), 0
        for _ in range(3):  # best of three: the machine is shared, so the slowest runs measure the neighbours
            started, cpu = time.perf_counter(), time.process_time()
            done = 0
            while done < rounds:
                for pid, purpose, cats in asks:
                    allowed += ctx.decide(pid, purpose, cats).allow
                done += len(asks)
            best_wall = min(best_wall, time.perf_counter() - started)
            best_cpu = min(best_cpu, time.process_time() - cpu)
        rate = done / best_wall
        verdict = "OK" if rate >= 200_000 else "SLOW"
        print(
            f"  in process, state cached : {rate:>10,.0f} decisions/s wall, {done / best_cpu:,.0f}/s of CPU"
            f" ({done:,} decisions, {allowed / (3 * done):.0%} allowed)  {verdict}"
        )

        requests = [
            DecisionRequest(pid, purpose, cats) for pid, (purpose, cats) in zip(ids, QUESTIONS * len(ids), strict=False)
        ]
        best = float("inf")
        total = 0
        for _ in range(3):  # best of three, as above
            started = time.perf_counter()
            total = 0
            for _ in range(5):
                for start in range(0, len(requests), 1000):
                    total += len(service.decide_many(session, "bench", requests[start : start + 1000]))
            best = min(best, time.perf_counter() - started)
        print(
            f"  in process, loading facts: {total / best:>10,.0f} decisions/s (batches of 1,000, facts read per batch)"
        )

        # What an audited vault read does before decrypting anything (vault/access.py): one person's facts.
        best_wall, best_cpu = float("inf"), float("inf")
        for _ in range(3):
            started, cpu = time.perf_counter(), time.process_time()
            for pid in ids:
                service.prepare(session, [pid])
            best_wall = min(best_wall, time.perf_counter() - started)
            best_cpu = min(best_cpu, time.process_time() - cpu)
        print(
            f"  in process, prepare 1 person: {best_wall / len(ids) * 1e6:>7,.0f} µs wall,"
            f" {best_cpu / len(ids) * 1e6:,.0f} µs CPU ({len(ids):,} people, best of 3)"
        )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def http(base: str, key: str, ids: list[str], requests_total: int) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    bodies = [
        {
            "subject_id": ids[i % len(ids)],
            "purpose": QUESTIONS[i % len(QUESTIONS)][0],
            "categories": list(QUESTIONS[i % len(QUESTIONS)][1]),
        }
        for i in range(requests_total)
    ]
    with httpx.Client(base_url=base, headers=headers) as client:
        for body in bodies[:50]:  # warm up
            client.post("/v1/decisions", json=body)
        latencies: list[float] = []
        started = time.perf_counter()
        for body in bodies:
            t = time.perf_counter()
            r = client.post("/v1/decisions", json=body)
            latencies.append(time.perf_counter() - t)
            assert r.status_code == 200, r.text
        seconds = time.perf_counter() - started
    print(
        f"  HTTP single, 1 client     : {len(bodies) / seconds:>10,.0f} decisions/s"
        f"  p50 {percentile(latencies, 0.5) * 1000:.1f} ms"
        f"  p99 {percentile(latencies, 0.99) * 1000:.1f} ms  ({len(bodies):,} requests)"
    )

    threads, per_thread = 4, requests_total // 4
    all_latencies: list[list[float]] = [[] for _ in range(threads)]

    def worker(n: int) -> None:
        with httpx.Client(base_url=base, headers=headers) as client:
            for body in bodies[n * per_thread : (n + 1) * per_thread]:
                t = time.perf_counter()
                r = client.post("/v1/decisions", json=body)
                all_latencies[n].append(time.perf_counter() - t)
                assert r.status_code == 200

    seconds = run_clients(threads, worker)
    merged = [x for lat in all_latencies for x in lat]
    print(
        f"  HTTP single, 4 clients    : {len(merged) / seconds:>10,.0f} decisions/s"
        f"  p50 {statistics.median(merged) * 1000:.1f} ms"
        f"  p99 {percentile(merged, 0.99) * 1000:.1f} ms"
    )

    batch = [{"subject_id": ids[i % len(ids)], "purpose": QUESTIONS[i % len(QUESTIONS)][0]} for i in range(1000)]
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        client.post("/v1/decisions", json={"requests": batch})
        latencies = []
        started = time.perf_counter()
        for _ in range(20):
            t = time.perf_counter()
            r = client.post("/v1/decisions", json={"requests": batch})
            latencies.append(time.perf_counter() - t)
            assert r.status_code == 200
        seconds = time.perf_counter() - started
    print(
        f"  HTTP batches of 1,000     : {20_000 / seconds:>10,.0f} decisions/s"
        f"  p50 {statistics.median(latencies) * 1000:.0f} ms per batch"
    )


def run(engine_name: Engine, people: int, rounds: int, http_requests: int) -> None:
    with database(engine_name) as (url, tmp):
        settings = Settings(database_url=url, data_dir=tmp / "data")
        runtime = Runtime.start(settings)
        ids, key = populate(runtime, people)
        print(f"[{engine_name}] {people:,} people")
        in_process(runtime, ids, rounds)
        runtime.close()
        with server(settings.resolved_database_url, settings.data_dir) as base:
            http(base, key, ids, http_requests)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=1_000_000, help="in-process decisions to time (x3)")
    parser.add_argument("--http-requests", type=int, default=2000)
    args = parser.parse_args()
    for name in engines(args.engine):
        run(name, args.people, args.rounds, args.http_requests)


if __name__ == "__main__":
    main()
