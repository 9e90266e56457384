"""The pool has no pre-ping round trip: a pooled connection the server has closed is
noticed on checkout by looking at its socket, and replaced (pressroom.db.session)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Engine

from pressroom.db.session import connection_looks_dead, make_engine
from tests.db.backends import terminate_backend


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url, pool_size=1)
    yield eng
    eng.dispose()


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    assert isinstance(pid, int)
    return pid


class TestAClosedPooledConnectionIsReplacedOnCheckout:
    def test_the_next_checkout_gets_a_new_working_connection(
        self, engine: Engine, database_url: str
    ) -> None:
        first = _backend_pid(engine)  # now idle in the pool
        terminate_backend(database_url, first)
        second = _backend_pid(engine)  # would raise "server closed the connection"
        assert second != first

    def test_a_live_idle_connection_is_kept(self, engine: Engine) -> None:
        assert _backend_pid(engine) == _backend_pid(engine)


class TestConnectionLooksDead:
    def test_open_idle_connection_looks_alive(self, database_url: str) -> None:
        with psycopg.connect(database_url) as conn:
            conn.execute("SELECT 1")
            conn.rollback()
            assert not connection_looks_dead(conn)

    def test_terminated_and_closed_connections_look_dead(self, database_url: str) -> None:
        conn = psycopg.connect(database_url)
        terminate_backend(database_url, conn.info.backend_pid)
        assert connection_looks_dead(conn)
        conn.close()
        assert connection_looks_dead(conn)
