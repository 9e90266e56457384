"""Turn a failed connection into one line an operator can act on."""

from __future__ import annotations

from sqlalchemy.engine import make_url


def describe_connection_error(url: str, exc: BaseException) -> str:
    u = make_url(url)
    where = f"{u.host or u.query.get('host') or 'local socket'}:{u.port or 5432}/{u.database}"
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    return (
        f"cannot connect to PostgreSQL at {where} ({reason}). "
        "Check DATABASE_URL (postgresql://user:password@host:port/dbname), or unset it "
        "to use the embedded PostgreSQL."
    )
