"""Liveness and readiness probes."""

from __future__ import annotations

import contextlib

from alembic.runtime.migration import MigrationContext
from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from pressroom.db import migrations
from pressroom.db.tenancy import SystemDuty, system_engine
from pressroom.errors import ServiceUnavailable, error_responses
from pressroom.jobs.metrics import refresh_queue_gauges

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up (says nothing about the database)."""
    return {"status": "ok"}


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(request: Request) -> PlainTextResponse:
    """Prometheus metrics: queue depth and age, running jobs, process figures."""
    # Without the database, still serve the process metrics; /readyz reports the outage.
    with contextlib.suppress(SQLAlchemyError):
        # Queue figures are over every org.
        refresh_queue_gauges(system_engine(request.app.state.engine, SystemDuty.MAINTENANCE))
    return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)


@router.get("/readyz", responses=error_responses(ServiceUnavailable))
def readyz(request: Request) -> dict[str, str]:
    """The database answers and its schema is at the code's migration head."""
    try:
        with request.app.state.engine.connect() as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
    except SQLAlchemyError as exc:
        raise ServiceUnavailable("database unreachable") from exc
    expected = set(migrations.heads())
    if current != expected:
        raise ServiceUnavailable(
            f"database schema at {sorted(current) or 'base'}, code expects {sorted(expected)}; "
            "run `make migrate-up`"
        )
    return {"status": "ready"}
