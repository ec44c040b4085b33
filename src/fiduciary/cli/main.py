"""The `fiduciary` command. Sub-commands live in one module per domain and only translate.

`fiduciary --help` imports this module and every sub-command module, so none of them imports FastAPI,
SQLAlchemy, the domain services or cryptography at module level: each command imports what it needs when it
runs (tests/cli/test_cli_imports.py holds the line; bench/cli_startup.py measures it).
"""

from __future__ import annotations

import socket

import typer

from fiduciary.cli import apikey as apikey_cli
from fiduciary.cli import audit as audit_cli
from fiduciary.cli import consent as consent_cli
from fiduciary.cli import decisions as decisions_cli
from fiduciary.cli import folder as folder_cli
from fiduciary.cli import housekeeping as housekeeping_cli
from fiduciary.cli import keys as keys_cli
from fiduciary.cli import ledger as ledger_cli
from fiduciary.cli import load_settings, options, report_data
from fiduciary.cli import policy as policy_cli
from fiduciary.cli import vault as vault_cli

app = typer.Typer(
    name="fiduciary",
    help="Make an online store's privacy policy executable.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Plain help and usage errors: Rich's help formatter alone costs more import time than the whole
    # `--help` budget (bench/RESULTS.md "CLI start-up").
    rich_markup_mode=None,
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
app.command("init")(folder_cli.init_command)
app.command("status")(folder_cli.status_command)


@app.callback()
def main(
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Name the data folder, database and key files a command uses (on stderr)."
    ),
) -> None:
    """Fiduciary: one policy file drives the notice, consent, decisions, rights and retention."""
    options.verbose = verbose


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port, bound here so the real port is known before serving (--port 0
    asks the system for a free one) and links can name it."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0 if host in ("", "::") else 1)
    try:
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


@app.command()
def serve(
    host: str | None = typer.Option(None, help="Address to bind (default 127.0.0.1 or FIDUCIARY_HOST)."),
    port: int | None = typer.Option(
        None, min=0, max=65535, help="Port (default 8000 or FIDUCIARY_PORT; 0 picks a free one)."
    ),
) -> None:
    """Run the HTTP service on the configured database (embedded SQLite by default).

    Creates the data folder on first start and prints the base URL its links use.
    """
    import uvicorn

    from fiduciary.config import origin_for_bind
    from fiduciary.runtime import raise_open_files_limit, tune_process
    from fiduciary.web.app import create_app

    settings = load_settings()
    report_data(settings)
    bind_host, bind_port = host or settings.host, settings.port if port is None else port
    try:
        sock = bind_socket(bind_host, bind_port)
    except OSError as exc:
        typer.echo(f"error: cannot listen on {bind_host}:{bind_port}: {exc.strerror}", err=True)
        raise typer.Exit(1) from None
    bound = origin_for_bind(bind_host, sock.getsockname()[1])
    base_url = settings.public_base_url or bound
    typer.echo(f"Fiduciary listening on {bound}; links use {base_url}", err=True)
    if settings.public_base_url is None and settings.trust_proxy_host:
        typer.echo("links follow each request's Host (FIDUCIARY_TRUST_PROXY_HOST)", err=True)
    application = create_app(settings, bound_base_url=bound)
    tune_process()
    raise_open_files_limit()  # every held connection is a file descriptor
    # Our access log names route templates, never raw paths or query values (decision 0017): uvicorn's is off.
    from fiduciary.web.access_log import serve_log_config, start_log_queue

    config = uvicorn.Config(
        application,
        host=bind_host,
        port=sock.getsockname()[1],
        access_log=False,
        log_config=serve_log_config(settings.log_format),
    )
    listeners = start_log_queue()  # after uvicorn.Config, which configures logging
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        for listener in listeners:
            listener.stop()


if __name__ == "__main__":
    app()
