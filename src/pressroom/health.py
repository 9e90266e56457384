"""Liveness and readiness probes."""

from __future__ import annotations

from alembic.runtime.migration import MigrationContext
from fastapi import APIRouter, Request
from sqlalchemy.exc import SQLAlchemyError

from pressroom.db import migrations
from pressroom.errors import ServiceUnavailable, error_responses

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up (says nothing about the database)."""
    return {"status": "ok"}


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
