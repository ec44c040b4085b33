"""The `fiduciary` command. Sub-commands live in one module per domain and only translate.

`fiduciary --help` imports this module and every sub-command module, so none of them imports FastAPI,
SQLAlchemy, the domain services or cryptography at module level: each command imports what it needs when it
runs (tests/cli/test_cli_imports.py holds the line; bench/cli_startup.py measures it).
"""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING, Any

import typer

from fiduciary.cli import apikey as apikey_cli
from fiduciary.cli import audit as audit_cli
from fiduciary.cli import breach as breach_cli
from fiduciary.cli import cases as cases_cli
from fiduciary.cli import consent as consent_cli
from fiduciary.cli import decisions as decisions_cli
from fiduciary.cli import disclosures as disclosures_cli
from fiduciary.cli import folder as folder_cli
from fiduciary.cli import housekeeping as housekeeping_cli
from fiduciary.cli import jobs as jobs_cli
from fiduciary.cli import ledger as ledger_cli
from fiduciary.cli import load_settings, options, report_data, vault_keys
from fiduciary.cli import outbox as outbox_cli
from fiduciary.cli import policy as policy_cli
from fiduciary.cli import requests as requests_cli
from fiduciary.cli import retention as retention_cli
from fiduciary.cli import retention_inactivity as inactivity_cli
from fiduciary.cli import vault as vault_cli
from fiduciary.cli import vulnerability as vulnerability_cli

if TYPE_CHECKING:
    from fiduciary.config import Settings

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
app.add_typer(outbox_cli.app, name="outbox")
app.add_typer(vault_keys.app, name="keys")
app.add_typer(vault_cli.app, name="vault")
app.add_typer(jobs_cli.app, name="jobs")
app.add_typer(requests_cli.app, name="requests")
app.add_typer(retention_cli.app, name="retention")
# the inactivity sweep (DPDP s.8(8)) is one of the retention sweeps
retention_cli.app.add_typer(inactivity_cli.app, name="inactivity")
cases_cli.app.add_typer(breach_cli.app, name="breach")  # `fiduciary cases breach …`
app.add_typer(cases_cli.app, name="cases")
cases_cli.app.add_typer(vulnerability_cli.app, name="vulnerability")  # fiduciary cases vulnerability …
app.add_typer(disclosures_cli.app, name="disclosures")
app.command("ropa")(disclosures_cli.ropa_command)
app.command("restore-replay")(vault_cli.restore_replay_command)
app.command("housekeeping")(housekeeping_cli.housekeeping_command)
app.command("worker")(jobs_cli.worker_command)
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


# How long the supervisor waits for a worker to answer its health ping before killing and replacing it.
# uvicorn's default of 5 s killed workers still importing on a loaded 2-core machine, over and over, so none
# ever served; a worker that does not answer for a minute is hung.
WORKER_HEALTHCHECK_SECONDS = 60


def default_workers() -> int:
    """One worker per core (`os.cpu_count()`; 1 when Python cannot tell)."""
    return os.cpu_count() or 1


