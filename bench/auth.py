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
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from fiduciary.auth.service import authenticate, create_api_key
from fiduciary.config import Settings
from fiduciary.runtime import Runtime
from fiduciary.storage import create_engine_for_url
from fiduciary.web.app import create_app
from fiduciary.web.security import RateLimiter

PG_ADMIN_URL = os.environ.get("FIDUCIARY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@contextmanager
def database(engine_name: str) -> Iterator[tuple[str, Path]]:
    with tempfile.TemporaryDirectory() as tmp:
        if engine_name == "sqlite":
            yield f"sqlite:///{Path(tmp) / 'bench.db'}", Path(tmp)
            return
        admin = create_engine_for_url(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        name = f"fiduciary_bench_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False), Path(tmp)
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered) * 1e3
    p99 = ordered[int(len(ordered) * 0.99) - 1] * 1e3
    return f"p50 {p50:.3f} ms, p99 {p99:.3f} ms, {len(samples) / sum(samples):,.0f}/s"


def bench_authenticate(engine_name: str, requests: int) -> None:
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
    for engine_name in ("sqlite", "postgresql") if args.engine == "both" else (args.engine,):
        bench_authenticate(engine_name, args.requests)


if __name__ == "__main__":
    main()
