"""An engine's Retry-After reaches the retry's run_after (through the real worker)."""

from __future__ import annotations

import threading
import time

from pressroom.db.session import make_engine
from pressroom.jobs.queue import Claim, ConcurrencyPolicy
from pressroom.jobs.runner import JobFailed, RunResult, ShouldStop
from pressroom.jobs.worker import Worker, WorkerConfig
from tests.factories import connect, make_jobs, make_org


def _rate_limited(claim: Claim, should_stop: ShouldStop) -> RunResult:
    raise JobFailed("429 from the engine", retryable=True, retry_after=300.0)


def test_the_retry_waits_at_least_the_engines_retry_after(database_url: str) -> None:
    with connect(database_url) as db:
        (job,) = make_jobs(db, make_org(db))
    engine = make_engine(database_url, pool_size=3)
    worker = Worker(
        engine, _rate_limited, ConcurrencyPolicy({}, 5), WorkerConfig(poll_interval=0.1)
    )
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        with connect(database_url) as db:
            deadline = time.monotonic() + 30
            row = None
            while time.monotonic() < deadline:
                row = db.execute(
                    "SELECT status, extract(epoch FROM run_after - now()) FROM content_jobs"
                    " WHERE id = %s AND attempts = 1 AND status = 'queued'",
                    (job,),
                ).fetchone()
                if row:
                    break
                time.sleep(0.05)
    finally:
        worker.stop()
        thread.join(30)
        engine.dispose()
    assert row is not None, "the job was never retried"
    # Backoff alone would be 1-2 s after a first attempt.
    assert row[1] > 290
