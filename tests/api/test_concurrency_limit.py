"""More requests in flight than database connections: they wait their turn, none fails.

Without the limit, threads blocked on the connection pool took every thread of AnyIO's
pool, the requests holding the connections could not run their next step, and everything
stalled until the pool timeout answered 500 (pressroom.http.concurrency_limit explains it).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from pressroom.app import create_app
from pressroom.config import Settings
from pressroom.db.url import to_sqlalchemy_url
from tests.http import create_api_key, create_org, new_user

POOL = 2
REQUESTS = 80  # well past the 40 threads of AnyIO's pool plus the 2 connections


@pytest.fixture
def small_pool_server(database_url: str) -> Iterator[tuple[str, str, str]]:
    """The app on a 2-connection pool whose checkout gives up after 5 s, under Uvicorn."""
    engine = create_engine(
        to_sqlalchemy_url(database_url), pool_size=POOL, max_overflow=0, pool_timeout=5
    )
    app = create_app(engine, Settings(db_pool_size=POOL, db_max_overflow=0))
    setup = TestClient(app)
    _, owner = new_user(setup)
    org_id = create_org(setup, owner)
    key = create_api_key(setup, owner, org_id)["key"]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}", org_id, key
    server.should_exit = True
    thread.join(10)
    engine.dispose()


class TestMoreRequestsThanConnections:
    def test_every_request_is_answered_and_none_fails(
        self, small_pool_server: tuple[str, str, str]
    ) -> None:
        base, org_id, key = small_pool_server

        def list_jobs(_: int) -> int:
            return httpx.get(
                f"{base}/v1/orgs/{org_id}/jobs",
                headers={"Authorization": f"Bearer {key}"},
                timeout=120,
            ).status_code

        with ThreadPoolExecutor(REQUESTS) as pool:
            codes = list(pool.map(list_jobs, range(REQUESTS)))
        assert codes == [200] * REQUESTS

    def test_liveness_answers_while_the_pool_is_busy(
        self, small_pool_server: tuple[str, str, str]
    ) -> None:
        base, _, _ = small_pool_server
        assert httpx.get(f"{base}/healthz", timeout=10).json() == {"status": "ok"}
