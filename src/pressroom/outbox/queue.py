"""Every state change of an outbox delivery; each runs in the caller's transaction.

    pending --claim--> delivering --delivered--> delivered
                           |--failed, within the retry window--> pending (run_after = backoff)
                           |--failed, window spent (or permanent)--> dead
                           '--lease expired (worker crashed)--> pending   (sent at least once)
    dead / delivered --replay--> pending (a new retry window; the same event id)

Outcomes are written only `WHERE status = 'delivering' AND lease_token = :token`, so a
worker whose lease expired and was taken over never overwrites the newer attempt.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

NIL_LANE = uuid.UUID(int=0)

# Lanes (orgs) with due deliveries are found by a skip scan over idx_outbox_messages_due
# (one probe per lane, however deep its backlog) and served oldest-first; each lane gets
# at most `per_lane` deliveries in flight, counted over every worker, so one org's slow or
# black-holed endpoint can hold a few threads but never the whole pool.
_CLAIM = text(
    """
    WITH RECURSIVE lanes(lane) AS (
        (SELECT lane FROM outbox_messages WHERE status = 'pending'
         ORDER BY lane, run_after, id LIMIT 1)
        UNION ALL
        SELECT (SELECT m.lane FROM outbox_messages m
                WHERE m.status = 'pending' AND m.lane > l.lane
                ORDER BY m.lane, m.run_after, m.id LIMIT 1)
        FROM lanes l WHERE l.lane IS NOT NULL
    ),
    heads AS (
        SELECT l.lane, h.run_after FROM lanes l
        CROSS JOIN LATERAL (
            SELECT m.run_after FROM outbox_messages m
            WHERE m.lane = l.lane AND m.status = 'pending' AND m.run_after <= now()
            ORDER BY m.run_after, m.id LIMIT 1
        ) h
        WHERE l.lane IS NOT NULL
        ORDER BY h.run_after
        LIMIT :limit
    ),
    picked AS (
        SELECT c.id FROM heads h
        CROSS JOIN LATERAL (
            SELECT m.id FROM outbox_messages m
            WHERE m.lane = h.lane AND m.status = 'pending' AND m.run_after <= now()
            ORDER BY m.run_after, m.id
            LIMIT GREATEST(:per_lane - (SELECT count(*) FROM outbox_messages r
                                        WHERE r.lane = h.lane AND r.status = 'delivering'), 0)
            FOR UPDATE SKIP LOCKED
        ) c
        LIMIT :limit
    )
    UPDATE outbox_messages m
    SET status = 'delivering', attempts = m.attempts + 1, lease_token = gen_random_uuid(),
        lease_expires_at = now() + make_interval(secs => :lease_seconds), updated_at = now()
    WHERE m.id = ANY(ARRAY(SELECT id FROM picked))
    RETURNING m.id, m.org_id, m.channel, m.event_id, m.event_type, m.endpoint_id, m.payload,
              m.attempts, extract(epoch FROM now() - m.window_started_at), m.lease_token,
              m.trace_context
    """
)


@dataclass(frozen=True)
class Delivery:
    id: uuid.UUID
    org_id: uuid.UUID | None
    channel: str
    event_id: uuid.UUID
    event_type: str
    endpoint_id: uuid.UUID | None
    payload: dict[str, Any]
    attempts: int
    age_seconds: float  # since the retry window started
    lease_token: uuid.UUID
    trace_context: str | None = None


def claim(conn: Connection, *, limit: int, lease_seconds: float, per_lane: int) -> list[Delivery]:
    if limit <= 0:
        return []
    rows = conn.execute(
        _CLAIM, {"limit": limit, "lease_seconds": lease_seconds, "per_lane": per_lane}
    )
    return [
        Delivery(
            id=r[0],
            org_id=r[1],
            channel=r[2],
            event_id=r[3],
            event_type=r[4],
            endpoint_id=r[5],
            payload=r[6],
            attempts=r[7],
            age_seconds=float(r[8]),
            lease_token=r[9],
            trace_context=r[10],
        )
        for r in rows
    ]


_DELIVERED = text(
    """
    UPDATE outbox_messages
    SET status = 'delivered', delivered_at = now(), last_error = NULL, lease_token = NULL,
        lease_expires_at = NULL, updated_at = now(),
        -- a delivered e-mail keeps its envelope, not its links and tokens
        payload = CASE WHEN channel = 'email' THEN payload - 'context' ELSE payload END
    WHERE id = :id AND status = 'delivering' AND lease_token = :token
    RETURNING id
    """
)

_FAILED = text(
    """
    UPDATE outbox_messages
    SET status = :status, last_error = :error, lease_token = NULL, lease_expires_at = NULL,
        run_after = now() + make_interval(secs => :delay), updated_at = now()
    WHERE id = :id AND status = 'delivering' AND lease_token = :token
    RETURNING id
    """
)


def mark_delivered(conn: Connection, delivery: Delivery) -> bool:
    params = {"id": delivery.id, "token": delivery.lease_token}
    return conn.execute(_DELIVERED, params).first() is not None


def mark_failed(
    conn: Connection, delivery: Delivery, error: str, delay: float | None
) -> str | None:
    """Back to pending after `delay`, or dead when `delay` is None. Returns the new status,
    or None if the lease was lost."""
    status = "pending" if delay is not None else "dead"
    params = {
        "status": status,
        "error": error[:2000],
        "delay": delay or 0.0,
        "id": delivery.id,
        "token": delivery.lease_token,
    }
    return status if conn.execute(_FAILED, params).first() is not None else None


_RESCUE = text(
    """
    WITH expired AS (
        SELECT id FROM outbox_messages
        WHERE status = 'delivering' AND lease_expires_at < now()
        ORDER BY lease_expires_at LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    UPDATE outbox_messages m
    SET status = 'pending', lease_token = NULL, lease_expires_at = NULL, run_after = now(),
        last_error = 'lease expired: the worker delivering it stopped responding',
        updated_at = now()
    FROM expired WHERE m.id = expired.id
    RETURNING m.id
    """
)


def rescue_expired(conn: Connection, *, limit: int = 500) -> int:
    """Deliveries of crashed workers go back to pending: sent again, at least once."""
    return len(conn.execute(_RESCUE, {"limit": limit}).all())


_REPLAY = text(
    """
    UPDATE outbox_messages
    SET status = 'pending', run_after = now(), window_started_at = now(), last_error = NULL,
        updated_at = now()
    WHERE id = :id AND status IN ('pending', 'dead', 'delivered')
      AND (CAST(:endpoint_id AS uuid) IS NULL OR endpoint_id = :endpoint_id)
    RETURNING id
    """
)


def replay(conn: Connection, delivery_id: uuid.UUID, endpoint_id: uuid.UUID | None) -> bool:
    """Send again now, with a fresh retry window (the event keeps its id). False when it
    does not exist (for that endpoint) or is being delivered right now."""
    params = {"id": delivery_id, "endpoint_id": endpoint_id}
    return conn.execute(_REPLAY, params).first() is not None


@dataclass(frozen=True)
class OutboxStats:
    depth: int  # pending or being delivered
    oldest_age_seconds: float  # age of the oldest event among them


_STATS = text(
    """
    SELECT count(*), COALESCE(extract(epoch FROM now() - min(created_at)), 0)
    FROM outbox_messages WHERE status IN ('pending', 'delivering')
    """
)


def stats(conn: Connection) -> OutboxStats:
    depth, age = conn.execute(_STATS).one()
    return OutboxStats(int(depth), float(age))
