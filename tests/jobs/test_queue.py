"""The queue's state changes, on a real database, through pressroom.jobs.queue."""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from pressroom.db.session import make_engine
from pressroom.db.tenancy import SystemDuty, system_engine
from pressroom.jobs import queue
from pressroom.jobs.queue import ArtifactRow, Claim, ConcurrencyPolicy, Success
from pressroom.jobs.worker.retry_policy import RetryPolicy
from tests.factories import connect, job_status, make_jobs, make_org

POLICY = ConcurrencyPolicy(max_running_by_plan={"pro": 5}, default_max_running=2)

RETRY = RetryPolicy()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url, pool_size=12)
    # These tests play the worker: its engine's standing duty.
    yield system_engine(engine, SystemDuty.WORKER)
    engine.dispose()


def claim(engine: Engine, limit: int = 10, lease: float = 30, worker: str = "w") -> list[Claim]:
    with engine.begin() as conn:
        claims = queue.claim(
            conn, worker_id=worker, limit=limit, lease_seconds=lease, policy=POLICY
        )
    if lease == 0:
        time.sleep(0.01)  # let the clock move past the (already reached) expiry
    return claims


class TestClaimAndComplete:
    def test_claimed_job_runs_once_and_completes_with_artifacts(
        self, engine: Engine, database_url: str
    ) -> None:
        with connect(database_url) as db:
            org = make_org(db)
            (job,) = make_jobs(db, org)
        (claimed,) = claim(engine)
        assert claimed.id == job
        assert claimed.attempts == 1
        assert claim(engine) == []  # leased: nobody else gets it
        with engine.begin() as conn:
            written = queue.complete_many(
                conn, [Success(claimed, [ArtifactRow("summary", "text/plain", "hé")])]
            )
        assert written == {job: "succeeded"}
        with connect(database_url) as db:
            assert job_status(db, job) == "succeeded"
            assert db.execute(
                "SELECT type, size_bytes FROM content_artifacts WHERE job_id = %s", (job,)
            ).fetchall() == [("summary", 3)]

    def test_stale_lease_cannot_overwrite_a_newer_attempt(
        self, engine: Engine, database_url: str
    ) -> None:
        with connect(database_url) as db:
            org = make_org(db)
            make_jobs(db, org)
        (first,) = claim(engine, lease=0)
        with engine.begin() as conn:
            assert queue.rescue_expired(conn, RETRY).requeued == 1
        (second,) = claim(engine)
        assert second.lease_token != first.lease_token
        with engine.begin() as conn:
            assert not queue.complete_many(
                conn, [Success(first, [ArtifactRow("summary", "text/plain", "old")])]
            )
        with engine.begin() as conn:
            assert queue.complete_many(
                conn, [Success(second, [ArtifactRow("summary", "text/plain", "new")])]
            )
        with connect(database_url) as db:
            rows = db.execute("SELECT content FROM content_artifacts").fetchall()
        assert rows == [("new",)]


class TestBatchCompletion:
    def test_each_job_of_a_batch_is_written_only_under_its_own_lease(
        self, engine: Engine, database_url: str
    ) -> None:
        with connect(database_url) as db:
            make_jobs(db, make_org(db), 2)
        kept, taken_over = claim(engine)
        with connect(database_url) as db:  # another worker's newer attempt
            db.execute(
                "UPDATE content_jobs SET lease_token = gen_random_uuid() WHERE id = %s",
                (taken_over.id,),
            )
        with engine.begin() as conn:
            written = queue.complete_many(
                conn,
                [
                    queue.Success(c, [ArtifactRow("summary", "text/plain", str(c.id))])
                    for c in (kept, taken_over)
                ],
            )
        assert written == {kept.id: "succeeded"}
        with connect(database_url) as db:
            assert job_status(db, kept.id) == "succeeded"
            assert job_status(db, taken_over.id) == "running"
            rows = db.execute("SELECT job_id FROM content_artifacts").fetchall()
        assert rows == [(kept.id,)]


