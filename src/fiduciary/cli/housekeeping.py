"""`fiduciary housekeeping`: run the periodic jobs once (for cron, or with the service's own runner off)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.console import Console

from fiduciary.cli import start_runtime
from fiduciary.errors import FiduciaryError

if TYPE_CHECKING:
    from fiduciary.housekeeping import HousekeepingReport

console = Console(highlight=False, soft_wrap=True)
# The job names for --help without importing the jobs (SQLAlchemy); tests/cli/test_cli_imports.py checks they
# are fiduciary.housekeeping.JOBS.
JOB_NAMES = ("ledger_seal", "vault_purge", "idempotency_purge")


def _check_jobs(values: list[str]) -> list[str]:
    unknown = [v for v in values if v not in JOB_NAMES]
    if unknown:
        raise typer.BadParameter(f"unknown job {', '.join(unknown)}; choose from {', '.join(JOB_NAMES)}")
    return values


def print_report(report: HousekeepingReport) -> None:
    """The report as a table: job, outcome, counts (never a personal value: reports hold counts only)."""
    from rich.table import Table

    if report.skipped:
        console.print("[yellow]skipped[/yellow]: another housekeeping run on this database is in progress")
        return
    table = Table(title="housekeeping", title_justify="left")
    table.add_column("job")
    table.add_column("result")
    table.add_column("counts")
    table.add_column("seconds", justify="right")
    for job in report.jobs:
        result = "[green]ok[/green]" if job.ok else "[red]FAILED[/red]"
        detail = ", ".join(f"{k} {v:,}" for k, v in job.counts.items()) if job.ok else (job.error or "")
        table.add_row(job.name, result, detail, f"{job.seconds:.2f}")
    console.print(table)
    if report.stopped:
        console.print("[yellow]stopped before every job had run[/yellow]")


def housekeeping_command(
    job: list[str] = typer.Option(
        [],
        "--job",
        help=f"Run only this job (repeat for several): {', '.join(JOB_NAMES)}. Default: all of them.",
        callback=_check_jobs,
    ),
) -> None:
    """Seal every ledger stream, purge erased vault data and expired idempotency keys; exit 1 if a job failed.

    The service runs the same jobs every FIDUCIARY_HOUSEKEEPING_INTERVAL_MINUTES (default 10); run this
    from cron when that is 0, or to run them now. Overlapping runs are skipped, never doubled.
    """
    from fiduciary.housekeeping import run_housekeeping

    try:
        runtime = start_runtime()
    except FiduciaryError as exc:
        console.print(f"[red]error:[/red] {exc.detail}")
        raise typer.Exit(2) from None
    try:
        report = run_housekeeping(runtime, jobs=tuple(job) or None)
    finally:
        runtime.close()
    print_report(report)
    if not report.ok:
        raise typer.Exit(1)
