"""`fiduciary init` and `fiduciary status`: create the data folder; show what a command would use.

`init` is, with `serve`, the only command that creates a database or key files; every other command refuses
a folder it has not created (fiduciary.cli.require_data_folder). Heavy modules are imported inside the
commands, so `fiduciary --help` does not load them.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

from fiduciary.cli import load_settings, report_data, require_data_folder

PROJECT_CONFIG_NAME = "fiduciary.toml"  # fiduciary.config.PROJECT_CONFIG_NAME, without importing pydantic

INIT_EXIT_CONFIG_EXISTS = 1


def _write_project_config(data_dir: Path) -> Path:
    """fiduciary.toml in the current folder naming `data_dir` relative to it (never overwrites one)."""
    target = Path.cwd() / PROJECT_CONFIG_NAME
    if target.exists():
        typer.echo(f"error: {target} exists; it is never overwritten (edit its data_dir instead)", err=True)
        raise typer.Exit(INIT_EXIT_CONFIG_EXISTS)
    relative = os.path.relpath(data_dir.resolve(), Path.cwd().resolve())
    text = (
        "# Fiduciary's project settings: every `fiduciary` command run in this folder or below uses this data\n"
        "# folder (relative to this file) unless FIDUCIARY_DATA_DIR is set.\n"
        f"data_dir = {_toml_string(relative)}\n"
    )
    target.write_text(text, encoding="utf-8")
    return target


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def init_command(
    data_dir: Path | None = typer.Option(
        None,
        "--data-dir",
        help="Create the data folder here (default: FIDUCIARY_DATA_DIR, else fiduciary.toml, else .fiduciary).",
    ),
    write_config: bool = typer.Option(
        False, "--write-config", help=f"Also write ./{PROJECT_CONFIG_NAME} naming the folder, for every command here."
    ),
) -> None:
    """Create the data folder: the database (unless FIDUCIARY_DATABASE_URL names one) and the key files."""
    from sqlalchemy.exc import SQLAlchemyError

    from fiduciary.datafolder import database_description, describe, initialise
    from fiduciary.errors import FiduciaryError

    settings = load_settings()
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir})
    try:
        created = initialise(settings)
    except FiduciaryError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(1) from None
    except SQLAlchemyError as exc:
        typer.echo(f"error: cannot open {database_description(settings)} ({type(exc).__name__})", err=True)
        raise typer.Exit(1) from None
    except OSError as exc:
        typer.echo(f"error: cannot create {settings.data_dir}: {exc.strerror}", err=True)
        raise typer.Exit(1) from None
    folder = settings.data_dir.resolve()
    typer.echo(f"{'initialised' if created else 'already initialised'}: {folder}")
    if created:
        typer.echo(f"created: {', '.join(created)}")
    if write_config:
        typer.echo(f"wrote {_write_project_config(settings.data_dir)}")
    for label, value in describe(settings):
        typer.echo(f"  {label}: {value}")


def status_command() -> None:
    """Which data folder, database and key files the commands here use, the policy in force, and counts."""
    from fiduciary.datafolder import describe, folder_counts

    settings = load_settings()
    require_data_folder(settings)
    report_data(settings)
    for label, value in describe(settings):
        typer.echo(f"{label + ':':<20} {value}")
    counts = folder_counts(settings)
    typer.echo(f"{'policy in force:':<20} {counts.policy_in_force}; {counts.policy_versions} version(s) published")
    typer.echo(f"{'people:':<20} {counts.people:,}")
    typer.echo(f"{'API keys (active):':<20} {counts.active_api_keys:,}")
    heads = sorted(counts.ledger_heads.items())
    events = ", ".join(f"{stream} {position:,}" for stream, position in heads) or "none yet"
    typer.echo(f"{'ledger events:':<20} {events}")
