"""The job registry: domains register job functions here; the queue and both runners look them up by name.

A job function takes the host the runner was given (the `Runtime` the CLI or web app built: this package
never imports it, so that any domain may register jobs without an import cycle) and a `JobCall`, and
returns counts (or None). It must be safe to run twice: a worker killed after the job's transaction
committed but before the queue heard of it runs the job again (`fiduciary.jobs.queue.effect_once`).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from fiduciary.config import Settings
from fiduciary.errors import FieldProblem, ValidationFailed

NAME_PATTERN: Final = r"^[a-z][a-z0-9_.]{0,99}$"
NAME_RE: Final = re.compile(NAME_PATTERN)
DEFAULT_RETRIES: Final = 5
DEFAULT_BACKOFF_SECONDS: Final = 2.0
MAX_BACKOFF_SECONDS: Final = 3600.0


@dataclass(frozen=True)
class JobCall:
    """One run of a job: the queue's id for it (procrastinate's or the embedded table's), its arguments, and
    how many runs came before this one. `stop` is set when the runner shuts down: long jobs check it."""

    job_id: int
    task_name: str
    args: Mapping[str, Any]
    attempt: int = 0
    stop: threading.Event = field(default_factory=threading.Event)


JobFunction = Callable[[Any, JobCall], Mapping[str, int] | None]
Interval = Callable[[Settings], float]


@dataclass(frozen=True)
class JobSpec:
    """A registered job. `retries` runs after the first failure, `backoff_seconds` doubling between them
    (capped at an hour); after the last one the job is dead-lettered (status `failed`). `every`, when set,
    gives the period in seconds from the settings (0 or less: not periodic under those settings)."""

    name: str
    function: JobFunction
    retries: int = DEFAULT_RETRIES
    backoff_seconds: float = DEFAULT_BACKOFF_SECONDS
    every: Interval | None = None

    def delay_before_retry(self, attempts: int) -> float:
        """Seconds to wait after the `attempts`-th run failed."""
        return min(self.backoff_seconds * 2.0 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS)

    def period(self, settings: Settings) -> float:
        if self.every is None:
            return 0.0
        seconds: float = self.every(settings)
        return seconds


_REGISTRY: dict[str, JobSpec] = {}
_GUARD = threading.Lock()


def register_job(
    name: str,
    function: JobFunction,
    *,
    retries: int = DEFAULT_RETRIES,
    backoff_seconds: float = DEFAULT_BACKOFF_SECONDS,
    every: Interval | None = None,
) -> JobSpec:
    """Register (or, for the same function, re-register) a job under `name`; a name taken by another
    function is a programming error."""
    if not NAME_RE.fullmatch(name):
        raise ValueError(f"job names are lower-case letters, digits, '_' and '.': {name!r}")
    if retries < 0 or backoff_seconds < 0:
        raise ValueError("retries and backoff_seconds must not be negative")
    spec = JobSpec(name, function, retries, backoff_seconds, every)
    with _GUARD:
        found = _REGISTRY.get(name)
        if found is not None and found.function is not function:
            raise ValueError(f"job {name!r} is already registered to another function")
        _REGISTRY[name] = spec
    return spec


def registered() -> dict[str, JobSpec]:
    """Every registered job, by name (a copy)."""
    with _GUARD:
        return dict(_REGISTRY)


def job_spec(name: str, field_name: str = "job_name") -> JobSpec:
    """The registered job `name`, or a 422 naming `field_name`."""
    with _GUARD:
        spec = _REGISTRY.get(name)
    if spec is None:
        raise ValidationFailed(
            "Unknown job.",
            [FieldProblem(field_name, "no job of this name is registered", hint=", ".join(sorted(_REGISTRY)))],
        )
    return spec
