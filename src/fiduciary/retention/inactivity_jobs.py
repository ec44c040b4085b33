"""The periodic inactivity sweep (`retention.inactivity_sweep`): as often as housekeeping, at most every
`SWEEP_MINUTES`; off where housekeeping is off. The work is `inactivity_sweep.run`; the job only runs it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from fiduciary.config import Settings
from fiduciary.jobs import JobCall, register_job
from fiduciary.retention.inactivity_sweep import run

SWEEP_JOB: Final = "retention.inactivity_sweep"
SWEEP_MINUTES: Final = 60


def sweep(runtime: Any, call: JobCall) -> Mapping[str, int]:
    report = run(runtime)
    return {"reminded": report.reminded, "notified": report.notified, "erased": report.erased}


def _sweep_seconds(settings: Settings) -> float:
    minutes = settings.housekeeping_interval_minutes
    return min(minutes, SWEEP_MINUTES) * 60.0 if minutes > 0 else 0.0


SWEEP: Final = register_job(SWEEP_JOB, sweep, retries=0, every=_sweep_seconds)
