"""A 2xx means "stored": every write commits before its answer is sent.

A failure at COMMIT is injected with a deferred constraint trigger (it raises only when the
transaction commits), in the test's own database: the API must answer 5xx and leave
nothing behind. Read-your-write pairs from concurrent clients must never miss.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from pressroom.db.url import to_libpq_url
from tests.http import PASSWORD, bearer, create_org, login, new_user, signup, unique_email
from tests.jobs.conftest import live_server, plans_file

__all__ = ["live_server", "plans_file"]

JOB = {"kind": "summary", "input": {"text": "PostgreSQL is a queue. " * 5}}


class CommitFailure:
    """Makes every later transaction that inserts into `table` fail at COMMIT."""

    def __init__(self, database_url: str) -> None:
        self.url = to_libpq_url(database_url)

    def _execute(self, sql: str) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def arm(self, table: str) -> None:
        self._execute(
            "CREATE OR REPLACE FUNCTION test_fail_at_commit() RETURNS trigger LANGUAGE plpgsql"
            " AS $$ BEGIN RAISE EXCEPTION 'injected failure at COMMIT'; END $$"
        )
        self._execute(
            f"CREATE CONSTRAINT TRIGGER test_fail_at_commit AFTER INSERT ON {table}"
            " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_fail_at_commit()"
        )

    def disarm(self, table: str) -> None:
        self._execute(f"DROP TRIGGER IF EXISTS test_fail_at_commit ON {table}")

    def count(self, sql: str) -> int:
        with psycopg.connect(self.url) as conn:
            row = conn.execute(sql).fetchone()  # type: ignore[arg-type]
        assert row is not None
        return int(row[0])


@pytest.fixture
def commit_failure(database_url: str) -> CommitFailure:
    return CommitFailure(database_url)


def _assert_problem_5xx(response: httpx.Response) -> None:
    assert response.status_code >= 500, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


class TestFailedCommitAnswersNo2xx:
    def test_job_submission(self, client: TestClient, commit_failure: CommitFailure) -> None:
        _, headers = new_user(client)
        org_id = create_org(client, headers)
        commit_failure.arm("content_jobs")
        response = client.post(f"/v1/orgs/{org_id}/jobs", json=JOB, headers=headers)
        _assert_problem_5xx(response)
        assert commit_failure.count("SELECT count(*) FROM content_jobs") == 0
        assert commit_failure.count("SELECT coalesce(sum(jobs_used), 0) FROM usage_counters") == 0
        commit_failure.disarm("content_jobs")
        listed = client.get(f"/v1/orgs/{org_id}/jobs", headers=headers)
        assert listed.json()["items"] == []

    def test_signup(self, client: TestClient, commit_failure: CommitFailure) -> None:
        commit_failure.arm("users")
        email = unique_email()
        response = client.post("/v1/auth/signup", json={"email": email, "password": PASSWORD})
        _assert_problem_5xx(response)
        assert commit_failure.count("SELECT count(*) FROM users") == 0

    def test_login(self, client: TestClient, commit_failure: CommitFailure) -> None:
        email = signup(client)
        commit_failure.arm("auth_sessions")
        response = client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
        _assert_problem_5xx(response)
        assert commit_failure.count("SELECT count(*) FROM auth_sessions") == 0

    def test_org_creation(self, client: TestClient, commit_failure: CommitFailure) -> None:
        _, headers = new_user(client)
        commit_failure.arm("organizations")
        response = client.post("/v1/orgs", json={"name": "Acme"}, headers=headers)
        _assert_problem_5xx(response)
        assert commit_failure.count("SELECT count(*) FROM organizations") == 0
        assert commit_failure.count("SELECT count(*) FROM memberships") == 0

    def test_api_key_creation(self, client: TestClient, commit_failure: CommitFailure) -> None:
        _, headers = new_user(client)
        org_id = create_org(client, headers)
        commit_failure.arm("api_keys")
        response = client.post(
            f"/v1/orgs/{org_id}/api-keys",
            json={"name": "ci", "scopes": ["jobs:read"]},
            headers=headers,
        )
        _assert_problem_5xx(response)
        assert commit_failure.count("SELECT count(*) FROM api_keys") == 0


class TestReadYourWrites:
    def test_400_submit_then_get_pairs_from_concurrent_clients_never_miss(
        self, live_server: Callable[..., str], plans_file: Callable[[str], None]
    ) -> None:
        plans_file("[plans.free]\nmonthly_quota = 1000\nmax_concurrent_jobs = 1\n")
        base = live_server()
        with httpx.Client(base_url=base) as setup:
            _, headers = new_user(setup)  # type: ignore[arg-type]
            org_id = create_org(setup, headers)  # type: ignore[arg-type]

        def pairs(_: int) -> list[str]:
            misses = []
            with httpx.Client(base_url=base, headers=headers, timeout=30) as c:
                for _ in range(50):
                    posted = c.post(f"/v1/orgs/{org_id}/jobs", json=JOB)
                    assert posted.status_code == 202, posted.text
                    job_id = posted.json()["id"]
                    got = c.get(f"/v1/orgs/{org_id}/jobs/{job_id}")
                    if got.status_code != 200:
                        misses.append(f"{job_id}: {got.status_code}")
            return misses

        with ThreadPoolExecutor(8) as pool:
            misses = [m for batch in pool.map(pairs, range(8)) for m in batch]
        assert misses == []

    def test_login_then_an_immediate_authenticated_write_succeeds(
        self, live_server: Callable[..., str]
    ) -> None:
        base = live_server()

        def login_and_write(_: int) -> list[int]:
            failures = []
            with httpx.Client(base_url=base, timeout=30) as c:
                email = signup(c)  # type: ignore[arg-type]
                for _ in range(5):
                    token = login(c, email)["access_token"]  # type: ignore[arg-type]
                    made = c.post("/v1/orgs", json={"name": "Right away"}, headers=bearer(token))
                    if made.status_code != 201:
                        failures.append(made.status_code)
            return failures

        with ThreadPoolExecutor(4) as pool:
            failures = [f for batch in pool.map(login_and_write, range(4)) for f in batch]
        assert failures == []
