"""Benchmark: the privacy center's pages over HTTP, 8 signed-in people at once, one uvicorn worker on SQLite.

    PYTHONPATH=src .venv/bin/python bench/privacy_center.py [--clients 8] [--rounds 100] [--engine sqlite]

Each client is a different person with their own customer session, opened directly with
`identity.sessions.open_session` before the server starts (as the store's backend would vouch for its
signed-in customer) and sent in the privacy center's session cookie (`web.privacy_center.guard`). The
`__Host-` prefix binds a browser to https; httpx sends a `Cookie:` header over plain http, which the server
reads the same way. Each person has two consents on record so that the consent pages have rows to render,
and an email and two addresses in the vault so that "my data" has values to mask (and audits each view, as
it does for real).

Every client loops `--rounds` times over every page and `GET /healthz` in a shuffled order (after one
warm-up pass), all clients at once (`_support.run_clients`), so each page's figure is measured under the
same concurrent load as the others and beside the cheapest answer the server gives. The figures are
client-observed times over loopback: the page's server time plus a socket round trip (the `/healthz` row
shows how much that and the queue in front of the one worker cost). Rate limiting is lifted for the run.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import time
from pathlib import Path

import httpx
from _support import Engine, database, engines, run_clients, server

from fiduciary.config import Settings
from fiduciary.consent.service import ConsentChannel, ConsentInput, ConsentService
from fiduciary.identity.sessions import open_session
from fiduciary.people.service import create_person
from fiduciary.runtime import Runtime
from fiduciary.vault.service import VaultService
from fiduciary.web.privacy_center.guard import SESSION_COOKIE

CENTER = "/privacy-center"
# Every GET page of the center a signed-in person reaches from its navigation (web/privacy_center/routes.py).
PAGES = (
    "",
    "/requests",
    "/consents",
    "/download",
    "/account",
    "/grievance",
    "/recipients",
    "/my-data",
    "/unsubscribe",
    "/complaint",
    "/notice",
)
HEALTH = "/healthz"
ADDRESSES = ["12 MG Road, Bengaluru 560001", "4 Park Street, Kolkata 700016"]


def open_sessions(url: str, data_dir: Path, count: int) -> list[str]:
    """Migrate, publish the demo policy, and open one session each for `count` new people: their tokens."""
    runtime = Runtime.start(Settings(database_url=url, data_dir=data_dir))
    tokens: list[str] = []
    try:
        consent = ConsentService.for_runtime(runtime)
        vault = VaultService(runtime)
        with runtime.sessions() as session:
            for i in range(count):
                person = create_person(session, policy=runtime.policy()).id
                # "my data" has values to mask: an email on file and two addresses (a multi-valued category)
                vault.add_identifiers(session, person, {"email": f"bench.person{i}@example.org"})
                vault.append_records(
                    session, person, "contact.address", ADDRESSES, purpose="order_fulfilment", source="provided"
                )
                for purpose in ("marketing.email", "analytics"):
                    consent.record(session, ConsentInput(person, purpose, "grant", ConsentChannel.API))
                opened = open_session(
                    runtime, session, person_id=person, verified_by="signed_in_session", actor="bench"
                )
                tokens.append(opened.token)
            session.commit()
    finally:
        runtime.close()
    return tokens


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(base: str, tokens: list[str], rounds: int) -> dict[str, list[float]]:
    """Milliseconds per path, over every client and round; any answer but 200 stops the run."""
    paths = [CENTER + p for p in PAGES] + [HEALTH]
    found: list[dict[str, list[float]]] = [{p: [] for p in paths} for _ in tokens]

    def client(n: int) -> None:
        order = random.Random(n)
        headers = {"Cookie": f"{SESSION_COOKIE}={tokens[n]}"}
        with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
            for path in paths:  # warm-up: templates compiled, connections open
                answer = http.get(path)
                assert answer.status_code == 200, (path, answer.status_code)
            mine = list(paths)
            for _ in range(rounds):
                order.shuffle(mine)
                for path in mine:
                    started = time.perf_counter()
                    answer = http.get(path)
                    elapsed = (time.perf_counter() - started) * 1000
                    assert answer.status_code == 200, (path, answer.status_code)
                    found[n][path].append(elapsed)

    run_clients(len(tokens), client)
    return {p: [ms for per_client in found for ms in per_client[p]] for p in paths}


def run(engine_name: Engine, clients: int, rounds: int) -> None:
    with database(engine_name) as (url, work):
        tokens = open_sessions(url, work, clients)
        os.environ["FIDUCIARY_PUBLIC_RATE_LIMIT_PER_MINUTE"] = "100000000"  # every client is 127.0.0.1
        with server(url, work) as base:
            started = time.perf_counter()
            figures = measure(base, tokens, rounds)
            wall = time.perf_counter() - started
    load = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    total = sum(len(v) for v in figures.values())
    print(f"[{engine_name}] {clients} clients x {rounds} rounds, {total} requests in {wall:.1f} s ({load})")
    print(f"{'page':<32} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'n':>6}")
    for path, values in figures.items():
        print(
            f"{path:<32} {percentile(values, 0.5):>8.1f} {percentile(values, 0.99):>8.1f}"
            f" {statistics.fmean(values):>8.1f} {len(values):>6}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=8, help="concurrent signed-in people (default 8)")
    parser.add_argument("--rounds", type=int, default=100, help="passes over every page per client (default 100)")
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="sqlite")
    args = parser.parse_args()
    for name in engines(args.engine):
        run(name, args.clients, args.rounds)


if __name__ == "__main__":
    main()
