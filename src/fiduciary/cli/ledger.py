"""`fiduciary ledger ...`: verify the hash chains, seal a stream, print the checkpoint public key."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape

from fiduciary.cli import start_runtime
from fiduciary.ledger.chain import STREAM_RE

# Receipt checks and the runtime (SQLAlchemy, cryptography) are imported by the command that runs.
if TYPE_CHECKING:
    from fiduciary.consent.receipt_check import ReceiptComparison
    from fiduciary.runtime import Runtime

app = typer.Typer(help="Verify and maintain the append-only ledgers.", no_args_is_help=True)
console = Console(highlight=False, soft_wrap=True)


@contextmanager
def _key_errors() -> Iterator[None]:
    """A configuration problem with the signing key is a message and exit code 2, not a traceback."""
    from fiduciary.ledger.signing import SigningKeyError  # cryptography, only for commands that sign

    try:
        yield
    except SigningKeyError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


def _stream_name(value: str) -> str:
    if not STREAM_RE.fullmatch(value):
        raise typer.BadParameter("a stream name is lower-case letters, digits and '_', e.g. consent or audit")
    return value


@app.command("verify")
def verify_command(
    stream: str = typer.Option("all", "--stream", help="consent, audit, another stream name, or all."),
    receipts: Path | None = typer.Option(
        None,
        "--receipts",
        help="Also compare every receipt (*.json) in this directory with the ledger: names each position "
        "where a receipt and the ledger disagree (a fork, or an acknowledged event the ledger lost).",
    ),
) -> None:
    """Check every event hash, link and signed checkpoint; exit 1 naming the first bad position."""
    from fiduciary.ledger.reads import streams
    from fiduciary.ledger.signing import known_public_keys
    from fiduciary.ledger.verification import verify

    if stream != "all":
        _stream_name(stream)
    files = _receipt_files(receipts) if receipts is not None else None
    runtime = start_runtime()
    failed = False
    try:
        with _key_errors():
            keys = known_public_keys(runtime.settings)
        if files is not None:
            from fiduciary.consent.receipt_check import trusted_keys  # only with --receipts

            failed = not _check_receipts(runtime, files, trusted_keys(keys))
        with runtime.sessions() as session:
            names = streams(session) if stream == "all" else [stream]
            if not names:
                console.print("no ledger streams yet: nothing to verify")
                if failed:
                    raise typer.Exit(1)
                return
            for name in names:
                report = verify(session, name, keys)
                if report.ok:
                    console.print(
                        f"{name}: [green]ok[/green] — {report.events_checked:,} events, "
                        f"{report.checkpoints_checked:,} signed checkpoints, head {report.head_position} "
                        f"{report.head_hash[:16]}…"
                    )
                else:
                    failed = True
                    where = (
                        f"first bad position {report.first_bad_position}"
                        if report.first_bad_position is not None
                        else "no single position"
                    )
                    console.print(
                        f"{name}: [red]FAILED[/red] — {where}: {report.problem} "
                        f"({report.events_checked:,} events, {report.checkpoints_checked:,} checkpoints good before it)"
                    )
    finally:
        runtime.close()
    if failed:
        raise typer.Exit(1)


RECEIPT_CHUNK = 1000  # files read and compared at a time: memory stays flat for large directories
MAX_RECEIPT_BYTES = 1 << 20


def _receipt_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        console.print(f"[red]error:[/red] --receipts {directory}: not a directory")
        raise typer.Exit(2)
    return sorted(directory.glob("*.json"))


def _read_receipt(path: Path) -> tuple[Any, str | None]:
    """The receipt in a file (or in an API answer wrapping it as `receipt`), or `file[:line]: why` not."""
    try:
        if path.stat().st_size > MAX_RECEIPT_BYTES:
            return None, f"{path}: larger than 1 MiB, not a receipt"
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        return None, f"{path}: cannot be read ({exc.strerror or exc.__class__.__name__})"
    except json.JSONDecodeError as exc:
        return None, f"{path}:{exc.lineno}: not JSON ({exc.msg})"
    except UnicodeDecodeError:
        return None, f"{path}: not UTF-8 text"
    except RecursionError:
        return None, f"{path}: nested too deeply"
    if isinstance(data, dict) and "receipt" in data and "signature" not in data:
        data = data["receipt"]
    return data, None


def _describe(path: Path, result: ReceiptComparison) -> str:
    where = f"{result.stream} position {result.position}" if result.position is not None else "no ledger position"
    line = f"{escape(str(path))}: {where}: [red]{result.reason.value}[/red] — {result.detail}"
    if result.problems:
        line += " — " + escape("; ".join(result.problems))
    return line


def _check_receipts(runtime: Runtime, files: Sequence[Path], keys: dict[str, str]) -> bool:
    """Compare every receipt file with the ledger, printing each disagreement; True if all agree."""
    from fiduciary.consent.receipt_check import compare_receipts

    if not files:
        console.print("receipts: [red]no receipt files (*.json) found[/red]: nothing was compared")
        return False
    if not keys:
        console.print("receipts: [red]no trusted signing key is configured[/red]: signatures cannot be checked")
        return False
    agreed = disagreed = unreadable = 0
    for start in range(0, len(files), RECEIPT_CHUNK):
        chunk = files[start : start + RECEIPT_CHUNK]
        readable: list[tuple[Path, Any]] = []
        for path in chunk:
            receipt, error = _read_receipt(path)
            if error is not None:
                unreadable += 1
                console.print(f"[red]unreadable[/red] {escape(error)}")
            else:
                readable.append((path, receipt))
        with runtime.sessions() as session:
            results = compare_receipts(session, [r for _, r in readable], keys)
        for (path, _receipt), result in zip(readable, results, strict=True):
            if result.ok:
                agreed += 1
            else:
                disagreed += 1
                console.print(_describe(path, result))
    verdict = "[green]ok[/green]" if not (disagreed or unreadable) else "[red]FAILED[/red]"
    console.print(
        f"receipts: {verdict} — {len(files):,} files: {agreed:,} agree with the ledger, {disagreed:,} disagree, "
        f"{unreadable:,} unreadable"
    )
    return not (disagreed or unreadable)


@app.command("seal")
def seal_command(
    stream: str = typer.Option(..., "--stream", help="The stream to sign now, e.g. consent or audit."),
) -> None:
    """Sign a checkpoint over the stream's current head (run from a scheduler to bound the unsigned tail)."""
    from fiduciary.ledger.service import Ledger

    _stream_name(stream)
    runtime = start_runtime()
    try:
        with _key_errors():
            ledger = Ledger.from_settings(stream, runtime.settings)
        with runtime.sessions() as session:
            checkpoint = ledger.seal(session)
            session.commit()
    finally:
        runtime.close()
    if checkpoint is None:
        console.print(f"{stream}: empty, nothing to seal")
    else:
        console.print(
            f"{stream}: sealed at position {checkpoint.position}, hash {checkpoint.hash[:16]}…, key {checkpoint.key_id}"
        )


