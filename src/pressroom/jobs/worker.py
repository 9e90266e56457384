"""`pressroom worker`: claims jobs from PostgreSQL, runs them, records the outcome.

One process runs `concurrency` jobs at once on threads. The main thread claims work when
slots are free, waking on LISTEN/NOTIFY (or a poll timeout, for delayed retries); a
heartbeat thread extends leases and notices cancellations and lost leases; crashed
workers' jobs are rescued by whichever worker next sees their lease expired.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from types import FrameType

import psycopg
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from pressroom.db.url import to_libpq_url
from pressroom.jobs import metrics, queue
from pressroom.jobs.queue import Claim, ConcurrencyPolicy
from pressroom.jobs.runner import Canceled, JobFailed, Runner

log = logging.getLogger("pressroom.worker")


@dataclass(frozen=True)
class WorkerConfig:
    concurrency: int = 4
    lease_seconds: float = 20.0
    poll_interval: float = 1.0
    rescue_interval: float = 5.0
    shutdown_grace: float = 30.0
    stats_interval: float = 5.0


@dataclass
class _InFlight:
    claim: Claim
    stop: threading.Event  # set on cancellation request, lost lease or shutdown
    lost: bool = False
    cancel_requested: bool = False
    released: bool = False


class Worker:
    def __init__(
        self,
        engine: Engine,
        runner: Runner,
        policy: ConcurrencyPolicy,
        config: WorkerConfig | None = None,
    ) -> None:
        self.engine = engine
        self.runner = runner
        self.policy = policy
        self.config = config or WorkerConfig()
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._inflight: dict[uuid.UUID, _InFlight] = {}
        self._lock = threading.Lock()
        self._slot_freed = threading.Event()
        self._stopping = threading.Event()
        self._pool = ThreadPoolExecutor(self.config.concurrency, thread_name_prefix="job")

    # -- lifecycle ---------------------------------------------------------------------

    def install_signal_handlers(self) -> None:
        def _stop(signum: int, _frame: FrameType | None) -> None:
            log.info("worker stopping", extra={"signal": signum})
            self._stopping.set()
            self._slot_freed.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)

    def stop(self) -> None:
        self._stopping.set()
        self._slot_freed.set()

    def run(self) -> None:
        heartbeat = threading.Thread(target=self._heartbeat_loop, name="heartbeat", daemon=True)
        heartbeat.start()
        listener: psycopg.Connection[tuple[object, ...]] | None = None
        next_rescue = next_stats = 0.0
        try:
            while not self._stopping.is_set():
                try:
                    if listener is None:
                        listener = self._listen()
                    now = time.monotonic()
                    if now >= next_rescue:
                        self._rescue()
                        next_rescue = now + self.config.rescue_interval
                    if now >= next_stats:
                        self._publish_stats()
                        next_stats = now + self.config.stats_interval
                    free = self.config.concurrency - len(self._inflight)
                    claimed = self._claim(free) if free > 0 else 0
                    if claimed and claimed == free:
                        continue  # there may be more work: claim again once a slot frees
                    self._wait(listener, busy=free - claimed <= 0)
                except (DBAPIError, psycopg.Error) as exc:
                    log.warning("database unavailable, retrying: %s", str(exc).splitlines()[0])
                    if listener is not None:
                        listener.close()
                    listener = None
                    self._stopping.wait(1.0)
        finally:
            self._shutdown()
            if listener is not None:
                listener.close()

    def _listen(self) -> psycopg.Connection[tuple[object, ...]]:
        conn = psycopg.connect(
            to_libpq_url(self.engine.url.render_as_string(False)), autocommit=True
        )
        conn.execute(f"LISTEN {queue.NOTIFY_CHANNEL}")
        return conn

    def _wait(self, listener: psycopg.Connection[tuple[object, ...]], *, busy: bool) -> None:
        if busy:
            self._slot_freed.wait(self.config.poll_interval)
            self._slot_freed.clear()
            return
        for _ in listener.notifies(timeout=self.config.poll_interval, stop_after=1):
            pass

    # -- claiming and running --------------------------------------------------------------

    def _claim(self, free: int) -> int:
        started = time.perf_counter()
        with self.engine.begin() as conn:
            claims = queue.claim(
                conn,
                worker_id=self.worker_id,
                limit=free,
                lease_seconds=self.config.lease_seconds,
                policy=self.policy,
            )
        metrics.CLAIM_LATENCY.observe(time.perf_counter() - started)
        for claim in claims:
            entry = _InFlight(claim, threading.Event())
            with self._lock:
                self._inflight[claim.id] = entry
            future = self._pool.submit(self._execute, entry)
            future.add_done_callback(self._done_callback(claim.id))
        return len(claims)

    def _done_callback(self, job_id: uuid.UUID) -> Callable[[Future[None]], None]:
        def done(_: Future[None]) -> None:
            with self._lock:
                self._inflight.pop(job_id, None)
            self._slot_freed.set()

        return done

    def _execute(self, entry: _InFlight) -> None:
        claim = entry.claim
        started = time.perf_counter()
        outcome = "lost"
        try:
            outcome = self._run_and_record(entry)
        except Exception:  # a bug in recording: the lease expires and the job is rescued
            log.exception("recording the outcome of job %s failed", claim.id)
            outcome = "error"
        finally:
            metrics.JOB_DURATION.labels(claim.kind, outcome).observe(time.perf_counter() - started)
            metrics.JOBS_FINISHED.labels(outcome).inc()

    def _run_and_record(self, entry: _InFlight) -> str:
        outcome, write = self._run(entry)
        if entry.lost or entry.released:
            return "lost"
        with self.engine.begin() as conn:
            return outcome if write(conn) else "lost"

    def _run(self, entry: _InFlight) -> tuple[str, Callable[[Connection], bool]]:
        """Run the job; return its outcome and how to write it (under the lease token)."""
        claim = entry.claim
        try:
            result = self.runner(claim, entry.stop.is_set)
        except Canceled:
            return "canceled", lambda conn: queue.cancel(conn, claim)
        except JobFailed as exc:
            error, retryable, refundable = str(exc), exc.retryable, exc.refundable
            return (
                ("retried" if retryable else "failed"),
                lambda conn: (
                    queue.retry_or_fail(
                        conn, claim, error, retryable=retryable, refundable=refundable
                    )
                    is not None
                ),
            )
        except Exception as exc:  # an engine bug is a permanent fault of ours: refund
            log.exception("job %s crashed its runner", claim.id)
            error = f"internal error: {type(exc).__name__}"
            return (
                "failed",
                lambda conn: queue.retry_or_fail(conn, claim, error, retryable=False) is not None,
            )
        if entry.cancel_requested:
            return "canceled", lambda conn: queue.cancel(conn, claim)
        return "succeeded", lambda conn: queue.complete(conn, claim, result.artifacts, result.usage)

    # -- background duties ---------------------------------------------------------------

    def _heartbeat_loop(self) -> None:
        interval = self.config.lease_seconds / 3
        while not self._stopping.wait(interval):
            with self._lock:
                entries = list(self._inflight.values())
            if not entries:
                continue
            try:
                with self.engine.begin() as conn:
                    result = queue.heartbeat(
                        conn, [e.claim for e in entries], self.config.lease_seconds
                    )
            except (DBAPIError, psycopg.Error) as exc:
                log.warning("heartbeat failed: %s", str(exc).splitlines()[0])
                continue
            for entry in entries:
                if entry.claim.id in result.lost:
                    entry.lost = True
                    entry.stop.set()
                elif entry.claim.id in result.cancel_requested:
                    entry.cancel_requested = True
                    entry.stop.set()

    def _rescue(self) -> None:
        with self.engine.begin() as conn:
            rescued = queue.rescue_expired(conn)
        if rescued.requeued or rescued.failed:
            log.info(
                "rescued expired leases: %s requeued, %s failed", rescued.requeued, rescued.failed
            )
            metrics.RESCUED.inc(rescued.requeued + rescued.failed)

    def _publish_stats(self) -> None:
        with self.engine.connect() as conn:
            s = queue.stats(conn)
        metrics.QUEUE_DEPTH.set(s.depth)
        metrics.QUEUE_OLDEST_AGE.set(s.oldest_age_seconds)
        metrics.RUNNING.set(s.running)

    def _shutdown(self) -> None:
        """Stop claiming; let in-flight jobs finish within the grace period; hand back the
        rest without burning their attempt."""
        deadline = time.monotonic() + self.config.shutdown_grace
        while self._inflight and time.monotonic() < deadline:
            self._slot_freed.wait(0.1)
            self._slot_freed.clear()
        with self._lock:
            leftovers = list(self._inflight.values())
        for entry in leftovers:
            entry.released = True
            entry.stop.set()
        if leftovers:
            try:
                with self.engine.begin() as conn:
                    for entry in leftovers:
                        queue.release(conn, entry.claim)
            except (DBAPIError, psycopg.Error):
                log.warning("could not release %d jobs; their leases will expire", len(leftovers))
        self._pool.shutdown(wait=False, cancel_futures=True)
