"""At most as many requests in flight per process as the database pool has connections.

Sync routes and dependencies run in AnyIO's thread pool (40 threads); a request checks out
a pooled connection on its first statement and keeps it until it ends. With more requests
in flight than connections, the threads waiting for a connection can hold every thread of
the pool while the requests that hold the connections wait for a thread to run their next
step: nothing moves until the pool timeout fails the waiters with 500s. (Measured: 100
connections submitting jobs to one Uvicorn worker stalled it, health checks included.)
Queuing the excess here, in the event loop, before it takes a thread or a connection,
breaks that cycle; the queued requests cost a coroutine each.

Webhook deliveries never reach this middleware:
`billing.provider_events.ProviderEventMiddleware` answers
them first, with a bounded executor of its own (PRESSROOM_WEBHOOK_CONCURRENCY). Its
threads take no AnyIO thread, so a connection they hold is always given back and they
cannot close the cycle above; at worst a request here waits for one of them to commit.
"""

from __future__ import annotations

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Liveness must answer while the process is saturated; it touches no database.
EXEMPT_PATHS = frozenset({"/healthz"})


class ConcurrencyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.app = app
        self.limit = limit
        self._slots: anyio.Semaphore | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        if self._slots is None:  # made inside the running event loop
            self._slots = anyio.Semaphore(self.limit)
        slots = self._slots
        await slots.acquire()
        held = True

        async def send_releasing(message: Message) -> None:
            # An event stream (jobs/events.py) has finished with the database once its
            # headers go out: it polls on short sessions of its own from then on, so it
            # gives its slot back instead of holding it for as long as a page stays open.
            nonlocal held
            if held and message["type"] == "http.response.start" and _is_event_stream(message):
                held = False
                slots.release()
            await send(message)

        try:
            await self.app(scope, receive, send_releasing)
        finally:
            if held:
                slots.release()


def _is_event_stream(message: Message) -> bool:
    return any(
        name.lower() == b"content-type" and value.startswith(b"text/event-stream")
        for name, value in message.get("headers", [])
    )
