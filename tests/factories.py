"""Small row factories that write straight to the database (for tests below the API)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import psycopg

from pressroom.db.url import to_libpq_url


def connect(url: str) -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(to_libpq_url(url), autocommit=True)


def make_org(conn: psycopg.Connection[Any], name: str = "org") -> uuid.UUID:
    org_id = uuid.uuid4()
    conn.execute("INSERT INTO organizations (id, name) VALUES (%s, %s)", (org_id, name))
    return org_id


def make_jobs(
    conn: psycopg.Connection[Any],
    org_id: uuid.UUID,
    count: int = 1,
    *,
    kind: str = "summary",
    priority: int = 0,
    max_attempts: int = 3,
    run_after_sql: str = "now()",
) -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in range(count)]
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO content_jobs (id, org_id, kind, input, priority, max_attempts,"
            " quota_period, run_after, created_at)"
            f" VALUES (%s, %s, %s, %s, %s, %s, date_trunc('month', now())::date,"
            f" {run_after_sql}, clock_timestamp())",
            [
                (i, org_id, kind, json.dumps({"n": n}), priority, max_attempts)
                for n, i in enumerate(ids)
            ],
        )
    return ids


def job_status(conn: psycopg.Connection[Any], job_id: uuid.UUID) -> str:
    row = conn.execute("SELECT status FROM content_jobs WHERE id = %s", (job_id,)).fetchone()
    assert row is not None
    return str(row[0])
