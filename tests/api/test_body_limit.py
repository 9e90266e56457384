"""Request bodies over the limit are refused with 413 before anything parses them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from fastapi.testclient import TestClient

from pressroom.http.body_limit import BodySizeLimitMiddleware
from tests.http import make_client, unique_email

LIMIT = 2048


@pytest.fixture
def small(database_url: str) -> Iterator[TestClient]:
    client, engine = make_client(database_url, max_body_bytes=LIMIT)
    yield client
    engine.dispose()


class TestDeclaredLength:
    def test_oversized_body_is_413_problem_json(self, small: TestClient) -> None:
        payload = {"email": unique_email(), "password": "p" * (LIMIT * 2)}
        response = small.post("/v1/auth/signup", json=payload)
        assert response.status_code == 413
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "payload_too_large"
        assert response.headers["x-request-id"]

    def test_body_within_the_limit_passes(self, small: TestClient) -> None:
        response = small.post(
            "/v1/auth/signup",
            json={"email": unique_email(), "password": "correct horse battery staple"},
        )
        assert response.status_code == 201


class TestChunkedBody:
    def test_oversized_chunked_body_is_413(self, small: TestClient) -> None:
        def chunks() -> Iterator[bytes]:
            for _ in range(10):
                yield b"x" * 1024

        response = small.post(
            "/v1/auth/signup", content=chunks(), headers={"content-type": "application/json"}
        )
        assert response.status_code == 413


def _run(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """Drive the middleware directly with a body sent in chunks and no Content-Length."""
    seen: dict[str, Any] = {"status": None, "app_body": None}
    queue = list(messages)

    async def receive() -> dict[str, Any]:
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            seen["status"] = message["status"]

    async def app(scope: Any, app_receive: Any, app_send: Any) -> None:
        seen["app_body"] = (await app_receive())["body"]
        await app_send({"type": "http.response.start", "status": 200, "headers": []})
        await app_send({"type": "http.response.body", "body": b""})

    scope = {"type": "http", "method": "POST", "path": "/", "headers": []}
    anyio.run(BodySizeLimitMiddleware(app, max_body_bytes=100), scope, receive, send)
    return seen


class TestMiddlewareWithoutContentLength:
    def test_chunks_past_the_limit_never_reach_the_app(self) -> None:
        chunk = {"type": "http.request", "body": b"y" * 60, "more_body": True}
        seen = _run([chunk, chunk, chunk])
        assert seen == {"status": 413, "app_body": None}

    def test_chunks_within_the_limit_reach_the_app_whole(self) -> None:
        first = {"type": "http.request", "body": b"a" * 40, "more_body": True}
        last = {"type": "http.request", "body": b"b" * 40, "more_body": False}
        seen = _run([first, last])
        assert seen == {"status": 200, "app_body": b"a" * 40 + b"b" * 40}
