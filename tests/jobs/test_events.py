"""GET /v1/orgs/{org_id}/jobs/{job_id}/events: Server-Sent Events of one job's status."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from pressroom.app import create_app
from pressroom.config import Settings
from pressroom.db.session import make_engine
from pressroom.jobs.metrics import EVENT_STREAMS
from tests.factories import connect
from tests.http import bearer, create_api_key, create_org, new_user, running

ARTICLE = "Event streams let a page follow a job without polling the API itself. " * 3


@dataclass
class Api:
    url: str  # the app under Uvicorn, for the streams
    client: TestClient  # the same app in process, for setting up
    engine: Any


@pytest.fixture
def api(database_url: str) -> Iterator[Api]:
    engine = make_engine(database_url, pool_size=5)
    app = create_app(engine, Settings())
    with running(app) as url:
        yield Api(url, TestClient(app), engine)
    engine.dispose()


def _events(response: httpx.Response) -> Iterator[tuple[str, dict[str, Any]]]:
    event = None
    for line in response.iter_lines():
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: ") and event:
            yield event, json.loads(line.removeprefix("data: "))
            event = None


def _wait(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def _queued_job(client: TestClient) -> tuple[str, str, dict[str, str]]:
    _, headers = new_user(client)
    org_id = create_org(client, headers)
    key = bearer(create_api_key(client, headers, org_id)["key"])
    body = {"kind": "summary", "input": {"text": ARTICLE}}
    response = client.post(f"/v1/orgs/{org_id}/jobs", json=body, headers=key)
    assert response.status_code == 202, response.text
    return org_id, response.json()["id"], key


def _set_status(database_url: str, job_id: str, status: str) -> None:
    with connect(database_url) as conn:
        conn.execute(
            "UPDATE content_jobs SET status = %s, updated_at = clock_timestamp() WHERE id = %s",
            (status, job_id),
        )


class TestJobEvents:
    def test_status_changes_then_the_outcome_then_the_end(
        self, api: Api, database_url: str
    ) -> None:
        org_id, job_id, key = _queued_job(api.client)
        path = f"{api.url}/v1/orgs/{org_id}/jobs/{job_id}/events"
        with httpx.stream("GET", path, headers=key, timeout=10) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            events = _events(response)
            assert next(events)[1]["status"] == "queued"
            # Waiting between polls holds no pooled connection.
            time.sleep(0.7)
            assert api.engine.pool.checkedout() == 0
            _set_status(database_url, job_id, "running")
            event, data = next(events)
            assert (event, data["status"]) == ("status", "running")
            _set_status(database_url, job_id, "failed")
            rest = list(events)  # the stream ends by itself after the outcome
        statuses = [data["status"] for _, data in rest]
        assert rest[-1][0] == "outcome"
        assert statuses[-2:] == ["failed", "failed"]

    def test_another_orgs_job_and_a_missing_scope_are_refused(self, api: Api) -> None:
        org_id, job_id, _ = _queued_job(api.client)
        _, headers = new_user(api.client, "stranger")
        other_org = create_org(api.client, headers)
        other_key = bearer(create_api_key(api.client, headers, other_org)["key"])
        path = f"/v1/orgs/{org_id}/jobs/{job_id}/events"
        assert api.client.get(path, headers=other_key).status_code == 404
        assert api.client.get(path, headers=headers).status_code == 404
        usage_only = bearer(create_api_key(api.client, headers, other_org, ["usage:read"])["key"])
        own = f"/v1/orgs/{other_org}/jobs/{job_id}/events"
        assert api.client.get(own, headers=usage_only).status_code == 403

    def test_a_client_that_leaves_ends_the_stream(self, api: Api) -> None:
        org_id, job_id, key = _queued_job(api.client)
        before = EVENT_STREAMS._value.get()
        path = f"{api.url}/v1/orgs/{org_id}/jobs/{job_id}/events"
        with httpx.stream("GET", path, headers=key, timeout=10) as response:
            events = _events(response)  # kept: dropping it would close the response
            next(events)
            _wait(lambda: EVENT_STREAMS._value.get() == before + 1)
        # Without the disconnect, a queued job's stream would run for MAX_STREAM_SECONDS.
        _wait(lambda: EVENT_STREAMS._value.get() == before, timeout=15)


def test_open_streams_leave_the_request_slots_free(database_url: str) -> None:
    """More open streams than the process's request slots (pool size + overflow): other
    requests still get through, because a stream gives its slot back once it starts."""
    engine = make_engine(database_url, pool_size=2)
    app = create_app(engine, Settings(db_pool_size=1, db_max_overflow=1))
    client = TestClient(app)
    with running(app) as url:
        org_id, job_id, key = _queued_job(client)
        path = f"{url}/v1/orgs/{org_id}/jobs/{job_id}/events"
        with httpx.Client(timeout=10) as streams:
            opened = [streams.stream("GET", path, headers=key) for _ in range(3)]
            responses = [s.__enter__() for s in opened]
            readers = [_events(r) for r in responses]
            try:
                for reader in readers:
                    assert next(reader)[1]["status"] == "queued"
                assert (
                    client.get(f"/v1/orgs/{org_id}/jobs/{job_id}", headers=key).status_code == 200
                )
            finally:
                for s in opened:
                    s.__exit__(None, None, None)
    engine.dispose()
