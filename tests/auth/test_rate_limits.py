"""Signup and login are limited per IP and per account, counted in PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.http import PASSWORD, make_client, signup, unique_email

WINDOW_SECONDS = 3600
EDGE_MARGIN_SECONDS = 60


def clear_of_a_window_edge() -> None:
    """Windows are fixed and aligned to the epoch: a test whose attempts straddle an edge
    sees its count start again (CI once did, at 02:10:00). Start well inside a window."""
    left = WINDOW_SECONDS - time.time() % WINDOW_SECONDS
    if left < EDGE_MARGIN_SECONDS:
        time.sleep(left + 0.5)


@pytest.fixture
def strict(database_url: str) -> Iterator[tuple[TestClient, str]]:
    clear_of_a_window_edge()
    test_client, engine = make_client(
        database_url,
        rate_limit_window_seconds=WINDOW_SECONDS,
        login_limit_per_ip=5,
        login_limit_per_account=3,
        signup_limit_per_ip=4,
        signup_limit_per_account=2,
    )
    yield test_client, database_url
    engine.dispose()


def _login(client: TestClient, email: str, password: str = PASSWORD) -> int:
    return client.post("/v1/auth/login", json={"email": email, "password": password}).status_code


class TestLoginLimits:
    def test_per_account_limit_answers_429_with_retry_after(
        self, strict: tuple[TestClient, str]
    ) -> None:
        client, _ = strict
        email = signup(client)
        assert [_login(client, email, "wrong password!") for _ in range(3)] == [401] * 3
        response = client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert response.status_code == 429
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "rate_limited"
        assert 1 <= int(response.headers["retry-after"]) <= WINDOW_SECONDS

    def test_per_account_limit_holds_across_ips_and_processes(
        self, strict: tuple[TestClient, str]
    ) -> None:
        client, database_url = strict
        email = signup(client)
        # A second app (another API process) from another address shares the count.
        other, engine = make_client(
            database_url, login_limit_per_account=3, rate_limit_window_seconds=WINDOW_SECONDS
        )
        other_ip = TestClient(other.app, client=("203.0.113.9", 4000))
        assert [_login(client, email), _login(other_ip, email), _login(client, email)] == [200] * 3
        assert _login(other_ip, email) == 429
        engine.dispose()

    def test_per_ip_limit_spans_accounts(self, strict: tuple[TestClient, str]) -> None:
        client, _ = strict
        codes = [_login(client, unique_email()) for _ in range(6)]
        assert codes == [401] * 5 + [429]
        elsewhere = TestClient(client.app, client=("198.51.100.7", 4000))
        assert _login(elsewhere, unique_email()) == 401


class TestSignupLimits:
    def test_per_ip_limit(self, strict: tuple[TestClient, str]) -> None:
        client, _ = strict
        codes = [
            client.post(
                "/v1/auth/signup", json={"email": unique_email(), "password": PASSWORD}
            ).status_code
            for _ in range(5)
        ]
        assert codes == [201] * 4 + [429]
