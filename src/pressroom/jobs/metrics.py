"""Prometheus metrics of the queue and the workers."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import Engine

QUEUE_DEPTH = Gauge("pressroom_queue_depth", "Jobs waiting in the queue (status queued).")
QUEUE_OLDEST_AGE = Gauge(
    "pressroom_queue_oldest_age_seconds", "How long the oldest due queued job has waited."
)
RUNNING = Gauge("pressroom_jobs_running", "Jobs currently leased by workers.")
CLAIM_LATENCY = Histogram(
    "pressroom_claim_seconds",
    "Time to claim a batch of jobs.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)
JOB_DURATION = Histogram(
    "pressroom_job_duration_seconds",
    "Time from claim to recorded outcome, by kind and outcome.",
    ["kind", "outcome"],
)
JOBS_FINISHED = Counter("pressroom_jobs_finished_total", "Job attempts by outcome.", ["outcome"])
EVENT_STREAMS = Gauge(
    "pressroom_job_event_streams", "Open job event streams (SSE) in this process."
)
RESCUED = Counter("pressroom_jobs_rescued_total", "Jobs whose lease expired and were rescued.")


def refresh_queue_gauges(engine: Engine) -> None:
    """Read the queue's state into the gauges (the API does it on each scrape)."""
    from pressroom.jobs import queue

    with engine.connect() as conn:
        s = queue.stats(conn)
    QUEUE_DEPTH.set(s.depth)
    QUEUE_OLDEST_AGE.set(s.oldest_age_seconds)
    RUNNING.set(s.running)
