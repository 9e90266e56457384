"""The jobs and usage HTTP API, against a real database."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from pressroom.db.session import make_engine
from pressroom.db.tenancy import SystemDuty, scope_to_orgs, system_engine
from pressroom.db.url import to_libpq_url
from pressroom.jobs import queue
from pressroom.jobs.queue import ArtifactRow, ConcurrencyPolicy, Success
from pressroom.jobs.service import list_jobs_query
from tests.http import create_org, new_user

ARTICLE = (
    "PostgreSQL can be a job queue. With FOR UPDATE SKIP LOCKED, many workers claim "
    "different rows without blocking each other, and the queue shares transactions "
    "with the rest of the data."
)


def job_body(kind: str = "summary", **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "input": {"text": ARTICLE}, **extra}


def db_rows(database_url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(to_libpq_url(database_url)) as conn:
        return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]


@pytest.fixture
def org(client: TestClient) -> tuple[str, dict[str, str]]:
    _, headers = new_user(client, "owner")
    return create_org(client, headers), headers


def submit(
    client: TestClient,
    org: tuple[str, dict[str, str]],
    body: dict[str, Any] | None = None,
    **headers: str,
) -> httpx.Response:
    org_id, auth = org
    return client.post(
        f"/v1/orgs/{org_id}/jobs", json=body or job_body(), headers={**auth, **headers}
    )


class TestSubmit:
    def test_accepted_job_is_queued_and_takes_one_unit(
        self, client: TestClient, org: tuple[str, dict[str, str]], database_url: str
    ) -> None:
        response = submit(client, org)
        assert response.status_code == 202, response.text
        job = response.json()
        assert job["status"] == "queued"
        assert job["input"]["text"] == ARTICLE
        assert db_rows(database_url, "SELECT jobs_used FROM usage_counters") == [(1,)]

    def test_invalid_input_names_the_field_and_writes_nothing(
        self, client: TestClient, org: tuple[str, dict[str, str]], database_url: str
    ) -> None:
        response = submit(client, org, {"kind": "summary", "input": {"text": "short"}})
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["field"] == "input.text"
        assert db_rows(database_url, "SELECT count(*) FROM content_jobs") == [(0,)]
        assert db_rows(database_url, "SELECT count(*) FROM usage_counters") == [(0,)]

    def test_unknown_kind_is_a_validation_error(
        self, client: TestClient, org: tuple[str, dict[str, str]]
    ) -> None:
        response = submit(client, org, {"kind": "poem", "input": {"text": ARTICLE}})
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "kind"

    def test_kind_outside_the_plan_asks_for_an_upgrade(
        self, client: TestClient, org: tuple[str, dict[str, str]]
    ) -> None:
        response = submit(client, org, job_body("full_pack"))
        assert response.status_code == 402
        assert response.json()["code"] == "plan_upgrade_required"

    def test_priority_above_the_plan_is_refused(
        self, client: TestClient, org: tuple[str, dict[str, str]]
    ) -> None:
        response = submit(client, org, job_body(priority=3))
        assert response.status_code == 422
        assert "priority" in response.json()["detail"]

    def test_over_quota_answers_402_with_limit_usage_and_reset(
        self,
        client: TestClient,
        org: tuple[str, dict[str, str]],
        database_url: str,
        plans_file: Callable[[str], None],
    ) -> None:
        plans_file("[plans.free]\nmonthly_quota = 2\n")
        assert submit(client, org).status_code == 202
        assert submit(client, org).status_code == 202
        response = submit(client, org)
        assert response.status_code == 402
        problem = response.json()
        assert problem["code"] == "quota_exceeded"
        assert (problem["limit"], problem["used"]) == (2, 2)
        assert problem["resets_at"].endswith("T00:00:00+00:00")
        assert db_rows(database_url, "SELECT count(*) FROM content_jobs") == [(2,)]


class TestIdempotency:
    def test_retried_post_returns_the_first_job(
        self, client: TestClient, org: tuple[str, dict[str, str]], database_url: str
    ) -> None:
        first = submit(client, org, **{"Idempotency-Key": "k1"})
        again = submit(client, org, **{"Idempotency-Key": "k1"})
        assert first.status_code == again.status_code == 202
        assert again.json()["id"] == first.json()["id"]
        assert again.headers["Idempotent-Replayed"] == "true"
        assert db_rows(database_url, "SELECT jobs_used FROM usage_counters") == [(1,)]

    def test_same_key_with_another_body_is_a_conflict(
        self, client: TestClient, org: tuple[str, dict[str, str]]
    ) -> None:
        submit(client, org, **{"Idempotency-Key": "k2"})
        response = submit(client, org, job_body("key_points"), **{"Idempotency-Key": "k2"})
        assert response.status_code == 409
        assert response.json()["code"] == "idempotency_key_reused"

    def test_same_key_sent_20_times_at_once_makes_one_job_and_one_unit(
        self,
        client: TestClient,
        org: tuple[str, dict[str, str]],
        database_url: str,
        live_server: Callable[..., str],
    ) -> None:
        base = live_server()
        org_id, auth = org

        def post(_: int) -> tuple[int, str]:
            r = httpx.post(
                f"{base}/v1/orgs/{org_id}/jobs",
                json=job_body(),
                headers={**auth, "Idempotency-Key": "same"},
                timeout=30,
            )
            return r.status_code, r.json()["id"]

        with ThreadPoolExecutor(20) as pool:
            results = list(pool.map(post, range(20)))
        assert {code for code, _ in results} == {202}
        assert len({job_id for _, job_id in results}) == 1
        assert db_rows(database_url, "SELECT count(*) FROM content_jobs") == [(1,)]
        assert db_rows(database_url, "SELECT jobs_used FROM usage_counters") == [(1,)]


class TestQuotaUnderConcurrency:
    def test_200_concurrent_submissions_against_a_limit_of_50(
        self,
        client: TestClient,
        org: tuple[str, dict[str, str]],
        database_url: str,
        live_server: Callable[..., str],
        plans_file: Callable[[str], None],
    ) -> None:
        plans_file("[plans.free]\nmonthly_quota = 50\n")
        base = live_server()
        org_id, auth = org

        def post(_: int) -> int:
            return httpx.post(
                f"{base}/v1/orgs/{org_id}/jobs", json=job_body(), headers=auth, timeout=60
            ).status_code

        with ThreadPoolExecutor(40) as pool:
            codes = list(pool.map(post, range(200)))
        assert codes.count(202) == 50
        assert codes.count(402) == 150
        assert db_rows(database_url, "SELECT count(*) FROM content_jobs") == [(50,)]
        assert db_rows(database_url, "SELECT jobs_used FROM usage_counters") == [(50,)]


class TestMonthRollover:
    def test_a_new_month_starts_a_new_counter(
        self, client: TestClient, org: tuple[str, dict[str, str]], database_url: str
    ) -> None:
        org_id, _ = org
        with psycopg.connect(to_libpq_url(database_url), autocommit=True) as conn:
            conn.execute(
                "INSERT INTO usage_counters (id, org_id, period_month, jobs_used) VALUES"
                " (gen_random_uuid(), %s, (date_trunc('month', now()) - interval '1 month')::date,"
                " 20)",
                (org_id,),
            )
        assert submit(client, org).status_code == 202  # last month's full quota is history
        rows = db_rows(database_url, "SELECT jobs_used FROM usage_counters ORDER BY period_month")
        assert rows == [(20,), (1,)]
        usage = client.get(f"/v1/orgs/{org_id}/usage", headers=org[1]).json()
        assert (usage["jobs_used"], usage["jobs_limit"], usage["jobs_remaining"]) == (1, 20, 19)
        assert [m["jobs_used"] for m in usage["history"]] == [20]


class TestListing:
    def test_pages_through_every_job_newest_first(
        self,
        client: TestClient,
        org: tuple[str, dict[str, str]],
        database_url: str,
        plans_file: Callable[[str], None],
    ) -> None:
        plans_file("[plans.free]\nmonthly_quota = 100\n")
        org_id, auth = org
        for i in range(23):
            submit(client, org, job_body("key_points" if i % 3 else "summary"))
        seen: list[str] = []
        cursor = None
        while True:
            params = {"limit": 5, **({"after": cursor} if cursor else {})}
            page = client.get(f"/v1/orgs/{org_id}/jobs", params=params, headers=auth).json()
            seen += [j["id"] for j in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        expected = db_rows(
            database_url, "SELECT id::text FROM content_jobs ORDER BY created_at DESC, id DESC"
        )
        assert seen == [r[0] for r in expected]
        only = client.get(
            f"/v1/orgs/{org_id}/jobs", params={"kind": "summary", "limit": 50}, headers=auth
        ).json()["items"]
        assert len(only) == 8
        assert {j["kind"] for j in only} == {"summary"}

    def test_a_bad_cursor_is_a_422_naming_it(
        self, client: TestClient, org: tuple[str, dict[str, str]]
    ) -> None:
        org_id, auth = org
        r = client.get(f"/v1/orgs/{org_id}/jobs", params={"after": "nope"}, headers=auth)
        assert r.status_code == 422
        assert r.json()["detail"].startswith("after")
        assert r.json()["errors"] == [
            {"field": "after", "in": "query", "message": "invalid cursor"}
        ]

    def test_listing_is_served_by_the_org_created_index_at_any_depth(
        self, database_url: str
    ) -> None:
        with psycopg.connect(to_libpq_url(database_url), autocommit=True) as conn:
            conn.execute(
                "INSERT INTO organizations (id, name) SELECT gen_random_uuid(), 'o' || g"
                " FROM generate_series(1, 200) g"
            )
            conn.execute(
                "INSERT INTO content_jobs (id, org_id, kind, input, status, created_at)"
                " SELECT gen_random_uuid(), o.id, 'summary', '{}', 'succeeded',"
                "        now() - g * interval '1 second'"
                " FROM organizations o, generate_series(1, 300) g"
            )
            conn.execute("ANALYZE content_jobs")
            # A cursor 100 rows deep, with 200 older rows of the org still to page through
            # (after the very last row, a 1-row range, PostgreSQL 15 rightly just sorts it).
            org_id, created_at, job_id = conn.execute(
                "SELECT org_id, created_at, id FROM content_jobs"
                " WHERE org_id = (SELECT id FROM organizations ORDER BY id LIMIT 1)"
                " ORDER BY created_at DESC, id DESC OFFSET 99 LIMIT 1"
            ).fetchone()  # type: ignore[misc]
            from pressroom.pagination import Cursor

            engine = make_engine(database_url, pool_size=1)
            with Session(engine) as session:
                scope = scope_to_orgs(session, [org_id])
            engine.dispose()
            for cursor in (None, Cursor(created_at, job_id)):
                sql = str(
                    list_jobs_query(scope, limit=51, cursor=cursor).compile(
                        dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
                    )
                )
                plan = "\n".join(r[0] for r in conn.execute(f"EXPLAIN {sql}"))
                assert "idx_content_jobs_org_created_desc" in plan, plan
                assert "Seq Scan" not in plan, plan
                sort_nodes = [
                    line for line in plan.splitlines() if "Sort" in line and "Key:" not in line
                ]
                assert all("Incremental Sort" in line for line in sort_nodes), plan


def run_one_job(database_url: str, artifacts: list[ArtifactRow]) -> None:
    engine = make_engine(database_url, pool_size=1)
    with system_engine(engine, SystemDuty.WORKER).begin() as conn:
        (claim,) = queue.claim(
            conn, worker_id="t", limit=1, lease_seconds=30, policy=ConcurrencyPolicy({}, 5)
        )
        queue.complete_many(conn, [Success(claim, artifacts)])
    engine.dispose()


class TestCancelAndRetry:
    def test_canceling_a_queued_job_gives_its_unit_back(
        self, client: TestClient, org: tuple[str, dict[str, str]], database_url: str
    ) -> None:
        org_id, auth = org
        job_id = submit(client, org).json()["id"]
        r = client.post(f"/v1/orgs/{org_id}/jobs/{job_id}/cancel", headers=auth)
        assert r.json()["status"] == "canceled"
        assert db_rows(database_url, "SELECT jobs_used FROM usage_counters") == [(0,)]
        again = client.post(f"/v1/orgs/{org_id}/jobs/{job_id}/cancel", headers=auth)
        assert again.status_code == 409
        assert db_rows(database_url, "SELECT jobs_used FROM usage_counters") == [(0,)]

    def test_canceling_a_running_job_requests_it(
        self, client: TestClient, org: tuple[str, dict[str, str]], database_url: str
    ) -> None:
        org_id, auth = org
        job_id = submit(client, org).json()["id"]
        with psycopg.connect(to_libpq_url(database_url), autocommit=True) as conn:
            conn.execute("UPDATE content_jobs SET status = 'running' WHERE id = %s", (job_id,))
        r = client.post(f"/v1/orgs/{org_id}/jobs/{job_id}/cancel", headers=auth)
        assert r.status_code == 200
        assert r.json()["status"] == "running"
        assert r.json()["cancel_requested_at"] is not None

    def test_retry_requeues_a_failed_job_and_takes_a_unit(
        self, client: TestClient, org: tuple[str, dict[str, str]], database_url: str
    ) -> None:
        org_id, auth = org
        job_id = submit(client, org).json()["id"]
        assert (
            client.post(f"/v1/orgs/{org_id}/jobs/{job_id}/retry", headers=auth).status_code == 409
        )
        with psycopg.connect(to_libpq_url(database_url), autocommit=True) as conn:
            conn.execute(
                "UPDATE content_jobs SET status = 'failed', error = 'x' WHERE id = %s", (job_id,)
            )
        r = client.post(f"/v1/orgs/{org_id}/jobs/{job_id}/retry", headers=auth)
        assert r.status_code == 202
        assert (r.json()["status"], r.json()["error"]) == ("queued", None)
        assert db_rows(database_url, "SELECT jobs_used FROM usage_counters") == [(2,)]


class TestArtifacts:
    def test_listed_by_type_and_served_with_their_media_type(
        self, client: TestClient, org: tuple[str, dict[str, str]], database_url: str
    ) -> None:
        org_id, auth = org
        job_id = submit(client, org).json()["id"]
        run_one_job(
            database_url,
            [
                ArtifactRow("summary", "text/plain; charset=utf-8", "A summary."),
                ArtifactRow("rendered_html", "text/html; charset=utf-8", "<p>Hi</p>"),
            ],
        )
        listed = client.get(
            f"/v1/orgs/{org_id}/jobs/{job_id}/artifacts",
            params={"type": "rendered_html"},
            headers=auth,
        ).json()
        assert [a["type"] for a in listed] == ["rendered_html"]
        content = client.get(listed[0]["content_url"], headers=auth)
        assert content.text == "<p>Hi</p>"
        assert content.headers["content-type"].startswith("text/html")

    def test_another_orgs_artifact_is_not_found(
        self, client: TestClient, org: tuple[str, dict[str, str]], database_url: str
    ) -> None:
        org_id, auth = org
        submit(client, org)
        run_one_job(database_url, [ArtifactRow("summary", "text/plain", "secret")])
        (artifact_id,) = db_rows(database_url, "SELECT id::text FROM content_artifacts")[0]
        own = client.get(f"/v1/orgs/{org_id}/artifacts/{artifact_id}/content", headers=auth)
        assert own.text == "secret"
        _, stranger = new_user(client, "stranger")
        other_org = create_org(client, stranger, "Other")
        r = client.get(f"/v1/orgs/{other_org}/artifacts/{artifact_id}/content", headers=stranger)
        assert r.status_code == 404
        assert "secret" not in r.text


class TestMetrics:
    def test_metrics_report_the_queue(
        self, client: TestClient, org: tuple[str, dict[str, str]]
    ) -> None:
        submit(client, org)
        submit(client, org)
        body = client.get("/metrics").text
        assert "pressroom_queue_depth 2.0" in body
        assert "pressroom_jobs_running 0.0" in body
