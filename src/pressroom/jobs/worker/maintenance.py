"""Background duties (River's internal/maintenance): heartbeats that extend this worker's
leases and notice cancellations and lost leases, the rescue of crashed workers' jobs
(whose leases expired), folding the kept job counts (jobs/status_counts.py), and the queue
gauges."""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine

from pressroom.db.errors import short_error
from pressroom.jobs import metrics, queue, retention
from pressroom.jobs.status_counts import Compactor
from pressroom.jobs.worker.inflight import InFlightTable
from pressroom.jobs.worker.retry_policy import RetryPolicy

log = logging.getLogger("pressroom.worker")


class Maintenance:
    def __init__(
        self,
        engine: Engine,
        inflight: InFlightTable,
        policy: RetryPolicy,
        lease_seconds: float,
        stopping: threading.Event,
        retention_interval: float = 0.0,
    ) -> None:
        self.engine = engine
        self.inflight = inflight
        self.policy = policy
        self.lease_seconds = lease_seconds
        self.stopping = stopping
        self.retention_interval = retention_interval
        self.counts = Compactor()

    def retention_loop(self) -> None:
        """Prune expired job content (jobs/retention.py); on its own thread so claims and
        heartbeats never wait for it."""
        retention.run_periodically(self.engine, self.stopping, self.retention_interval)

    def heartbeat_loop(self) -> None:
        interval = self.lease_seconds / 3
        while not self.stopping.wait(interval):
            try:
                self.heartbeat()
            except Exception as exc:  # the database is away: try again next beat
                log.warning("heartbeat failed: %s", short_error(exc))

    def heartbeat(self) -> None:
        entries = self.inflight.entries()
        if not entries:
            return
        with self.engine.begin() as conn:
            result = queue.heartbeat(conn, [e.claim for e in entries], self.lease_seconds)
        for entry in entries:
            if entry.claim.id in result.lost:
                entry.lost = True
                entry.stop.set()
            elif entry.claim.id in result.cancel_requested:
                entry.request_cancel()

    def rescue(self) -> None:
        with self.engine.begin() as conn:
            rescued = queue.rescue_expired(conn, self.policy)
        total = rescued.requeued + rescued.failed + rescued.canceled
        if total:
            log.info(
                "rescued expired leases: %s requeued, %s failed (too many lease expiries), "
                "%s canceled",
                rescued.requeued,
                rescued.failed,
                rescued.canceled,
            )
            metrics.RESCUED.inc(total)

    def compact_counts(self) -> None:
        with self.engine.begin() as conn:
            self.counts.compact(conn)

    def publish_stats(self) -> None:
        with self.engine.connect() as conn:
            s = queue.stats(conn)
        metrics.QUEUE_DEPTH.set(s.depth)
        metrics.QUEUE_OLDEST_AGE.set(s.oldest_age_seconds)
        metrics.RUNNING.set(s.running)
