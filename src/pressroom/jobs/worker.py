"""`pressroom worker`: claims jobs from PostgreSQL, runs them, records the outcome.

One process runs `concurrency` jobs at once on threads. The main thread claims work when
threads are free and sleeps on an event that the listener thread sets on each NOTIFY (and
a job sets when it frees its thread), with a poll timeout for delayed retries. Finished jobs
are handed to one recorder thread, which writes all the outcomes waiting for it in one
transaction (each still guarded by its own lease token), so a burst of short jobs costs a
commit per batch, not per job, and the next claim overlaps the last batch's commit. A job
keeps its lease (and its org's slot) until its outcome is written. A heartbeat thread
extends leases and notices cancellations and lost leases; crashed workers' jobs are
rescued by whichever worker next sees their lease expired.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from queue import Empty, SimpleQueue
from types import FrameType

import psycopg
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from pressroom.config import get_settings
from pressroom.db.pooler import listen_url
from pressroom.jobs import metrics, queue, retention
from pressroom.jobs.queue import Claim, ConcurrencyPolicy, Success
from pressroom.jobs.runner import Canceled, JobFailed, Runner

log = logging.getLogger("pressroom.worker")

# After a claim that found work, an empty claim is retried soon (the work may have been
# behind another worker's org locks), backing off to the poll interval.
_RECHECK_AFTER = 0.01
# How long a claim for a few free threads waits for more threads to free up.
_COALESCE_SECONDS = 0.005
# Outcomes written per transaction, at most.
_MAX_RECORD_BATCH = 256
# Claiming pauses while this many finished jobs per thread wait for their outcome's write.
_MAX_UNRECORDED_PER_THREAD = 2


@dataclass(frozen=True)
class WorkerConfig:
    concurrency: int = 4
    lease_seconds: float = 20.0
    poll_interval: float = 1.0
    rescue_interval: float = 5.0
    shutdown_grace: float = 30.0
    stats_interval: float = 5.0
    retention_interval: float = 0.0  # seconds between retention passes; 0: none


@dataclass
class _InFlight:
    claim: Claim
    stop: threading.Event  # set on cancellation request, lost lease or shutdown
    claimed_at: float = field(default_factory=time.perf_counter)
    lost: bool = False
    cancel_requested: bool = False
    released: bool = False


@dataclass(frozen=True)
class _Finished:
    """A run's outcome, waiting for the recorder: a success to write in bulk, or another
    outcome's own write (both under the lease token), or nothing to write."""

    entry: _InFlight
    outcome: str
    success: Success | None = None
    write: Callable[[Connection], bool] | None = None


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
        self._inflight: dict[uuid.UUID, _InFlight] = {}  # claimed, outcome not yet written
        self._executing = 0  # of those, how many are on a thread now
        self._lock = threading.Lock()
        self._wake = threading.Event()  # a NOTIFY arrived or a slot was freed
        self._stopping = threading.Event()
        self._finished: SimpleQueue[_Finished] = SimpleQueue()
        self._pool = ThreadPoolExecutor(self.config.concurrency, thread_name_prefix="job")

    # -- lifecycle ---------------------------------------------------------------------

    def install_signal_handlers(self) -> None:
        def _stop(signum: int, _frame: FrameType | None) -> None:
            log.info("worker stopping", extra={"signal": signum})
            self.stop()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    def run(self) -> None:
        for target, name in (
            (self._heartbeat_loop, "heartbeat"),
            (self._listen_loop, "listener"),
            (self._record_loop, "recorder"),
            (self._retention_loop, "retention"),
        ):
            threading.Thread(target=target, name=name, daemon=True).start()
        next_rescue = next_stats = 0.0
        recheck = 0.0  # > 0 while backing off after claims that found work
        try:
            while not self._stopping.is_set():
                try:
                    now = time.monotonic()
                    if now >= next_rescue:
                        self._rescue()
                        next_rescue = now + self.config.rescue_interval
                    if now >= next_stats:
                        self._publish_stats()
                        next_stats = now + self.config.stats_interval
                    free = self._free_threads()
                    if 0 < free < self.config.concurrency // 2:
                        free = self._coalesce()
                    if free > 0 and self._claim(free):
                        recheck = _RECHECK_AFTER
                        continue  # more may be due: claim again, or wait for a free slot
                    if free > 0 and recheck:
                        timeout, recheck = recheck, recheck * 2
                        if recheck > self.config.poll_interval:
                            recheck = 0.0
                    else:
                        timeout = self.config.poll_interval
                    self._wake.wait(timeout)
                    self._wake.clear()
                except (DBAPIError, psycopg.Error) as exc:
                    log.warning("database unavailable, retrying: %s", str(exc).splitlines()[0])
                    self._stopping.wait(1.0)
        finally:
            self._shutdown()

    def _free_threads(self) -> int:
        """Threads to claim for, unless the recorder has fallen behind (then none)."""
        with self._lock:
            unrecorded = len(self._inflight) - self._executing
            free = self.config.concurrency - self._executing
        return free if unrecorded < _MAX_UNRECORDED_PER_THREAD * self.config.concurrency else 0

    def _coalesce(self) -> int:
        """With most threads busy, give the others a moment to finish: one claim for many
        jobs costs about what a claim for one does."""
        deadline = time.monotonic() + _COALESCE_SECONDS
        while (left := deadline - time.monotonic()) > 0:
            free = self._free_threads()
            if free >= self.config.concurrency // 2 or self._stopping.is_set():
                return free
            self._wake.wait(left)
            self._wake.clear()
        return self._free_threads()

    def _listen_loop(self) -> None:
        """Turn NOTIFYs into wake-ups; reconnect (and wake, in case one was missed) after
        the connection drops."""
        url = listen_url(self.engine, get_settings())
        if url is None:
            return  # behind a pooler with no direct connection: the claim loop polls
        conn: psycopg.Connection[tuple[object, ...]] | None = None
        while not self._stopping.is_set():
            try:
                if conn is None:
                    conn = psycopg.connect(url, autocommit=True)
                    conn.execute(f"LISTEN {queue.NOTIFY_CHANNEL}")
                    self._wake.set()
                for _ in conn.notifies(timeout=1.0, stop_after=1):
                    self._wake.set()
            except psycopg.Error as exc:
                log.warning("listener lost its connection: %s", str(exc).splitlines()[0])
                if conn is not None:
                    conn.close()
                conn = None
                self._stopping.wait(1.0)
        if conn is not None:
            conn.close()

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
                self._executing += 1
            self._pool.submit(self._execute, entry)
        return len(claims)

    def _execute(self, entry: _InFlight) -> None:
        try:
            finished = self._run(entry)
        except Exception:  # a bug of ours: nothing is written, the lease expires
            log.exception("running job %s failed", entry.claim.id)
            finished = _Finished(entry, "error")
        with self._lock:
            self._executing -= 1
        self._finished.put(finished)
        self._wake.set()

    def _run(self, entry: _InFlight) -> _Finished:
        """Run the job; return its outcome and how to write it (under the lease token)."""
        claim = entry.claim
        if entry.lost or entry.released:
            return _Finished(entry, "lost")
        if entry.cancel_requested:
            return _Finished(entry, "canceled", write=lambda conn: queue.cancel(conn, claim))
        try:
            result = self.runner(claim, entry.stop.is_set)
        except Canceled:
            return _Finished(entry, "canceled", write=lambda conn: queue.cancel(conn, claim))
        except JobFailed as exc:
            error, retryable, refundable = str(exc), exc.retryable, exc.refundable
            return _Finished(
                entry,
                "retried" if retryable else "failed",
                write=lambda conn: (
                    queue.retry_or_fail(
                        conn, claim, error, retryable=retryable, refundable=refundable
                    )
                    is not None
                ),
            )
        except Exception as exc:  # an engine bug is a permanent fault of ours: refund
            log.exception("job %s crashed its runner", claim.id)
            error = f"internal error: {type(exc).__name__}"
            return _Finished(
                entry,
                "failed",
                write=lambda conn: (
                    queue.retry_or_fail(conn, claim, error, retryable=False) is not None
                ),
            )
        if entry.cancel_requested:
            return _Finished(entry, "canceled", write=lambda conn: queue.cancel(conn, claim))
        return _Finished(entry, "succeeded", success=Success(claim, result.artifacts, result.usage))

    # -- recording outcomes ----------------------------------------------------------------

    def _record_loop(self) -> None:
        while True:
            batch = [self._finished.get()]
            while len(batch) < _MAX_RECORD_BATCH:
                try:
                    batch.append(self._finished.get_nowait())
                except Empty:
                    break
            try:
                self._record(batch)
            except Exception:  # never let the recorder die: those leases just expire
                log.exception("recording %d outcomes failed", len(batch))
                self._forget(batch, "error")

    def _record(self, batch: Sequence[_Finished]) -> None:
        """Write the batch in one transaction; if that fails, each outcome on its own, so
        one bad write can't take the others down with it."""
        todo = [
            f for f in batch if (f.success or f.write) and not (f.entry.lost or f.entry.released)
        ]
        written: set[uuid.UUID] = set()
        failed: set[uuid.UUID] = set()
        try:
            if todo:
                with self.engine.begin() as conn:
                    written = self._write(conn, todo)
        except Exception:
            if len(todo) == 1:
                raise
            for f in todo:
                try:
                    with self.engine.begin() as conn:
                        written |= self._write(conn, [f])
                except Exception:
                    log.exception("recording the outcome of job %s failed", f.entry.claim.id)
                    failed.add(f.entry.claim.id)
        for f in batch:
            job_id = f.entry.claim.id
            if f.outcome in ("error", "lost") or job_id in written:
                outcome = f.outcome
            else:  # the lease was lost (or released on shutdown), or the write failed
                outcome = "error" if job_id in failed else "lost"
            self._forget([f], outcome)

    @staticmethod
    def _write(conn: Connection, todo: Sequence[_Finished]) -> set[uuid.UUID]:
        written = queue.complete_many(conn, [f.success for f in todo if f.success])
        for f in todo:
            if f.write is not None and f.write(conn):
                written.add(f.entry.claim.id)
        return written

    def _forget(self, finished: Sequence[_Finished], outcome: str) -> None:
        """Done with these jobs: their outcome is in the database (or never will be)."""
        now = time.perf_counter()
        with self._lock:
            for f in finished:
                self._inflight.pop(f.entry.claim.id, None)
        for f in finished:
            metrics.JOB_DURATION.labels(f.entry.claim.kind, outcome).observe(
                now - f.entry.claimed_at
            )
            metrics.JOBS_FINISHED.labels(outcome).inc()
        self._wake.set()

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

    def _retention_loop(self) -> None:
        retention.run_periodically(self.engine, self._stopping, self.config.retention_interval)

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
            time.sleep(0.05)
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
