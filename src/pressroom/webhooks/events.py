"""The events we announce (docs/webhooks.md is their catalogue) and the fan-out that
writes one outbox delivery per subscribed endpoint, in the caller's transaction."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Text, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.types import Uuid

from pressroom import tracing
from pressroom.config import get_settings
from pressroom.db.async_pool import DriverStatement, PoolConnection
from pressroom.db.base import new_id

# Version of every payload's shape; a breaking change gets a new number (docs/webhooks.md).
PAYLOAD_VERSION = 1
EVENT_TYPES = (
    "job.succeeded",
    "job.failed",
    "job.canceled",
    "usage.threshold",
    "subscription.updated",
)
PING = "ping"  # sent only by POST .../test, whatever the endpoint subscribes to
USAGE_THRESHOLDS = (80, 100)
_EVENT_NAMESPACE = uuid.UUID("6f1d0c8e-5b7a-4f0e-9a51-1d2c3b4a5e6f")


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


@dataclass(frozen=True)
class Event:
    org_id: uuid.UUID
    type: str
    data: Mapping[str, Any]
    id: uuid.UUID = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    # The trace its deliveries continue: the current one, unless the event names another
    # (a job's outcome continues the trace of the request that submitted the job).
    trace_context: str | None = field(default_factory=tracing.current_context)

    def envelope(self) -> dict[str, Any]:
        """The Standard Webhooks payload: type, timestamp, data (plus our version)."""
        return {
            "type": self.type,
            "timestamp": self.occurred_at.isoformat(),
            "version": PAYLOAD_VERSION,
            "data": _jsonable(self.data),
        }


_FAN_OUT = text(
    """
    INSERT INTO outbox_messages (id, org_id, lane, channel, event_id, event_type, endpoint_id,
                                 payload, trace_context)
    SELECT gen_random_uuid(), e.org_id, e.org_id, 'webhook', ev.id, ev.type, e.id,
           CAST(ev.payload AS jsonb), ev.trace_context
    FROM unnest(:ids, :org_ids, :types, :payloads, :traces)
         AS ev(id, org_id, type, payload, trace_context)
    JOIN webhook_endpoints e ON e.org_id = ev.org_id AND e.enabled
         AND (e.event_types = '{}' OR ev.type = ANY(e.event_types))
    ON CONFLICT (endpoint_id, event_id) DO NOTHING
    """
).bindparams(
    bindparam("ids", type_=ARRAY(Uuid())),
    bindparam("org_ids", type_=ARRAY(Uuid())),
    bindparam("types", type_=ARRAY(Text())),
    bindparam("payloads", type_=ARRAY(Text())),
    bindparam("traces", type_=ARRAY(Text())),
)


def emit(db: Session | Connection, events: Sequence[Event]) -> None:
    """One statement for any number of events; an org with no endpoint costs an index probe."""
    if events:
        db.execute(_FAN_OUT, _fan_out_params(events))


async def emit_on_pool(conn: PoolConnection, events: Sequence[Event]) -> None:
    """`emit`, in a transaction of the async pool (pressroom.db.async_pool)."""
    if events:
        await _fan_out_on_pool().run(conn, **_fan_out_params(events))


@cache
def _fan_out_on_pool() -> DriverStatement:
    return DriverStatement(_FAN_OUT)


def _fan_out_params(events: Sequence[Event]) -> dict[str, Any]:
    return {
        "ids": [e.id for e in events],
        "org_ids": [e.org_id for e in events],
        "types": [e.type for e in events],
        "payloads": [json.dumps(e.envelope()) for e in events],
        "traces": [e.trace_context for e in events],
    }


# -- the seams: one call each ----------------------------------------------------------


@dataclass(frozen=True)
class JobOutcome:
    job_id: uuid.UUID
    org_id: uuid.UUID
    kind: str
    status: str  # succeeded | failed | canceled
    error: str | None = None
    usage: Mapping[str, Any] | None = None
    artifacts: Sequence[tuple[uuid.UUID, str, str]] = ()  # (id, type, media type)
    trace_context: str | None = None  # the job's (content_jobs.trace_context)


def job_events(outcomes: Sequence[JobOutcome]) -> list[Event]:
    base = get_settings().public_url.rstrip("/")
    return [
        Event(
            o.org_id,
            f"job.{o.status}",
            {
                "job_id": o.job_id,
                "org_id": o.org_id,
                "kind": o.kind,
                "status": o.status,
                "error": o.error,
                "usage": dict(o.usage) if o.usage else None,
                "artifacts": [
                    {
                        "id": a_id,
                        "type": a_type,
                        "media_type": media_type,
                        "url": f"{base}/v1/orgs/{o.org_id}/artifacts/{a_id}/content",
                    }
                    for a_id, a_type, media_type in o.artifacts
                ],
            },
            trace_context=o.trace_context or tracing.current_context(),
        )
        for o in outcomes
    ]


def announce_jobs(db: Session | Connection, outcomes: Sequence[JobOutcome]) -> None:
    """job.succeeded / job.failed / job.canceled, where the outcome is written."""
    emit(db, job_events(outcomes))


def announce_usage(
    db: Session | Connection,
    org_id: uuid.UUID,
    period: date,
    *,
    before: int,
    after: int,
    limit: int,
) -> None:
    """usage.threshold when this consumption crossed 80 % or 100 % of the month's quota."""
    emit(db, usage_threshold_events(org_id, period, before=before, after=after, limit=limit))


def usage_threshold_events(
    org_id: uuid.UUID, period: date, *, before: int, after: int, limit: int
) -> list[Event]:
    """A usage.threshold event for each of 80 % and 100 % of the month's quota that going
    from `before` to `after` units crossed. The event id is derived from (org, month,
    threshold): a threshold crossed again after a refund is the same event, which each
    endpoint receives once."""
    if limit <= 0:
        return []
    return [
        Event(
            org_id,
            "usage.threshold",
            {
                "org_id": org_id,
                "period": period,
                "threshold_percent": pct,
                "used": after,
                "limit": limit,
            },
            id=uuid.uuid5(_EVENT_NAMESPACE, f"usage.threshold:{org_id}:{period}:{pct}"),
        )
        for pct in USAGE_THRESHOLDS
        if before * 100 < pct * limit <= after * 100
    ]


def announce_subscription(
    db: Session | Connection, org_id: uuid.UUID, provider: str, state: Mapping[str, Any]
) -> None:
    """subscription.updated, whenever the stored subscription changed."""
    keys = ("plan", "status", "current_period_end", "cancel_at_period_end", "canceled_at")
    data = {"org_id": org_id, "provider": provider, **{k: state.get(k) for k in keys}}
    emit(db, [Event(org_id, "subscription.updated", data)])
