"""Benchmark: API-key authentication and the rate limiter (targets: authenticate p50 < 1 ms; limiter > 200,000 hits/s).

    .venv/bin/python bench/auth.py [--engine sqlite|postgresql|both] [--requests 5000]

Measures (1) `authenticate` with a fresh session per call, as one API request does (primary-key read plus
SHA-256 and compare; last_used_at writes at most once a minute, so almost never), (2) `RateLimiter.hit`
from one thread over 10,000 client addresses, and (3) HTTP requests in process through httpx's
ASGI transport (no sockets): `GET /v1/apikeys/self` (authenticated) against `GET /healthz` (one SELECT 1,
no key), so the difference is what authentication adds to a request.
PostgreSQL comes from FIDUCIARY_TEST_POSTGRES_URL; a scratch database is created and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import httpx
from _support import Engine, database, engines
from fastapi import FastAPI

from fiduciary.auth.service import authenticate, create_api_key
from fiduciary.config import Settings
from fiduciary.runtime import Runtime
from fiduciary.web.app import create_app
from fiduciary.web.security import RateLimiter


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered) * 1e3
    p99 = ordered[int(len(ordered) * 0.99) - 1] * 1e3
    return f"p50 {p50:.3f} ms, p99 {p99:.3f} ms, {len(samples) / sum(samples):,.0f}/s"


def bench_authenticate(engine_name: Engine, requests: int) -> None:
    with database(engine_name) as (url, data_dir):
        runtime = Runtime.start(Settings(database_url=url, data_dir=data_dir / "data"))
        with runtime.sessions() as session:
            for i in range(200):  # a realistic table: many keys, one in use
                create_api_key(session, f"k{i}", ["decisions"])
            _, key = create_api_key(session, "bench", ["decisions"])
            session.commit()
        samples = []
        for _ in range(requests):
            started = time.perf_counter()
            with runtime.sessions() as session:
                authenticate(session, key)
                session.commit()
            samples.append(time.perf_counter() - started)
        print(f"authenticate [{engine_name}]: {_percentiles(samples)}")

        app = create_app(runtime=runtime)
        app.state.runtime = runtime  # the ASGI transport does not run the lifespan
        for path, headers in (("/healthz", {}), ("/v1/apikeys/self", {"Authorization": f"Bearer {key}"})):
            http = asyncio.run(_http(app, path, headers, requests))
            print(f"GET {path} [{engine_name}]: {_percentiles(http)}")
        runtime.close()


async def _http(app: FastAPI, path: str, headers: dict[str, str], requests: int) -> list[float]:
    samples = []
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for _ in range(requests):
            started = time.perf_counter()
            response = await client.get(path, headers=headers)
            samples.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
    return samples


def bench_limiter() -> None:
    limiter = RateLimiter(120)
    keys = [f"198.51.{i // 256}.{i % 256}" for i in range(10_000)]
    hits = 1_000_000
    started = time.perf_counter()
    for i in range(hits):
        limiter.hit(keys[i % len(keys)])
    elapsed = time.perf_counter() - started
    print(f"RateLimiter.hit: {hits / elapsed:,.0f} hits/s ({elapsed / hits * 1e6:.2f} µs each), {len(limiter)} keys")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--requests", type=int, default=5000)
    args = parser.parse_args()
    bench_limiter()
    for engine_name in engines(args.engine):
        bench_authenticate(engine_name, args.requests)


if __name__ == "__main__":
    main()
