"""Create and drop whole databases (tests clone a migrated template; benchmarks start clean)."""

from __future__ import annotations

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from pressroom.db.url import to_libpq_url


def with_database(url: str, name: str) -> str:
    """The same server and credentials as `url`, another database."""
    return to_libpq_url(make_url(url).set(database=name).render_as_string(hide_password=False))


def _admin_connection(url: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(to_libpq_url(url), autocommit=True)


def create_database(url: str, name: str, *, template: str | None = None) -> str:
    query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template:
        query = sql.SQL("{} TEMPLATE {}").format(query, sql.Identifier(template))
    with _admin_connection(url) as conn:
        conn.execute(query)
    return with_database(url, name)


def drop_database(url: str, name: str) -> None:
    with _admin_connection(url) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
