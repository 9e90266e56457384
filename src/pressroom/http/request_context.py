"""The outermost middleware: a request id on every log line, echoed, and one access line."""

from __future__ import annotations

import re
import time
import uuid

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pressroom import tracing
from pressroom.api_metrics import observe_request

REQUEST_ID_HEADER = "x-request-id"
# A client-supplied id is echoed only if it is short and plain (no log injection).
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

access_log = structlog.get_logger("pressroom.access")


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            candidate: str = value.decode("latin-1")
            if _SAFE_REQUEST_ID.match(candidate):
                return candidate
            break
    return uuid.uuid4().hex


class RequestContextMiddleware:
    """Binds a request id to every log line of the request, echoes it, logs one access line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                with tracing.span(f"{scope['method']} {scope['path']}", server=True):
                    await self.app(scope, receive, send_with_id)
            finally:
                observe_request(scope["method"], status, time.perf_counter() - started)
                client = scope.get("client")
                access_log.info(
                    "request",
                    method=scope["method"],
                    # The path only: a query string may carry something private.
                    path=scope["path"],
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 2),
                    client_ip=client[0] if client else None,
                )
