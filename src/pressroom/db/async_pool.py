"""The hottest routes' own connections: asyncio psycopg, no thread hop, no ORM.

A job listing served through a SQLAlchemy session spent most of its CPU around its SQL:
thread-pool hops for the session, the access check and the endpoint, and SQLAlchemy's
statement and result machinery (docs/api-performance.md). The routes that a dashboard and
an integrator call all the time (the job listing, the counts by status, submitting a job)
run on the event loop instead, on connections of this pool, with statements that are
still written once with SQLAlchemy Core, built and compiled once (`DriverStatement`).

The connections keep the engine's rules (pressroom.db.session, pressroom.db.pooler):
a statement timeout (a startup option, or per transaction behind PgBouncer), no prepared
statements behind PgBouncer, no round trip to find a dead idle connection, replaced after
`db_pool_recycle_seconds`. The runtime role and the scope ride in the access statement
(pressroom.db.tenancy.entered). The pool lives and dies with its engine: disposing the
engine closes its idle connections.

A transaction that failed with an answer (a 401, a 404, a 402) ends as the engine's do
(pressroom.db.session.end_after_error): COMMIT if it wrote nothing, since a ROLLBACK costs
the connection its prepared statements, else ROLLBACK. A connection left mid-statement
(the request was cancelled) is closed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any, cast

import psycopg
from fastapi import Depends, Request
from psycopg.pq import TransactionStatus
from sqlalchemy import Engine, event
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from pressroom.config import Settings
from pressroom.db import pooler
from pressroom.db.session import WROTE_NOTHING, connection_looks_dead
from pressroom.db.url import to_libpq_url

log = logging.getLogger("pressroom.db")

PoolConnection = psycopg.AsyncConnection[Any]

_DIALECT = PGDialect_psycopg()  # type: ignore[no-untyped-call]


class DriverStatement:
    """A statement built once from named bound parameters (`bindparam`) and compiled once
    for the driver: a request pays for neither SQLAlchemy's expression building nor its
    compiler, only for `params`."""

    def __init__(self, statement: ClauseElement) -> None:
        self._compiled = cast(SQLCompiler, statement.compile(dialect=_DIALECT))
        self.sql = self._compiled.string
        self._names = frozenset(self._compiled.binds)

    def params(self, **values: Any) -> dict[str, Any]:
        """Every parameter: `values` by name, the statement's own literals as built. A
        value the statement has no parameter for is refused, not dropped (a column the
        caller meant to write would silently stay at its default)."""
        if unknown := values.keys() - self._names:
            raise TypeError(f"no parameter named {', '.join(sorted(unknown))}")
        params = dict(self._compiled.construct_params(values) or {})
        processors = cast(dict[str, Callable[[Any], Any]], self._compiled._bind_processors)
        if processors:
            params = {k: (processors[k](v) if k in processors else v) for k, v in params.items()}
        return params

    async def first(self, conn: PoolConnection, **values: Any) -> Any:
        return await (await conn.execute(self.sql, self.params(**values))).fetchone()

    async def all(self, conn: PoolConnection, **values: Any) -> list[Any]:
        return await (await conn.execute(self.sql, self.params(**values))).fetchall()

    async def run(self, conn: PoolConnection, **values: Any) -> None:
        await conn.execute(self.sql, self.params(**values))


async def execute_once(conn: PoolConnection, statement: ClauseElement) -> Any:
    """A statement built for this call (a rare one: worth no template); its first row."""
    compiled = statement.compile(dialect=_DIALECT)
    cursor = await conn.execute(compiled.string, compiled.construct_params())
    return await cursor.fetchone() if cursor.description else None


@dataclass
class _Pooled:
    conn: PoolConnection
    opened: float


class AsyncPool:
    """Asyncio connections to the engine's database, opened when a request needs one and
    kept idle up to `idle`. Requests in flight are bounded by the app
    (pressroom.http.concurrency_limit, at `idle`), so the pool itself never waits."""

    def __init__(self, url: str, settings: Settings, *, idle: int) -> None:
        self._conninfo = to_libpq_url(url)
        self._settings = settings
        self._max_idle = idle
        self._idle: list[_Pooled] = []
        self.behind_pooler = settings.db_pooler == "pgbouncer"
        # Called with each new connection (bench.api.statements traces them), and with
        # each statement's SQL and parameters (bench.jobs_api explains them).
        self.on_connect: list[Callable[[PoolConnection], None]] = []
        self.on_statement: list[Callable[[str, dict[str, Any]], None]] = []

    @classmethod
    def for_engine(cls, engine: Engine, settings: Settings) -> AsyncPool:
        pool = cls(
            engine.url.render_as_string(hide_password=False),
            settings,
            # As many as the app lets requests run at once (app.py's concurrency limit):
            # a burst of reads then opens no connection once the pool has warmed up.
            idle=settings.db_pool_size + settings.db_max_overflow,
        )
        event.listen(engine, "engine_disposed", lambda _engine: pool.close())
        return pool

    async def _connect(self) -> PoolConnection:
        common: dict[str, Any] = {
            "autocommit": True,  # BEGIN and COMMIT are ours: see transaction()
            "application_name": "pressroom",
            "connect_timeout": self._settings.db_connect_timeout_seconds,
        }
        if not self.behind_pooler:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self._conninfo, **common, **pooler.connect_args(self._settings)
                )
            except psycopg.OperationalError as error:
                if not pooler.refused_startup_option(self._settings, error):
                    raise
                self.behind_pooler = True
            else:
                return self._opened(conn)
        conn = await psycopg.AsyncConnection.connect(
            self._conninfo, **common, prepare_threshold=None
        )
        return self._opened(conn)

    def _opened(self, conn: PoolConnection) -> PoolConnection:
        for hook in self.on_connect:
            hook(conn)
        if self.on_statement:
            conn.cursor_factory = _observed(self.on_statement)
        return conn

    async def _checkout(self) -> _Pooled:
        now = time.monotonic()
        while self._idle:
            pooled = self._idle.pop()
            too_old = now - pooled.opened > self._settings.db_pool_recycle_seconds
            if too_old or connection_looks_dead(pooled.conn):
                _close(pooled.conn)
                continue
            return pooled
        return _Pooled(await self._connect(), now)

    def _checkin(self, pooled: _Pooled) -> None:
        if len(self._idle) < self._max_idle:
            self._idle.append(pooled)
        else:
            _close(pooled.conn)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PoolConnection]:
        """One transaction, committed before the block's caller answers."""
        pooled = await self._checkout()
        conn = pooled.conn
        try:
            await conn.execute("BEGIN")
            if self.behind_pooler:  # no startup option there: the timeout goes per transaction
                await conn.execute(pooler.transaction_timeout(self._settings))
            yield conn
        except BaseException:
            await self._end_failed(pooled)
            raise
        try:
            await conn.execute("COMMIT")
        except BaseException:
            _close(conn)
            raise
        self._checkin(pooled)

    async def _end_failed(self, pooled: _Pooled) -> None:
        conn = pooled.conn
        try:
            status = conn.info.transaction_status
            if status == TransactionStatus.INTRANS:
                row = await (await conn.execute(WROTE_NOTHING)).fetchone()
                await conn.execute("COMMIT" if row and row[0] else "ROLLBACK")
            elif status == TransactionStatus.INERROR:
                await conn.execute("ROLLBACK")
            elif status != TransactionStatus.IDLE:  # left mid-statement, or gone
                _close(conn)
                return
        except BaseException:
            _close(conn)
            return
        self._checkin(pooled)

    def close(self) -> None:
        idle, self._idle = self._idle, []
        for pooled in idle:
            _close(pooled.conn)


def _observed(observers: list[Callable[[str, dict[str, Any]], None]]) -> Any:
    class ObservedCursor(psycopg.AsyncCursor[Any]):
        async def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
            for observe in observers:
                observe(str(query), dict(params or {}))
            return await super().execute(query, params, **kwargs)

    return ObservedCursor


def _close(conn: PoolConnection) -> None:
    # Synchronous on purpose: callable from the engine's dispose and from a cancelled task.
    try:
        conn.pgconn.finish()
    except Exception:
        log.debug("closing a pool connection failed", exc_info=True)


async def pool_transaction(request: Request) -> AsyncIterator[PoolConnection]:
    """The request's transaction on the async pool, committed before the response is sent."""
    pool: AsyncPool = request.app.state.async_pool
    async with pool.transaction() as conn:
        yield conn


PoolTransaction = Annotated[PoolConnection, Depends(pool_transaction, scope="function")]
