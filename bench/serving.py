"""Benchmark: the HTTP request path beside a bare FastAPI app, in one run (issue 17, item 1).

    .venv/bin/python bench/serving.py [--engine sqlite|postgresql] [--seconds 8] [--connections 8]
                                      [--sqlite-synchronous NORMAL|FULL|EXTRA] [--workers 1]

Starts, itself, a bare FastAPI app returning {"ok": true} (bench/_bare_app.py) under the same server stack
as `fiduciary serve` (uvicorn; httptools and uvloop when installed), and `fiduciary serve` on a fresh data
folder (SQLite file by default), with an API key and people created before it starts. Then drives each
target with `wrk -t1 -c<connections> -d<seconds>s --latency` (Debian package `wrk`; POST bodies from Lua
scripts written to a temporary folder) and prints requests/s, p50, p99 and the ratio to the bare app:

- the bare app's GET /;
- GET /healthz (one `SELECT 1` in a session);
- GET /v1/consents/{subject_id}, an authenticated read of one person's consent state (rotating over 200);
- POST /v1/decisions, one person and one purpose (authenticated, audited);
- POST /v1/consents, one grant for a different person each request (rotating over 2,000 people; every
  answer is committed, fsynced per FIDUCIARY_SQLITE_SYNCHRONOUS, before it is sent);
- POST /v1/banner/consents, a banner visitor's two choices (a new visitor each request, the store's Origin),
  as bench/banner.py sends them (issue 14's target: 1,000/s on SQLite).

It also reads the server's CPU time (user + system, /proc, summed over the process and its descendants:
`serve --workers N` serves from spawned children) before and after each run and prints it per request: on
a machine shared with other work, wall-clock rates fall with the load, CPU per request does not. Any
non-2xx answer is counted and printed: a run with errors is not a result. The figures are wall time on a
shared 2-core machine where wrk, the server and the database share the cores: compare the ratios within
one run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from _support import database, free_port

from fiduciary.auth.service import create_api_key
from fiduciary.config import Settings
from fiduciary.people.service import create_person
from fiduciary.runtime import Runtime

BENCH = Path(__file__).resolve().parent
PEOPLE = 2000


@dataclass
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int = 0
    cpu_ms: float = 0.0  # the serving processes' CPU time (user + system, children summed) per request


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (which may itself hold spaces and parentheses)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None  # gone between the listing and the read


def process_tree(pid: int) -> list[int]:
    """`pid` and every live descendant (a /proc walk by parent pid): `fiduciary serve --workers N` serves from
    spawned children, and with N > 1 the pid the script started only supervises."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            parents[int(entry.name)] = int(fields[1])
    tree, frontier = [pid], [pid]
    while frontier:
        frontier = [child for child, parent in parents.items() if parent in frontier]
        tree += frontier
    return tree


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds so far of process `pid` and its live descendants, with what their exited
    children used (Linux /proc): a figure other load cannot inflate."""
    ticks = 0
    for member in process_tree(pid):
        fields = _stat(member)
        if fields is not None:  # utime, stime, cutime, cstime (proc(5) fields 14-17)
            ticks += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if match is None:
        raise ValueError(f"unreadable latency {text!r}")
    value, unit = float(match[1]), match[2]
    return value / 1000.0 if unit == "us" else value * 1000.0 if unit == "s" else value


def wrk(name: str, url: str, seconds: int, connections: int, script: Path | None = None, pid: int = 0) -> Result:
    cpu_before = cpu_seconds(pid) if pid else 0.0
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    if script is not None:
        command += ["-s", str(script)]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out)[1])  # type: ignore[index]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out)[1])  # type: ignore[index]
    errors = 0
    for pattern in (r"Non-2xx or 3xx responses:\s+(\d+)", r"Socket errors:.*?timeout (\d+)"):
        found = re.search(pattern, out)
        errors += int(found[1]) if found else 0
    done = int(re.search(r"(\d+) requests in", out)[1])  # type: ignore[index]
    cpu_ms = (cpu_seconds(pid) - cpu_before) * 1000.0 / max(done, 1) if pid else 0.0
    return Result(name, rps, p50, p99, errors, done, cpu_ms)


def _wait(url: str, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not start")


@contextmanager
def process(command: list[str], url: str, env: dict[str, str], cwd: Path) -> Iterator[int]:
    proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait(url, proc)
        yield proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def in_process_settings(url: str, work: Path) -> Settings:
    """Settings for a benchmark that builds the app in its own process (bench/request_path.py,
    bench/profile_serving.py): no housekeeping beside the measure, the public rate limit out of the way."""
    return Settings(
        database_url=url,
        data_dir=work / "data",
        housekeeping_interval_minutes=0,
        public_rate_limit_per_minute=10_000_000,
    )


def populate(settings: Settings) -> tuple[list[str], str]:
    runtime = Runtime.start(settings)
    try:
        with runtime.sessions() as session:
            people = [create_person(session, policy=runtime.policy(), is_child=False).id for _ in range(PEOPLE)]
            _, key = create_api_key(session, "bench-serving", ["decisions", "consent:write", "consent:read"])
            session.commit()
    finally:
        runtime.close()
    return people, key


def write_wrk_scripts(scripts: Path, key: str, people: list[str]) -> str:
    """wrk's Lua scripts for the two POST targets into `scripts`: one decision for the first person, one
    grant for a different person each request; returns the decision's body (for a check request)."""
    decision = json.dumps({"subject_id": people[0], "purpose": "marketing.email"})
    consents = [
        json.dumps(
            {"subject_id": p, "channel": "checkout", "actions": [{"purpose": "marketing.email", "action": "grant"}]}
        )
        for p in people
    ]
    (scripts / "decisions.lua").write_text(lua_post("/v1/decisions", key, [decision]))
    (scripts / "consents.lua").write_text(lua_post("/v1/consents", key, consents))
    (scripts / "read.lua").write_text(lua_get(key, [f"/v1/consents/{p}" for p in people[:200]]))
    return decision


