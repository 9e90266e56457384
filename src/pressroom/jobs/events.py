"""A job's live status as Server-Sent Events: `status` on every change, then `outcome`.

The stream polls the job's row on a short session of its own and hands the connection back
to the pool between polls, so a thousand open streams cost no pooled connections while they
wait (a LISTEN would need a dedicated connection per process, and the worker does not NOTIFY
on completion). It ends after the outcome, when the client goes away, or after
`MAX_STREAM_SECONDS` (the client's EventSource reconnects by itself).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from pressroom.db.tenancy import OrgScope
from pressroom.jobs.metrics import EVENT_STREAMS
from pressroom.jobs.models import ContentArtifact, ContentJob, JobStatus

TERMINAL = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED})
POLL_SECONDS = 0.5
KEEPALIVE_SECONDS = 15.0
MAX_STREAM_SECONDS = 600.0
# Tells EventSource how long to wait before reconnecting after the stream ends early.
RETRY_MS = 2000

MEDIA_TYPE = "text/event-stream"
HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


@dataclass(frozen=True)
class Snapshot:
    status: str
    attempts: int
    cancel_requested: bool
    error: str | None
    updated_at: str

    def event(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "attempts": self.attempts,
            "cancel_requested": self.cancel_requested,
            "updated_at": self.updated_at,
        }


def _snapshot(
    factory: sessionmaker[Session], scope: OrgScope, job_id: uuid.UUID
) -> Snapshot | None:
    with factory() as session:
        scope.enter(session)
        row = session.execute(
            select(
                ContentJob.status,
                ContentJob.attempts,
                ContentJob.cancel_requested_at,
                ContentJob.error,
                ContentJob.updated_at,
            ).where(ContentJob.id == job_id, scope.where(ContentJob.org_id))
        ).first()
    if row is None:  # deleted with its org while we watched
        return None
    return Snapshot(row[0], row[1], row[2] is not None, row[3], row[4].isoformat())


def _artifact_count(factory: sessionmaker[Session], scope: OrgScope, job_id: uuid.UUID) -> int:
    with factory() as session:
        scope.enter(session)
        count = session.scalar(
            select(func.count())
            .select_from(ContentArtifact)
            .where(ContentArtifact.job_id == job_id)
        )
    return int(count or 0)


def format_event(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


async def stream(
    factory: sessionmaker[Session],
    scope: OrgScope,
    job_id: uuid.UUID,
    is_disconnected: Callable[[], Awaitable[bool]],
    *,
    poll_seconds: float = POLL_SECONDS,
) -> AsyncIterator[str]:
    """The events of one job the caller was already authorized to read."""
    EVENT_STREAMS.inc()
    try:
        async for chunk in _events(factory, scope, job_id, is_disconnected, poll_seconds):
            yield chunk
    finally:
        # Also on a disconnect: the server cancels the stream, and this still runs.
        EVENT_STREAMS.dec()


async def _events(
    factory: sessionmaker[Session],
    scope: OrgScope,
    job_id: uuid.UUID,
    is_disconnected: Callable[[], Awaitable[bool]],
    poll_seconds: float,
) -> AsyncIterator[str]:
    yield f"retry: {RETRY_MS}\n\n"
    started = last_sent = time.monotonic()
    previous: Snapshot | None = None
    while True:
        snapshot = await anyio.to_thread.run_sync(_snapshot, factory, scope, job_id)
        if snapshot is None:
            return
        if snapshot != previous:
            yield format_event("status", snapshot.event())
            previous, last_sent = snapshot, time.monotonic()
        if snapshot.status in TERMINAL:
            artifacts = await anyio.to_thread.run_sync(_artifact_count, factory, scope, job_id)
            yield format_event(
                "outcome",
                {"status": snapshot.status, "error": snapshot.error, "artifacts": artifacts},
            )
            return
        now = time.monotonic()
        if now - started > MAX_STREAM_SECONDS:
            return
        if now - last_sent > KEEPALIVE_SECONDS:
            yield ": keep-alive\n\n"  # a comment: proxies keep the connection open
            last_sent = now
        await anyio.sleep(poll_seconds)
        if await is_disconnected():
            return
