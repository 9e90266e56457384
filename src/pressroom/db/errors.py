"""Turn a failed connection into one line an operator can act on."""

from __future__ import annotations

import psycopg.errors as pg_errors
from sqlalchemy.engine import make_url

CONNECT_TIMEOUT_SETTING = "PRESSROOM_DB_CONNECT_TIMEOUT_SECONDS"


def short_error(exc: BaseException) -> str:
    """The first line of a (database) error, for a one-line log."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def never_migrated(exc: BaseException) -> bool:
    """The schema is missing: a table, or the runtime role its first migrations create."""
    orig = getattr(exc, "orig", exc)
    if isinstance(orig, pg_errors.UndefinedTable):
        return True
    return isinstance(orig, pg_errors.InvalidParameterValue) and "pressroom_app" in str(orig)


def describe_connection_error(url: str, exc: BaseException) -> str:
    u = make_url(url)
    where = f"{u.host or u.query.get('host') or 'local socket'}:{u.port or 5432}/{u.database}"
    reason = short_error(exc)
    if "timeout" in reason.lower():
        from pressroom.config import get_settings

        seconds = get_settings().db_connect_timeout_seconds
        return (
            f"cannot connect to PostgreSQL at {where}: no answer within {seconds} s "
            f"({CONNECT_TIMEOUT_SETTING}). Check that the host runs PostgreSQL on that port "
            "and that no firewall drops the connection."
        )
    return (
        f"cannot connect to PostgreSQL at {where} ({reason}). "
        "Check DATABASE_URL (postgresql://user:password@host:port/dbname), or unset it "
        "to use the embedded PostgreSQL."
    )
