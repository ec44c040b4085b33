"""The scheduled retention sweep (issue 15 item 1): `retention.sweep` runs `sweep.run_sweep` as often as
housekeeping and at most every `SWEEP_MINUTES`, off where housekeeping is off. It runs only the rules that
need no approval (GDPR Art 5(1)(e), DPDP s.8(7): data goes when its period ends, without anyone remembering
to act); a rule with `approval_required` waits for an admin's approved plan. An unfinished run of an approved
plan is left to the admin who started it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from fiduciary.config import Settings
from fiduciary.errors import Conflict
from fiduciary.jobs import JobCall, register_job
from fiduciary.retention.sweep import SYSTEM_ACTOR, run_sweep

SWEEP_JOB: Final = "retention.sweep"
SWEEP_MINUTES: Final = 60


def sweep(runtime: Any, call: JobCall) -> Mapping[str, int]:
    try:
        report = run_sweep(runtime, actor=SYSTEM_ACTOR)
    except Conflict:  # an approved plan's run is unfinished: its admin finishes it
        return {"skipped": 1}
    rules = report.per_rule()
    return {
        "fields": sum(r["fields"] for r in rules.values()),
        "batches": len({b["seq"] for b in report.batches}),
        "legal_hold_records_purged": report.legal_hold_records_purged,
    }


def _sweep_seconds(settings: Settings) -> float:
    minutes = settings.housekeeping_interval_minutes
    return min(minutes, SWEEP_MINUTES) * 60.0 if minutes > 0 else 0.0


SWEEP: Final = register_job(SWEEP_JOB, sweep, retries=0, every=_sweep_seconds)