class KeyFormat(StrEnum):
    BASE64 = "base64"
    PEM = "pem"
    JSON = "json"


@app.command("public-key")
def public_key_command(
    output_format: KeyFormat = typer.Option(KeyFormat.BASE64, "--format", help="base64 (raw 32 bytes), pem or json."),
) -> None:
    """Print the public key that verifies checkpoints (json: every key, as /.well-known/fiduciary-keys.json)."""
    from fiduciary.ledger.signing import load_signer, public_keys_document

    runtime = start_runtime(migrate=False)
    try:
        with _key_errors():
            signer = load_signer(runtime.settings)
    finally:
        runtime.close()
    if output_format is KeyFormat.PEM:
        typer.echo(signer.public_key_pem, nl=False)
    elif output_format is KeyFormat.JSON:
        typer.echo(json.dumps(public_keys_document(signer, issuer=runtime.public_base_url), indent=2))
    else:
        typer.echo(f"{signer.public_key_b64}  key_id={signer.key_id}")


# The consent state is a projection of the consent stream, so its rebuild is offered here too, under the
# name the ledger's operators look for; it is the same command as `fiduciary consent rebuild-state`.
from fiduciary.cli.consent import rebuild_state_command  # noqa: E402

app.command(
    "rebuild-state",
    help="Rebuild the consent state projection from the consent ledger and recorded erasures (--check compares).",
)(rebuild_state_command)
