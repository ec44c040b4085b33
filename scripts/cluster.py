"""A local scale-out proof on PostgreSQL (issue 17 item 4), without docker compose.

Starts N `fiduciary serve` processes on their own ports behind a round-robin TCP load balancer (a small
asyncio proxy, `proxy` below, that skips a backend it cannot reach), plus two `fiduciary worker` processes;
runs a bounded load test from its own process (`load` below: threads sending a mix of consent writes,
decisions and consent reads through the balancer, and queueing `jobs.probe` jobs in their own
transactions); kills (SIGKILL) one API process and one worker halfway; then checks:

- no acknowledged consent lost: every ledger position a 201 named holds that subject's event;
- `fiduciary ledger verify` and `fiduciary audit verify` pass;
- every queued job ran, and took effect exactly once (one `job_effects` row per job).

Prints one JSON document (throughput, latencies, errors, checks) and exits 1 if a check failed.

    PYTHONPATH=src .venv/bin/python scripts/cluster.py --api 2 --seconds 20 --clients 8
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack, redirect_stdout, suppress
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("FIDUCIARY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PURPOSES = ("marketing.email", "marketing.sms", "analytics", "personalised_ads")
QUESTIONS = (("marketing.email", ["contact.email"]), ("analytics", ["usage.browsing"]), ("order_fulfilment", []))


_T0 = time.monotonic()


def phase(message: str) -> None:
    """Progress on stderr (the report is the JSON on stdout)."""
    print(f"[{time.monotonic() - _T0:6.1f} s] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# ------------------------------------------------------------------------------------------- balancer


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with suppress(Exception):
            writer.close()


async def _balance(listen: int, backends: list[int]) -> None:
    turn = itertools.cycle(range(len(backends)))

    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        for _ in range(len(backends)):  # round robin; a backend that refuses is skipped
            port = backends[next(turn)]
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                continue
            await asyncio.gather(_pipe(client_reader, writer), _pipe(reader, client_writer))
            return
        client_writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", listen, backlog=1024)
    async with server:
        await server.serve_forever()


def proxy_main(listen: int, backends: list[int]) -> None:
    with suppress(KeyboardInterrupt):
        asyncio.run(_balance(listen, backends))


# ----------------------------------------------------------------------------------------------- load


def load_main(  # noqa: PLR0915 (the load process: set-up, the client loop, the report)
    base: str, key: str, url: str, data_dir: str, seconds: float, clients: int, out: str, people_count: int
) -> None:
    """Send the mix through the balancer for `seconds`; write what was acknowledged to `out` (JSON)."""
    import httpx

    from fiduciary.config import Settings
    from fiduciary.jobs import enqueue
    from fiduciary.people.service import create_person
    from fiduciary.runtime import Runtime

    runtime = Runtime.start(Settings(database_url=url, data_dir=Path(data_dir)), migrate=False)
    with runtime.sessions() as session:
        people = [create_person(session, policy=runtime.policy(), is_child=False).id for _ in range(people_count)]
        session.commit()
    acknowledged: list[tuple[str, int]] = []
    jobs: list[int] = []
    latencies: dict[str, list[float]] = {"consent": [], "decision": [], "read": []}
    errors: dict[str, int] = {}
    guard = threading.Lock()
    deadline = time.monotonic() + seconds

    def client(n: int) -> None:
        rng = random.Random(n)
        headers = {"Authorization": f"Bearer {key}"}
        http = httpx.Client(base_url=base, headers=headers, timeout=10)
        while time.monotonic() < deadline:
            person = rng.choice(people)
            kind = rng.choices(("consent", "decision", "read", "job"), (4, 4, 2, 1))[0]
            began = time.perf_counter()
            try:
                if kind == "job":
                    with runtime.sessions() as session:
                        job_id = enqueue(session, "jobs.probe", {"hold_seconds": 0.2})
                        session.commit()
                    with guard:
                        jobs.append(job_id)
                    continue
                if kind == "consent":
                    body = {
                        "subject_id": person,
                        "channel": "checkout",
                        "actions": [{"purpose": rng.choice(PURPOSES), "action": rng.choice(("grant", "withdraw"))}],
                    }
                    response = http.post("/v1/consents", json=body)
                elif kind == "decision":
                    purpose, categories = rng.choice(QUESTIONS)
                    body = {"subject_id": person, "purpose": purpose, "categories": categories}
                    response = http.post("/v1/decisions", json=body)
                else:
                    response = http.get(f"/v1/consents/{person}")
            except (httpx.HTTPError, OSError) as exc:  # a killed backend: reconnect (to the next one)
                http.close()
                http = httpx.Client(base_url=base, headers=headers, timeout=10)
                with guard:
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                continue
            elapsed = (time.perf_counter() - began) * 1000
            with guard:
                if response.status_code >= 400:
                    errors[str(response.status_code)] = errors.get(str(response.status_code), 0) + 1
                    continue
                latencies[kind].append(elapsed)
                if kind == "consent":
                    acknowledged.extend((person, r["ledger_position"]) for r in response.json()["results"])
        http.close()

    deadline = time.monotonic() + seconds
    Path(out + ".started").touch()  # the orchestrator counts "halfway" from here
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    runtime.close()
    Path(out).write_text(
        json.dumps({"acknowledged": acknowledged, "jobs": jobs, "latencies": latencies, "errors": errors})
    )


# ------------------------------------------------------------------------------------------ processes


class Cluster:
    def __init__(self, url: str, data_dir: Path, logs: Path) -> None:
        self.url, self.data_dir, self.logs = url, data_dir, logs
        self.procs: list[subprocess.Popen[bytes]] = []

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FIDUCIARY_")}
        env["PYTHONPATH"] = str(ROOT / "src")
        env.update(
            FIDUCIARY_DATABASE_URL=self.url,
            FIDUCIARY_DATA_DIR=str(self.data_dir),
            FIDUCIARY_HOUSEKEEPING_INTERVAL_MINUTES="0.1",  # a periodic job every 6 s during the run
            FIDUCIARY_PUBLIC_RATE_LIMIT_PER_MINUTE="1000000",
        )
        return env

    def spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("ab")
        command = [sys.executable, *args]  # our own interpreter and arguments
        proc = subprocess.Popen(command, env=self.env(), stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)  # noqa: S603
        self.procs.append(proc)
        return proc

    def fiduciary(self, *args: str) -> int:
        """Run a `fiduciary` command in this process (one interpreter start fewer than a child process); its
        exit code."""
        from fiduciary.cli.main import app
        from fiduciary.config import get_settings

        os.environ.update({k: v for k, v in self.env().items() if k.startswith("FIDUCIARY_")})
        get_settings.cache_clear()
        try:
            with redirect_stdout(sys.stderr):  # stdout carries only the report
                code = app(list(args), standalone_mode=False)  # click returns an Exit's code
        except SystemExit as exc:
            return int(exc.code or 0)
        except Exception as exc:  # click's usage errors
            print(f"fiduciary {' '.join(args)}: {type(exc).__name__}", file=sys.stderr)
            return 1
        return code if isinstance(code, int) else 0

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait(30)


def wait_healthy(ports: list[int], procs: list[subprocess.Popen[bytes]], timeout: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    for port, proc in zip(ports, procs, strict=True):
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"API process on port {port} exited with {proc.returncode}")
            with suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit(f"API process on port {port} did not start")
            time.sleep(0.1)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(int(q * len(ordered)), len(ordered) - 1)], 1) if ordered else 0.0


def check(cluster: Cluster, load: dict[str, Any]) -> dict[str, Any]:
    import sqlalchemy as sa

    from fiduciary.storage import create_engine_for_url

    engine = create_engine_for_url(cluster.url)
    try:
        deadline = time.monotonic() + 90  # the surviving worker finishes the queue, stranded jobs included
        with engine.connect() as conn:
            while time.monotonic() < deadline:
                left = conn.scalar(
                    sa.text(
                        "SELECT count(*) FROM procrastinate_jobs"
                        " WHERE task_name = 'jobs.probe' AND status <> 'succeeded'"
                    )
                )
                conn.rollback()
                if not left:
                    break
                time.sleep(0.5)
            lost = []
            for subject, position in load["acknowledged"]:
                payload = conn.scalar(
                    sa.text("SELECT payload FROM ledger_events WHERE stream = 'consent' AND position = :p"),
                    {"p": position},
                )
                if payload is None or subject not in payload:
                    lost.append(position)
            ids = load["jobs"]
            statuses = dict(
                conn.execute(
                    sa.text("SELECT id, status::text FROM procrastinate_jobs WHERE id = ANY(:ids)"), {"ids": ids}
                ).all()
            )
            effects = conn.scalar(
                sa.text("SELECT count(*) FROM job_effects WHERE key = ANY(:keys)"),
                {"keys": [f"jobs.probe:{i}" for i in ids]},
            )
            reruns = conn.scalar(
                sa.text(
                    "SELECT count(*) FROM (SELECT job_id FROM procrastinate_events WHERE type = 'started'"
                    " AND job_id = ANY(:ids) GROUP BY job_id HAVING count(*) > 1) AS twice"
                ),
                {"ids": ids},
            )
            periodic_runs, periodic_occurrences = conn.execute(
                sa.text(
                    "SELECT count(*), count(DISTINCT args->>'timestamp') FROM procrastinate_jobs"
                    " WHERE task_name = 'housekeeping'"
                )
            ).one()
    finally:
        engine.dispose()
    # Verify a quiet system: `ledger verify` reads a stream's head and its checkpoints in separate
    # statements, so a seal committing in between (housekeeping on a worker) can read as a missing checkpoint.
    cluster.stop_all()
    phase("queue drained, processes stopped; verifying ledgers")
    ledger = cluster.fiduciary("ledger", "verify")
    audit = cluster.fiduciary("audit", "verify")
    return {
        "acknowledged_consents": len(load["acknowledged"]),
        "acknowledged_consents_lost": len(lost),
        "ledger_verify": ledger == 0,
        "audit_verify": audit == 0,
        "jobs_queued": len(ids),
        "jobs_succeeded": sum(1 for i in ids if statuses.get(i) == "succeeded"),
        "job_effects": int(effects or 0),
        "jobs_run_twice": int(reruns or 0),
        "periodic_runs": int(periodic_runs),
        "periodic_occurrences": int(periodic_occurrences),
    }


def run(options: argparse.Namespace) -> int:  # noqa: PLR0915 (one linear script)
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    from fiduciary.auth.service import create_api_key
    from fiduciary.config import Settings
    from fiduciary.runtime import Runtime
    from fiduciary.storage import create_engine_for_url

    name = f"fiduciary_cluster_{uuid.uuid4().hex[:10]}"
    admin = create_engine_for_url(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fiduciary-cluster-")))
        cluster = Cluster(url, work / "data", Path(options.logs) if options.logs else work)
        cluster.logs.mkdir(parents=True, exist_ok=True)
        stack.callback(cluster.stop_all)
        phase(f"database {name}; fiduciary init")
        if cluster.fiduciary("init") != 0:
            raise SystemExit("fiduciary init failed")
        runtime = Runtime.start(Settings(database_url=url, data_dir=cluster.data_dir))
        with runtime.sessions() as session:
            _, key = create_api_key(session, "cluster-load", ["consent:write", "consent:read", "decisions"])
            session.commit()
        runtime.close()
        ports = [free_port() for _ in range(options.api)]
        apis = [cluster.spawn(f"api-{p}", "-m", "fiduciary.cli.main", "serve", "--port", str(p)) for p in ports]
        workers = [
            cluster.spawn(f"worker-{n}", "-m", "fiduciary.cli.main", "worker", "--stalled-after", "3", "--poll", "0.5")
            for n in range(2)
        ]
        phase(f"starting {options.api} API process(es) and 2 workers")
        wait_healthy(ports, apis)
        phase("API processes healthy")
        listen = free_port()
        cluster.spawn("balancer", str(Path(__file__)), "proxy", "--listen", str(listen), *map(str, ports))
        time.sleep(0.5)
        out = work / "load.json"
        load_args = [str(Path(__file__)), "load", f"http://127.0.0.1:{listen}", key, url, str(cluster.data_dir)]
        load_args += [str(options.seconds), str(options.clients), str(out), str(options.people)]
        loader = cluster.spawn("load", *load_args)
        while not Path(str(out) + ".started").exists():
            if loader.poll() is not None:
                raise SystemExit(f"the load process failed; see {cluster.logs / 'load.log'}")
            time.sleep(0.05)
        started = time.monotonic()
        phase("load started")
        time.sleep(options.seconds / 2)
        killed_api = apis[-1] if options.api > 1 and not options.no_kill else None
        if killed_api is not None:
            killed_api.send_signal(signal.SIGKILL)
            phase("killed one API process and one worker (SIGKILL)")
        if not options.no_kill:
            workers[0].send_signal(signal.SIGKILL)
        loader.wait(options.seconds + 300)
        wall = time.monotonic() - started
        if loader.returncode != 0 or not out.exists():
            raise SystemExit(f"the load process failed; see {cluster.logs / 'load.log'}")
        load = json.loads(out.read_text())
        phase("load finished; checking")
        checks = check(cluster, load)
        phase("checked")
        cluster.stop_all()
        admin_conn = admin.connect()
        admin_conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin_conn.close()
    admin.dispose()
    lat = load["latencies"]
    done = sum(len(v) for v in lat.values())
    ok = (
        checks["acknowledged_consents_lost"] == 0
        and checks["ledger_verify"]
        and checks["audit_verify"]
        and checks["jobs_succeeded"] == checks["jobs_queued"] == checks["job_effects"]
        and checks["periodic_runs"] == checks["periodic_occurrences"]
        and checks["acknowledged_consents"] > 0
    )
    report = {
        "ok": ok,
        "api_processes": options.api,
        "killed": {"api": options.api > 1 and not options.no_kill, "worker": not options.no_kill},
        "seconds": options.seconds,
        "clients": options.clients,
        "requests_ok": done,
        "requests_per_second": round(done / min(wall, options.seconds), 1),
        "p50_ms": {k: pct(v, 0.5) for k, v in lat.items()},
        "p99_ms": {k: pct(v, 0.99) for k, v in lat.items()},
        "errors": load["errors"],
        "checks": checks,
    }
    print(json.dumps(report, indent=2))
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command")
    proxy = sub.add_parser("proxy", help="(internal) the round-robin TCP balancer")
    proxy.add_argument("--listen", type=int, required=True)
    proxy.add_argument("backends", type=int, nargs="+")
    load = sub.add_parser("load", help="(internal) the load client")
    for arg in ("base", "key", "url", "data_dir", "seconds", "clients", "out", "people"):
        load.add_argument(arg)
    parser.add_argument("--api", type=int, default=2, help="API processes (fiduciary serve) behind the balancer")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the load test")
    parser.add_argument("--clients", type=int, default=8, help="concurrent client threads")
    parser.add_argument("--people", type=int, default=200, help="people the load spreads over")
    parser.add_argument("--no-kill", action="store_true", help="kill nothing halfway (for throughput runs)")
    parser.add_argument("--logs", help="keep the processes' logs in this folder")
    options = parser.parse_args()
    if options.command == "proxy":
        proxy_main(options.listen, options.backends)
    elif options.command == "load":
        sys.path.insert(0, str(ROOT / "src"))
        load_main(
            options.base,
            options.key,
            options.url,
            options.data_dir,
            float(options.seconds),
            int(options.clients),
            options.out,
            int(options.people),
        )
    else:
        sys.exit(run(options))


if __name__ == "__main__":
    main()
