"""Liveness and readiness probes."""

from __future__ import annotations

import contextlib

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from pressroom.db import migrations
from pressroom.db.tenancy import SystemDuty, system_engine
from pressroom.errors import DatabaseUnavailable, ServiceUnavailable, error_responses
from pressroom.jobs.metrics import refresh_queue_gauges
from pressroom.outbox.metrics import refresh_gauges as refresh_outbox_gauges

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up (says nothing about the database)."""
    return {"status": "ok"}


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(request: Request) -> PlainTextResponse:
    """Prometheus metrics: queue and outbox depth and age, running jobs, process figures."""
    # Without the database, still serve the process metrics; /readyz reports the outage.
    with contextlib.suppress(SQLAlchemyError):
        # Queue and outbox figures are over every org.
        system = system_engine(request.app.state.engine, SystemDuty.MAINTENANCE)
        refresh_queue_gauges(system)
        refresh_outbox_gauges(system)
    return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)


@router.get("/readyz", responses=error_responses(DatabaseUnavailable))
def readyz(request: Request) -> dict[str, str]:
    """The database answers and its schema is at the code's migration head."""
    try:
        with request.app.state.engine.connect() as conn:
            current = set(migrations.current_heads(conn))
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable("database unreachable") from exc
    expected = set(migrations.heads())
    if current != expected:
        raise ServiceUnavailable(
            f"database schema at {sorted(current) or 'base'}, code expects {sorted(expected)}; "
            "run `make migrate-up`"
        )
    return {"status": "ready"}