class TestRetries:
    def test_transient_failure_requeues_with_backoff_until_attempts_run_out(
        self, engine: Engine, database_url: str
    ) -> None:
        with connect(database_url) as db:
            org = make_org(db)
            (job,) = make_jobs(db, org, max_attempts=2)
            db.execute(
                "INSERT INTO usage_counters (id, org_id, period_month, jobs_used)"
                " VALUES (gen_random_uuid(), %s, date_trunc('month', now())::date, 1)",
                (org,),
            )
        (c1,) = claim(engine)
        with engine.begin() as conn:
            assert (
                queue.retry_or_fail(conn, c1, "timeout", retryable=True, policy=RETRY) == "queued"
            )
        assert claim(engine) == []  # backing off: run_after is in the future
        with connect(database_url) as db:
            db.execute("UPDATE content_jobs SET run_after = now() WHERE id = %s", (job,))
        (c2,) = claim(engine)
        assert c2.attempts == 2
        with engine.begin() as conn:
            assert (
                queue.retry_or_fail(conn, c2, "timeout", retryable=True, policy=RETRY) == "failed"
            )
        with connect(database_url) as db:
            assert job_status(db, job) == "failed"
            used = db.execute("SELECT jobs_used FROM usage_counters").fetchone()
            assert used == (0,)  # a system failure gives its unit back
            # ...exactly once
            from pressroom.usage.service import refund_job

            with engine.begin() as conn:
                assert not refund_job(conn, job)
            assert db.execute("SELECT jobs_used FROM usage_counters").fetchone() == (0,)

    def test_bad_input_fails_at_once_without_refund(
        self, engine: Engine, database_url: str
    ) -> None:
        with connect(database_url) as db:
            org = make_org(db)
            (job,) = make_jobs(db, org)
        (c,) = claim(engine)
        with engine.begin() as conn:
            status = queue.retry_or_fail(
                conn, c, "bad", retryable=False, refundable=False, policy=RETRY
            )
        assert status == "failed"
        with connect(database_url) as db:
            row = db.execute(
                "SELECT quota_refunded_at FROM content_jobs WHERE id = %s", (job,)
            ).fetchone()
        assert row == (None,)


class TestCancelAtCompletion:
    """A cancellation requested while the job ran wins over the run's own ending."""

    def _running_with_cancel_requested(self, engine: Engine, database_url: str) -> Claim:
        with connect(database_url) as db:
            (job,) = make_jobs(db, make_org(db))
        (claimed,) = claim(engine)
        with connect(database_url) as db:
            db.execute("UPDATE content_jobs SET cancel_requested_at = now() WHERE id = %s", (job,))
        return claimed

    def test_a_success_is_written_canceled_without_artifacts(
        self, engine: Engine, database_url: str
    ) -> None:
        c = self._running_with_cancel_requested(engine, database_url)
        with engine.begin() as conn:
            done = [Success(c, [ArtifactRow("summary", "text/plain", "late")])]
            assert queue.complete_many(conn, done) == {c.id: "canceled"}
        with connect(database_url) as db:
            assert job_status(db, c.id) == "canceled"
            assert db.execute("SELECT count(*) FROM content_artifacts").fetchone() == (0,)

    def test_a_retryable_failure_is_not_requeued(self, engine: Engine, database_url: str) -> None:
        c = self._running_with_cancel_requested(engine, database_url)
        with engine.begin() as conn:
            status = queue.retry_or_fail(conn, c, "timeout", retryable=True, policy=RETRY)
        assert status == "canceled"


