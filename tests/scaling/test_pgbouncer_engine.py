"""The engine behind a real PgBouncer in transaction mode: what breaks there by default
(startup options, prepared statements, LISTEN) and how each is handled."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from pressroom.config import Settings, get_settings
from pressroom.db import pooler
from pressroom.db.session import make_engine
from tests.pgbouncer import PgBouncer


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("PRESSROOM_DB_STATEMENT_TIMEOUT_MS", "1234")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _engine(url: str) -> Iterator[Engine]:
    engine = make_engine(url, pool_size=4)
    yield engine
    engine.dispose()


@pytest.fixture
def pooled_engine(pgbouncer: PgBouncer, database_url: str, settings: None) -> Iterator[Engine]:
    yield from _engine(pgbouncer.url(database_url))


class TestStartupOptionsAndTimeout:
    def test_pgbouncer_refuses_the_startup_option(
        self, pgbouncer: PgBouncer, database_url: str
    ) -> None:
        with pytest.raises(psycopg.OperationalError, match="unsupported startup parameter"):
            psycopg.connect(pgbouncer.url(database_url), options="-c statement_timeout=1000")

    def test_auto_detects_the_pooler_and_sets_the_timeout_per_transaction(
        self, pooled_engine: Engine
    ) -> None:
        assert pooler.pooler_of(pooled_engine) == "pgbouncer"
        with pooled_engine.begin() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "1234ms"

    def test_the_timeout_cancels_a_long_statement(self, pooled_engine: Engine) -> None:
        with (
            pytest.raises(OperationalError, match="statement timeout"),
            pooled_engine.begin() as conn,
        ):
            conn.execute(text("SELECT pg_sleep(3)"))
        with pooled_engine.begin() as conn:  # the pooled connection is still usable
            assert conn.execute(text("SELECT 1")).scalar() == 1

    def test_direct_connections_keep_the_startup_option(
        self, database_url: str, settings: None
    ) -> None:
        for engine in _engine(database_url):
            assert pooler.pooler_of(engine) == "none"
            with engine.connect() as conn:  # set for the session, not per transaction
                assert conn.execute(text("SHOW statement_timeout")).scalar() == "1234ms"


class TestPreparedStatements:
    def test_psycopg_default_prepares_collide_on_a_shared_server_connection(
        self, server_url: str, database_url: str
    ) -> None:
        """Why they are off: two clients' `_pg3_0` meet on one server connection."""
        bouncer = PgBouncer(server_url, pool_size=1)
        bouncer.start()
        try:
            url = bouncer.url(database_url)
            with psycopg.connect(url) as a, psycopg.connect(url) as b:
                a.execute("SELECT 1", prepare=True)  # a's `_pg3_0` stays on the server
                a.commit()
                with pytest.raises(psycopg.errors.DuplicatePreparedStatement):
                    b.execute("SELECT 1", prepare=True)  # b's `_pg3_0` meets it there
        finally:
            bouncer.stop()

    def test_many_threads_repeating_statements_never_prepare(self, pooled_engine: Engine) -> None:
        def work(n: int) -> int:
            total = 0
            for _ in range(20):
                with pooled_engine.begin() as conn:
                    total += conn.execute(text("SELECT :n + 1"), {"n": n}).scalar_one()
            return total

        with ThreadPoolExecutor(8) as pool:
            assert list(pool.map(work, range(8))) == [20 * (n + 1) for n in range(8)]


class TestListenUrl:
    def test_behind_pgbouncer_without_a_direct_url_the_worker_polls_and_says_so(
        self, pooled_engine: Engine, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level(logging.WARNING, logger="pressroom.db"):
            assert pooler.listen_url(pooled_engine, Settings()) is None
        assert "polling for new jobs" in caplog.text

    def test_the_direct_url_is_used_when_set(
        self, pooled_engine: Engine, database_url: str
    ) -> None:
        assert pooler.listen_url(pooled_engine, Settings(db_listen_url=database_url)) == (
            database_url
        )

    def test_a_direct_engine_listens_on_its_own_database(
        self, database_url: str, settings: None
    ) -> None:
        for engine in _engine(database_url):
            url = pooler.listen_url(engine, Settings())
            assert url is not None
            with psycopg.connect(url) as conn:
                assert conn.execute("SELECT current_database()").fetchone() == (
                    database_url.rsplit("/", 1)[1].split("?")[0],
                )
