"""Writing to the outbox: always in the caller's transaction, so a delivery exists if and
only if the change it announces committed. Nothing here sends anything."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from pressroom import tracing
from pressroom.db.base import new_id
from pressroom.outbox.models import Channel
from pressroom.outbox.queue import NIL_LANE

_ENQUEUE = text(
    """
    INSERT INTO outbox_messages (id, org_id, lane, channel, event_id, event_type, endpoint_id,
                                 payload, trace_context)
    SELECT :id, :org_id, :lane, :channel, :event_id, :event_type, :endpoint_id,
           CAST(:payload AS jsonb), :trace_context
    WHERE :when
    """
)


def enqueue(
    db: Session | Connection,
    *,
    channel: Channel,
    event_type: str,
    payload: dict[str, Any],
    org_id: uuid.UUID | None = None,
    endpoint_id: uuid.UUID | None = None,
    event_id: uuid.UUID | None = None,
    when: bool = True,
) -> uuid.UUID:
    """One delivery; returns its id. With `when=False` the same statement runs and writes
    nothing, for callers whose timing must not tell whether anything was sent."""
    delivery_id = new_id()
    db.execute(
        _ENQUEUE,
        {
            "id": delivery_id,
            "org_id": org_id,
            "lane": org_id or NIL_LANE,
            "channel": channel.value,
            "event_id": event_id or new_id(),
            "event_type": event_type,
            "endpoint_id": endpoint_id,
            "payload": json.dumps(payload),
            "when": when,
            "trace_context": tracing.current_context(),
        },
    )
    return delivery_id
