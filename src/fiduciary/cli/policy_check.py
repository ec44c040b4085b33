"""`fiduciary policy check` and `fiduciary policy schema` (registered on the app in cli/policy.py).

`check` prints one line per problem in the `file:line:col: severity: message` form editors and CI
annotate, so it is plain text whenever the output is not a terminal.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from fiduciary.cli.policy import app

# The loader (YAML, the pydantic schema) is imported by the command that runs, not for --help.
if TYPE_CHECKING:
    from fiduciary.policy.loader import PolicyProblem, PolicyReport

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_NO_FILE = 2


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _summary(report: PolicyReport) -> str:
    errors, warnings = len(report.errors), len(report.warnings)
    if not errors and not warnings:
        return f"{report.filename}: no problems found"
    return f"{report.filename}: {_plural(errors, 'error')}, {_plural(warnings, 'warning')}"


def _print_text(report: PolicyReport) -> None:
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.markup import escape

        console = Console(highlight=False, soft_wrap=True)
        for problem in report.problems:
            colour = "red" if problem.severity == "error" else "yellow"
            text = escape(str(problem)).replace(
                f": {problem.severity}: ", f": [bold {colour}]{problem.severity}[/]: ", 1
            )
            console.print(text)
        console.print(f"[bold]{escape(_summary(report))}[/]")
        return
    for problem in report.problems:
        typer.echo(str(problem))
    typer.echo(_summary(report))


def _as_json(report: PolicyReport) -> str:
    body = {
        "file": report.filename,
        "valid": report.ok,
        "errors": len(report.errors),
        "warnings": len(report.warnings),
        "problems": [p.as_dict() for p in report.problems],
    }
    return json.dumps(body, indent=2, ensure_ascii=False)


@app.command("check")
def check(
    file: Path = typer.Argument(..., help="The policy file (YAML) to check.", show_default=False),
    output_format: OutputFormat = typer.Option(OutputFormat.TEXT, "--format", help="text or json."),
    strict: bool = typer.Option(False, "--strict", help="Treat warnings as errors (exit 1)."),
) -> None:
    """Check a policy file: syntax, schema, references and the law of its jurisdictions.

    Exit status: 0 when there is no error (and no warning with --strict), 1 when there are problems,
    2 when the file cannot be found or read.
    """
    from fiduciary.policy.loader import analyse_policy_file

    report = analyse_policy_file(file)
    unreadable = [p for p in report.problems if p.code in ("file_not_found", "not_a_file", "unreadable")]
    if output_format is OutputFormat.JSON:
        typer.echo(_as_json(report))
    elif unreadable:
        typer.echo(f"error: {file}: {unreadable[0].message}", err=True)
    else:
        _print_text(report)
    if unreadable:
        raise typer.Exit(EXIT_NO_FILE)
    failing: list[PolicyProblem] = report.errors + (report.warnings if strict else [])
    raise typer.Exit(EXIT_PROBLEMS if failing or report.document is None else EXIT_OK)


@app.command("schema")
def schema(
    output: Path | None = typer.Option(None, "--output", "-o", help="Write to this file instead of printing."),
) -> None:
    """Print the JSON Schema of the policy file (for editors and CI validation)."""
    from fiduciary.policy.loader import policy_json_schema_text

    text = policy_json_schema_text()
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        typer.echo(f"error: cannot write {output}: {exc.strerror or exc}", err=True)
        raise typer.Exit(EXIT_NO_FILE) from None
    typer.echo(f"Wrote the policy JSON Schema to {output}.")
