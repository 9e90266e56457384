"""What the jobs API sends to PostgreSQL, statement by statement, and what it locks.

Submissions of one org queue on its usage counter row, locked from the quota upsert until
commit, so nothing may run after the upsert, and a refused submission must not lock it at
all; listings must not fetch the job inputs (articles of up to 200k characters) that they
do not show. The benchmark
(`python -m bench.jobs_api`, docs/jobs.md) measures what these cost; these tests keep them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from bench.api.statements import WireCounter
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from pressroom.db.session import make_engine
from pressroom.db.tenancy import scope_to_orgs
from pressroom.db.url import to_libpq_url
from pressroom.usage.service import QuotaExceeded, consume, period_of
from tests.http import create_api_key, create_org, make_client, new_user

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
    @pytest.mark.parametrize("auth", ["API key", "JWT"])
    def test_the_counter_upsert_is_the_last_statement_and_the_job_is_not_read_back(
        self, wire: Any, auth: str
    ) -> None:
        client, counter, org_id, headers = wire
        submit(client, org_id, headers[auth])  # the statements get prepared
        with counter.count() as counted:
            job = submit(client, org_id, headers[auth])
        sent = counted.sql
        assert sent[-1] == "COMMIT", sent
        assert "INSERT INTO usage_counters" in sent[-2], sent
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
        assert "INSERT INTO usage_counters" in sent[-1], sent


class TestListingSkipsInputs:
    def test_the_listing_query_does_not_fetch_the_input_column(self, wire: Any) -> None:
        client, counter, org_id, headers = wire
        submit(client, org_id, headers["JWT"])
        with counter.count() as counted:
            pages = [client.get(f"/v1/orgs/{org_id}/jobs", headers=headers["JWT"]).json()]
        (listing,) = [s for s in counted.sql if "FROM content_jobs" in s]
        assert "content_jobs.input" not in listing
        assert "content_jobs.created_at" in listing
        assert len(pages[0]["items"]) == 1
        assert "input" not in pages[0]["items"][0]


class TestRefusalsTakeNoLock:
    def test_a_refused_submission_does_not_hold_the_counter_row(self, database_url: str) -> None:
        now = datetime.now(UTC)
        org_id = uuid.uuid4()
        with psycopg.connect(to_libpq_url(database_url), autocommit=True) as conn:
            conn.execute("INSERT INTO organizations (id, name) VALUES (%s, 'Full')", (org_id,))
            conn.execute(
                "INSERT INTO usage_counters (id, org_id, period_month, jobs_used)"
                " VALUES (gen_random_uuid(), %s, %s, 5)",
                (org_id, period_of(now)),
            )
        engine = make_engine(database_url, pool_size=2)
        try:
            with Session(engine) as first, Session(engine) as second:
                with pytest.raises(QuotaExceeded):
                    consume(first, scope_to_orgs(first, [org_id]), limit=5, now=now)
                # `first` is still open: had it locked the row, this would fail, not wait.
                second.execute(text("SET LOCAL lock_timeout = '2s'"))
                scope = scope_to_orgs(second, [org_id])
                with pytest.raises(QuotaExceeded) as refused:
                    consume(second, scope, limit=5, now=now)
                assert (refused.value.extra["used"], refused.value.extra["limit"]) == (5, 5)
                # Room again (a bigger plan): the unit is taken, the counter moves.
                assert consume(second, scope, limit=6, now=now).used == 6
        finally:
            engine.dispose()


# --- statements per request, on the wire (BEGIN, COMMIT and the RLS settings included) ----

# Issue 13's targets. A read: BEGIN, the access statement (entering the runtime role and its
# duty itself, then the credential, org, role and scope), the page, COMMIT. A submission:
# BEGIN, the access statement (reading the plan and the month's usage too), the insert
# (its RETURNING carries the NOTIFY), the quota unit, COMMIT.
READ_TARGET, SUBMIT_TARGET = 4, 5


@pytest.fixture
def wire(
    database_url: str,
) -> Iterator[tuple[TestClient, WireCounter, str, dict[str, dict[str, str]]]]:
    client, engine = make_client(database_url)
    # Before the first connection of the engine and of the async pool: all are traced.
    counter = WireCounter(engine, client.app.state.async_pool)  # type: ignore[attr-defined]
    _, user = new_user(client, "owner")
    org_id = create_org(client, user)
    key = create_api_key(client, user, org_id, ["jobs:read", "jobs:write"])["key"]
    yield client, counter, org_id, {"JWT": user, "API key": {"Authorization": f"Bearer {key}"}}
    engine.dispose()


def _count(counter: WireCounter, send: Any) -> int:
    send()  # the first of each kind prepares what it can; count the steady state
    with counter.count() as counted:
        response = send()
    assert response.status_code < 300, response.text
    assert counted.sql[0] == "BEGIN"
    assert counted.sql[-1] == "COMMIT"
    return counted.statements


def _list(client: TestClient, org_id: str, headers: dict[str, str]) -> Any:
    return client.get(f"/v1/orgs/{org_id}/jobs", headers=headers)


class TestStatementsPerRequest:
    @pytest.mark.parametrize("auth", ["API key", "JWT"])
    @pytest.mark.parametrize("path", ["jobs", "jobs/counts"])
    def test_a_read_sends_at_most_the_target(self, wire: Any, auth: str, path: str) -> None:
        client, counter, org_id, headers = wire
        submit(client, org_id, headers[auth])
        read = lambda: client.get(f"/v1/orgs/{org_id}/{path}", headers=headers[auth])  # noqa: E731
        assert _count(counter, read) <= READ_TARGET

    @pytest.mark.parametrize("auth", ["API key", "JWT"])
    def test_a_submission_sends_at_most_the_target(self, wire: Any, auth: str) -> None:
        client, counter, org_id, headers = wire
        assert _count(counter, lambda: _post(client, org_id, headers[auth])) <= SUBMIT_TARGET


def _post(client: TestClient, org_id: str, headers: dict[str, str]) -> Any:
    return client.post(
        f"/v1/orgs/{org_id}/jobs",
        json={"kind": "summary", "input": {"text": ARTICLE}},
        headers=headers,
    )


class TestPerRequestWork:
    def test_a_request_does_not_rebuild_its_dependencies(
        self,
        api: tuple[TestClient, Recorder, str, dict[str, str]],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        # FastAPI re-derives each dependency from its signature on every request while the
        # app has any dependency override: a quarter of a listing's CPU, for nothing.
        import fastapi.dependencies.utils as fastapi_dependencies

        client, _, org_id, headers = api
        listing = f"/v1/orgs/{org_id}/jobs"
        assert client.get(listing, headers=headers).status_code == 200  # routes built lazily
        built: list[object] = []
        real = fastapi_dependencies.get_dependant

        def counting(*args: Any, **kwargs: Any) -> Any:
            built.append(kwargs.get("call"))
            return real(*args, **kwargs)

        monkeypatch.setattr(fastapi_dependencies, "get_dependant", counting)
        assert client.get(listing, headers=headers).status_code == 200
        assert built == []


class TestErrorsEndWithCommitWhenNothingWasWritten:
    # psycopg forgets a connection's prepared statements on every ROLLBACK: the requests
    # after each 404 would prepare theirs again.
    def test_a_404_commits_and_keeps_the_prepared_statements(self, wire: Any) -> None:
        client, counter, _, headers = wire
        elsewhere = f"/v1/orgs/{uuid.uuid4()}/jobs"
        assert client.get(elsewhere, headers=headers["JWT"]).status_code == 404
        with counter.count() as counted:
            assert client.get(elsewhere, headers=headers["JWT"]).status_code == 404
        assert counted.sql[-1] == "COMMIT", counted.sql
        assert not [s for s in counted.sql if s.startswith(("ROLLBACK", "DEALLOCATE"))]

    def test_a_failure_after_a_write_still_rolls_it_back(self, database_url: str) -> None:
        from pressroom.db.session import unit_of_work

        engine = make_engine(database_url, pool_size=1)
        factory = sessionmaker(bind=engine)

        def write_then_fail() -> None:
            with unit_of_work(factory) as session:
                session.execute(text("CREATE TEMP TABLE IF NOT EXISTS t (x int)"))
                session.execute(text("INSERT INTO t VALUES (1)"))
                raise LookupError

        try:
            with pytest.raises(LookupError):
                write_then_fail()
            with unit_of_work(factory) as session:
                assert session.execute(text("SELECT to_regclass('pg_temp.t')")).scalar() is None
        finally:
            engine.dispose()


class TestSubmitWakesWorkers:
    def test_a_new_job_notifies_once_and_a_replay_not_at_all(
        self, database_url: str, api: tuple[TestClient, Recorder, str, dict[str, str]]
    ) -> None:
        from pressroom.jobs.queue import NOTIFY_CHANNEL

        client, _, org_id, headers = api
        keyed = {**headers, "Idempotency-Key": "once"}
        with psycopg.connect(to_libpq_url(database_url), autocommit=True) as listener:
            listener.execute(f"LISTEN {NOTIFY_CHANNEL}")

            def wake_ups() -> int:
                return sum(1 for _ in listener.notifies(timeout=0.5))

            body = {"kind": "summary", "input": {"text": ARTICLE}}
            first = client.post(f"/v1/orgs/{org_id}/jobs", json=body, headers=keyed)
            assert first.status_code == 202, first.text
            assert wake_ups() == 1
            replay = client.post(f"/v1/orgs/{org_id}/jobs", json=body, headers=keyed)
            assert replay.json()["id"] == first.json()["id"]
            assert wake_ups() == 0


class TestQuotaRefusalsOnTheAsyncPool:
    def test_an_org_at_its_quota_is_refused_before_anything_is_written(
        self, wire: Any, plans_file: Any, database_url: str
    ) -> None:
        client, counter, org_id, headers = wire
        plans_file("[plans.free]\nmonthly_quota = 1\n")
        assert _post(client, org_id, headers["API key"]).status_code == 202
        with counter.count() as counted:
            refused = _post(client, org_id, headers["API key"])
        assert refused.status_code == 402
        assert refused.json()["code"] == "quota_exceeded"
        assert (refused.json()["used"], refused.json()["limit"]) == (1, 1)
        # The access statement read the usage: no insert to undo, so no ROLLBACK (which
        # would cost the connection its prepared statements).
        assert not [s for s in counted.sql if "INSERT INTO content_jobs" in s], counted.sql
        assert counted.sql[-1] == "COMMIT"
        assert not [s for s in counted.sql if s.startswith(("ROLLBACK", "DEALLOCATE"))]
        with psycopg.connect(to_libpq_url(database_url)) as conn:
            assert conn.execute("SELECT count(*) FROM content_jobs").fetchone() == (1,)

    def test_a_retry_with_its_key_is_still_answered_at_the_quota(
        self, wire: Any, plans_file: Any, database_url: str
    ) -> None:
        client, _, org_id, headers = wire
        plans_file("[plans.free]\nmonthly_quota = 1\n")
        keyed = {**headers["JWT"], "Idempotency-Key": "once"}
        first = _post(client, org_id, keyed)
        again = _post(client, org_id, keyed)
        assert (first.status_code, again.status_code) == (202, 202)
        assert again.json()["id"] == first.json()["id"]
        assert again.headers["Idempotent-Replayed"] == "true"
        other = _post(client, org_id, {**headers["JWT"], "Idempotency-Key": "another"})
        assert other.status_code == 402  # the unit is taken last, and rolled back with it
        with psycopg.connect(to_libpq_url(database_url)) as conn:
            assert conn.execute("SELECT count(*) FROM content_jobs").fetchone() == (1,)
            assert conn.execute("SELECT jobs_used FROM usage_counters").fetchone() == (1,)
