"""`pressroom worker`'s claim loop: claims jobs when threads are free and runs them.

One process runs `concurrency` jobs at once on threads. Two claimers share the free
threads (under one lock, so they never claim the same thread twice): the completer,
which claims the next jobs in the very transaction that records finished ones (one
commit for a batch of outcomes and claims), and the main thread, which claims for threads
free otherwise (start-up, after idling, while the completer's transaction is under way)
and sleeps on an event that the listener thread sets on each NOTIFY (and a job sets when
it frees its thread), with a poll timeout for delayed retries. A cancellation request
arrives as a NOTIFY too, and stops its run at once. Heartbeats and rescues are
maintenance's.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import FrameType

import psycopg
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from pressroom import tracing
from pressroom.config import get_settings
from pressroom.db.errors import never_migrated, short_error
from pressroom.db.pooler import listen_url
from pressroom.db.tenancy import SystemDuty, system_engine
from pressroom.jobs import metrics, queue
from pressroom.jobs.queue import ConcurrencyPolicy, Success
from pressroom.jobs.runner import Canceled, JobFailed, Runner
from pressroom.jobs.worker.completer import Completer
from pressroom.jobs.worker.inflight import Finished, InFlight, InFlightTable
from pressroom.jobs.worker.maintenance import Maintenance
from pressroom.jobs.worker.outcomes import Outcome
from pressroom.jobs.worker.retry_policy import RetryPolicy

log = logging.getLogger("pressroom.worker")

# After a claim that found work, an empty claim is retried soon (the work may have been
# behind another worker's org locks), backing off to the poll interval.
_RECHECK_AFTER = 0.01
# How long a claim for a few free threads waits for more threads to free up.
_COALESCE_SECONDS = 0.005
# Claiming pauses while this many finished jobs per thread wait for their outcome's write.
_MAX_UNRECORDED_PER_THREAD = 2
# How long the loop waits after a database error before trying again.
_DATABASE_RETRY_SECONDS = 1.0


@dataclass(frozen=True)
class WorkerConfig:
    concurrency: int = 4
    lease_seconds: float = 20.0
    poll_interval: float = 1.0
    rescue_interval: float = 5.0
    shutdown_grace: float = 30.0
    stats_interval: float = 5.0
    connect_timeout: float = 10.0  # the listener's own connection
    retention_interval: float = 0.0  # seconds between retention passes; 0: none


class Worker:
    def __init__(
        self,
        engine: Engine,
        runner: Runner,
        policy: ConcurrencyPolicy,
        config: WorkerConfig | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        # The worker claims, finishes and rescues every org's jobs: its standing duty.
        engine = system_engine(engine, SystemDuty.WORKER)
        self.engine = engine
        self.runner = runner
        self.policy = policy
        self.config = config or WorkerConfig()
        self.retry_policy = retry_policy or RetryPolicy()
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.inflight = InFlightTable()
        self._stopping = threading.Event()
        self._told_not_migrated = False
        self._claim_lock = threading.Lock()  # the main loop and the completer both claim
        self.completer = Completer(engine, self.inflight, self._claim_in, self._start)
        self.maintenance = Maintenance(
            engine,
            self.inflight,
            self.retry_policy,
            self.config.lease_seconds,
            self._stopping,
            self.config.retention_interval,
        )
        self._pool = ThreadPoolExecutor(self.config.concurrency, thread_name_prefix="job")

    # -- lifecycle ---------------------------------------------------------------------

    def install_signal_handlers(self) -> None:
        def _stop(signum: int, _frame: FrameType | None) -> None:
            log.info("worker stopping (signal %s)", signum)
            self.stop()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)

    def stop(self) -> None:
        self._stopping.set()
        self.inflight.wake.set()

    def run(self) -> None:
        """Run until stopped. The claim loop runs on a thread of its own: a signal handler
        runs on the main thread, between two of its bytecodes, and `stop` takes the locks
        of the loop's events; had the loop been on the main thread and inside one of those
        locks when SIGTERM came, the handler would wait for it forever (a worker that said
        "stopping" and never stopped). The main thread only waits."""
        for target, name in (
            (self.maintenance.heartbeat_loop, "heartbeat"),
            (self._listen_loop, "listener"),
            (self.completer.run, "completer"),
            (self.maintenance.retention_loop, "retention"),
        ):
            threading.Thread(target=target, name=name, daemon=True).start()
        failure: list[BaseException] = []

        def claim_loop() -> None:
            try:
                self._loop()
            except BaseException as exc:  # re-raised on the main thread, below
                failure.append(exc)

        claimer = threading.Thread(target=claim_loop, name="claimer", daemon=True)
        claimer.start()
        try:
            while claimer.is_alive():
                claimer.join(0.5)
        finally:
            self.stop()  # the claimer is done (or the main thread was interrupted)
            claimer.join()
            self._shutdown()
        if failure:
            raise failure[0]

    def _loop(self) -> None:
        wake = self.inflight.wake
        next_rescue = next_stats = 0.0
        recheck = 0.0  # > 0 while backing off after claims that found work
        while not self._stopping.is_set():
            try:
                now = time.monotonic()
                if now >= next_rescue:
                    self.maintenance.rescue()
                    self.maintenance.compact_counts()
                    next_rescue = now + self.config.rescue_interval
                if now >= next_stats:
                    self.maintenance.publish_stats()
                    next_stats = now + self.config.stats_interval
                self._told_not_migrated = False
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
                wake.wait(timeout)
                wake.clear()
            except (DBAPIError, psycopg.Error) as exc:
                self._stopping.wait(self._database_error(exc))

    def _database_error(self, exc: BaseException) -> float:
        """Say what is wrong (once, if the schema is missing); how long to wait."""
        if never_migrated(exc):
            if not self._told_not_migrated:
                log.error(
                    "the database has no job tables: it was never migrated. Run "
                    "`pressroom db upgrade` (or `make migrate-up`); waiting for it."
                )
                self._told_not_migrated = True
            return _DATABASE_RETRY_SECONDS
        log.warning("database unavailable, retrying: %s", short_error(exc))
        return _DATABASE_RETRY_SECONDS

    def _free_threads(self, recorded: int = 0) -> int:
        """Threads to claim for, unless too many finished jobs wait for their outcome's
        write (then none); `recorded` outcomes being written in the caller's transaction
        no longer wait."""
        claimed, executing = self.inflight.counts()
        unrecorded = claimed - executing - recorded
        if unrecorded >= _MAX_UNRECORDED_PER_THREAD * self.config.concurrency:
            return 0
        return max(0, self.config.concurrency - executing)

    def _coalesce(self) -> int:
        """With most threads busy, give the others a moment to finish: one claim for many
        jobs costs about what a claim for one does."""
        wake = self.inflight.wake
        deadline = time.monotonic() + _COALESCE_SECONDS
        while (left := deadline - time.monotonic()) > 0:
            free = self._free_threads()
            if free >= self.config.concurrency // 2 or self._stopping.is_set():
                return free
            wake.wait(left)
            wake.clear()
        return self._free_threads()

    def _listen_loop(self) -> None:
        """Turn NOTIFYs into wake-ups and cancellations; reconnect (and wake, in case one
        was missed) after the connection drops."""
        url = listen_url(self.engine, get_settings())
        if url is None:
            return  # behind a pooler with no direct connection: the claim loop polls
        conn: psycopg.Connection[tuple[object, ...]] | None = None
        while not self._stopping.is_set():
            try:
                if conn is None:
                    conn = psycopg.connect(
                        url, autocommit=True, connect_timeout=round(self.config.connect_timeout)
                    )
                    conn.execute(f"LISTEN {queue.NOTIFY_CHANNEL}")
                    conn.execute(f"LISTEN {queue.CANCEL_CHANNEL}")
                    self.inflight.wake.set()
                for note in conn.notifies(timeout=1.0, stop_after=1):
                    if note.channel == queue.CANCEL_CHANNEL:
                        self._cancel(note.payload)
                    else:
                        self.inflight.wake.set()
            except psycopg.Error as exc:
                log.warning("listener lost its connection: %s", short_error(exc))
                if conn is not None:
                    conn.close()
                conn = None
                self._stopping.wait(1.0)
        if conn is not None:
            conn.close()

    def _cancel(self, payload: str) -> None:
        try:
            entry = self.inflight.get(uuid.UUID(payload))
        except ValueError:
            return
        if entry is not None:
            entry.request_cancel()

    # -- claiming and running --------------------------------------------------------------

    def _claim(self, free: int) -> int:
        entries: list[InFlight] = []
        try:
            with self.engine.begin() as conn:
                entries = self._claim_in(conn, 0)
        except BaseException:
            self.inflight.discard(entries)
            raise
        self._start(entries)
        return len(entries)

    def _claim_in(self, conn: Connection, recorded: int) -> list[InFlight]:
        """Claim for the free threads in the caller's transaction. The claims take their
        threads at once (so the other claimer can't take them too); `_start` runs them once
        the transaction has committed, and a rollback must `discard` them."""
        with self._claim_lock:
            free = self._free_threads(recorded)
            if free <= 0 or self._stopping.is_set():
                return []
            started = time.perf_counter()
            claims = queue.claim(
                conn,
                worker_id=self.worker_id,
                limit=free,
                lease_seconds=self.config.lease_seconds,
                policy=self.policy,
            )
            metrics.CLAIM_LATENCY.observe(time.perf_counter() - started)
            entries = [InFlight(claim, threading.Event()) for claim in claims]
            for entry in entries:
                self.inflight.add(entry)
        return entries

    def _start(self, entries: list[InFlight]) -> None:
        for entry in entries:
            self._pool.submit(self._execute, entry)

    def _execute(self, entry: InFlight) -> None:
        try:
            finished = self._run(entry)
        except Exception:  # a bug of ours: nothing is written, the lease expires
            log.exception("running job %s failed", entry.claim.id)
            finished = Finished(entry, Outcome.ERROR)
        self.inflight.finished_running()
        self.completer.put(finished)

    def _run(self, entry: InFlight) -> Finished:
        """Run the job; return its outcome and how to write it (under the lease token).
        A cancellation requested after this point is still honoured by the write."""
        claim = entry.claim
        canceled = Finished(entry, Outcome.CANCELED, write=lambda conn: queue.cancel(conn, claim))
        if entry.lost or entry.released:
            return Finished(entry, Outcome.LOST)
        if entry.cancel_requested:
            return canceled
        try:
            with tracing.span("job.run", {"job.id": str(claim.id)}, parent=claim.trace_context):
                result = self.runner(claim, entry.stop.is_set)
        except Canceled:
            return canceled
        except JobFailed as exc:
            return self._failure(entry, str(exc), exc.retryable, exc.refundable, exc.retry_after)
        except Exception as exc:  # an engine bug is a permanent fault of ours: refund
            log.exception("job %s crashed its runner", claim.id)
            return self._failure(entry, f"internal error: {type(exc).__name__}", False, True)
        if entry.cancel_requested:
            return canceled
        return Finished(
            entry, Outcome.SUCCEEDED, success=Success(claim, result.artifacts, result.usage)
        )

    def _failure(
        self,
        entry: InFlight,
        error: str,
        retryable: bool,
        refundable: bool,
        retry_after: float | None = None,
    ) -> Finished:
        policy = self.retry_policy
        return Finished(
            entry,
            Outcome.RETRIED if retryable else Outcome.FAILED,
            write=lambda conn: queue.retry_or_fail(
                conn,
                entry.claim,
                error,
                policy=policy,
                retryable=retryable,
                refundable=refundable,
                retry_after=retry_after,
            ),
        )

    def _shutdown(self) -> None:
        """Stop claiming; let in-flight jobs finish within the grace period; hand back the
        rest without burning their attempt."""
        deadline = time.monotonic() + self.config.shutdown_grace
        while self.inflight.counts()[0] and time.monotonic() < deadline:
            time.sleep(0.05)
        leftovers = self.inflight.entries()
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
