"""Notifying the people affected by a breach (issue 16 benchmarks): 100,000 people by default.

- select + queue: `flows.notify_affected` — one INSERT … SELECT of everyone holding the incident's category
  into `breach_notices`, the batches cut in SQL and one `breach.notify_batch` job per batch — in seconds;
- enqueue the messages: every batch job run in turn (`jobs.notify_batch`: each person's contact opened under
  their key, one `breach.notice` message rendered, sealed and queued in the outbox), messages per second;
- deliver: `comms.delivery.deliver` runs into a real SMTP server (aiosmtpd on 127.0.0.1), messages per
  second, over the first `--deliver` messages (all of them with `--deliver 0`).

Run: `PYTHONPATH=src .venv/bin/python bench/breach_notify.py [--engine sqlite|postgresql|both] [--people 100000]`
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from datetime import timedelta

from _support import database, engines, free_port
from aiosmtpd.controller import Controller
from pydantic import SecretStr
from sqlalchemy import func, select

from fiduciary.cases.breach.flows import notify_affected, open_breach, update_facts
from fiduciary.cases.breach.jobs import notify_batch
from fiduciary.cases.breach.notices import NOTIFY_JOB, batch_ranges
from fiduciary.comms.delivery import deliver
from fiduciary.comms.models import OutboxMessage
from fiduciary.config import Settings
from fiduciary.jobs import JobCall
from fiduciary.runtime import Runtime
from fiduciary.storage.base import utcnow
from fiduciary.unit_of_work import unit_of_work
from fiduciary.vault.service import NewPerson, VaultService

CHUNK = 5_000
FACTS = {
    "likely_consequences": "Phishing messages that use your order details",
    "measures_taken": "The export was closed and its keys rotated",
    "safety_measures": "Do not share one-time codes; we never ask for them",
}


class Sink:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.count += 1
        return "250 OK"


def populate(rt: Runtime, people: int) -> float:
    """`people` with an e-mail field and identifier, in chunks; seconds taken (not part of the figures)."""
    vault = VaultService(rt)
    began = time.perf_counter()
    for start in range(0, people, CHUNK):
        batch = [
            NewPerson({"contact.email": f"p{n}@example.com"}, {"email": f"p{n}@example.com"})
            for n in range(start, min(start + CHUNK, people))
        ]
        with rt.sessions() as session:
            vault.create_people(session, batch, purpose=["account"], source="provided")
            session.commit()
    return time.perf_counter() - began


def select_and_queue(rt: Runtime) -> tuple[str, float, int]:
    with rt.sessions() as session:
        uow = unit_of_work(rt, session)
        detected = (utcnow() - timedelta(hours=1)).isoformat()
        incident = {"summary": "An export was readable", "detected_at": detected, "categories": ["contact.email"]}
        case = open_breach(uow, incident, actor="bench")
        update_facts(uow, case.id, FACTS, actor="bench")
        session.commit()
        began = time.perf_counter()
        result = notify_affected(uow, case.id, {}, actor="bench")
        session.commit()
        took = time.perf_counter() - began
    return case.id, took, result.jobs


def run_batches(rt: Runtime, case_id: str) -> tuple[float, int]:
    with rt.sessions() as session:
        ranges = batch_ranges(session, case_id)
    began = time.perf_counter()
    queued = 0
    for n, (first, last) in enumerate(ranges):
        queued += notify_batch(rt, JobCall(n, NOTIFY_JOB, {"case_id": case_id, "first": first, "last": last}))["queued"]
    return time.perf_counter() - began, queued


def timed_deliver(rt: Runtime, count: int) -> tuple[float, int]:
    port = free_port()
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    rt.settings = rt.settings.model_copy(update={"smtp_url": SecretStr(f"smtp://127.0.0.1:{port}")})
    try:
        began = time.perf_counter()
        sent = 0
        while sent < count:
            done = deliver(rt, limit=min(1000, count - sent)).sent
            if done == 0:
                break
            sent += done
        return sent / (time.perf_counter() - began), sink.count
    finally:
        controller.stop()


def run(engine: str, people: int, sample: int) -> None:
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    with database(engine) as (url, work):
        rt = Runtime.start(Settings(database_url=url, data_dir=work / "data", outbox_sweep_seconds=0))
        try:
            made = populate(rt, people)
            case_id, selecting, jobs = select_and_queue(rt)
            enqueuing, queued = run_batches(rt, case_id)
            with rt.sessions() as session:
                in_outbox = session.scalar(select(func.count()).where(OutboxMessage.kind == "breach.notice"))
            rate, received = timed_deliver(rt, sample or queued)
        finally:
            rt.close()
    load = os.getloadavg()
    print(
        f"{engine}: {people:,} people (made in {made:.0f} s); select + queue {jobs} batch jobs {selecting:.2f} s; "
        f"enqueue {queued:,} messages {enqueuing:.1f} s ({queued / enqueuing:.0f}/s, {in_outbox:,} in the outbox); "
        f"total to everyone queued {selecting + enqueuing:.1f} s; deliver to SMTP {rate:.0f}/s "
        f"({received:,} received); load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine", default="sqlite")
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--deliver", type=int, default=10_000, help="messages delivered for the rate (0: all)")
    args = parser.parse_args()
    for engine in engines(args.engine):
        run(engine, args.people, args.deliver)


if __name__ == "__main__":
    main()
