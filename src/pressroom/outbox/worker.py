"""The delivery loop `pressroom worker` runs beside the job loop.

The main thread claims due deliveries for free threads (fairly across lanes, see
outbox.queue) and sleeps until a thread frees up or the poll interval passes. Each thread
runs one delivery through its channel's deliverer, then writes the outcome under the lease
token together with whatever the channel records (a webhook attempt, an endpoint's failure
state). No heartbeat: the lease outlasts the longest attempt (connect + total timeouts),
so a lease only expires when its worker died; the rescue then sends it again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import psycopg
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from pressroom import tracing
from pressroom.config import Settings
from pressroom.db.errors import never_migrated, short_error
from pressroom.outbox import metrics, queue
from pressroom.outbox.queue import Delivery
from pressroom.outbox.retry import RetryPolicy

log = logging.getLogger("pressroom.outbox")


@dataclass(frozen=True)
class Result:
    """What one attempt came to. `record` runs in the transaction that writes the outcome
    (with the delivery's new status), and only if the lease was still held."""

    delivered: bool
    error: str | None = None
    permanent: bool = False  # no point retrying: dead at once
    record: Callable[[Connection, str], None] | None = None


Deliverer = Callable[[Delivery], Result]


@dataclass(frozen=True)
class LoopConfig:
    concurrency: int = 8
    poll_interval: float = 1.0
    lease_seconds: float = 60.0
    per_lane: int = 4
    rescue_interval: float = 5.0
    stats_interval: float = 5.0
    shutdown_grace: float = 10.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    @classmethod
    def from_settings(cls, settings: Settings) -> LoopConfig:
        return cls(
            concurrency=settings.outbox_concurrency,
            poll_interval=settings.outbox_poll_interval,
            lease_seconds=settings.outbox_lease_seconds,
            per_lane=settings.outbox_max_in_flight_per_lane,
            # A crashed worker's deliveries are resent within about 1.5 leases.
            rescue_interval=min(5.0, settings.outbox_lease_seconds / 2),
            retry=RetryPolicy.from_settings(settings),
        )


class DeliveryLoop:
    def __init__(
        self, engine: Engine, deliverers: Mapping[str, Deliverer], config: LoopConfig
    ) -> None:
        self.engine = engine
        self.deliverers = deliverers
        self.config = config
        self._busy = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._pool = ThreadPoolExecutor(config.concurrency, thread_name_prefix="outbox")
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Run in a background thread (the job worker owns the main thread)."""
        self._thread = threading.Thread(target=self.run, name="outbox", daemon=True)
        self._thread.start()

    def stop(self, wait: bool = True) -> None:
        self._stopping.set()
        self._wake.set()
        if wait and self._thread is not None:
            self._thread.join(self.config.shutdown_grace + 5)

    def run(self) -> None:
        next_rescue = next_stats = 0.0
        try:
            while not self._stopping.is_set():
                try:
                    now = time.monotonic()
                    if now >= next_rescue:
                        self._rescue()
                        next_rescue = now + self.config.rescue_interval
                    if now >= next_stats:
                        metrics.refresh_gauges(self.engine)
                        next_stats = now + self.config.stats_interval
                    with self._lock:
                        free = self.config.concurrency - self._busy
                    if free > 0 and self._claim(free) == free:
                        continue  # there may be more due right now
                    self._wake.wait(self.config.poll_interval)
                    self._wake.clear()
                except (DBAPIError, psycopg.Error) as exc:
                    # An unmigrated database is the job loop's to report, once.
                    if not never_migrated(exc):
                        log.warning("outbox: database unavailable: %s", short_error(exc))
                    self._stopping.wait(1.0)
        finally:
            self._pool.shutdown(wait=False, cancel_futures=True)
            deadline = time.monotonic() + self.config.shutdown_grace
            while self._busy and time.monotonic() < deadline:
                time.sleep(0.05)  # what is still running after this is rescued later

    def _claim(self, free: int) -> int:
        with self.engine.begin() as conn:
            claimed = queue.claim(
                conn,
                limit=free,
                lease_seconds=self.config.lease_seconds,
                per_lane=self.config.per_lane,
            )
        for delivery in claimed:
            with self._lock:
                self._busy += 1
            self._pool.submit(self._deliver, delivery)
        return len(claimed)

    def _deliver(self, delivery: Delivery) -> None:
        started = time.perf_counter()
        attributes: dict[str, str | int] = {
            "outbox.channel": delivery.channel,
            "outbox.event_type": delivery.event_type,
            "outbox.attempt": delivery.attempts,
        }
        try:
            with tracing.span("outbox.deliver", attributes, parent=delivery.trace_context):
                result = self.deliverers[delivery.channel](delivery)
        except Exception as exc:  # a bug of ours: retried like any failure, and logged
            log.exception("outbox: delivering %s failed", delivery.id)
            result = Result(False, f"internal error: {type(exc).__name__}")
        metrics.DELIVERY_SECONDS.labels(delivery.channel).observe(time.perf_counter() - started)
        try:
            outcome = self._record(delivery, result)
        except Exception:  # the lease expires and the delivery is sent again
            log.exception("outbox: recording the outcome of %s failed", delivery.id)
            outcome = "lost"
        metrics.DELIVERIES.labels(delivery.channel, outcome).inc()
        with self._lock:
            self._busy -= 1
        self._wake.set()

    def _record(self, delivery: Delivery, result: Result) -> str:
        with self.engine.begin() as conn:
            if result.delivered:
                status: str | None = "delivered" if queue.mark_delivered(conn, delivery) else None
            else:
                delay = (
                    None
                    if result.permanent
                    else self.config.retry.next_try(delivery.attempts, delivery.age_seconds)
                )
                status = queue.mark_failed(conn, delivery, result.error or "failed", delay)
            if status is None:
                return "lost"
            if result.record is not None:
                result.record(conn, status)
        if status != "delivered":
            log.info(
                "outbox: %s %s to %s failed (%s): %s",
                delivery.channel,
                delivery.event_type,
                delivery.endpoint_id or "mail",
                status,
                result.error,
            )
        return {"pending": "retried"}.get(status, status)

    def _rescue(self) -> None:
        with self.engine.begin() as conn:
            rescued = queue.rescue_expired(conn)
        if rescued:
            log.info("outbox: rescued %d expired deliveries", rescued)
            metrics.RESCUED.inc(rescued)
