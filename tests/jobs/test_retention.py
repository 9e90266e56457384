"""Retention: finished jobs' input and artifacts go once their org's plan stops keeping them;
the job row, usage counters and billing events stay."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from pressroom.billing.plans import build_catalog, get_catalog
from pressroom.cli import app
from pressroom.config import get_settings
from pressroom.db.session import make_engine
from pressroom.jobs.retention import Pruner, pending
from tests.factories import connect, make_jobs, make_org
from tests.jobs.test_worker import WorkerProcesses, wait_for, workers

__all__ = ["workers"]


def subscribe(db: psycopg.Connection[Any], org: uuid.UUID, plan: str) -> None:
    db.execute(
        "INSERT INTO subscriptions (id, org_id, provider, provider_subscription_id, plan, status)"
        " VALUES (gen_random_uuid(), %s, 'stripe', %s, %s, 'active')",
        (org, f"sub_{uuid.uuid4().hex}", plan),
    )


def finished_job(
    db: psycopg.Connection[Any], org: uuid.UUID, days_ago: float, status: str = "succeeded"
) -> uuid.UUID:
    (job,) = make_jobs(db, org)
    db.execute(
        "UPDATE content_jobs SET status = %s, attempts = 1, input = %s,"
        " finished_at = now() - make_interval(days => %s), usage = '{\"tokens\": 7}'"
        " WHERE id = %s",
        (status, json.dumps({"text": "customer content " * 50}), days_ago, job),
    )
    for kind in ("summary", "seo"):
        db.execute(
            "INSERT INTO content_artifacts (id, job_id, type, media_type, content, size_bytes)"
            " VALUES (gen_random_uuid(), %s, %s, 'text/plain', 'secret words', 12)",
            (job, kind),
        )
    return job


def content(db: psycopg.Connection[Any], job: uuid.UUID) -> tuple[Any, ...]:
    row = db.execute(
        "SELECT j.input = '{}'::jsonb, j.content_pruned_at IS NOT NULL,"
        " (SELECT count(*) FROM content_artifacts a WHERE a.job_id = j.id)"
        " FROM content_jobs j WHERE j.id = %s",
        (job,),
    ).fetchone()
    assert row is not None
    return tuple(row)


KEPT = (False, False, 2)
PRUNED = (True, True, 0)


@pytest.fixture
def engine(database_url: str) -> Any:
    eng = make_engine(database_url, pool_size=4)
    yield eng
    eng.dispose()


class TestPerPlanRetention:
    def test_each_plan_keeps_content_for_its_days_and_no_longer(
        self, database_url: str, engine: Any
    ) -> None:
        with connect(database_url) as db:
            free, pro, business = (make_org(db, n) for n in ("free", "pro", "business"))
            subscribe(db, pro, "pro")
            subscribe(db, business, "business")
            jobs = {
                ("free", 10): finished_job(db, free, 10),
                ("free", 31): finished_job(db, free, 31, "failed"),
                ("pro", 60): finished_job(db, pro, 60),
                ("pro", 91): finished_job(db, pro, 91, "canceled"),
                ("business", 200): finished_job(db, business, 200),
                ("business", 366): finished_job(db, business, 366),
            }
            (old_queued,) = make_jobs(db, free, run_after_sql="now() - interval '400 days'")
            db.execute(
                "INSERT INTO usage_counters (id, org_id, period_month, jobs_used)"
                " VALUES (gen_random_uuid(), %s, date_trunc('month', now())::date, 3)",
                (free,),
            )
        result = Pruner(engine).run()
        assert (result.jobs, result.artifacts, result.artifact_bytes) == (3, 6, 72)
        with connect(database_url) as db:
            for (plan, days), job in jobs.items():
                kept = days < {"free": 30, "pro": 90, "business": 365}[plan]
                assert content(db, job) == (KEPT if kept else PRUNED), (plan, days)
            # Metadata stays: status, kind, usage, timestamps; and unfinished jobs are never
            # touched, however old.
            row = db.execute(
                "SELECT status, kind, usage, finished_at IS NOT NULL FROM content_jobs"
                " WHERE id = %s",
                (jobs[("free", 31)],),
            ).fetchone()
            assert row == ("failed", "summary", {"tokens": 7}, True)
            assert db.execute(
                "SELECT input <> '{}'::jsonb FROM content_jobs WHERE id = %s", (old_queued,)
            ).fetchone() == (True,)
            assert db.execute("SELECT jobs_used FROM usage_counters").fetchall() == [(3,)]

    def test_the_plan_catalog_sets_the_days(self, database_url: str, engine: Any) -> None:
        with connect(database_url) as db:
            job = finished_job(db, make_org(db), 10)
        assert Pruner(engine).run().jobs == 0
        catalog = build_catalog({"free": {"retention_days": 7}})
        assert Pruner(engine, catalog=catalog).run().jobs == 1
        with connect(database_url) as db:
            assert content(db, job) == PRUNED

    def test_an_invalid_retention_in_the_plans_file_is_refused(self) -> None:
        with pytest.raises(ValueError, match="retention_days"):
            build_catalog({"pro": {"retention_days": 0}})


class TestSmallBatches:
    def test_batches_are_small_and_together_prune_everything(
        self, database_url: str, engine: Any
    ) -> None:
        with connect(database_url) as db:
            orgs = [make_org(db, f"o{i}") for i in range(3)]
            jobs = [finished_job(db, org, 40 + n) for org in orgs for n in range(5)]
        pruner = Pruner(engine, batch_size=2, orgs_per_batch=2)
        first = pruner.batch()
        assert first.jobs == 2
        rest = pruner.run()
        assert first.jobs + rest.jobs == len(jobs)
        assert rest.batches >= 7
        with connect(database_url) as db:
            assert {content(db, j) for j in jobs} == {PRUNED}
        assert Pruner(engine).run().jobs == 0  # nothing twice

    def test_concurrent_pruners_take_each_job_once(self, database_url: str, engine: Any) -> None:
        with connect(database_url) as db:
            orgs = [make_org(db, f"o{i}") for i in range(4)]
            for org in orgs:
                for n in range(30):
                    finished_job(db, org, 40 + n)

        def prune(_: int) -> int:
            return Pruner(engine, batch_size=5, orgs_per_batch=1).run().jobs

        with ThreadPoolExecutor(4) as pool:
            assert sum(pool.map(prune, range(4))) == 120


class TestCommand:
    def test_dry_run_counts_and_changes_nothing_then_prune_prunes(
        self, database_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        with connect(database_url) as db:
            org = make_org(db)
            old, young = finished_job(db, org, 45), finished_job(db, org, 3)
        monkeypatch.setenv("DATABASE_URL", database_url)
        monkeypatch.delenv("PRESSROOM_DATABASE_URL", raising=False)
        get_settings.cache_clear()
        get_catalog.cache_clear()
        runner = CliRunner()
        dry = runner.invoke(app, ["jobs", "prune", "--dry-run"])
        assert dry.exit_code == 0, dry.output
        assert "would prune 1 jobs' content: 2 artifacts, 24 bytes" in dry.output
        assert "free 30 d" in dry.output
        with connect(database_url) as db:
            assert content(db, old) == KEPT
        real = runner.invoke(app, ["jobs", "prune"])
        assert real.exit_code == 0, real.output
        assert "pruned 1 jobs' content" in real.output
        with connect(database_url) as db:
            assert (content(db, old), content(db, young)) == (PRUNED, KEPT)
        get_settings.cache_clear()

    def test_pending_matches_what_a_prune_then_takes(self, database_url: str, engine: Any) -> None:
        with connect(database_url) as db:
            for n in range(4):
                finished_job(db, make_org(db), 31 + n)
        before = pending(engine)
        done = Pruner(engine).run()
        assert (before.jobs, before.artifacts) == (done.jobs, done.artifacts) == (4, 8)
        assert pending(engine).jobs == 0


class TestWorkerMaintenance:
    def test_a_running_worker_prunes_in_the_background(
        self, database_url: str, workers: Callable[..., WorkerProcesses]
    ) -> None:
        with connect(database_url) as db:
            job = finished_job(db, make_org(db), 45)
        workers(retention_interval_seconds="0.5").start()
        with connect(database_url) as db:
            wait_for(lambda: content(db, job) == PRUNED, timeout=60)
