"""The pgqueuer side of bench/queue.py: one no-op entrypoint, one worker process.

    BENCH_PGQUEUER_DSN=... BENCH_PGQUEUER_CONCURRENCY=16 python -m bench.pgqueuer_app

Run through its Python API rather than `pgqueuer run`: that CLI's log-level option fails
to parse with the Typer release installed beside it. pgqueuer fetches `concurrency / 2`
jobs at a time, with at most `concurrency` picked at once (it wants the cap to be at least
twice the batch). A worker drives one async connection.
"""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta

import psycopg
from pgqueuer import Job, PgQueuer, PsycopgDriver


async def main() -> None:
    concurrency = max(2, int(os.environ.get("BENCH_PGQUEUER_CONCURRENCY", "16")))
    conn = await psycopg.AsyncConnection.connect(
        os.environ["BENCH_PGQUEUER_DSN"], autocommit=True, application_name="bench-pgqueuer"
    )
    pgq = PgQueuer(PsycopgDriver(conn))

    @pgq.entrypoint("noop")
    async def noop(job: Job) -> None:
        """Does nothing: an async entrypoint on the worker's event loop, pgqueuer's fastest path."""

    await pgq.run(
        batch_size=concurrency // 2,
        max_concurrent_tasks=concurrency,
        dequeue_timeout=timedelta(seconds=1),
    )


if __name__ == "__main__":
    asyncio.run(main())
