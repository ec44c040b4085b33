"""Background jobs: one API (`enqueue` in the caller's transaction) over two queues.

PostgreSQL: procrastinate, deferred on the session's own connection and run by `fiduciary worker` processes
on any number of machines (`fiduciary.jobs.pg`). SQLite, the embedded default: the `job_queue` table, run in
process by `fiduciary serve` (`fiduciary.jobs.local`). Domains register job functions (`register_job`); this
package imports no domain, no web and no CLI code. docs/jobs.md says how to write a job.
"""

from fiduciary.jobs import probe as _probe  # noqa: F401 (registers the built-in jobs)
from fiduciary.jobs.queue import (
    FailedJob,
    QueueDepth,
    cancel,
    effect_once,
    enqueue,
    failed_jobs,
    queue_depth,
)
from fiduciary.jobs.registry import NAME_PATTERN, JobCall, JobSpec, job_spec, register_job, registered

__all__ = [
    "NAME_PATTERN",
    "FailedJob",
    "JobCall",
    "JobSpec",
    "QueueDepth",
    "cancel",
    "effect_once",
    "enqueue",
    "failed_jobs",
    "job_spec",
    "queue_depth",
    "register_job",
    "registered",
]