@app.command()
def serve(
    host: str | None = typer.Option(None, help="Address to bind (default 127.0.0.1 or FIDUCIARY_HOST)."),
    port: int | None = typer.Option(
        None, min=0, max=65535, help="Port (default 8000 or FIDUCIARY_PORT; 0 picks a free one)."
    ),
    workers: int | None = typer.Option(
        None,
        min=1,
        max=512,
        help="Worker processes sharing the port and the database (default: the number of cores; 1 serves "
        "in this process).",
    ),
    demo: bool = typer.Option(
        False,
        "--demo",
        help="Also serve the demo shop (examples/demo-shop, or FIDUCIARY_DEMO_SHOP) at /demo/, with the cookie banner.",
    ),
) -> None:
    """Run the HTTP service on the configured database (embedded SQLite by default).

    Creates the data folder on first start and prints the base URL its links use.
    """
    from fiduciary.config import origin_for_bind
    from fiduciary.runtime import Runtime, raise_open_files_limit

    settings = load_settings()
    if demo:
        settings = _with_demo_shop(settings)
    report_data(settings)
    count = default_workers() if workers is None else workers
    bind_host, bind_port = host or settings.host, settings.port if port is None else port
    try:
        sock = bind_socket(bind_host, bind_port)
    except OSError as exc:
        typer.echo(f"error: cannot listen on {bind_host}:{bind_port}: {exc.strerror}", err=True)
        raise typer.Exit(1) from None
    # Bound here, before any worker starts, so under --port 0 every worker serves (and links name) one port.
    bound = origin_for_bind(bind_host, sock.getsockname()[1])
    base_url = settings.public_base_url or bound
    typer.echo(f"Fiduciary listening on {bound}; links use {base_url}", err=True)
    if settings.demo_shop is not None:
        typer.echo(f"demo shop with the cookie banner: {base_url}/demo/", err=True)
    if count > 1:
        typer.echo(f"{count} worker processes share this port and the database (--workers)", err=True)
    if settings.public_base_url is None and settings.trust_proxy_host:
        typer.echo("links follow each request's Host (FIDUCIARY_TRUST_PROXY_HOST)", err=True)
    raise_open_files_limit()  # every held connection is a file descriptor (workers inherit the limit)
    if count == 1:
        _serve_here(settings, sock, bind_host, bound)
        return
    # Migrate, publish the policy and create the data folder's keys once, here, so N workers starting at
    # once never race to do it (each then finds the schema at head and the policy published).
    Runtime.start(settings, bound_base_url=bound).close()
    _serve_workers(settings, sock, bind_host, bound, count)


def _with_demo_shop(settings: Settings) -> Settings:
    """`settings` serving the demo shop; its folder is exported so that spawned workers serve it too."""
    from fiduciary.web.demo_shop import default_demo_folder  # lazy: the web app is imported only by `serve`

    folder = settings.demo_shop or default_demo_folder()
    if folder is None or not (folder / "index.html").is_file():
        typer.echo("error: --demo needs the demo shop folder: set FIDUCIARY_DEMO_SHOP=examples/demo-shop", err=True)
        raise typer.Exit(2)
    os.environ["FIDUCIARY_DEMO_SHOP"] = str(folder.resolve())
    return settings.model_copy(update={"demo_shop": folder.resolve()})


def _uvicorn_config(app: Any, host: str, sock: socket.socket, log_format: str, **kwargs: Any) -> Any:
    import uvicorn

    # Our access log names route templates, never raw paths or query values (decision 0017): uvicorn's is off.
    from fiduciary.web.access_log import serve_log_config

    return uvicorn.Config(
        app,
        host=host,
        port=sock.getsockname()[1],
        access_log=False,
        log_config=serve_log_config(log_format),
        **kwargs,
    )


def _serve_here(settings: Settings, sock: socket.socket, host: str, bound: str) -> None:
    import uvicorn

    from fiduciary.runtime import tune_process
    from fiduciary.web.access_log import start_log_queue
    from fiduciary.web.app import create_app

    application = create_app(settings, bound_base_url=bound)
    tune_process()
    config = _uvicorn_config(application, host, sock, settings.log_format)
    listeners = start_log_queue()  # after uvicorn.Config, which configures logging
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        for listener in listeners:
            listener.stop()


def _serve_workers(settings: Settings, sock: socket.socket, host: str, bound: str, count: int) -> None:
    """uvicorn's supervisor: `count` spawned workers accept on the one socket bound here, each building the
    app from the environment (`create_app_from_env`), and a worker that dies is replaced. The workers'
    metrics meet in a private folder made here, so any worker's `/metrics` shows all of them."""
    from fiduciary.cli.supervisor import MetricsSupervisor, worker_metrics_folder
    from fiduciary.serving import WorkerEnvironment

    os.environ.update(WorkerEnvironment(bound_base_url=bound, workers=count).export())  # spawned workers inherit it
    config = _uvicorn_config(
        "fiduciary.web.app:create_app_from_env",
        host,
        sock,
        settings.log_format,
        factory=True,
        workers=count,
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
    )
    with worker_metrics_folder() as metrics_folder:  # before the first worker starts: they inherit it
        MetricsSupervisor(config, [sock], metrics_folder).run()


if __name__ == "__main__":
    app()
