"""The `pressroom` command."""

from __future__ import annotations

import shlex
import sys
from typing import Annotated

import typer
from sqlalchemy.exc import OperationalError

from pressroom.bench.command import bench_app
from pressroom.config import get_settings
from pressroom.db import embedded, migrations
from pressroom.db.errors import describe_connection_error
from pressroom.db.url import resolve_database_url, to_libpq_url

app = typer.Typer(no_args_is_help=True, help="Pressroom: content-generation SaaS backend.")
db_app = typer.Typer(no_args_is_help=True, help="Database: migrations, URL, embedded server.")
app.add_typer(db_app, name="db")
app.add_typer(bench_app, name="bench")


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _database_url() -> str:
    try:
        return resolve_database_url()
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
) -> None:
    """Run the HTTP API (Uvicorn)."""
    import uvicorn

    from pressroom.app import create_app

    _database_url()
    uvicorn.run(create_app(), host=host, port=port, log_level="info")


@app.command()
def up(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
) -> None:
    """Migrate the database, then run the API (the one-command start behind `make run`)."""
    _migrate(_database_url())
    typer.echo(f"pressroom: API on http://{host}:{port} (docs at /docs)", err=True)
    serve(host=host, port=port)


if __name__ == "__main__":
    app()
