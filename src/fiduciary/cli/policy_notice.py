"""`fiduciary policy render`: the privacy notice of a policy file, as HTML, Markdown or JSON.

Thin: load and validate the file, call the notice renderer, write the text. An invalid policy prints each
problem on its own line (file:line:column) and exits 1, never with a traceback.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path

import typer

from fiduciary.cli.policy import app


class NoticeFormatOption(StrEnum):
    HTML = "html"
    MARKDOWN = "markdown"
    JSON = "json"


def _error(message: str) -> None:
    typer.echo(message, err=True)


@app.command("render")
def render(
    file: Path = typer.Argument(..., help="The policy YAML file.", dir_okay=False),
    format: NoticeFormatOption = typer.Option(
        NoticeFormatOption.HTML, "--format", "-f", help="Output format.", case_sensitive=False
    ),
    language: str = typer.Option(
        "en", "--language", "-l", help="Language of the notice's fixed text; unknown languages give English."
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write to this file instead of standard output.", dir_okay=False
    ),
    base_url: str | None = typer.Option(
        None,
        "--base-url",
        help="Public origin of the Fiduciary service, for the links to the privacy center (DPDP Rule 3(c)).",
    ),
) -> None:
    """Render the privacy notice generated from a policy file."""
    # The loader and the renderer (YAML, pydantic, Jinja, Babel) only when rendering, not for --help.
    from fiduciary.policy.loader import PolicyInvalid, load_policy
    from fiduciary.policy.notice import available_languages, render_notice, resolve_language

    if base_url is not None and not base_url.startswith(("https://", "http://")):
        _error("--base-url must start with https:// or http://")
        raise typer.Exit(2)
    try:
        loaded = load_policy(file)
    except PolicyInvalid as exc:
        for problem in exc.problems:
            _error(str(problem))
        raise typer.Exit(1) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        _error(f"{file}: cannot read the policy file: {reason}")
        raise typer.Exit(1) from None
    for warning in loaded.warnings:
        _error(str(warning))
    resolved = resolve_language(language)
    if resolved.split("_")[0] != language.replace("-", "_").split("_")[0].lower():
        _error(
            f"no catalogue for language {language!r}; rendering in English "
            f"(available: {', '.join(available_languages())})"
        )
    text = render_notice(loaded.document, format.value, language=resolved, base_url=base_url)
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        _error(f"{output}: cannot write the notice: {exc.strerror or type(exc).__name__}")
        raise typer.Exit(1) from None
    _error(f"wrote {output}")