class TestRescue:
    def test_job_whose_worker_keeps_dying_ends_failed_past_the_lease_expiry_cap(
        self, engine: Engine, database_url: str
    ) -> None:
        policy = RetryPolicy(base_seconds=0, max_lease_expiries=3)
        with connect(database_url) as db:
            org = make_org(db)
            # One attempt only: crashes must not spend it.
            (job,) = make_jobs(db, org, max_attempts=1)
        for expected in ("queued", "queued", "failed"):
            (_claimed,) = claim(engine, lease=0)
            with engine.begin() as conn:
                queue.rescue_expired(conn, policy)
            with connect(database_url) as db:
                assert job_status(db, job) == expected
                row = db.execute(
                    "SELECT attempts, lease_expiries FROM content_jobs WHERE id = %s", (job,)
                ).fetchone()
            assert row is not None
            assert row[0] == 0  # the crashed attempts were given back

    def test_a_rescued_job_whose_cancel_was_requested_ends_canceled(
        self, engine: Engine, database_url: str
    ) -> None:
        with connect(database_url) as db:
            (job,) = make_jobs(db, make_org(db))
        claim(engine, lease=0)
        with connect(database_url) as db:
            db.execute("UPDATE content_jobs SET cancel_requested_at = now() WHERE id = %s", (job,))
        with engine.begin() as conn:
            assert queue.rescue_expired(conn, RETRY).canceled == 1
        with connect(database_url) as db:
            assert job_status(db, job) == "canceled"

    def test_release_on_shutdown_does_not_burn_an_attempt(
        self, engine: Engine, database_url: str
    ) -> None:
        with connect(database_url) as db:
            make_jobs(db, make_org(db))
        (c,) = claim(engine)
        with engine.begin() as conn:
            assert queue.release(conn, c)
        (again,) = claim(engine)
        assert again.attempts == 1


class TestFairness:
    def test_a_big_backlog_does_not_starve_another_orgs_single_job(
        self, engine: Engine, database_url: str
    ) -> None:
        with connect(database_url) as db:
            big = make_org(db, "big")
            make_jobs(db, big, 10_000)
            small = make_org(db, "small")
            (lonely,) = make_jobs(db, small)
        claimed = claim(engine, limit=4)
        assert lonely in {c.id for c in claimed}

    def test_oldest_waiting_org_first_and_priority_within_an_org(
        self, engine: Engine, database_url: str
    ) -> None:
        with connect(database_url) as db:
            org = make_org(db)
            low = make_jobs(db, org, priority=0)
            high = make_jobs(db, org, priority=5)
        (first,) = claim(engine, limit=1)
        assert first.id == high[0]
        assert low


