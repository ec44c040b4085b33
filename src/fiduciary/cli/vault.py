"""`fiduciary restore-replay` and `fiduciary vault ...`: erasure after a restore, purge, journal checks."""

from __future__ import annotations

import typer
from rich.console import Console

from fiduciary.cli import command_runtime

app = typer.Typer(help="Personal-data vault maintenance: purge erased data, verify the erasure journal.")
console = Console(highlight=False, soft_wrap=True)


def restore_replay_command(
    batch_size: int = typer.Option(1000, min=1, max=10_000, help="Journal entries applied per transaction."),
) -> None:
    """Re-apply every journaled erasure after restoring a database backup (idempotent; run before serving)."""
    from fiduciary.vault.erasure import restore_replay

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
    """Check the erasure journal's HMAC chain; exit 1 naming the first bad line."""
    from fiduciary.vault.service import check_vault_keys

    with command_runtime(console) as runtime:
        keys = check_vault_keys(runtime)
        report = keys.journal.verify()
        path = keys.journal.path
    if report.ok:
        console.print(f"{path}: [green]ok[/green] — {report.entries:,} entries")
        return
    console.print(f"{path}: [red]FAILED[/red] at line {report.line}: {report.problem}")
    raise typer.Exit(1)
