"""What the jobs API sends to PostgreSQL, statement by statement.

Submissions of one org queue on its usage counter row, locked from the quota upsert until
commit, so nothing may run after the upsert; listings must not fetch the job inputs
(articles of up to 200k characters) that they do not show. The benchmark
(`python -m bench.jobs_api`, docs/jobs.md) measures what these cost; these tests keep them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

from pressroom.db.url import to_libpq_url
from tests.http import create_org, make_client, new_user

ARTICLE = "PostgreSQL can be a job queue, and the queue shares transactions with the data. " * 3


class Recorder:
    def __init__(self, engine: Engine) -> None:
        self.statements: list[str] = []
        event.listen(engine, "before_cursor_execute", self._record)

    def _record(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        self.statements.append(" ".join(statement.split()))

    def during(self, action: Any) -> list[str]:
        self.statements.clear()
        action()
        return list(self.statements)


@pytest.fixture
def api(database_url: str) -> Iterator[tuple[TestClient, Recorder, str, dict[str, str]]]:
    client, engine = make_client(database_url)
    _, headers = new_user(client, "owner")
    org_id = create_org(client, headers)
    yield client, Recorder(engine), org_id, headers
    engine.dispose()


def submit(client: TestClient, org_id: str, headers: dict[str, str]) -> Any:
    response = client.post(
        f"/v1/orgs/{org_id}/jobs",
        json={"kind": "summary", "input": {"text": ARTICLE}},
        headers=headers,
    )
    assert response.status_code == 202, response.text
    return response.json()


class TestSubmitTakesTheQuotaUnitLast:
    def test_the_counter_upsert_is_the_last_statement_and_the_job_is_not_read_back(
        self, api: tuple[TestClient, Recorder, str, dict[str, str]]
    ) -> None:
        client, recorder, org_id, headers = api
        job: dict[str, Any] = {}
        sent = recorder.during(lambda: job.update(submit(client, org_id, headers)))
        assert sent[-1].startswith("INSERT INTO usage_counters"), sent
        assert not [s for s in sent if s.startswith("SELECT") and "FROM content_jobs" in s], sent
        # What came back from INSERT ... RETURNING is the whole job, server defaults included.
        assert (job["status"], job["attempts"], job["input"]["text"]) == (
            "queued",
            0,
            ARTICLE.strip(),
        )

    def test_retry_also_takes_its_unit_last(
        self, api: tuple[TestClient, Recorder, str, dict[str, str]], database_url: str
    ) -> None:
        client, recorder, org_id, headers = api
        job_id = submit(client, org_id, headers)["id"]
        with psycopg.connect(to_libpq_url(database_url), autocommit=True) as conn:
            conn.execute("UPDATE content_jobs SET status = 'failed' WHERE id = %s", (job_id,))
        answers: list[Any] = []
        sent = recorder.during(
            lambda: answers.append(
                client.post(f"/v1/orgs/{org_id}/jobs/{job_id}/retry", headers=headers)
            )
        )
        assert answers[0].status_code == 202
        assert answers[0].json()["status"] == "queued"
        assert sent[-1].startswith("INSERT INTO usage_counters"), sent


class TestListingSkipsInputs:
    def test_the_listing_query_does_not_fetch_the_input_column(
        self, api: tuple[TestClient, Recorder, str, dict[str, str]]
    ) -> None:
        client, recorder, org_id, headers = api
        submit(client, org_id, headers)
        pages: list[Any] = []
        sent = recorder.during(
            lambda: pages.append(client.get(f"/v1/orgs/{org_id}/jobs", headers=headers).json())
        )
        (listing,) = [s for s in sent if "FROM content_jobs" in s]
        assert "content_jobs.input" not in listing
        assert "content_jobs.created_at" in listing
        assert len(pages[0]["items"]) == 1
        assert "input" not in pages[0]["items"][0]
