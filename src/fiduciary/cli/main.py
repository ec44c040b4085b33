"""The `fiduciary` command. Sub-commands live in one module per domain and only translate."""

from __future__ import annotations

import typer

from fiduciary.cli import apikey as apikey_cli
from fiduciary.cli import audit as audit_cli
from fiduciary.cli import consent as consent_cli
from fiduciary.cli import decisions as decisions_cli
from fiduciary.cli import housekeeping as housekeeping_cli
from fiduciary.cli import keys as keys_cli
from fiduciary.cli import ledger as ledger_cli
from fiduciary.cli import policy as policy_cli
from fiduciary.cli import vault as vault_cli

app = typer.Typer(
    name="fiduciary",
    help="Make an online store's privacy policy executable.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(policy_cli.app, name="policy")
app.add_typer(apikey_cli.app, name="apikey")
app.add_typer(ledger_cli.app, name="ledger")
app.add_typer(consent_cli.app, name="consent")
app.add_typer(consent_cli.receipt_app, name="receipt")
app.add_typer(decisions_cli.app, name="decisions")
app.add_typer(audit_cli.app, name="audit")
app.add_typer(keys_cli.app, name="keys")
app.add_typer(vault_cli.app, name="vault")
app.command("restore-replay")(vault_cli.restore_replay_command)
app.command("housekeeping")(housekeeping_cli.housekeeping_command)


@app.callback()
def main() -> None:
    """Fiduciary: one policy file drives the notice, consent, decisions, rights and retention."""


@app.command()
def serve(
    host: str | None = typer.Option(None, help="Address to bind (default 127.0.0.1 or FIDUCIARY_HOST)."),
    port: int | None = typer.Option(None, help="Port (default 8000 or FIDUCIARY_PORT)."),
) -> None:
    """Run the HTTP service on the configured database (embedded SQLite by default)."""
    import uvicorn

    from fiduciary.config import get_settings
    from fiduciary.runtime import tune_process
    from fiduciary.web.app import create_app

    settings = get_settings()
    application = create_app(settings)
    tune_process()
    # Our access log names route templates, never raw paths or query values (decision 0017): uvicorn's is off.
    from fiduciary.web.access_log import serve_log_config

    uvicorn.run(
        application,
        host=host or settings.host,
        port=port or settings.port,
        access_log=False,
        log_config=serve_log_config(),
    )


if __name__ == "__main__":
    app()
