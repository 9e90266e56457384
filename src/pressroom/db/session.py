"""Engine and unit of work. The caller (a request, a worker step) owns the transaction:
services only add, flush and query; `unit_of_work` commits on success, rolls back on error,
then runs what was queued for after the commit (NOTIFY, outbound calls).

Dead pooled connections: instead of `pool_pre_ping` (a `SELECT 1` round trip before every
checkout, a sixth of a webhook's round trips) a checkout looks at the idle connection's
socket without a round trip. An idle connection has nothing to read, so a readable socket
means the server closed it or said goodbye (restart, `pg_terminate_backend`, idle timeout):
the pool discards it and opens a new one. `pool_recycle` replaces connections before a
middlebox can drop them silently, and a connection that still dies mid-use raises a
disconnect error that invalidates the pool; the webhook inbox retries such a transaction
once (billing.provider_events), other requests answer 503 `database_unavailable` once per process.
"""

from __future__ import annotations

import select
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import psycopg
from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.orm import Session, sessionmaker

from pressroom.config import get_settings
from pressroom.db import pooler
from pressroom.db.tenancy import use_runtime_role
from pressroom.db.url import database_url, to_sqlalchemy_url


def make_engine(url: str, *, pool_size: int | None = None) -> Engine:
    """An engine whose transactions run as the runtime role (pressroom.db.tenancy)."""
    settings = get_settings()
    engine = create_engine(
        to_sqlalchemy_url(url),
        pool_size=pool_size or settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_recycle=settings.db_pool_recycle_seconds,
        # Errors must not carry bound values (password hashes, token hashes) into logs.
        hide_parameters=True,
        connect_args={
            **pooler.connect_args(settings),
            "application_name": "pressroom",
            "connect_timeout": settings.db_connect_timeout_seconds,
        },
    )
    pooler.install(engine, settings)
    event.listen(engine, "checkout", _refuse_dead_connection)
    use_runtime_role(engine)
    return engine


def connection_looks_dead(dbapi_connection: Any) -> bool:
    """True if an idle psycopg connection is closed or its server has hung up."""
    if dbapi_connection.closed or dbapi_connection.broken:
        return True
    try:
        poller = select.poll()  # not select.select: it cannot take descriptors >= 1024
        poller.register(dbapi_connection.fileno(), select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True


def _refuse_dead_connection(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    # The documented hook: DisconnectionError makes the pool drop this connection and
    # check out another (a fresh one if need be).
    if connection_looks_dead(dbapi_connection):
        raise exc.DisconnectionError("pooled connection was closed by the server")


def driver_connection(session: Session) -> psycopg.Connection[Any]:
    """The session's own psycopg connection, in the session's transaction.

    For the few statements on the hottest path (the webhook inbox), where SQLAlchemy's
    per-statement work costs more CPU than the statement itself. Plain SQL text here is
    prepared by psycopg after a few uses. Everything else goes through the session.
    """
    conn = session.connection().connection.driver_connection
    assert isinstance(conn, psycopg.Connection)
    return conn


@lru_cache
def get_engine() -> Engine:
    return make_engine(database_url())


@lru_cache
def get_sessionmaker() -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


@contextmanager
def unit_of_work(factory: sessionmaker[Session] | None = None) -> Iterator[Session]:
    session = (factory or get_sessionmaker())()
    try:
        yield session
        session.commit()
    except Exception:
        end_after_error(session)
        raise
    except BaseException:  # cancelled, interrupted: the connection's state is unknown
        session.rollback()
        raise
    finally:
        session.close()


_USED_A_CONNECTION = "pressroom.used_a_connection"
# True while the transaction has written nothing: PostgreSQL assigns a transaction id on
# its first write or row lock. The async pool ends its failed transactions by it too.
WROTE_NOTHING = "SELECT pg_current_xact_id_if_assigned() IS NULL"


@event.listens_for(Session, "after_begin")
def _note_the_connection(session: Session, _transaction: Any, _connection: Any) -> None:
    session.info[_USED_A_CONNECTION] = True


@event.listens_for(Session, "after_transaction_end")
def _forget_the_connection(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_USED_A_CONNECTION, None)


def end_after_error(session: Session) -> None:
    """End a failed unit of work: roll back what it wrote, and COMMIT one that wrote nothing
    (a 404, a 403, a 401). Both leave the data as it was, but psycopg forgets
    all of a connection's prepared statements on ROLLBACK (and sends DEALLOCATE ALL), so
    the requests after each error would parse and plan their statements again. Pending
    ORM changes that were never flushed are discarded either way. A refused quota (402)
    has inserted its job by then (the quota unit is taken last), so it still rolls back."""
    try:
        conn = _unwritten_transaction(session)
        if conn is not None:
            conn.commit()
    except (psycopg.Error, exc.SQLAlchemyError):
        pass  # the rollback below ends the transaction whatever its state
    session.rollback()  # now a no-op on the server if the COMMIT went through


def _unwritten_transaction(session: Session) -> psycopg.Connection[Any] | None:
    """The session's connection, if its transaction is open, healthy and has written
    nothing (PostgreSQL assigns a transaction id on the first write or row lock)."""
    if not session.info.get(_USED_A_CONNECTION) or not session.in_transaction():
        return None
    conn = driver_connection(session)
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.INTRANS:
        return None  # failed (INERROR): only ROLLBACK ends it
    row = conn.execute(WROTE_NOTHING).fetchone()
    return conn if row is not None and row[0] else None
