"""Prometheus metrics of the outbox and its delivery loop."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import Engine

DEPTH = Gauge("pressroom_outbox_depth", "Deliveries waiting or in flight (webhooks and e-mail).")
OLDEST_AGE = Gauge(
    "pressroom_outbox_oldest_age_seconds", "Age of the oldest event not yet delivered."
)
DELIVERIES = Counter(
    "pressroom_outbox_deliveries_total",
    "Delivery attempts by channel and outcome (delivered, retried, dead, lost).",
    ["channel", "outcome"],
)
DELIVERY_SECONDS = Histogram(
    "pressroom_outbox_delivery_seconds",
    "Time of one delivery attempt, by channel.",
    ["channel"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
RESCUED = Counter(
    "pressroom_outbox_rescued_total", "Deliveries whose lease expired and were rescued."
)


def refresh_gauges(engine: Engine) -> None:
    """Read the outbox's state into the gauges (the worker and each /metrics scrape)."""
    from pressroom.outbox import queue

    with engine.connect() as conn:
        s = queue.stats(conn)
    DEPTH.set(s.depth)
    OLDEST_AGE.set(s.oldest_age_seconds)
