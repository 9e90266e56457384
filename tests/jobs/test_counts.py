"""GET /v1/orgs/{org_id}/jobs/counts: the org's jobs by status, authorized like the listing,
read from idx_content_jobs_org_status alone (an index-only scan, no heap visit)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient

from pressroom.db.url import to_libpq_url
from tests.http import create_org, make_client, new_user

BODY = {"kind": "summary", "input": {"text": "PostgreSQL can be a job queue. " * 5}}


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    client, engine = make_client(database_url)
    yield client
    engine.dispose()


def submit(client: TestClient, org_id: str, headers: dict[str, str]) -> str:
    response = client.post(f"/v1/orgs/{org_id}/jobs", json=BODY, headers=headers)
    assert response.status_code == 202, response.text
    job_id: str = response.json()["id"]
    return job_id


def test_counts_every_status_of_this_org_only(client: TestClient, database_url: str) -> None:
    _, headers = new_user(client, "owner")
    org_id = create_org(client, headers)
    other_org = create_org(client, headers, "Other")
    ids = [submit(client, org_id, headers) for _ in range(4)]
    submit(client, other_org, headers)
    with psycopg.connect(to_libpq_url(database_url), autocommit=True) as conn:
        conn.execute("UPDATE content_jobs SET status = 'failed' WHERE id = %s", (ids[0],))
        conn.execute("UPDATE content_jobs SET status = 'succeeded' WHERE id = %s", (ids[1],))

    response = client.get(f"/v1/orgs/{org_id}/jobs/counts", headers=headers)

    assert response.status_code == 200, response.text
    assert response.json() == {
        "queued": 2,
        "running": 0,
        "succeeded": 1,
        "failed": 1,
        "canceled": 0,
        "total": 4,
    }


def test_another_orgs_counts_are_not_found(client: TestClient) -> None:
    _, owner = new_user(client, "owner")
    org_id = create_org(client, owner)
    submit(client, org_id, owner)
    _, stranger = new_user(client, "stranger")

    response = client.get(f"/v1/orgs/{org_id}/jobs/counts", headers=stranger)

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


def test_served_by_an_index_only_scan(client: TestClient, database_url: str) -> None:
    _, headers = new_user(client, "owner")
    org_id = create_org(client, headers)
    submit(client, org_id, headers)
    with psycopg.connect(to_libpq_url(database_url), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) content_jobs")
        # The table is tiny, so forbid the sequential scan the planner would rightly prefer:
        # what is checked is that an index answers the query by itself.
        conn.execute("SET enable_seqscan = off")
        rows = conn.execute(
            "EXPLAIN SELECT status, count(*) FROM content_jobs WHERE org_id = %s GROUP BY status",
            (org_id,),
        ).fetchall()
    plan = "\n".join(r[0] for r in rows)
    assert "Index Only Scan using idx_content_jobs_org_status" in plan, plan
