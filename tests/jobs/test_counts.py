"""GET /v1/orgs/{org_id}/jobs/counts: the org's jobs by status, authorized like the listing,
read from job_status_counts (kept by a trigger on content_jobs, folded by the worker's
maintenance), so a few rows at any org size and exact under concurrent writers."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from pressroom.db.session import make_engine
from pressroom.db.tenancy import SystemDuty, system_engine
from pressroom.db.url import to_libpq_url
from pressroom.jobs.queue import ConcurrencyPolicy
from pressroom.jobs.runner import noop_runner
from pressroom.jobs.status_counts import Compactor
from pressroom.jobs.worker import Worker, WorkerConfig
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


def truth(conn: psycopg.Connection[Any]) -> dict[tuple[str, str], int]:
    rows = conn.execute("SELECT org_id::text, status, count(*) FROM content_jobs GROUP BY 1, 2")
    return {(org, status): n for org, status, n in rows}


def kept(conn: psycopg.Connection[Any]) -> dict[tuple[str, str], int]:
    rows = conn.execute(
        "SELECT org_id::text, status, sum(n) FROM job_status_counts GROUP BY 1, 2 "
        "HAVING sum(n) <> 0"
    )
    return {(org, status): int(n) for org, status, n in rows}


def compact(engine: Engine, compactor: Compactor | None = None) -> int:
    with system_engine(engine, SystemDuty.WORKER).begin() as conn:
        return (compactor or Compactor()).compact(conn)


def new_orgs(conn: psycopg.Connection[Any], n: int) -> list[str]:
    return [
        str(row[0])
        for row in conn.execute(
            "INSERT INTO organizations (id, name) SELECT gen_random_uuid(), 'o' "
            "FROM generate_series(1, %s) RETURNING id",
            (n,),
        )
    ]


_INSERT_JOBS = (
    "INSERT INTO content_jobs (id, org_id, kind, input, status) "
    "SELECT gen_random_uuid(), %s, 'summary', '{}', "
    "(ARRAY['queued','running','succeeded','failed','canceled'])[1 + (i %% 5)] "
    "FROM generate_series(1, %s) AS i"
)


def test_the_read_touches_a_handful_of_rows_at_any_org_size(database_url: str) -> None:
    engine = make_engine(database_url, pool_size=1)
    with psycopg.connect(to_libpq_url(database_url), autocommit=True) as conn:
        (org,) = new_orgs(conn, 1)
        for _ in range(20):  # 20 statements: 20 rounds of deltas before the fold
            conn.execute(_INSERT_JOBS, (org, 2_000))
        conn.execute(
            "UPDATE content_jobs SET status = 'succeeded' WHERE org_id = %s AND status = 'queued'",
            (org,),
        )
        assert compact(engine) > 0
        ids = "SELECT array_agg(id ORDER BY id) FROM job_status_counts WHERE org_id = %s"
        folded = conn.execute(ids, (org,)).fetchone()
        compact(engine)  # a full pass again: a folded org is left as it is, not rewritten
        assert conn.execute(ids, (org,)).fetchone() == folded
        conn.execute("SET enable_seqscan = off")
        plan = conn.execute(
            "EXPLAIN (ANALYZE, FORMAT JSON) SELECT status, sum(n) FROM job_status_counts "
            "WHERE org_id = %s GROUP BY status",
            (org,),
        ).fetchone()
        # This org only: other tests' workers may still be finishing jobs of theirs.
        assert {k: v for k, v in kept(conn).items() if k[0] == org} == {
            k: v for k, v in truth(conn).items() if k[0] == org
        }
    engine.dispose()
    assert plan is not None
    nodes, read = [plan[0][0]["Plan"]], None
    while nodes:
        node = nodes.pop()
        nodes.extend(node.get("Plans", []))
        if node.get("Relation Name") == "job_status_counts":
            read = node
    # 40,000 jobs in 4 statuses: 4 rows read, one per status, found by the org's index.
    assert read is not None, plan
    assert "idx_job_status_counts_org" in str(read), read
    assert read["Actual Rows"] == 4, read


def test_counts_stay_exact_under_concurrent_writers_and_folds(database_url: str) -> None:
    engine = make_engine(database_url, pool_size=4)
    url = to_libpq_url(database_url)
    with psycopg.connect(url, autocommit=True) as conn:
        orgs = new_orgs(conn, 3)
    errors: list[BaseException] = []
    writing = threading.Event()
    writing.set()

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        try:
            with psycopg.connect(url) as conn:
                for _ in range(60):
                    org = rng.choice(orgs)
                    step = rng.randrange(4)
                    if step == 0:
                        conn.execute(_INSERT_JOBS, (org, rng.randint(1, 20)))
                    elif step == 1:  # a claim-like batch: queued -> running
                        conn.execute(
                            "UPDATE content_jobs SET status = %s WHERE id IN (SELECT id FROM "
                            "content_jobs WHERE org_id = %s AND status = %s LIMIT %s "
                            "FOR UPDATE SKIP LOCKED)",
                            (
                                rng.choice(["running", "succeeded", "failed"]),
                                org,
                                rng.choice(["queued", "running"]),
                                rng.randint(1, 10),
                            ),
                        )
                    elif step == 2:
                        conn.execute(
                            "DELETE FROM content_jobs WHERE id IN (SELECT id FROM content_jobs"
                            " WHERE org_id = %s LIMIT 3 FOR UPDATE SKIP LOCKED)",
                            (org,),
                        )
                    else:  # an update that changes no status records nothing
                        conn.execute(
                            "UPDATE content_jobs SET priority = priority + 1 WHERE id IN "
                            "(SELECT id FROM content_jobs WHERE org_id = %s "
                            "FOR UPDATE SKIP LOCKED)",
                            (org,),
                        )
                    if rng.random() < 0.2:
                        conn.rollback()  # what was rolled back must not count
                    else:
                        conn.commit()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    def folder() -> None:
        compactor = Compactor()
        try:
            while writing.is_set():
                compact(engine, compactor)
        except BaseException as exc:
            errors.append(exc)

    writers = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    folders = [threading.Thread(target=folder) for _ in range(2)]
    for t in writers + folders:
        t.start()
    for t in writers:
        t.join()
    writing.clear()
    for t in folders:
        t.join()
    assert not errors, errors

    with psycopg.connect(url, autocommit=True) as conn:
        ours = {k: v for k, v in truth(conn).items() if k[0] in orgs}
        assert sum(ours.values()) > 0
        assert {k: v for k, v in kept(conn).items() if k[0] in orgs} == ours
        compact(engine)
        rows = conn.execute(
            "SELECT org_id::text, count(*) FROM job_status_counts "
            "WHERE org_id = ANY(%s::uuid[]) GROUP BY 1",
            (orgs,),
        ).fetchall()
        assert {k: v for k, v in kept(conn).items() if k[0] in orgs} == ours
    engine.dispose()
    # Folded: at most one row per status of each org.
    assert rows
    assert all(n <= 5 for _, n in rows), rows


def test_the_api_reports_what_the_worker_did(client: TestClient, database_url: str) -> None:
    _, headers = new_user(client, "owner")
    org_id = create_org(client, headers)
    ids = [submit(client, org_id, headers) for _ in range(3)]
    assert client.post(f"/v1/orgs/{org_id}/jobs/{ids[0]}/cancel", headers=headers).is_success
    engine = make_engine(database_url, pool_size=3)
    worker = Worker(engine, noop_runner, ConcurrencyPolicy({}, 5), WorkerConfig(poll_interval=0.05))
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while (
            time.monotonic() < deadline
            and client.get(f"/v1/orgs/{org_id}/jobs/counts", headers=headers).json()["succeeded"]
            < 2
        ):
            time.sleep(0.05)
    finally:
        worker.stop()
        thread.join(30)
    compact(engine)  # and the same counts once folded
    engine.dispose()

    counts = client.get(f"/v1/orgs/{org_id}/jobs/counts", headers=headers).json()

    assert counts == {
        "queued": 0,
        "running": 0,
        "succeeded": 2,
        "failed": 0,
        "canceled": 1,
        "total": 3,
    }
