"""`fiduciary policy publish | versions | diff`: published versions and what changed between them."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer

from fiduciary.cli import start_runtime
from fiduciary.cli.policy import app
from fiduciary.errors import FiduciaryError

# The policy domain (YAML, pydantic, SQLAlchemy) is imported by the command that runs, not for --help.
if TYPE_CHECKING:
    from fiduciary.policy.diff import PolicyChange
    from fiduciary.policy.loader import LoadedPolicy
    from fiduciary.policy.schema import PolicyDocument
    from fiduciary.runtime import Runtime


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


def _fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _fail_domain(exc: FiduciaryError) -> NoReturn:
    typer.echo(f"error: {exc.detail}", err=True)
    for problem in exc.fields:
        hint = f" (hint: {problem.hint})" if problem.hint else ""
        typer.echo(f"  {problem.field}: {problem.message}{hint}", err=True)
    raise typer.Exit(1)


def _load(path: Path) -> LoadedPolicy:
    """Load and validate a policy file, or print every problem and exit 1."""
    from fiduciary.policy.loader import PolicyInvalid, load_policy

    try:
        loaded = load_policy(path)
    except PolicyInvalid as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        _fail(f"{path} is not a valid policy; nothing was stored.")
    except IsADirectoryError:
        _fail(f"{path} is a folder, not a policy file.")
    except FileNotFoundError:
        _fail(f"{path} does not exist.")
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"{path} cannot be read as UTF-8 text ({type(exc).__name__}).")
    for warning in loaded.warnings:
        typer.echo(str(warning), err=True)
    return loaded


def _parse_when(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"'{text}' is not an ISO 8601 date and time, e.g. 2027-01-01T00:00:00+05:30",
            param_hint="--effective-from",
        ) from None


def _start() -> Runtime:
    # Commands that manage versions never bootstrap: publishing the demo policy before the user's own
    # file would make the demo version 1 of their history.
    return start_runtime(bootstrap=False)


def _change_lines(changes: list[PolicyChange]) -> None:
    from fiduciary.policy import versions

    for line in versions.describe_changes(changes):
        typer.echo(f"  {line}")


def _reconsent(changes: list[PolicyChange], new: PolicyDocument) -> list[str]:
    from fiduciary.policy.diff import reconsent_purposes

    return sorted(reconsent_purposes(changes, new))


@app.command("publish")
def publish_command(
    file: Path = typer.Argument(..., help="The policy YAML file to publish."),
    effective_from: str | None = typer.Option(
        None,
        "--effective-from",
        help="When the version takes effect, ISO 8601 with a time zone (default: now).",
    ),
) -> None:
    """Store the file as a new immutable version and list what changed since the last one."""
    from fiduciary.policy.diff import summarise
    from fiduciary.publishing import publish_policy
    from fiduciary.storage import session_scope, utcnow

    when = _parse_when(effective_from)
    loaded = _load(file)
    runtime = _start()
    try:
        with session_scope(runtime.sessions) as session:
            outcome = publish_policy(session, loaded.document, loaded.source, when)
            published, created = outcome.published, outcome.created
    except FiduciaryError as exc:
        _fail_domain(exc)
    finally:
        runtime.close()
    if not created:
        typer.echo(f"Already published as version {published.version} ({published.content_hash}); nothing stored.")
        if when is not None and when != published.effective_from:
            typer.echo(
                f"Version {published.version} keeps its effective date {published.effective_from.isoformat()}; "
                "a published version cannot be changed.",
                err=True,
            )
        return
    typer.echo(
        f"Published version {published.version} ({published.content_hash}), "
        f"effective from {published.effective_from.isoformat()}."
    )
    if published.version == 1:
        typer.echo("This is the first version; there is nothing to compare it with.")
        return
    typer.echo(f"Changes from version {published.version - 1}:")
    _change_lines(published.changes)
    typer.echo(summarise(published.changes))
    if published.material:
        purposes = _reconsent(published.changes, published.document)
        if purposes and published.document.policy_changes.material_changes_require_reconsent:
            typer.echo(f"Consent will be asked again for: {', '.join(purposes)}.")
            if outcome.reconsent is not None:
                typer.echo(f"Re-consent notices queued: {outcome.reconsent.notices_queued}.")
        notice = published.document.policy_changes.advance_notice
        if notice is not None and published.effective_from - utcnow() < timedelta(days=notice.approx_days):
            typer.echo(
                f"warning: this version has material changes and takes effect sooner than the "
                f"{notice.describe()} advance notice the policy promises.",
                err=True,
            )


@app.command("versions")
def versions_command(
    output: OutputFormat = typer.Option(OutputFormat.TEXT, "--format", help="text or json."),
) -> None:
    """List the published versions, oldest first; `*` marks the one in force."""
    from fiduciary.policy import versions
    from fiduciary.storage import session_scope, utcnow

    runtime = _start()
    try:
        with session_scope(runtime.sessions) as session:
            all_versions = versions.history(session)
            in_force = versions.current(session)
    finally:
        runtime.close()
    now = utcnow()
    if output is OutputFormat.JSON:
        items = [
            {
                "version": v.version,
                "content_hash": v.content_hash,
                "name": v.name,
                "effective_from": v.effective_from.isoformat(),
                "published_at": v.published_at.isoformat(),
                "material": v.material,
                "change_count": len(v.changes),
                "in_force": in_force is not None and v.version == in_force.version,
            }
            for v in all_versions
        ]
        typer.echo(json.dumps(items, indent=2))
        return
    if not all_versions:
        typer.echo("No version is published yet. Run `fiduciary policy publish FILE`.")
        return
    typer.echo(f"  {'VERSION':>7}  {'EFFECTIVE FROM':<25}  {'MATERIAL':<8}  {'CHANGES':>7}  {'HASH':<71}  NAME")
    for v in all_versions:
        mark = "*" if in_force is not None and v.version == in_force.version else " "
        if v.effective_from > now:
            mark = ">"
        material = "yes" if v.material else "no"
        typer.echo(
            f"{mark} {v.version:>7}  {v.effective_from.isoformat(timespec='seconds'):<25}  {material:<8}  "
            f"{len(v.changes):>7}  {v.content_hash:<71}  {v.name}"
        )
    typer.echo("* in force   > scheduled")


@app.command("diff")
def diff_command(
    old: Path | None = typer.Argument(None, help="The earlier policy file."),
    new: Path | None = typer.Argument(None, help="The later policy file."),
    from_version: int | None = typer.Option(None, "--from-version", min=1, help="Compare published versions."),
    to_version: int | None = typer.Option(
        None, "--to-version", min=1, help="With --from-version (default: the latest version)."
    ),
    output: OutputFormat = typer.Option(OutputFormat.TEXT, "--format", help="text or json."),
) -> None:
    """List every change between two policies, each marked MATERIAL or minor."""
    from fiduciary.policy import versions
    from fiduciary.policy.diff import diff_policies, summarise
    from fiduciary.storage import session_scope

    by_file = old is not None or new is not None
    by_version = from_version is not None or to_version is not None
    if by_file and by_version:
        _fail("give two files or --from-version/--to-version, not both.", code=2)
    if by_version and from_version is None:
        _fail("--to-version needs --from-version.", code=2)
    changes: list[PolicyChange]
    new_doc: PolicyDocument
    if by_file:
        if old is None or new is None:
            _fail("give two files: OLD NEW.", code=2)
        old_doc, new_doc = _load(old).document, _load(new).document
        changes = diff_policies(old_doc, new_doc)
        source: dict[str, Any] = {"from": {"file": str(old)}, "to": {"file": str(new)}}
    elif from_version is not None:
        runtime = _start()
        try:
            with session_scope(runtime.sessions) as session:
                if to_version is None:
                    last = versions.latest(session)
                    if last is None:
                        _fail("no version is published yet.")
                    to_version = last.version
                changes = versions.diff_versions(session, from_version, to_version)
                new_doc = versions.get(session, to_version).document
        except FiduciaryError as exc:
            _fail_domain(exc)
        finally:
            runtime.close()
        source = {"from": {"version": from_version}, "to": {"version": to_version}}
    else:
        _fail("give two files OLD NEW, or --from-version N [--to-version M].", code=2)
    if output is OutputFormat.JSON:
        body = {
            **source,
            "material": any(c.material for c in changes),
            "reconsent_purposes": _reconsent(changes, new_doc),
            "changes": [c.to_dict() for c in changes],
        }
        typer.echo(json.dumps(body, indent=2, ensure_ascii=False))
        return
    _change_lines(changes)
    typer.echo(summarise(changes))
    purposes = _reconsent(changes, new_doc)
    if purposes:
        typer.echo(f"Purposes whose consent must be asked again: {', '.join(purposes)}.")
