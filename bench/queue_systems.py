"""The queues bench/queue.py compares, behind one small interface.

Each system knows how to put its schema on a fresh database, bulk-insert no-op jobs (with
the wake-up its producers send), start its worker processes, tell when the jobs are done,
and stamp the moment a job is claimed (a trigger writing clock_timestamp() into
`bench_pickups`, installed only for the latency phase).
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from typing import Any, Protocol

import psycopg

from pressroom.db import migrations
from pressroom.db.base import new_id
from pressroom.jobs.queue import NOTIFY_CHANNEL

Conn = psycopg.Connection[tuple[Any, ...]]

# The plan every benchmark org subscribes to. The worker's ConcurrencyPolicy maps plans to
# per-org running limits (falling back to its default); with the jobs spread evenly over
# `orgs` orgs, the limits allow orgs x limit running jobs, far above any worker's slots,
# so they shape the order of claims but never throttle the burn-down.
BENCH_PLAN = "business"

_PICKUP_TABLE = """
CREATE TABLE IF NOT EXISTS bench_pickups (job text PRIMARY KEY, claimed_at timestamptz NOT NULL);
CREATE OR REPLACE FUNCTION bench_record_pickup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO bench_pickups VALUES (NEW.id::text, clock_timestamp()) ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
"""


def _pickup_trigger(table: str, before: str, after: str) -> str:
    return (
        _PICKUP_TABLE
        + f"""
    CREATE TRIGGER bench_pickup AFTER UPDATE OF status ON {table} FOR EACH ROW
    WHEN (OLD.status = '{before}' AND NEW.status = '{after}')
    EXECUTE FUNCTION bench_record_pickup();
    """
    )


@dataclass(frozen=True)
class Outcome:
    succeeded: int
    last_finished: datetime | None
    max_attempts: int  # >1 would mean a job ran twice


class System(Protocol):
    name: str

    def version(self) -> str: ...
    def prepare(self, url: str) -> None: ...
    def seed(self, conn: Conn, orgs: int) -> None: ...
    def insert_jobs(self, conn: Conn, count: int) -> None: ...
    def insert_one(self, conn: Conn) -> str: ...
    def worker_command(self, concurrency: int) -> list[str]: ...
    def worker_env(self, url: str, concurrency: int) -> dict[str, str]: ...
    def unfinished(self, conn: Conn) -> int: ...
    def is_finished(self, conn: Conn, job: str) -> bool: ...
    def outcome(self, conn: Conn) -> Outcome: ...
    def install_pickup_trigger(self, conn: Conn) -> None: ...
    def listening(self, conn: Conn) -> int: ...


def _listen_connections(conn: Conn) -> int:
    """Worker connections whose last statement was LISTEN (each worker has one)."""
    row = conn.execute(
        "SELECT count(DISTINCT pid) FROM pg_stat_activity"
        " WHERE datname = current_database() AND query ILIKE 'LISTEN%%'"
    ).fetchone()
    return int(row[0]) if row else 0


class Pressroom:
    """Our queue: `content_jobs`, claimed by `pressroom worker` processes."""

    name = "pressroom"

    def __init__(self) -> None:
        self._orgs: list[uuid.UUID] = []

    def version(self) -> str:
        try:
            commit = subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            commit = "unknown commit"
        return f"pressroom {version('pressroom')} ({commit})"

    def prepare(self, url: str) -> None:
        migrations.upgrade(url, "head")

    def seed(self, conn: Conn, orgs: int) -> None:
        self._orgs = [new_id() for _ in range(orgs)]
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO organizations (id, name) VALUES (%s, %s)",
                [(org, f"bench-org-{i}") for i, org in enumerate(self._orgs)],
            )
            cur.executemany(
                "INSERT INTO subscriptions (id, org_id, provider, provider_subscription_id,"
                " plan, status) VALUES (%s, %s, 'bench', %s, %s, 'active')",
                [(new_id(), org, f"sub_{org.hex}", BENCH_PLAN) for org in self._orgs],
            )

    def insert_jobs(self, conn: Conn, count: int) -> None:
        period = datetime.now(UTC).date().replace(day=1)
        with conn.transaction(), conn.cursor() as cur:
            with cur.copy(
                "COPY content_jobs (id, org_id, kind, input, quota_period) FROM STDIN"
            ) as copy:
                for i in range(count):
                    copy.write_row(
                        (new_id(), self._orgs[i % len(self._orgs)], "noop", "{}", period)
                    )
            cur.execute("SELECT pg_notify(%s, '')", (NOTIFY_CHANNEL,))

    def insert_one(self, conn: Conn) -> str:
        job = new_id()
        period = datetime.now(UTC).date().replace(day=1)
        with conn.transaction():
            conn.execute(
                "INSERT INTO content_jobs (id, org_id, kind, input, quota_period)"
                " VALUES (%s, %s, 'noop', '{}', %s)",
                (job, self._orgs[0], period),
            )
            conn.execute("SELECT pg_notify(%s, '')", (NOTIFY_CHANNEL,))  # as the API does
        return str(job)

    def worker_command(self, concurrency: int) -> list[str]:
        return [sys.executable, "-m", "pressroom.cli", "worker", "--concurrency", str(concurrency)]

    def worker_env(self, url: str, concurrency: int) -> dict[str, str]:
        env = {**os.environ, "DATABASE_URL": url, "PRESSROOM_WORKER_RUNNER": "noop"}
        env.pop("PRESSROOM_DATABASE_URL", None)
        return env

    def unfinished(self, conn: Conn) -> int:
        row = conn.execute(
            "SELECT count(*) FROM content_jobs WHERE status IN ('queued', 'running')"
        ).fetchone()
        return int(row[0]) if row else 0

    def is_finished(self, conn: Conn, job: str) -> bool:
        row = conn.execute("SELECT status FROM content_jobs WHERE id = %s", (job,)).fetchone()
        return row is not None and row[0] not in ("queued", "running")

    def outcome(self, conn: Conn) -> Outcome:
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE status = 'succeeded'), max(finished_at),"
            " COALESCE(max(attempts), 0) FROM content_jobs"
        ).fetchone()
        assert row is not None
        return Outcome(int(row[0]), row[1], int(row[2]))

    def install_pickup_trigger(self, conn: Conn) -> None:
        conn.execute(_pickup_trigger("content_jobs", "queued", "running"))

    def listening(self, conn: Conn) -> int:
        return _listen_connections(conn)


class Procrastinate:
    """procrastinate (PyPI) on its own tables, running an async no-op task."""

    name = "procrastinate"

    def version(self) -> str:
        return f"procrastinate {version('procrastinate')}"

    def prepare(self, url: str) -> None:
        from bench.procrastinate_app import app

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(app.schema_manager.get_schema())

    def seed(self, conn: Conn, orgs: int) -> None:
        """procrastinate has no tenants: nothing to seed."""

    def insert_jobs(self, conn: Conn, count: int) -> None:
        # procrastinate's own insert trigger sends the NOTIFY for each job.
        with (
            conn.transaction(),
            conn.cursor() as cur,
            cur.copy("COPY procrastinate_jobs (queue_name, task_name, args) FROM STDIN") as copy,
        ):
            for _ in range(count):
                copy.write_row(("bench", "noop", "{}"))

    def insert_one(self, conn: Conn) -> str:
        with conn.transaction():
            row = conn.execute(
                "INSERT INTO procrastinate_jobs (queue_name, task_name, args)"
                " VALUES ('bench', 'noop', '{}') RETURNING id"
            ).fetchone()
        assert row is not None
        return str(row[0])

    def worker_command(self, concurrency: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "procrastinate",
            "--app",
            "bench.procrastinate_app.app",
            "worker",
            "--concurrency",
            str(concurrency),
        ]

    def worker_env(self, url: str, concurrency: int) -> dict[str, str]:
        # One connection per concurrent job, plus the listener and the heartbeat, up to 20:
        # four workers must fit the server's 100 connections (an async no-op task holds
        # a connection only while it fetches or finishes a job).
        return {
            **os.environ,
            "BENCH_PROCRASTINATE_DSN": url,
            "BENCH_PROCRASTINATE_POOL": str(min(concurrency + 2, 20)),
        }

    def unfinished(self, conn: Conn) -> int:
        row = conn.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"
        ).fetchone()
        return int(row[0]) if row else 0

    def is_finished(self, conn: Conn, job: str) -> bool:
        row = conn.execute(
            "SELECT status FROM procrastinate_jobs WHERE id = %s", (int(job),)
        ).fetchone()
        return row is not None and row[0] not in ("todo", "doing")

    def outcome(self, conn: Conn) -> Outcome:
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE status = 'succeeded'), COALESCE(max(attempts), 0)"
            " FROM procrastinate_jobs"
        ).fetchone()
        last = conn.execute(
            "SELECT max(at) FROM procrastinate_events WHERE type = 'succeeded'"
        ).fetchone()
        assert row is not None
        assert last is not None
        return Outcome(int(row[0]), last[0], int(row[1]))  # finishing counts the attempt

    def install_pickup_trigger(self, conn: Conn) -> None:
        conn.execute(_pickup_trigger("procrastinate_jobs", "todo", "doing"))

    def listening(self, conn: Conn) -> int:
        return _listen_connections(conn)


class Pgqueuer:
    """pgqueuer (PyPI) on its own tables, running an async no-op entrypoint."""

    name = "pgqueuer"

    def version(self) -> str:
        return f"pgqueuer {version('pgqueuer')}"

    def prepare(self, url: str) -> None:
        import asyncio

        from pgqueuer import PsycopgDriver, Queries

        async def install() -> None:
            async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                await Queries(PsycopgDriver(conn)).install()

        asyncio.run(install())

    def seed(self, conn: Conn, orgs: int) -> None:
        """pgqueuer has no tenants: nothing to seed."""

    def insert_jobs(self, conn: Conn, count: int) -> None:
        # pgqueuer's own statement-level insert trigger sends the NOTIFY.
        with (
            conn.transaction(),
            conn.cursor() as cur,
            cur.copy("COPY pgqueuer (priority, status, entrypoint) FROM STDIN") as copy,
        ):
            for _ in range(count):
                copy.write_row((0, "queued", "noop"))

    def insert_one(self, conn: Conn) -> str:
        with conn.transaction():
            row = conn.execute(
                "INSERT INTO pgqueuer (priority, status, entrypoint)"
                " VALUES (0, 'queued', 'noop') RETURNING id"
            ).fetchone()
        assert row is not None
        return str(row[0])

    def worker_command(self, concurrency: int) -> list[str]:
        return [sys.executable, "-m", "bench.pgqueuer_app"]

    def worker_env(self, url: str, concurrency: int) -> dict[str, str]:
        return {
            **os.environ,
            "BENCH_PGQUEUER_DSN": url,
            "BENCH_PGQUEUER_CONCURRENCY": str(concurrency),
        }

    def unfinished(self, conn: Conn) -> int:
        # A finished job leaves the queue table for pgqueuer_log.
        row = conn.execute("SELECT count(*) FROM pgqueuer").fetchone()
        return int(row[0]) if row else 0

    def is_finished(self, conn: Conn, job: str) -> bool:
        row = conn.execute("SELECT 1 FROM pgqueuer WHERE id = %s", (int(job),)).fetchone()
        return row is None

    def outcome(self, conn: Conn) -> Outcome:
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE status = 'successful'),"
            " max(created) FILTER (WHERE status = 'successful'),"
            " COALESCE(max(n), 0) FROM (SELECT job_id, status, created,"
            " count(*) OVER (PARTITION BY job_id, status) AS n FROM pgqueuer_log) l"
        ).fetchone()
        assert row is not None
        return Outcome(int(row[0]), row[1], int(row[2]))  # a job logged twice ran twice

    def install_pickup_trigger(self, conn: Conn) -> None:
        conn.execute(_pickup_trigger("pgqueuer", "queued", "picked"))

    def listening(self, conn: Conn) -> int:
        """Workers whose connection has reached pgqueuer's tables. A pgqueuer worker runs
        its LISTEN and its queries on one connection, so its last statement is rarely the
        LISTEN; the wait's half-second settle covers the rest of its start-up."""
        row = conn.execute(
            "SELECT count(DISTINCT pid) FROM pg_stat_activity WHERE datname ="
            " current_database() AND application_name = 'bench-pgqueuer'"
            " AND query ILIKE '%%pgqueuer%%'"
        ).fetchone()
        return int(row[0]) if row else 0


SYSTEMS: dict[str, type[Pressroom] | type[Procrastinate] | type[Pgqueuer]] = {
    "pressroom": Pressroom,
    "pgqueuer": Pgqueuer,
    "procrastinate": Procrastinate,
}
