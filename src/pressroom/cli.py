"""The `pressroom` command."""

from __future__ import annotations

import shlex
import sys
from typing import Annotated

import typer
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError

from pressroom.billing.cli import billing_app
from pressroom.config import get_settings
from pressroom.db import embedded, migrations
from pressroom.db.errors import describe_connection_error
from pressroom.db.url import database_url, to_libpq_url
from pressroom.generation.cli import generate

app = typer.Typer(no_args_is_help=True, help="Pressroom: content-generation SaaS backend.")
db_app = typer.Typer(no_args_is_help=True, help="Database: migrations, URL, embedded server.")
app.add_typer(db_app, name="db")
app.command()(generate)
app.add_typer(billing_app, name="billing")


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _database_url() -> str:
    try:
        return database_url()
    except ValueError as exc:
        raise _fail(str(exc)) from None


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
    result = migrations.squawk(migrations.offline_sql())
    sys.stdout.write(result.stdout + result.stderr)
    raise typer.Exit(result.returncode)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, help="Uvicorn worker processes (one per core is typical).")
    ] = 1,
) -> None:
    """Run the HTTP API (Uvicorn)."""
    import os

    import uvicorn

    from pressroom.app import create_app

    url = _database_url()
    try:
        get_settings()  # refuse to start on bad settings (a default secret in production)
    except ValidationError as exc:
        raise _fail(f"invalid settings: {exc}") from None
    # log_config=None keeps our JSON logging; our middleware writes the access log.
    if workers == 1:
        uvicorn.run(create_app(), host=host, port=port, log_config=None, access_log=False)
        return
    # Each worker process builds its own app (engine, pool) from the factory; they must
    # all reach the database this process resolved (possibly the embedded one it started).
    os.environ["DATABASE_URL"] = to_libpq_url(url)
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
def up(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes to start beside the API.")] = 1,
) -> None:
    """Migrate, then run the API and worker(s) together (what `make run` does)."""
    import os
    import subprocess

    url = _database_url()
    _migrate(url)
    env = {**os.environ, "DATABASE_URL": to_libpq_url(url)}
    children = [
        subprocess.Popen([sys.executable, "-m", "pressroom.cli", "worker"], env=env)
        for _ in range(workers)
    ]
    typer.echo(
        f"pressroom: API on http://{host}:{port} (docs at /docs), {workers} worker(s)", err=True
    )
    try:
        serve(host=host, port=port)
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.wait()


@app.command()
def worker(
    concurrency: Annotated[
        int | None, typer.Option(help="Jobs run at once by this process.")
    ] = None,
) -> None:
    """Run a worker: claim queued jobs, run them, record the outcome. Scale by running more."""
    from prometheus_client import start_http_server

    from pressroom.db.session import get_engine
    from pressroom.db.tenancy import SystemDuty, system_engine
    from pressroom.jobs.policy import concurrency_policy, runner_for
    from pressroom.jobs.worker import Worker, WorkerConfig
    from pressroom.observability import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level)
    _database_url()
    config = WorkerConfig(
        concurrency=concurrency or settings.worker_concurrency,
        lease_seconds=settings.worker_lease_seconds,
        poll_interval=settings.worker_poll_interval,
        rescue_interval=settings.worker_rescue_interval,
        shutdown_grace=settings.worker_shutdown_grace,
    )
    if settings.worker_metrics_port:
        start_http_server(settings.worker_metrics_port)
    # The worker claims, finishes and rescues every org's jobs: its standing duty.
    engine = system_engine(get_engine(), SystemDuty.WORKER)
    runner = Worker(engine, runner_for(settings), concurrency_policy(), config)
    runner.install_signal_handlers()
    typer.echo(
        f"pressroom: worker {runner.worker_id} started ({config.concurrency} slots)", err=True
    )
    runner.run()


if __name__ == "__main__":
    app()
