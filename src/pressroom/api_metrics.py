"""The API's own Prometheus metrics (the queue's are in pressroom.jobs.metrics).

Labels are the method and the status class only: paths carry ids, and a label per id
would grow without bound."""

from __future__ import annotations

from prometheus_client import Histogram

REQUEST_DURATION = Histogram(
    "pressroom_http_request_duration_seconds",
    "API request duration, from first byte in to response sent, by method and status class.",
    ["method", "status_class"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


def observe_request(method: str, status: int, seconds: float) -> None:
    REQUEST_DURATION.labels(method, f"{status // 100}xx").observe(seconds)