class TestConcurrencyLimit:
    def test_orgs_at_their_limit_do_not_hide_other_orgs_work(
        self, engine: Engine, database_url: str
    ) -> None:
        with connect(database_url) as db:
            full = [make_org(db, f"old{i}") for i in range(2)]
            for org in full:  # waited longest, so first in line, until they are full
                make_jobs(db, org, 10, run_after_sql="now() - interval '1 hour'")
            newer = make_org(db, "newer")
            make_jobs(db, newer, 10)
        for _ in range(POLICY.default_max_running):
            assert {c.org_id for c in claim(engine, limit=2)} == set(full)
        assert {c.org_id for c in claim(engine, limit=2)} == {newer}

    def test_an_org_never_runs_more_than_its_plan_allows_under_concurrent_claims(
        self, engine: Engine, database_url: str
    ) -> None:
        with connect(database_url) as db:
            org = make_org(db)
            make_jobs(db, org, 200)
        barrier = threading.Barrier(10)
        results: list[int] = []

        def claimer() -> None:
            barrier.wait()
            for _ in range(20):
                results.append(len(claim(engine, limit=3, worker=str(uuid.uuid4()))))

        threads = [threading.Thread(target=claimer) for _ in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with engine.connect() as conn:
            running = conn.execute(
                text("SELECT count(*) FROM content_jobs WHERE status = 'running'")
            ).scalar()
        assert running == POLICY.default_max_running
        assert sum(results) == POLICY.default_max_running

    def test_the_plan_of_a_live_subscription_sets_the_limit(
        self, engine: Engine, database_url: str
    ) -> None:
        with connect(database_url) as db:
            org = make_org(db)
            make_jobs(db, org, 20)
            db.execute(
                "INSERT INTO subscriptions (id, org_id, provider, provider_subscription_id,"
                " plan, status) VALUES (gen_random_uuid(), %s, 'stripe', 'sub_1', 'pro',"
                " 'active')",
                (org,),
            )
        assert len(claim(engine, limit=20)) == 5


class TestPolicyFromPlans:
    def test_limits_come_from_the_plan_catalog(self) -> None:
        from pressroom.billing.plans import build_catalog
        from pressroom.jobs.policy import concurrency_policy

        policy = concurrency_policy(build_catalog({"pro": {"max_concurrent_jobs": 7}}))
        assert policy.max_running_by_plan["pro"] == 7
        assert policy.default_max_running == build_catalog().plans["free"].max_concurrent_jobs


class TestCompleteAndClaimInOneTransaction:
    """The completer records a batch and claims the next jobs in one transaction."""

    def complete_and_claim(self, engine: Engine, done: list[Claim], limit: int) -> list[Claim]:
        with engine.begin() as conn:
            queue.complete_many(conn, [Success(c, []) for c in done])
            return queue.claim(conn, worker_id="w2", limit=limit, lease_seconds=30, policy=POLICY)

    def test_the_slots_freed_by_the_batch_are_claimed_and_no_more(
        self, engine: Engine, database_url: str
    ) -> None:
        with connect(database_url) as db:
            org = make_org(db)
            make_jobs(db, org, 10)
        first = claim(engine, limit=10)
        assert len(first) == POLICY.default_max_running
        nxt = self.complete_and_claim(engine, first[:1], limit=10)
        assert len(nxt) == 1  # one slot freed in this transaction, one taken
        with engine.connect() as conn:
            running = conn.execute(
                text("SELECT count(*) FROM content_jobs WHERE status = 'running'")
            ).scalar()
        assert running == POLICY.default_max_running
        with connect(database_url) as db:
            assert job_status(db, first[0].id) == "succeeded"

    def test_a_claim_beside_the_fused_one_never_exceeds_the_limit(
        self, engine: Engine, database_url: str
    ) -> None:
        with connect(database_url) as db:
            org = make_org(db)
            make_jobs(db, org, 400)
        held = claim(engine, limit=10)
        barrier = threading.Barrier(6)
        over: list[int] = []

        def completer() -> None:
            nonlocal held
            barrier.wait()
            for _ in range(30):
                held = self.complete_and_claim(engine, held, limit=10)

        def claimer() -> None:
            barrier.wait()
            for _ in range(30):
                taken = claim(engine, limit=3, worker=str(uuid.uuid4()))
                with engine.connect() as conn:
                    running = conn.execute(
                        text("SELECT count(*) FROM content_jobs WHERE status = 'running'")
                    ).scalar_one()
                if running > POLICY.default_max_running:
                    over.append(running)
                with engine.begin() as conn:
                    queue.complete_many(conn, [Success(c, []) for c in taken])

        threads = [threading.Thread(target=completer)] + [
            threading.Thread(target=claimer) for _ in range(5)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert over == []

    def test_fairness_holds_for_the_fused_claim(self, engine: Engine, database_url: str) -> None:
        with connect(database_url) as db:
            big = make_org(db, "big")
            make_jobs(db, big, 1_000, run_after_sql="now() - interval '1 hour'")
            small = make_org(db, "small")
            (lonely,) = make_jobs(db, small)
        held = claim(engine, limit=1)
        assert {c.org_id for c in held} == {big}
        nxt = self.complete_and_claim(engine, held, limit=2)
        assert lonely in {c.id for c in nxt}

    def test_a_lost_lease_in_the_batch_is_not_written_and_frees_nothing(
        self, engine: Engine, database_url: str
    ) -> None:
        with connect(database_url) as db:
            org = make_org(db)
            make_jobs(db, org, 5)
        held = claim(engine, limit=2)
        stale = dataclasses.replace(held[0], lease_token=uuid.uuid4())
        nxt = self.complete_and_claim(engine, [stale], limit=5)
        assert nxt == []  # the org is still at its limit: the stale write changed nothing
        with connect(database_url) as db:
            assert job_status(db, held[0].id) == "running"
