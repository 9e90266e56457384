"""Request body size limit, enforced before anything parses the body.

A declared Content-Length over the limit is refused without reading a byte; a body without
one (chunked) is read up to the limit and refused as soon as it passes it. Bodies within the
limit are buffered (they are small by definition) and replayed to the application.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pressroom.errors import AppError, problem_for


class PayloadTooLarge(AppError):
    status, code, title = 413, "payload_too_large", "Payload too large"


def _too_large(limit: int) -> ASGIApp:
    # The client may still be sending: the connection cannot be reused after this answer.
    return problem_for(
        PayloadTooLarge(
            f"The request body is larger than the {limit}-byte limit.",
            headers={"Connection": "close"},
        )
    )


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodySizeLimitMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await _too_large(self.max_body_bytes)(scope, receive, send)
            return

        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                # The client went away before finishing its body: nothing to serve.
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await _too_large(self.max_body_bytes)(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break

        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
