"""Webhook fan-out (issue 15): `--deliveries` notices queued at once, sent by `disclosures.webhooks.deliver`
to a local receiver that checks every Standard Webhooks signature and answers 204.

Reports deliveries per second (queue to last acknowledgement) and the delay from queueing to
acknowledgement per notice (p50, p99), and each POST's own round trip (p50, p99, from `webhook_attempts`).
The receiver is a separate process (`http.server`, one thread per connection), so its signature checks do
not share the deliverer's interpreter lock.

Run: `PYTHONPATH=src .venv/bin/python bench/webhooks.py [--engine both] [--deliveries 10000] [--workers 16]`
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import textwrap
import time

import sqlalchemy as sa
from _support import database, engines, free_port

from fiduciary.config import Settings
from fiduciary.disclosures.endpoints import configure_endpoint
from fiduciary.disclosures.models import DELIVERIES_TABLE, WebhookAttempt, WebhookDelivery
from fiduciary.people.service import new_id, new_person_id
from fiduciary.runtime import Runtime
from fiduciary.storage.base import utcnow
from fiduciary.vault.records import bulk_insert

SECRET = "whsec_" + "YmVuY2gtc2VjcmV0LWZvci13ZWJob29rcy0xMjM0NTY="
RECEIVER = textwrap.dedent(
    """
    import sys
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from standardwebhooks.webhooks import Webhook
    hook = Webhook(sys.argv[2])
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def do_POST(self):
            body = self.rfile.read(int(self.headers["content-length"]))
            try:
                hook.verify(body, {k.lower(): v for k, v in self.headers.items()})
                status = 204
            except Exception:
                status = 401
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()
        def log_message(self, *args):
            pass
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
    server.daemon_threads = True
    print("ready", flush=True)
    server.serve_forever()
    """
)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)] if ordered else 0.0


def queue(rt: Runtime, count: int) -> None:
    now = utcnow()
    rows = [
        {
            "id": new_id("whd"),
            "recipient_id": "couriers",
            "person_id": new_person_id(),
            "recipient_ref": "ref_" + "0" * 32,
            "event": "erasure",
            "categories": ["contact.address", "identity.name"],
            "purposes": None,
            "state": "pending",
            "attempts": 0,
            "created_at": now,
            "next_attempt_at": now,
        }
        for _ in range(count)
    ]
    with rt.sessions() as session:
        bulk_insert(session, DELIVERIES_TABLE, rows)
        session.commit()


def run(engine: str, count: int, workers: int) -> None:
    from fiduciary.disclosures.webhooks import deliver  # after the runtime's imports, as the job runner

    port = free_port()
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER, str(port), SECRET], stdout=subprocess.PIPE, text=True)
    try:
        assert receiver.stdout is not None and receiver.stdout.readline().strip() == "ready"
        with database(engine) as (url, work):
            rt = Runtime.start(Settings(database_url=url, data_dir=work / "data", outbox_sweep_seconds=0))
            try:
                with rt.sessions() as session:
                    configure_endpoint(
                        rt, session, "couriers", f"http://127.0.0.1:{port}/hooks", actor="bench", secret=SECRET
                    )
                    session.commit()
                queue(rt, count)
                began = time.perf_counter()
                report = deliver(rt, workers=workers)
                took = time.perf_counter() - began
                with rt.sessions() as session:
                    delays = [
                        (ack - created).total_seconds()
                        for created, ack in session.execute(
                            sa.select(WebhookDelivery.created_at, WebhookDelivery.acknowledged_at).where(
                                WebhookDelivery.acknowledged_at.is_not(None)
                            )
                        )
                    ]
                    posts = [float(ms) for ms in session.scalars(sa.select(WebhookAttempt.duration_ms))]
            finally:
                rt.close()
    finally:
        receiver.terminate()
        receiver.wait()
    print(
        f"{engine}: {report.delivered:,} of {count:,} delivered in {took:.1f} s = "
        f"{report.delivered / took:,.0f}/s; "
        f"queue→ack delay p50 {pct(delays, 0.5):.2f} s, p99 {pct(delays, 0.99):.2f} s; "
        f"POST p50 {pct(posts, 0.5):.0f} ms, p99 {pct(posts, 0.99):.0f} ms ({workers} senders)"
    )
    assert report.delivered == count, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--engine", default="both")
    parser.add_argument("--deliveries", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=16)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f}")
    for engine in engines(args.engine):
        run(engine, args.deliveries, args.workers)


if __name__ == "__main__":
    main()
