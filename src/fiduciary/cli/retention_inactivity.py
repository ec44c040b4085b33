"""`fiduciary retention inactivity plan|run|backfill`: the inactivity sweep of DPDP s.8(8), Rule 8 and the
Third Schedule (docs/inactivity.md). `plan` shows what a run would do now and writes nothing; `run` does it,
batch by batch, with a progress bar; `backfill` starts the clock of people who existed before it. All print
counts and due dates, never a person. Domain imports happen when a command runs (tests/cli/test_cli_imports.py).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from fiduciary.cli import command_runtime

if TYPE_CHECKING:
    from fiduciary.retention.inactivity_sweep import InactivityReport

console = Console(highlight=False, soft_wrap=True)
app = typer.Typer(help="Inactivity erasure: remind, give notice, erase (DPDP s.8(8), Rule 8).", no_args_is_help=True)

NowOption = Annotated[
    str | None,
    typer.Option("--now", help="Act as at this instant (ISO 8601 with a zone; default: now), e.g. to preview."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")]


def _aware(now: str | None) -> datetime | None:
    """The instant `--now` names; exit 2 naming the option (never echoing the value) when it is not one."""
    if now is None:
        return None
    try:
        at = datetime.fromisoformat(now)
    except ValueError:
        typer.echo("--now: must be an ISO 8601 date-time, e.g. 2026-12-04T10:00:00+05:30", err=True)
        raise typer.Exit(2) from None
    if at.tzinfo is None or at.utcoffset() is None:
        typer.echo("--now: needs a time zone, e.g. 2026-12-04T10:00:00+05:30", err=True)
        raise typer.Exit(2)
    return at


def _show(report: InactivityReport, as_json: bool, verb: str) -> None:
    if as_json:
        console.print_json(json.dumps(report.to_dict()))
        return
    if report.rule is None:
        console.print("the policy has no retention rule with trigger last_activity: nothing to do")
        return
    console.print(
        f"rule {report.rule}: {verb}reminded {report.reminded}, notified {report.notified}, "
        f"erased {report.erased}; waiting {report.waiting}"
    )
    if report.unreachable or report.cancelled:
        console.print(f"unreachable (no email or phone) {report.unreachable}; cancelled by contact {report.cancelled}")
    if report.earliest_due is not None and report.latest_due is not None:
        console.print(f"due between {report.earliest_due.isoformat()} and {report.latest_due.isoformat()}")


@app.command("plan")
def plan_command(now: NowOption = None, as_json: JsonOption = False) -> None:
    """What a run would do now, per step, with the earliest and latest due dates; changes nothing."""
    from fiduciary.retention.inactivity_sweep import plan  # lazy: keeps `fiduciary --help` light

    with command_runtime(console) as runtime, runtime.sessions() as session:
        report = plan(runtime, session, now=_aware(now))
    _show(report, as_json, "would have ")


@app.command("run")
def run_command(now: NowOption = None, as_json: JsonOption = False) -> None:
    """Send the reminders and notices that are due and erase whoever was told and stayed away."""
    from rich.progress import Progress  # lazy: as above

    from fiduciary.retention.inactivity_sweep import run  # lazy: as above

    with command_runtime(console) as runtime, Progress(console=console, transient=True) as progress:
        task = progress.add_task("people", total=None)
        report = run(runtime, now=_aware(now), progress=lambda n: progress.advance(task, n))
    _show(report, as_json, "")


@app.command("backfill")
def backfill_command(as_json: JsonOption = False) -> None:
    """Start the clock of everyone without one (created before it existed, never seen since) at their latest
    contact the database shows; idempotent, never moves an existing clock, erases no one (the sweep gives
    its 48-hour notice first). Migration 0024 ran it once already."""
    from fiduciary.retention.inactivity_backfill import backfill_clocks  # lazy: keeps `fiduciary --help` light

    with command_runtime(console) as runtime, runtime.sessions() as session:
        started = backfill_clocks(runtime, session)
    if as_json:
        console.print_json(json.dumps({"started": started}))
    else:
        console.print(f"clocks started: {started}")
