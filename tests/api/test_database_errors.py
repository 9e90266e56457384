"""Database trouble answers a clean problem document: 503 `database_unavailable` with
Retry-After when the database can't be reached, and any 5xx leaves the keep-alive
connection usable for the client's next request."""

from __future__ import annotations

import socket
from collections.abc import Callable

import httpx
from fastapi.testclient import TestClient

from pressroom.app import create_app
from pressroom.config import Settings
from pressroom.db.session import make_engine
from tests.api.test_unit_of_work import CommitFailure
from tests.http import create_org, new_user
from tests.jobs.conftest import live_server

__all__ = ["live_server"]


def _refusing_url() -> str:
    """A database URL whose port nobody listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


def _unreachable_client() -> TestClient:
    return TestClient(create_app(make_engine(_refusing_url()), Settings()))


class TestDatabaseUnavailable:
    def test_api_answers_503_with_retry_after(self) -> None:
        client = _unreachable_client()
        response = client.post(
            "/v1/auth/login", json={"email": "a@example.com", "password": "x" * 12}
        )
        assert response.status_code == 503, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == "database_unavailable"
        assert int(response.headers["Retry-After"]) > 0

    def test_readyz_answers_503_with_retry_after(self) -> None:
        response = _unreachable_client().get("/readyz")
        assert response.status_code == 503
        assert response.json()["code"] == "database_unavailable"
        assert int(response.headers["Retry-After"]) > 0


class TestKeepAliveSurvivesA5xx:
    def test_the_next_request_on_the_connection_succeeds(
        self, live_server: Callable[..., str], database_url: str
    ) -> None:
        base = live_server()
        # One connection only: the request after the 500 must reuse it.
        with httpx.Client(base_url=base, limits=httpx.Limits(max_connections=1)) as c:
            _, headers = new_user(c)  # type: ignore[arg-type]
            CommitFailure(database_url).arm("organizations")
            for _ in range(3):
                failed = c.post("/v1/orgs", json={"name": "x"}, headers=headers)
                assert failed.status_code == 500
                assert failed.json()["code"] == "internal_error"
                again = c.get("/v1/orgs", headers=headers)
                assert again.status_code == 200
            CommitFailure(database_url).disarm("organizations")
            assert create_org(c, headers)  # type: ignore[arg-type]