BANNER_ORIGIN = "https://saffronlane.example"  # the demo policy's store: an origin the banner endpoint allows


def write_banner_script(scripts: Path, policy_version: int) -> None:
    """A banner visitor's choice (two actions, a new visitor each request, as bench/banner.py sends it)."""
    body = {
        "policy_version": policy_version,
        "actions": [{"purpose": "analytics", "action": "grant"}, {"purpose": "personalised_ads", "action": "deny"}],
    }
    (scripts / "banner.lua").write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(json.dumps(body))}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Origin"] = "{BANNER_ORIGIN}"\n'
    )


def lua_post(path: str, key: str, bodies: list[str]) -> str:
    """A wrk script that POSTs `bodies` in turn (one list per connection thread; wrk -t1 has one)."""
    items = ",\n".join("[==[" + body + "]==]" for body in bodies)
    return (
        'wrk.method = "POST"\n'
        f'wrk.headers["Authorization"] = "Bearer {key}"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f"local bodies = {{\n{items}\n}}\n"
        "local i = 0\n"
        "request = function()\n"
        "  i = i % #bodies + 1\n"
        f'  return wrk.format(nil, "{path}", nil, bodies[i])\n'
        "end\n"
    )


def lua_get(key: str, paths: list[str]) -> str:
    """A wrk script that GETs `paths` in turn with the API key (an authenticated read)."""
    items = ",\n".join(f'"{path}"' for path in paths)
    return (
        f'wrk.headers["Authorization"] = "Bearer {key}"\n'
        f"local paths = {{\n{items}\n}}\n"
        "local i = 0\n"
        "request = function()\n"
        "  i = i % #paths + 1\n"
        '  return wrk.format("GET", paths[i])\n'
        "end\n"
    )


