"""Benchmark: the cookie banner's size, how soon it shows, and how many banner choices the service absorbs.

    PYTHONPATH=src .venv/bin/python bench/banner.py [--loads 20] [--seconds 10] [--connections 16] [--skip-browser]

Against uvicorn on 127.0.0.1 (one worker process, `_support.server`) on a fresh SQLite database, with the
demo shop mounted (`FIDUCIARY_DEMO_SHOP`) and the public rate limit lifted for the run:

1. size: `/banner.js` + `/banner.css` as served, gzipped at level 9 (issue 14 budget: 8 KB);
2. time from navigation start to the banner visible in Debian's Chromium (`performance.mark` the banner
   makes when its dialog is on screen, which is after its stylesheet loaded), median of `--loads` loads of
   the demo shop: cold (a new browser context each load) and warm (cookies cleared, HTTP cache kept);
3. `POST /v1/banner/consents` per second (two actions, a new visitor each, origin-checked, commit before
   answering) with wrk if installed, else an httpx thread pool; `/healthz` measured the same way in the same
   run as the ceiling of the HTTP stack. Figures are wall time on a shared machine: compare within one run.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from _support import database, run_clients, server

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
STORE = "https://saffronlane.example"  # the demo policy's website: an origin the banner endpoint allows
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def banner_size(base: str) -> tuple[int, int]:
    """(raw bytes, gzipped bytes) of script and style together, as served."""
    script, style = httpx.get(base + "/banner.js").content, httpx.get(base + "/banner.css").content
    return len(script) + len(style), len(gzip.compress(script, 9)) + len(gzip.compress(style, 9))


def _visible_after(page: Any, url: str) -> float:
    page.goto(url, wait_until="commit")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        mark = page.evaluate(
            "(performance.getEntriesByName('fiduciary-banner-visible')[0] || {startTime: null}).startTime"
        )
        if mark is not None:
            return float(mark)
        page.wait_for_timeout(5)
    raise RuntimeError("the banner never showed")


def time_to_banner(base: str, loads: int) -> tuple[list[float], list[float]]:
    """Milliseconds from navigation start to the banner visible: (cold loads, warm loads)."""
    from playwright.sync_api import sync_playwright  # lazy: only this step needs a browser

    url = base + "/demo/"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            cold = []
            for _ in range(loads):
                context = browser.new_context()
                cold.append(_visible_after(context.new_page(), url))
                context.close()
            context = browser.new_context()
            page = context.new_page()
            _visible_after(page, url)
            warm = []
            for _ in range(loads):
                context.clear_cookies()
                warm.append(_visible_after(page, url))
            context.close()
        finally:
            browser.close()
    return cold, warm


def _wrk(url: str, seconds: int, connections: int, script: Path | None) -> tuple[float, int, int]:
    """(requests/s, requests, non-2xx) from one wrk run."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script is not None:
        command += ["-s", str(script)]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rate, total, int(errors.group(1)) if errors else 0


def _pool(url: str, seconds: int, connections: int, body: bytes | None, origin: str) -> tuple[float, int, int]:
    """The same measure without wrk: `connections` threads, each one keep-alive client, for `seconds`."""
    counts = [0] * connections
    errors = [0] * connections
    stop = time.monotonic() + seconds
    lock = threading.Lock()

    def worker(n: int) -> None:
        with httpx.Client(headers={"Origin": origin, "Content-Type": "application/json"}) as client:
            while time.monotonic() < stop:
                answer = client.post(url, content=body) if body is not None else client.get(url)
                with lock:
                    counts[n] += 1
                    errors[n] += answer.status_code >= 300

    elapsed = run_clients(connections, worker)
    return sum(counts) / elapsed, sum(counts), sum(errors)


def throughput(base: str, seconds: int, connections: int) -> dict[str, tuple[float, int, int]]:
    version = httpx.get(base + "/v1/banner/config").json()["version"]
    body = json.dumps(
        {
            "policy_version": version,
            "actions": [
                {"purpose": "analytics", "action": "grant"},
                {"purpose": "personalised_ads", "action": "deny"},
            ],
        }
    )
    results: dict[str, tuple[float, int, int]] = {}
    if shutil.which("wrk"):
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
            lua.write(
                'wrk.method = "POST"\n'
                f"wrk.body = {json.dumps(body)}\n"
                'wrk.headers["Content-Type"] = "application/json"\n'
                f'wrk.headers["Origin"] = "{STORE}"\n'
            )
        try:
            results["GET /healthz (wrk)"] = _wrk(base + "/healthz", seconds, connections, None)
            results["POST /v1/banner/consents (wrk)"] = _wrk(
                base + "/v1/banner/consents", seconds, connections, Path(lua.name)
            )
        finally:
            os.unlink(lua.name)
    else:
        results["GET /healthz (httpx)"] = _pool(base + "/healthz", seconds, connections, None, STORE)
        results["POST /v1/banner/consents (httpx)"] = _pool(
            base + "/v1/banner/consents", seconds, connections, body.encode(), STORE
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loads", type=int, default=20, help="page loads per browser measure (median)")
    parser.add_argument("--seconds", type=int, default=10, help="seconds per throughput measure")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections for throughput")
    parser.add_argument("--skip-browser", action="store_true", help="no Chromium timing")
    args = parser.parse_args()

    os.environ["FIDUCIARY_DEMO_SHOP"] = str(ROOT / "examples" / "demo-shop")
    os.environ["FIDUCIARY_PUBLIC_RATE_LIMIT_PER_MINUTE"] = "1000000000"
    with database("sqlite") as (url, work), server(url, work / "data") as base:
        raw, packed = banner_size(base)
        print(f"banner.js + banner.css: {raw:,} bytes, {packed:,} bytes gzipped (budget 8,192)")
        if not args.skip_browser and Path(CHROMIUM).exists():
            cold, warm = time_to_banner(base, args.loads)
            for name, values in (("cold", cold), ("warm", warm)):
                print(
                    f"navigation start -> banner visible, {name}: median {statistics.median(values):.0f} ms"
                    f" (min {min(values):.0f}, max {max(values):.0f}, {len(values)} loads)"
                )
        for name, (rate, total, errors) in throughput(base, args.seconds, args.connections).items():
            print(f"{name}: {rate:,.0f}/s ({total:,} requests, {errors} not 2xx, {args.connections} connections)")


if __name__ == "__main__":
    main()
