"""The outbox: what `comms.outbox.send` adds to a transaction, and delivery throughput (issue 13 item 8).

- send: `send` of one `rights.code` message inside an open transaction (render, seal under the person's key,
  insert, queue `comms.deliver`), p50/p99 in ms; then commit.
- deliver: the messages delivered by one `deliver` run into a real SMTP server (aiosmtpd on 127.0.0.1, one
  connection per run), messages per second; and into the outbox folder (.eml files).

Run: `.venv/bin/python bench/outbox.py [--engine both] [--messages 500]`
"""

from __future__ import annotations

import argparse
import os
import shutil
import time

from _support import database, engines, free_port
from aiosmtpd.controller import Controller
from pydantic import SecretStr

from fiduciary.comms.delivery import deliver
from fiduciary.comms.outbox import send
from fiduciary.config import Settings
from fiduciary.people.service import create_person
from fiduciary.runtime import Runtime
from fiduciary.unit_of_work import unit_of_work


class Sink:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.count += 1
        return "250 OK"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def queue(rt: Runtime, count: int, tag: str) -> list[float]:
    """Queue `count` messages, one transaction each; the ms `send` took inside its transaction."""
    with rt.sessions() as session:
        person = create_person(session, policy=rt.policy(), is_child=False).id
        session.commit()
    took: list[float] = []
    for n in range(count):
        with rt.sessions() as session:
            t0 = time.perf_counter()
            send(
                unit_of_work(rt, session),
                kind="rights.code",
                channel="email",
                to="bench.person@example.com",
                person_id=person,
                params={"code": f"{n:06d}", "minutes": 10},
                idempotency_key=f"bench:{tag}:{n}",
            )
            took.append((time.perf_counter() - t0) * 1000)
            session.commit()
    return took


def timed_deliver(rt: Runtime, count: int) -> float:
    began = time.perf_counter()
    sent = 0
    while sent < count:
        sent += deliver(rt, limit=count).sent
    return count / (time.perf_counter() - began)


def run(engine: str, count: int) -> None:
    with database(engine) as (url, work):
        rt = Runtime.start(Settings(database_url=url, data_dir=work / "data", outbox_sweep_seconds=0))
        try:
            took = queue(rt, count, "folder")
            folder_rate = timed_deliver(rt, count)
            shutil.rmtree(work / "data" / "outbox", ignore_errors=True)
            sink = Sink()
            port = free_port()
            controller = Controller(sink, hostname="127.0.0.1", port=port)
            controller.start()
            try:
                rt.settings = rt.settings.model_copy(update={"smtp_url": SecretStr(f"smtp://127.0.0.1:{port}")})
                queue(rt, count, "smtp")
                smtp_rate = timed_deliver(rt, count)
            finally:
                controller.stop()
        finally:
            rt.close()
    load = os.getloadavg()[0]
    print(
        f"{engine}: send in a transaction p50 {pct(took, 0.5):.2f} ms p99 {pct(took, 0.99):.2f} ms; "
        f"deliver to SMTP {smtp_rate:.0f}/s ({sink.count} received), to the folder {folder_rate:.0f}/s; "
        f"load {load:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine", default="both")
    parser.add_argument("--messages", type=int, default=500)
    args = parser.parse_args()
    for engine in engines(args.engine):
        run(engine, args.messages)


if __name__ == "__main__":
    main()
