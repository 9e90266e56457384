"""The procrastinate side of bench/queue.py: one app with one no-op task.

Workers run it with `python -m procrastinate --app bench.procrastinate_app.app worker`;
the database comes from BENCH_PROCRASTINATE_DSN and the pool is sized for the worker's
concurrency (BENCH_PROCRASTINATE_POOL), so connections are never what throttles it.
"""

from __future__ import annotations

import os

import procrastinate

app = procrastinate.App(
    connector=procrastinate.PsycopgConnector(
        conninfo=os.environ.get("BENCH_PROCRASTINATE_DSN", ""),
        min_size=int(os.environ.get("BENCH_PROCRASTINATE_POOL", "4")),
        max_size=int(os.environ.get("BENCH_PROCRASTINATE_POOL", "4")),
    )
)


@app.task(name="noop", queue="bench")
async def noop() -> None:
    """Does nothing: an async task runs on the worker's event loop, procrastinate's fastest path."""
