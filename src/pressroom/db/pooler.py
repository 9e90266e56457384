"""Running behind a connection pooler (PgBouncer in transaction mode) or straight to PostgreSQL.

In transaction mode PgBouncer hands each transaction whatever server connection is free, so
nothing that lives on a server session may be relied on between transactions:

- startup options (`-c statement_timeout=...`) are refused outright ("unsupported startup
  parameter: options"): the timeout is set per transaction instead, `SET LOCAL` at BEGIN;
- psycopg's automatic server-side prepared statements need PgBouncer >= 1.21 (Debian 12
  ships 1.18): they are turned off (`prepare_threshold=None`);
- `LISTEN` registers on one server connection that other clients then share, and its
  notifications never reach us: the worker listens on a direct connection of its own
  (`PRESSROOM_DB_LISTEN_URL`) or, without one, polls and says so in its log.

Advisory locks are all transaction-scoped (`pg_*_xact_lock`), so they are safe as they are.

`PRESSROOM_DB_POOLER=auto` (the default) starts as a direct connection and switches to the
pooler's rules if the server refuses the startup option as PgBouncer does; set `pgbouncer`
explicitly in a pooled deployment (a PgBouncer configured to ignore `options` can't be told
apart from PostgreSQL, and would silently drop the timeout).
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import psycopg
from sqlalchemy import Connection, Engine, event, exc

from pressroom.config import Settings
from pressroom.db.url import to_libpq_url

Pooler = Literal["auto", "none", "pgbouncer"]

log = logging.getLogger("pressroom.db")

# Pool record info: which rules a pooled connection was opened under.
_POOLER_KEY = "pressroom.pooler"
_REFUSED_STARTUP_OPTION = "unsupported startup parameter"


def _timeout_option(settings: Settings) -> str:
    return f"-c statement_timeout={settings.db_statement_timeout_ms}"


def connect_args(settings: Settings) -> dict[str, Any]:
    """The driver arguments for the configured pooler (auto starts as direct)."""
    if settings.db_pooler == "pgbouncer":
        return {"prepare_threshold": None}
    return {"options": _timeout_option(settings)}


def refused_startup_option(settings: Settings, error: psycopg.OperationalError) -> bool:
    """Under `auto`: the server refused our startup option, as PgBouncer does."""
    return settings.db_pooler == "auto" and _REFUSED_STARTUP_OPTION in str(error)


def transaction_timeout(settings: Settings) -> str:
    """The statement timeout of one transaction, where no startup option can set it."""
    return f"SET LOCAL statement_timeout = {int(settings.db_statement_timeout_ms)}"


def install(engine: Engine, settings: Settings) -> None:
    """Hook the pooler's rules into `engine` (see the module docstring)."""
    timeout = transaction_timeout(settings)
    detected = settings.db_pooler == "pgbouncer"

    def connect(dialect: Any, record: Any, cargs: Any, cparams: dict[str, Any]) -> Any:
        nonlocal detected
        if not detected:
            try:
                conn = dialect.connect(*cargs, **cparams)
            except psycopg.OperationalError as error:
                if not refused_startup_option(settings, error):
                    raise
                detected = True
                log.warning(
                    "connection pooler detected (startup options refused): no prepared "
                    "statements, statement_timeout per transaction; set "
                    "PRESSROOM_DB_POOLER=pgbouncer to say so"
                )
            else:
                record.info[_POOLER_KEY] = "none"
                return conn
        params = {k: v for k, v in cparams.items() if k != "options"}
        conn = dialect.connect(*cargs, **{**params, "prepare_threshold": None})
        record.info[_POOLER_KEY] = "pgbouncer"
        return conn

    def begin(conn: Connection) -> None:
        if conn.info.get(_POOLER_KEY) != "pgbouncer":
            return
        dbapi = conn.connection.dbapi_connection
        # Straight to the driver: psycopg opens the transaction with this statement, and
        # SQLAlchemy's own BEGIN is implicit, so nothing runs twice.
        if dbapi is not None and not dbapi.autocommit:
            dbapi.execute(timeout)

    event.listen(engine, "do_connect", connect)
    event.listen(engine, "begin", begin)


def pooler_of(engine: Engine) -> str:
    """`none` or `pgbouncer`: the rules `engine`'s connections run under (auto: detected)."""
    with engine.connect() as conn:
        return str(conn.info.get(_POOLER_KEY, "none"))


def listen_url(engine: Engine, settings: Settings) -> str | None:
    """Where the worker LISTENs: PRESSROOM_DB_LISTEN_URL, else the engine's own database
    when it is reached directly, else nowhere (None: the worker polls)."""
    if settings.db_listen_url:
        log.info("worker listens for new jobs on PRESSROOM_DB_LISTEN_URL (a direct connection)")
        return to_libpq_url(settings.db_listen_url)
    try:
        pooled = pooler_of(engine) == "pgbouncer"
    except exc.DBAPIError as error:
        # Can't tell yet: assume direct; a pooled deployment names its pooler explicitly.
        log.warning("could not check for a pooler: %s", str(error).splitlines()[0])
        pooled = settings.db_pooler == "pgbouncer"
    if pooled:
        log.warning(
            "LISTEN does not work through PgBouncer in transaction mode and "
            "PRESSROOM_DB_LISTEN_URL is not set: polling for new jobs every %ss",
            settings.worker_poll_interval,
        )
        return None
    return to_libpq_url(engine.url.render_as_string(hide_password=False))
