"""`fiduciary policy export`: the data map as a fideslang manifest or as W3C DPV JSON-LD (issue 12, item 8).

Thin: load a policy file (or read the version in force from the data folder), call
`policy.export.export_policy`, write the text. What the other vocabulary could only approximate goes to
stderr as notes, so stdout stays a clean document to pipe into Fides or a triple store.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer

from fiduciary.cli import start_runtime
from fiduciary.cli.policy import app

# The loader, the schema and the exporters (YAML, pydantic) only when exporting, not for --help.
if TYPE_CHECKING:
    from fiduciary.policy.schema import PolicyDocument


class ExportFormatOption(StrEnum):
    """Mirrors policy.export.ExportFormat, which this module may not import at load time."""

    FIDESLANG = "fideslang"
    DPV = "dpv"


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def _from_file(file: Path) -> PolicyDocument:
    from fiduciary.policy.loader import PolicyInvalid, load_policy

    try:
        loaded = load_policy(file)
    except PolicyInvalid as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        _fail(f"{file} is not a valid policy; nothing was exported.")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        _fail(f"{file}: cannot read the policy file: {reason}")
    for warning in loaded.warnings:
        typer.echo(str(warning), err=True)
    return loaded.document


def _in_force() -> PolicyDocument:
    from fiduciary.policy import versions
    from fiduciary.storage import session_scope

    # Never bootstrap: exporting must not publish the demo policy into the store's history.
    runtime = start_runtime(bootstrap=False)
    try:
        with session_scope(runtime.sessions) as session:
            policy = versions.current(session)
    finally:
        runtime.close()
    if policy is None:
        _fail("no policy version is in force; give a FILE, or run `fiduciary policy publish FILE` first.")
    return policy.document


@app.command("export")
def export(
    file: Path | None = typer.Argument(
        None, help="The policy YAML file (default: the version in force in the data folder).", dir_okay=False
    ),
    format: ExportFormatOption = typer.Option(
        ..., "--format", "-f", help="fideslang (a Fides manifest, YAML) or dpv (W3C DPV JSON-LD).", case_sensitive=False
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write to this file instead of standard output.", dir_okay=False
    ),
) -> None:
    """Export the policy's data map for other privacy tools: fideslang for Fides, or W3C DPV JSON-LD."""
    from fiduciary.policy.export import ExportFormat, export_policy

    document = _from_file(file) if file is not None else _in_force()
    exported = export_policy(document, ExportFormat(format.value))
    for note in exported.notes:
        typer.echo(f"note: {note}", err=True)
    text = exported.text()
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        _fail(f"{output}: cannot write the export: {exc.strerror or type(exc).__name__}")
    typer.echo(f"wrote {output}", err=True)
