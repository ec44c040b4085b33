"""`fiduciary keys ...`: the vault's key-encryption keys — status, rotation, new keys."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from fiduciary.cli import command_runtime, load_settings, report_data, require_data_folder
from fiduciary.cli.vault import journal_gap_text

# The vault key modules (SQLAlchemy, cryptography) are imported by the command that runs, not for --help.
if TYPE_CHECKING:
    from fiduciary.vault.keys.status import KeyStatus

app = typer.Typer(help="Vault keys: status, key-encryption-key rotation, new keys.", no_args_is_help=True)
console = Console(highlight=False, soft_wrap=True)


def _problems(status: KeyStatus) -> list[str]:
    """What would stop the service at start (or lose erasures), in the words an operator acts on."""
    problems: list[str] = []
    known = {k for k in [status.configured_kek_id, *status.previous_kek_ids] if k}
    if status.configured_problem:
        problems.append(status.configured_problem)
    if status.canary_kek_id and status.canary_kek_id not in known:
        problems.append(f"the vault canary is wrapped under {status.canary_kek_id}, which is not configured")
    for kek_id, count in sorted({**status.data_keys_by_kek, **status.legal_hold_keys_by_kek}.items()):
        if kek_id not in known:
            problems.append(f"{count:,} keys are wrapped under {kek_id}, which is not configured")
    if status.index_key_id and status.configured_index_key_id and status.index_key_id != status.configured_index_key_id:
        problems.append(
            f"identifiers were indexed with {status.index_key_id}, the configured secret is "
            f"{status.configured_index_key_id}"
        )
    if status.journal_problem:
        problems.append(f"erasure journal: {status.journal_problem}")
    if not status.journal_unapplied.ok:
        problems.append(f"erasure journal: {journal_gap_text(status.journal_unapplied)}")
    return problems


@app.command("status")
def status_command() -> None:
    """What the data expects against what is configured; exit 1 if the service would refuse to start."""
    from fiduciary.storage import create_engine_for_url
    from fiduciary.vault.keys.status import key_status

    settings = load_settings()
    require_data_folder(settings)  # opening a missing SQLite file would create it
    report_data(settings)
    engine = create_engine_for_url(settings.resolved_database_url)
    try:
        status = key_status(settings, engine)
    finally:
        engine.dispose()
    console.print(f"key-encryption key configured: {status.configured_kek_id or '[red]none[/red]'}")
    console.print(f"previous keys configured:      {', '.join(status.previous_kek_ids) or 'none'}")
    console.print(f"vault canary wrapped under:    {status.canary_kek_id or 'not initialised yet'}")
    console.print(f"key store:                     {status.key_store}")
    for kek_id, count in sorted(status.data_keys_by_kek.items()):
        console.print(f"  data keys under {kek_id}: {count:,}")
    for kek_id, count in sorted(status.legal_hold_keys_by_kek.items()):
        console.print(f"  legal-hold record keys under {kek_id}: {count:,}")
    console.print(f"  destroyed (erased) data keys: {status.destroyed_keys:,}")
    console.print(
        f"blind-index secret:            {status.configured_index_key_id or 'none'} "
        f"(data indexed with {status.index_key_id or 'nothing yet'})"
    )
    console.print(f"erasure journal:               {status.journal_path} — {status.journal_entries:,} entries")
    stale = sum(n for k, n in status.data_keys_by_kek.items() if k != status.configured_kek_id) + sum(
        n for k, n in status.legal_hold_keys_by_kek.items() if k != status.configured_kek_id
    )
    if stale and status.configured_kek_id:
        console.print(f"[yellow]{stale:,} keys are not under the configured key: run `fiduciary keys rotate`[/yellow]")
    problems = _problems(status)
    for problem in problems:
        console.print(f"[red]problem:[/red] {problem}")
    if problems:
        raise typer.Exit(1)
    console.print("[green]ok[/green]")


@app.command("rotate")
def rotate_command(
    batch_size: int = typer.Option(1000, min=1, max=100_000, help="Keys re-wrapped per transaction."),
) -> None:
    """Re-wrap every data key and legal-hold record key under the configured KEK, online, in batches.

    Before: set the new key as FIDUCIARY_KEK (or its key file) and the old one in FIDUCIARY_KEK_PREVIOUS on
    every process. After this reports 0 remaining, FIDUCIARY_KEK_PREVIOUS can be removed.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from fiduciary.vault.keys.rotation import record_keys_under_other_keks, record_rotation, rotate_keks
    from fiduciary.vault.keys.startup import check_vault_keys
    from fiduciary.vault.keys.status import key_status

    with command_runtime(console) as runtime:
        keys = check_vault_keys(runtime)
        status = key_status(runtime.settings, runtime.engine)
        current = keys.keyring.current_id
        with runtime.sessions() as session:
            records = record_keys_under_other_keks(session, current)
        total = sum(n for k, n in status.data_keys_by_kek.items() if k != current) + records
        with Progress(
            TextColumn("re-wrapping"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=console
        ) as progress:
            task = progress.add_task("rotate", total=total)
            report = rotate_keks(runtime, batch_size=batch_size, progress=lambda n: progress.advance(task, n))
        record_rotation(runtime, report, actor="cli")
    console.print(
        f"re-wrapped {report.data_keys_rewrapped:,} data keys and {report.record_keys_rewrapped:,} record keys "
        f"(legal-hold records, cases, recipients' secrets) under {report.current_kek_id}"
    )
    if report.remaining:
        console.print(
            f"[yellow]{report.remaining:,} keys are still under another key (written meanwhile by a process on the "
            "old configuration): restart it with the new key and run this again[/yellow]"
        )
        raise typer.Exit(1)
    console.print("done: FIDUCIARY_KEK_PREVIOUS can now be removed")


@app.command("generate")
def generate_command(
    file: Path | None = typer.Option(None, "--file", help="Write the key to this new file (mode 0600) instead."),
) -> None:
    """A new random key-encryption key: base64 for FIDUCIARY_KEK, or a new key file, with its kek id."""
    from fiduciary.vault.keys.kek import generate_kek

    key_b64, kek_id = generate_kek()
    if file is None:
        typer.echo(f"{key_b64}  kek_id={kek_id}")
        return
    try:
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        console.print(f"[red]{file} exists; a key file is never overwritten[/red]")
        raise typer.Exit(1) from None
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key_b64 + "\n")
    typer.echo(f"wrote {file}  kek_id={kek_id}")
