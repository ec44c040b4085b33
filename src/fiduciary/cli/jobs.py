"""`fiduciary worker` and `fiduciary jobs ...`: run background jobs, see the dead-letter list, cancel a job.

Every import of the job machinery happens when a command runs (tests/cli/test_cli_imports.py).
"""

from __future__ import annotations

import json
import signal
import threading
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from fiduciary.cli import command_runtime

if TYPE_CHECKING:
    from fiduciary.runtime import Runtime

console = Console(highlight=False, soft_wrap=True)
app = typer.Typer(help="Background jobs: the dead-letter list, cancelling a queued job.", no_args_is_help=True)


def load_jobs() -> None:
    """Import every module that registers jobs, so a worker knows every job the service may queue."""
    from fiduciary import housekeeping, jobs  # noqa: F401 (registration happens on import)
    from fiduciary.comms import delivery  # noqa: F401
    from fiduciary.rights.packages import job  # noqa: F401 (rights.build_package)


def _run_local(runtime: Runtime, *, burst: bool, stalled_after: float, poll: float) -> None:
    from fiduciary.jobs.local import LocalJobRunner

    runner = LocalJobRunner(
        runtime, runtime.engine, runtime.sessions, runtime.settings, poll_seconds=poll, stalled_after=stalled_after
    )
    if burst:
        runner.schedule_periodic()
        runner.requeue_stalled()
        ran = runner.run_pending()
        typer.echo(f"ran {ran} job(s): {runner.succeeded} succeeded, {runner.failed} failed", err=True)
        return
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    runner.start()
    stop.wait()
    runner.stop()


def worker_command(
    concurrency: int = typer.Option(1, min=1, max=64, help="Jobs run at once by this process."),
    burst: bool = typer.Option(False, "--burst", help="Exit once the queue is empty instead of waiting for jobs."),
    stalled_after: float = typer.Option(
        30.0, min=0.5, max=3600.0, help="Seconds without a heartbeat after which a worker's jobs are run again."
    ),
    poll: float = typer.Option(1.0, min=0.05, max=60.0, help="Seconds between polls when no notification comes."),
    name: str | None = typer.Option(None, help="This worker's name in procrastinate's tables and logs."),
) -> None:
    """Run background jobs: procrastinate workers on PostgreSQL (on any number of machines), the table-backed
    queue on SQLite (where `fiduciary serve` runs them too). Stops on SIGINT/SIGTERM after the running job."""
    load_jobs()
    with command_runtime(console) as runtime:
        if runtime.engine.dialect.name != "postgresql":
            _run_local(runtime, burst=burst, stalled_after=stalled_after, poll=poll)
            return
        from fiduciary.jobs.pg import run_worker

        run_worker(
            runtime,
            runtime.engine,
            runtime.settings,
            concurrency=concurrency,
            name=name,
            burst=burst,
            stalled_after=stalled_after,
            poll_seconds=poll,
        )


@app.command("failed")
def failed_command(
    limit: int = typer.Option(100, min=1, max=1000, help="At most this many, newest first."),
    task: str | None = typer.Option(None, help="Only jobs of this task."),
    as_json: bool = typer.Option(False, "--json", help="One JSON document instead of a table."),
) -> None:
    """The dead-letter list: jobs that failed their last retry (ids, task names, attempts; never arguments)."""
    from fiduciary.jobs import failed_jobs

    with command_runtime(console) as runtime, runtime.sessions() as session:
        found = failed_jobs(session, limit=limit, task_name=task)
    if as_json:
        typer.echo(json.dumps({"failed": [job.to_dict() for job in found]}, indent=2))
        return
    if not found:
        console.print("no failed jobs")
        return
    from rich.table import Table

    table = Table(title="failed jobs", title_justify="left")
    for column in ("id", "task", "attempts", "queued at", "failed at", "error"):
        table.add_column(column)
    for job in found:
        row: dict[str, Any] = job.to_dict()
        table.add_row(*(str(row[k] or "") for k in ("id", "task_name", "attempts", "queued_at", "failed_at", "error")))
    console.print(table)


@app.command("cancel")
def cancel_command(job_id: int = typer.Argument(..., min=1, help="The job's id.")) -> None:
    """Cancel a queued job that has not started (exit 1 if it has started, finished or does not exist)."""
    from fiduciary.jobs import cancel

    with command_runtime(console) as runtime, runtime.sessions() as session:
        done = cancel(session, job_id)
        session.commit()
    if not done:
        console.print(f"[red]job {job_id} is not waiting[/red] (started, finished, cancelled or unknown)")
        raise typer.Exit(1)
    console.print(f"job {job_id} cancelled")
