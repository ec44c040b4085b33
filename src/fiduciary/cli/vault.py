"""`fiduciary restore-replay` and `fiduciary vault ...`: erasure after a restore, purge, journal checks, and
the retention events a store reports for a person (the API's `POST /v1/people/{person_id}/retention-events`)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from fiduciary.cli import CLI_ACTOR, command_runtime, start_runtime
from fiduciary.errors import FiduciaryError, FieldProblem, ValidationFailed

# The vault (SQLAlchemy, cryptography) is imported by the command that runs, not for --help.
if TYPE_CHECKING:
    from fiduciary.vault.restore import JournalGap

app = typer.Typer(
    help="Personal-data vault maintenance: purge erased data, verify the erasure journal, report retention events."
)
console = Console(highlight=False, soft_wrap=True)


def restore_replay_command(
    batch_size: int = typer.Option(1000, min=1, max=10_000, help="Journal entries applied per transaction."),
) -> None:
    """Re-apply every journaled erasure after restoring a database backup (idempotent; run before serving)."""
    from fiduciary.vault.restore import restore_replay

    with command_runtime(console) as runtime:
        report = restore_replay(runtime, batch_size=batch_size)
    console.print(
        f"journal: {report.journal_entries:,} entries, {report.people:,} people; "
        f"re-erased {report.re_erased:,}, already erased {report.already_erased:,}, "
        f"tombstoned {report.tombstoned:,} without a key"
    )
    console.print(
        f"erasure completed in every domain for {report.completed:,} people the database showed un-erased "
        f"({report.rows_erased:,} rows deleted or changed: accounts closed, consent state, links)"
    )
    if report.rejournaled:
        console.print(
            f"[yellow]{report.rejournaled:,} erasures recorded in the database were missing from the journal and "
            "have been appended to it[/yellow]"
        )
    if report.re_erased:
        console.print("run `fiduciary vault purge` to delete their ciphertext rows")


@app.command("purge")
def purge_command(
    batch_size: int = typer.Option(10_000, min=1, max=1_000_000, help="Rows deleted per transaction."),
) -> None:
    """Delete erased people's ciphertext rows, purge legal-hold records past their date, checkpoint SQLite.

    The same job the service's housekeeping runs (`fiduciary.housekeeping.purge_vault`); by hand the WAL is
    checkpointed even when nothing was left to purge.
    """
    from fiduciary.housekeeping import purge_vault

    with command_runtime(console) as runtime:
        counts = purge_vault(runtime, batch_size=batch_size, always_checkpoint=True)
    console.print(
        f"deleted {counts['ciphertext_rows_deleted']:,} ciphertext rows of {counts['people_completed']:,} erased "
        f"people; purged {counts['legal_hold_records_purged']:,} legal-hold records"
    )


@app.command("verify-journal")
def verify_journal_command() -> None:
    """Check the erasure journal's HMAC chain and that the database shows every journaled erasure.

    Exit 1 naming the first bad line, or listing (by pseudonymous id) the journaled people the database
    shows un-erased, as after restoring a backup: `fiduciary restore-replay` completes their erasure.
    """
    from fiduciary.vault.keys.startup import check_vault_keys
    from fiduciary.vault.restore import NO_GAP, unapplied_erasures

    with command_runtime(console) as runtime:
        keys = check_vault_keys(runtime)
        report = keys.journal.verify()
        path = keys.journal.path
        gap = NO_GAP
        if report.ok:
            with runtime.sessions() as main, keys.key_store.use(main) as key_session:
                gap = unapplied_erasures(keys.journal, main, key_session)
    if not report.ok:
        console.print(f"{path}: [red]FAILED[/red] at line {report.line}: {report.problem}")
        raise typer.Exit(1)
    if not gap.ok:
        console.print(f"{path}: [red]FAILED[/red] — {report.entries:,} entries; {journal_gap_text(gap)}")
        raise typer.Exit(1)
    console.print(f"{path}: [green]ok[/green] — {report.entries:,} entries, every one erased in the database")


def journal_gap_text(gap: JournalGap) -> str:
    """One line naming the journaled people the database shows un-erased (pseudonymous ids only)."""
    more = f" and {gap.total - len(gap.people):,} more" if gap.total > len(gap.people) else ""
    return (
        f"{gap.total:,} journaled erasures are not in the database (a restored backup?): "
        f"{', '.join(gap.people)}{more}; run `fiduciary restore-replay`"
    )


@app.command("retention-event")
def retention_event_command(
    person_id: str = typer.Argument(..., help="The person id, per_…"),
    event: str = typer.Argument(..., help="The id of an event the policy declares under retention_events."),
    at: str = typer.Option(..., "--at", help="When it happened: ISO 8601 with a time zone, e.g. 2026-12-04T10:00Z."),
) -> None:
    """Record that EVENT happened for PERSON_ID (e.g. warranty_ended), as the store's backend does through the
    API; audited with actor `cli`. A repeat of the same report records nothing. Exit 2 on bad input."""
    from fiduciary.storage import session_scope
    from fiduciary.vault.flows import report_retention_event_audited
    from fiduciary.vault.retention_events import Fields

    err = Console(highlight=False, soft_wrap=True, stderr=True)
    runtime = start_runtime()
    try:
        occurred_at = _instant(at)
        with session_scope(runtime.sessions) as session:
            reported = report_retention_event_audited(
                runtime,
                session,
                caller=CLI_ACTOR,
                person_id=person_id,
                event=event,
                occurred_at=occurred_at,
                fields=Fields(person_id="PERSON_ID", event="EVENT", occurred_at="--at"),
            )
    except FiduciaryError as error:
        err.print(f"[red]{error.title}[/red]: {error.detail}")
        for problem in error.fields:
            hint = f" ({problem.hint})" if problem.hint else ""
            err.print(f"  {problem.field}: {problem.message}{hint}")
        raise typer.Exit(2) from None
    finally:
        runtime.close()
    verb = "recorded" if reported.created else "already recorded"
    console.print(f"{verb}: {reported.event} for {reported.person_id} at {reported.occurred_at.isoformat()}")


def _instant(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValidationFailed(
            "The retention event cannot be recorded.",
            [FieldProblem("--at", "must be an ISO 8601 date-time with a time zone, e.g. 2026-12-04T10:00:00Z")],
        ) from None
