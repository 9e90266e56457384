"""The `pressroom` command."""

from __future__ import annotations

import logging
import os
import shlex
import socket
import sys
from pathlib import Path
from typing import Annotated

import structlog
import typer
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError

from pressroom import launch, tracing
from pressroom.billing.cli import billing_app, dev_app
from pressroom.billing.plans import PlansFileError, get_catalog
from pressroom.config import DEV_KEY_WARNING, Settings, describe_settings_error, get_settings
from pressroom.db import embedded, migrations
from pressroom.db.errors import describe_connection_error
from pressroom.db.url import database_url, to_libpq_url
from pressroom.email.cli import mail_app
from pressroom.generation.cli import generate
from pressroom.jobs.cli import jobs_app
from pressroom.observability import configure_logging
from pressroom.outbox.cli import outbox_app

app = typer.Typer(no_args_is_help=True, help="Pressroom: content-generation SaaS backend.")
db_app = typer.Typer(no_args_is_help=True, help="Database: migrations, URL, embedded server.")
app.add_typer(db_app, name="db")
app.command()(generate)
app.add_typer(billing_app, name="billing")
app.add_typer(dev_app, name="dev")
app.add_typer(jobs_app, name="jobs")
app.add_typer(mail_app, name="mail")
app.add_typer(outbox_app, name="outbox")


log = structlog.get_logger("pressroom.cli")


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


@app.callback()
def _main() -> None:
    # Every command: settings are valid (or one line says which variable is not), and logs
    # have one format (JSON lines; human lines when stderr is a terminal).
    try:
        settings = get_settings()
    except ValidationError as exc:
        raise _fail(describe_settings_error(exc)) from None
    configure_logging(settings.log_level)


def _database_url() -> str:
    try:
        return database_url()
    except ValueError as exc:
        raise _fail(str(exc)) from None


def _check_database(url: str) -> None:
    """Fail with one line if the database can't be reached (refused, or silent past the
    connect timeout), rather than starting a server that can only answer 503."""
    import psycopg

    try:
        psycopg.connect(
            to_libpq_url(url), connect_timeout=get_settings().db_connect_timeout_seconds
        ).close()
    except psycopg.OperationalError as exc:
        raise _fail(describe_connection_error(url, exc)) from None


def _migrate(url: str, revision: str = "head", *, down: bool = False) -> None:
    try:
        (migrations.downgrade if down else migrations.upgrade)(url, revision)
    except OperationalError as exc:
        raise _fail(describe_connection_error(url, exc)) from None


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations up to REVISION (default: head). Safe to run twice."""
    _migrate(_database_url(), revision)


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument()] = "-1") -> None:
    """Revert migrations down to REVISION (default: one step)."""
    _migrate(_database_url(), revision, down=True)


@db_app.command("url")
def db_url() -> None:
    """Print the database URL (starting the embedded server if none is configured)."""
    typer.echo(to_libpq_url(_database_url()))


@db_app.command("env")
def db_env() -> None:
    """Print `export DATABASE_URL=...`, for: eval "$(pressroom db env)"."""
    typer.echo(f"export DATABASE_URL={shlex.quote(to_libpq_url(_database_url()))}")


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded PostgreSQL (its data stays)."""
    stopped = embedded.stop(get_settings().data_dir)
    typer.echo("embedded PostgreSQL stopped" if stopped else "embedded PostgreSQL not running")


@db_app.command("lint")
def db_lint() -> None:
    """Lint the offline SQL of the whole migration chain with squawk."""
    # Rendering SQL offline applies nothing: Alembic's "Running upgrade" lines would mislead.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    result = migrations.squawk(migrations.offline_sql())
    sys.stdout.write(result.stdout + result.stderr)
    raise typer.Exit(result.returncode)


def _check_startup_config() -> Settings:
    """What the API and the workers refuse to start with, each as one line."""
    settings = get_settings()
    try:
        get_catalog()
    except PlansFileError as exc:
        raise _fail(str(exc)) from None
    return settings


def _listen(host: str, port: int) -> socket.socket:
    try:
        return launch.bind(host, port)
    except launch.LaunchError as exc:
        raise _fail(str(exc)) from None