def run(engine: str, seconds: int, connections: int, synchronous: str = "FULL", workers: int = 1) -> list[Result]:
    results: list[Result] = []
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIDUCIARY_")}
    src = str(BENCH.parent / "src")
    env["PYTHONPATH"] = src + os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else src
    with database(engine) as (url, work), tempfile.TemporaryDirectory() as scripts_dir:
        scripts = Path(scripts_dir)
        bare_port = free_port()
        bare = [sys.executable, "-m", "uvicorn", "_bare_app:app", "--port", str(bare_port), "--no-access-log"]
        with process([*bare, "--log-level", "warning"], f"http://127.0.0.1:{bare_port}/", env, BENCH) as pid:
            results.append(wrk("bare FastAPI GET /", f"http://127.0.0.1:{bare_port}/", seconds, connections, pid=pid))

        settings = Settings(database_url=url, data_dir=work / "data")
        people, key = populate(settings)
        port = free_port()
        serve_env = {
            **env,
            "FIDUCIARY_DATABASE_URL": settings.resolved_database_url,
            "FIDUCIARY_DATA_DIR": str(settings.data_dir),
            "FIDUCIARY_HOUSEKEEPING_INTERVAL_MINUTES": "0",
            "FIDUCIARY_PUBLIC_RATE_LIMIT_PER_MINUTE": "10000000",
            "FIDUCIARY_SQLITE_SYNCHRONOUS": synchronous,
        }
        serve = [sys.executable, "-m", "fiduciary.cli.main", "serve", "--port", str(port), "--workers", str(workers)]
        base = f"http://127.0.0.1:{port}"
        decision = write_wrk_scripts(scripts, key, people)
        with process(serve, base + "/healthz", serve_env, BENCH.parent) as pid:
            check = httpx.post(base + "/v1/decisions", content=decision, headers=_headers(key))
            check.raise_for_status()
            results.append(wrk("GET /healthz", base + "/healthz", seconds, connections, pid=pid))
            write_banner_script(scripts, httpx.get(base + "/v1/banner/config").json()["version"])
            for name, path, script in (
                ("GET /v1/consents/{id}", "/v1/consents/", "read.lua"),
                ("POST /v1/decisions", "/v1/decisions", "decisions.lua"),
                ("POST /v1/consents", "/v1/consents", "consents.lua"),
                ("POST /v1/banner/consents", "/v1/banner/consents", "banner.lua"),
            ):
                results.append(wrk(name, base + path, seconds, connections, scripts / script, pid=pid))
    return results


def _headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument(
        "--sqlite-synchronous",
        choices=["NORMAL", "FULL", "EXTRA"],
        default="FULL",
        help="the served SQLite database's fsync level (default FULL, the product default); NORMAL shows the "
        "request path without the fsync of each commit",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="`fiduciary serve --workers N` (default 1, the issue's targets; serve's own default is one per core)",
    )
    args = parser.parse_args()
    results = run(args.engine, args.seconds, args.connections, args.sqlite_synchronous, args.workers)
    bare = results[0].rps
    level = f", synchronous={args.sqlite_synchronous}" if args.engine == "sqlite" else ""
    load = ", ".join(Path("/proc/loadavg").read_text().split()[:3])
    print(
        f"[{args.engine}{level}, --workers {args.workers}] wrk -t1 -c{args.connections} -d{args.seconds}s; "
        f"load average after: {load}"
    )
    print(
        f"| {'target':<24} | {'requests/s':>10} | {'p50':>8} | {'p99':>9} | {'of bare':>7} | "
        "server CPU/request | errors |"
    )
    print(f"|{'-' * 26}|{'-' * 12}|{'-' * 10}|{'-' * 11}|{'-' * 9}|--------------------|--------|")
    for r in results:
        print(
            f"| {r.name:<24} | {r.rps:>10,.0f} | {r.p50_ms:>5.1f} ms | {r.p99_ms:>6.1f} ms | "
            f"{r.rps / bare:>6.0%} | {r.cpu_ms:>15.2f} ms | {r.errors:>6} |"
        )


if __name__ == "__main__":
    main()
