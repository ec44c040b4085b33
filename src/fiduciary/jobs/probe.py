"""Built-in jobs that test the queue itself: `jobs.noop` (throughput) and `jobs.probe` (effects, failures).

`jobs.probe` records its effect under `effect_once`, then the run that took effect may hold the job
(`hold_seconds`) so that a test or the cluster check can kill the worker after the effect committed and
before the queue heard of it: the job runs again and its effect still happens once.
With `fail` it always raises (retries, then the dead-letter list).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fiduciary.jobs.queue import effect_once
from fiduciary.jobs.registry import JobCall, register_job


class ProbeFailed(RuntimeError):
    """The failure `jobs.probe` was asked for."""


def noop(_host: Any, _call: JobCall) -> None:
    return None


def probe(host: Any, call: JobCall) -> Mapping[str, int]:
    if call.args.get("fail"):
        raise ProbeFailed("asked to fail")
    key = str(call.args.get("key") or f"jobs.probe:{call.job_id}")
    with host.sessions() as session:
        first = effect_once(session, key, call.task_name)
        session.commit()
    hold = float(call.args.get("hold_seconds") or 0)
    if first and hold > 0:  # held only by the run that took effect: a rerun finishes at once
        call.stop.wait(hold)
    return {"effects": int(first)}


NOOP = register_job("jobs.noop", noop, retries=0)
PROBE = register_job("jobs.probe", probe, retries=2, backoff_seconds=0.5)