def _serve(sock: socket.socket, settings: Settings, workers: int, *, worker_count: int) -> None:
    """Serve the API on `sock` until Ctrl-C or SIGTERM."""
    import uvicorn

    from pressroom.app import create_app

    if settings.uses_development_key:
        log.warning(DEV_KEY_WARNING)  # once per start, here only
    host, port = sock.getsockname()[:2]
    ready = {"api": f"http://{host}:{port}", "docs": f"http://{host}:{port}/docs"}
    # log_config=None keeps our logging; our middleware writes the access log.
    if workers == 1:
        config = uvicorn.Config(create_app(), log_config=None, access_log=False)
        log.info("pressroom ready", **ready, workers=worker_count)
        uvicorn.Server(config).run(sockets=[sock])
        return
    # Each worker process builds its own app (engine, pool) from the factory. Uvicorn's
    # supervisor binds the port itself, so hand it back: `_listen` has shown it is free.
    sock.close()
    log.info("pressroom starting", **ready, api_processes=workers)
    uvicorn.run(
        "pressroom.app:create_app",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
    )


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, help="Uvicorn worker processes (one per core is typical).")
    ] = 1,
) -> None:
    """Run the HTTP API (Uvicorn)."""
    settings = _check_startup_config()
    sock = _listen(host, port)
    url = _database_url()
    _check_database(url)
    # Uvicorn's worker processes must all reach the database this process resolved.
    os.environ["DATABASE_URL"] = to_libpq_url(url)
    _serve(sock, settings, workers, worker_count=0)


@app.command()
def up(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes to start beside the API.")] = 1,
) -> None:
    """Migrate, then run the API and worker(s) together (what `make run` does).

    The port is taken first; the API answers only once the workers are ready. Ctrl-C stops
    the API and the workers; an embedded PostgreSQL keeps running (see the last line)."""
    settings = _check_startup_config()
    sock = _listen(host, port)
    url = _database_url()
    _migrate(url)
    try:
        with launch.workers(workers, launch.child_environment(to_libpq_url(url))):
            _serve(sock, settings, 1, worker_count=workers)
    except launch.LaunchError as exc:
        raise _fail(str(exc)) from None
    except KeyboardInterrupt:
        pass  # Ctrl-C: uvicorn has shut down; the workers were stopped on the way out
    finally:
        sock.close()
    log.info("pressroom stopped: the API and the worker(s)")
    if settings.database_url is None:
        # Left running on purpose: the next `make run` starts at once, and `psql` (via
        # `pressroom db env`) keeps working. Stopping it is one command.
        log.info(
            "the embedded PostgreSQL is still running; stop it with `.venv/bin/pressroom db stop`",
            data_dir=str(embedded.pgdata_dir(settings.data_dir)),
        )


@app.command()
def worker(
    concurrency: Annotated[
        int | None, typer.Option(help="Jobs run at once by this process.")
    ] = None,
    ready_file: Annotated[Path | None, typer.Option(hidden=True)] = None,
) -> None:
    """Run a worker: run queued jobs and deliver the outbox (webhooks, e-mail). Scale by
    running more."""
    from prometheus_client import start_http_server

    from pressroom.db.session import get_engine
    from pressroom.db.tenancy import SystemDuty, system_engine
    from pressroom.jobs.policy import concurrency_policy, runner_for
    from pressroom.jobs.worker import Worker, WorkerConfig
    from pressroom.outbox.cli import delivery_loop

    settings = _check_startup_config()
    _check_database(_database_url())
    config = WorkerConfig(
        concurrency=concurrency or settings.worker_concurrency,
        lease_seconds=settings.worker_lease_seconds,
        poll_interval=settings.worker_poll_interval,
        rescue_interval=settings.worker_rescue_interval,
        shutdown_grace=settings.worker_shutdown_grace,
        connect_timeout=settings.db_connect_timeout_seconds,
        retention_interval=settings.retention_interval_seconds,
    )
    if settings.worker_metrics_port:
        start_http_server(settings.worker_metrics_port)
    tracing.configure(settings)
    runner = Worker(get_engine(), runner_for(settings), concurrency_policy(), config)
    runner.install_signal_handlers()
    try:
        outbox = delivery_loop(system_engine(get_engine(), SystemDuty.OUTBOX), settings)
    except ValueError as exc:  # e.g. a malformed PRESSROOM_SMTP_URL
        raise _fail(str(exc)) from None
    outbox.start()
    log.info("worker started", worker_id=runner.worker_id, slots=config.concurrency)
    launch.mark_ready(ready_file)
    try:
        runner.run()
    finally:
        outbox.stop()


if __name__ == "__main__":
    app()
