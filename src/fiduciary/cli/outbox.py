"""`fiduciary outbox read`: the messages the embedded default delivered into `<data_dir>/outbox/`, decoded.

Without an SMTP server (FIDUCIARY_SMTP_URL), every message goes to that folder as an RFC 5322 `.eml` file;
their bodies are quoted-printable, so a long link is split across lines in the raw file. This prints the
newest ones as a person would read them: who to, the subject, the text. It reads the folder only: no
database, no keys. The messages are personal data (an address, a code, a download link): the folder is
the operator's, mode 0700, and this command prints to the operator's terminal only.
"""

from __future__ import annotations

from pathlib import Path

import typer

from fiduciary.cli import load_settings, report_data, require_data_folder

app = typer.Typer(help="Messages delivered into the data folder (the embedded default's outbox).", no_args_is_help=True)


def _messages(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.eml"), key=lambda p: (p.stat().st_mtime, p.name)) if folder.is_dir() else []


@app.command("read")
def read_command(
    last: int = typer.Option(1, "--last", min=1, max=1000, help="How many of the newest messages to print."),
) -> None:
    """Print the newest messages of the outbox folder, oldest of them first."""
    import email  # lazy: `fiduciary --help` imports no mail parsing
    import email.policy

    settings = load_settings()
    require_data_folder(settings)
    report_data(settings)
    folder = settings.data_dir / "outbox"
    paths = _messages(folder)[-last:]
    if not paths:
        typer.echo(f"no messages in {folder}")
        return
    for path in paths:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""
        typer.echo(f"--- {path.name}")
        typer.echo(f"To: {message['To']}\nSubject: {message['Subject']}\n")
        typer.echo(text.rstrip("\n") + "\n")
