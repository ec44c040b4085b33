"""The disclosure log: people logged per second (issue 15: at least 10,000 a second, batched).

- log: `disclosures.log.write_log` alone — one disclosure of `--people` people, its `disclosure_subjects`
  rows written `BATCH` per INSERT, committed; repeated `--rounds` times: people logged per second.
- audience: `disclosures.flows.disclose` end to end for an audience without values (the purpose's audience
  computed set-wise in SQL, the log written, one audit event), over `--people` people in the database.
- listed: `disclose` for a list of 1,000 people without values (facts loaded set-wise, one decision each).

Run: `PYTHONPATH=src .venv/bin/python bench/disclosures.py [--engine both] [--people 50000] [--rounds 5]`
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import UTC, datetime

import sqlalchemy as sa
from _support import database, engines

from fiduciary.config import Settings
from fiduciary.disclosures.flows import DisclosureRequest, disclose
from fiduciary.disclosures.log import LogEntry, References, new_disclosure_id, write_log
from fiduciary.people.models import Person
from fiduciary.people.service import new_person_id
from fiduciary.runtime import Runtime
from fiduciary.storage.base import utcnow


def load_people(rt: Runtime, n: int) -> list[str]:
    ids = sorted(new_person_id() for _ in range(n))
    now = datetime.now(UTC)
    rows = [{"id": p, "status": "active", "age_status": "adult", "created_at": now} for p in ids]
    with rt.sessions() as session:
        for start in range(0, n, 10_000):
            session.execute(sa.insert(Person.__table__), rows[start : start + 10_000])
        session.commit()
    return ids


def time_log(rt: Runtime, people: list[str], rounds: int) -> float:
    references = References.for_runtime(rt)
    began = time.perf_counter()
    for _ in range(rounds):
        entry = LogEntry(
            new_disclosure_id(), "couriers", "processor", "order_fulfilment", ["contact.address"], "bench", 1, None,
            True, len(people), utcnow(),
        )  # fmt: skip
        with rt.sessions() as session:
            write_log(session, references, entry, people)
            session.commit()
    return rounds * len(people) / (time.perf_counter() - began)


def time_disclose(rt: Runtime, request: DisclosureRequest, rounds: int) -> tuple[float, int]:
    began = time.perf_counter()
    reached = 0
    for _ in range(rounds):
        with rt.sessions() as session:
            reached += disclose(rt, session, request, actor="bench").entry.people
            session.commit()
    return reached / (time.perf_counter() - began), reached // rounds


def run(engine: str, n: int, rounds: int) -> None:
    with database(engine) as (url, work):
        rt = Runtime.start(Settings(database_url=url, data_dir=work / "data", outbox_sweep_seconds=0))
        try:
            people = load_people(rt, n)
            log_rate = time_log(rt, people, rounds)
            audience = DisclosureRequest(
                "couriers", "order_fulfilment", ["contact.address"], audience=True, include_values=False
            )
            audience_rate, reached = time_disclose(rt, audience, rounds)
            listed = DisclosureRequest(
                "couriers", "order_fulfilment", ["contact.address"], people=people[:1000], include_values=False
            )
            listed_rate, _ = time_disclose(rt, listed, rounds)
        finally:
            rt.close()
    print(f"{engine}: write_log {log_rate:,.0f} people/s ({rounds} x {n:,}); "
          f"disclose audience {audience_rate:,.0f} people/s ({reached:,} each); "
          f"disclose 1,000 listed {listed_rate:,.0f} people/s")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--engine", default="both")
    parser.add_argument("--people", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f}")
    for engine in engines(args.engine):
        run(engine, args.people, args.rounds)


if __name__ == "__main__":
    main()
