"""Benchmark: group commit on SQLite against one COMMIT per request, in process, without HTTP.

    PYTHONPATH=src .venv/bin/python bench/group_commit.py [--clients 8] [--per-client 150] [--rounds 2]
                                                          [--sqlite-synchronous FULL]

What the database gate (storage/group_commit.py) does for `POST /v1/consents`, without the web layer:
`--clients` tasks in one event loop, each recording one consent grant after another (a closed loop, as
`wrk -c8` drives the server), through the gate either

- **per request**: `DatabaseGate.exclusive()` and a session of its own committed inline, one COMMIT (one
  fsync with `synchronous=FULL`) per request, as every request did before group commit; or
- **group**: `DatabaseGate.joined()`, a savepoint per request and one COMMIT per group.

Prints, per variant and round: grants per second (wall), the process's CPU time per grant, the COMMITs per
grant, and the wall time per grant not spent on this process's CPU (waiting for the disk, or for the cores
on a loaded machine). The rounds alternate the variants. On a shared machine compare within a round.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import anyio
from _support import database
from sqlalchemy.orm import Session

from fiduciary.config import Settings
from fiduciary.consent.service import ConsentChannel, ConsentInput, ConsentService
from fiduciary.people.service import create_person
from fiduciary.runtime import Runtime
from fiduciary.storage.group_commit import DatabaseGate

Opener = Callable[[], AbstractAsyncContextManager[Session]]


def per_request(gate: DatabaseGate, runtime: Runtime) -> Opener:
    @asynccontextmanager
    async def opened() -> AsyncIterator[Session]:
        async with gate.exclusive():
            with runtime.sessions() as session:
                yield session
                session.commit()

    return opened


def grouped(gate: DatabaseGate, runtime: Runtime) -> Opener:
    return lambda: gate.joined(runtime.sessions)


async def drive(opener: Opener, service: ConsentService, people: list[str], clients: int, per_client: int) -> None:
    async def client(index: int) -> None:
        for turn in range(per_client):
            person = people[(index * per_client + turn) % len(people)]
            async with opener() as session:
                service.record(session, ConsentInput(person, "marketing.email", "grant", ConsentChannel.API))
            await anyio.sleep(0)  # the client's next request arrives after this answer, as over a socket

    async with anyio.create_task_group() as tasks:
        for index in range(clients):
            tasks.start_soon(client, index)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--per-client", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sqlite-synchronous", choices=["NORMAL", "FULL"], default="FULL")
    args = parser.parse_args()
    total = args.clients * args.per_client
    with database("sqlite") as (url, work):
        runtime = Runtime.start(
            Settings(database_url=url, data_dir=work / "data", sqlite_synchronous=args.sqlite_synchronous)
        )
        try:
            with runtime.sessions() as session:
                runs = total * 2 * args.rounds
                people = [create_person(session, policy=runtime.policy(), is_child=False).id for _ in range(runs)]
                session.commit()
            service = ConsentService.for_runtime(runtime)
            print(f"SQLite {args.sqlite_synchronous}, {args.clients} clients x {args.per_client} grants")
            print("| round | variant | grants/s | CPU/grant | COMMITs/grant | wall not on CPU/grant |")
            print("|---|---|---|---|---|---|")
            for round_number in range(1, args.rounds + 1):
                for name, make in (("per request", per_request), ("group", grouped)):
                    gate = DatabaseGate(runtime.engine)
                    fresh, people = people[:total], people[total:]  # each run grants to people of its own
                    wall, cpu = time.perf_counter(), time.process_time()
                    anyio.run(drive, make(gate, runtime), service, fresh, args.clients, args.per_client)
                    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                    commits = gate.commits if name == "group" else total
                    print(
                        f"| {round_number} | {name} | {total / wall:,.0f} | {cpu / total * 1000:.2f} ms | "
                        f"{commits / total:.2f} | {max(wall - cpu, 0.0) / total * 1000:.2f} ms |"
                    )
        finally:
            runtime.close()


if __name__ == "__main__":
    main()
