"""The migration chain: one head, full round trips, exact downgrades, no drift, lint-clean."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from pressroom.db import migrations
from pressroom.db.url import to_libpq_url, to_sqlalchemy_url
from pressroom.models import Base
from tests.schema import indexes, redundant_indexes, snapshot

SEED_CHAIN = ["0607bc5b8535", "0607bc5b8536", "0607bc5b8537"]


def _revisions_in_order() -> list[str]:
    script = ScriptDirectory.from_config(migrations.alembic_config())
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


class TestChain:
    def test_single_head(self) -> None:
        assert len(migrations.heads()) == 1

    def test_seed_revisions_lead_the_chain(self) -> None:
        assert _revisions_in_order()[: len(SEED_CHAIN)] == SEED_CHAIN


class TestRoundTrips:
    def test_empty_to_head_then_base_then_head_again(self, empty_database_url: str) -> None:
        migrations.upgrade(empty_database_url, "head")
        at_head = snapshot(empty_database_url)
        migrations.downgrade(empty_database_url, "base")
        assert snapshot(empty_database_url) == {"columns": [], "constraints": [], "indexes": []}
        migrations.upgrade(empty_database_url, "head")
        assert snapshot(empty_database_url) == at_head

    def test_every_downgrade_restores_the_previous_schema(self, empty_database_url: str) -> None:
        for revision in _revisions_in_order():
            before = snapshot(empty_database_url)
            migrations.upgrade(empty_database_url, revision)
            after = snapshot(empty_database_url)
            migrations.downgrade(empty_database_url, "-1")
            assert snapshot(empty_database_url) == before, f"downgrade of {revision}"
            migrations.upgrade(empty_database_url, revision)
            assert snapshot(empty_database_url) == after, f"re-upgrade to {revision}"

    def test_upgrading_twice_is_a_no_op(self, database_url: str) -> None:
        before = snapshot(database_url)
        migrations.upgrade(database_url, "head")
        assert snapshot(database_url) == before


class TestHeadSchema:
    def test_models_match_migrations(self, database_url: str) -> None:
        engine = create_engine(to_sqlalchemy_url(database_url))
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        engine.dispose()
        assert diff == []

    def test_no_index_is_redundant(self, database_url: str) -> None:
        assert redundant_indexes(database_url) == []

    def test_redundancy_check_catches_a_prefix_index(self, database_url: str) -> None:
        with psycopg.connect(to_libpq_url(database_url), autocommit=True) as conn:
            conn.execute("CREATE INDEX extra_jobs_org ON content_jobs (org_id)")
            conn.execute("CREATE INDEX extra_jobs_status ON content_jobs (status)")
        found = set(redundant_indexes(database_url))
        assert ("extra_jobs_org", "idx_content_jobs_org_created_desc") in found
        assert {("extra_jobs_status", "idx_content_jobs_status")} <= found | {
            ("idx_content_jobs_status", "extra_jobs_status")
        }


class TestOnlineSafety:
    def test_offline_sql_passes_squawk(self) -> None:
        result = migrations.squawk(migrations.offline_sql())
        assert result.returncode == 0, result.stdout + result.stderr

    def test_indexes_are_built_concurrently_with_a_lock_timeout(self) -> None:
        sql = migrations.offline_sql("0607bc5b8536:0607bc5b8537")
        assert sql.index("SET lock_timeout") < sql.index("CREATE")
        creates = [line for line in sql.splitlines() if line.startswith("CREATE")]
        assert creates
        assert all("CONCURRENTLY" in line for line in creates)
        assert "UNIQUE USING INDEX uq_billing_events_provider_event_id" in sql

    def test_an_invalid_index_left_by_a_failed_run_is_rebuilt(
        self, empty_database_url: str
    ) -> None:
        migrations.upgrade(empty_database_url, "0607bc5b8536")
        with psycopg.connect(to_libpq_url(empty_database_url), autocommit=True) as conn:
            org = conn.execute(
                "INSERT INTO organizations (id, name) VALUES (gen_random_uuid(), 'o') RETURNING id"
            ).fetchone()
            assert org is not None
            for _ in range(2):
                conn.execute(
                    "INSERT INTO content_jobs (id, org_id, kind, input) "
                    "VALUES (gen_random_uuid(), %s, 'summary', '{}')",
                    (org[0],),
                )
            # A failed concurrent build leaves its index behind, marked INVALID.
            with pytest.raises(psycopg.errors.UniqueViolation):
                conn.execute(
                    "CREATE UNIQUE INDEX CONCURRENTLY idx_content_jobs_status "
                    "ON content_jobs (status)"
                )
        assert indexes(empty_database_url)["idx_content_jobs_status"].valid is False

        migrations.upgrade(empty_database_url, "head")

        rebuilt = indexes(empty_database_url)["idx_content_jobs_status"]
        assert rebuilt.valid
        assert not rebuilt.unique


class TestTenantSecurityMigration:
    """0607bc5b8542: artifacts get their job's org (existing rows backfilled, new rows by
    trigger); row-level security is on after it and off again after its downgrade."""

    def _rls(self, url: str) -> set[tuple[str, bool, bool]]:
        with psycopg.connect(to_libpq_url(url), autocommit=True) as conn:
            rows = conn.execute(
                "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
                "WHERE relname IN ('content_jobs', 'organizations') AND relkind = 'r'"
            ).fetchall()
        return {(r[0], r[1], r[2]) for r in rows}

    def test_existing_artifacts_are_backfilled_and_rls_comes_and_goes(
        self, empty_database_url: str
    ) -> None:
        migrations.upgrade(empty_database_url, "0607bc5b8540")
        with psycopg.connect(to_libpq_url(empty_database_url), autocommit=True) as conn:
            org = conn.execute(
                "INSERT INTO organizations (id, name) VALUES (gen_random_uuid(), 'o') RETURNING id"
            ).fetchone()
            assert org is not None
            job = conn.execute(
                "INSERT INTO content_jobs (id, org_id, kind, input) "
                "VALUES (gen_random_uuid(), %s, 'summary', '{}') RETURNING id",
                (org[0],),
            ).fetchone()
            assert job is not None
            conn.execute(
                "INSERT INTO content_artifacts (id, job_id, type, media_type, content, size_bytes)"
                " SELECT gen_random_uuid(), %s, 'summary', 'text/plain', 'x', 1"
                " FROM generate_series(1, 3)",
                (job[0],),
            )
        assert self._rls(empty_database_url) == {
            ("content_jobs", False, False),
            ("organizations", False, False),
        }

        migrations.upgrade(empty_database_url, "0607bc5b8542")

        with psycopg.connect(to_libpq_url(empty_database_url), autocommit=True) as conn:
            orgs = conn.execute("SELECT DISTINCT org_id FROM content_artifacts").fetchall()
            assert orgs == [(org[0],)]
            # A new artifact takes its job's org whatever the writer says.
            conn.execute(
                "INSERT INTO content_artifacts"
                " (id, job_id, org_id, type, media_type, content, size_bytes)"
                " VALUES (gen_random_uuid(), %s, gen_random_uuid(), 'seo', 'text/plain', 'y', 1)",
                (job[0],),
            )
            assert conn.execute(
                "SELECT org_id FROM content_artifacts WHERE type = 'seo'"
            ).fetchone() == (org[0],)
        assert self._rls(empty_database_url) == {
            ("content_jobs", True, True),
            ("organizations", True, True),
        }

        migrations.downgrade(empty_database_url, "0607bc5b8540")
        assert self._rls(empty_database_url) == {
            ("content_jobs", False, False),
            ("organizations", False, False),
        }


class TestJobStatusCountsMigration:
    """0607bc5b8549: the jobs that exist before it are counted (once, however often the
    backfill runs), and every change after it keeps the counts."""

    def _counts(self, conn: psycopg.Connection[Any], table: str) -> set[tuple[str, int]]:
        column = "count(*)" if table == "content_jobs" else "sum(n)"
        rows = conn.execute(
            f"SELECT status, {column} FROM {table} GROUP BY status HAVING {column} <> 0"
        )
        return {(status, int(n)) for status, n in rows}

    def test_existing_jobs_are_counted_once(self, empty_database_url: str) -> None:
        migrations.upgrade(empty_database_url, "0607bc5b8548")
        url = to_libpq_url(empty_database_url)
        with psycopg.connect(url, autocommit=True) as conn:
            org = conn.execute(
                "INSERT INTO organizations (id, name) VALUES (gen_random_uuid(), 'o') RETURNING id"
            ).fetchone()
            assert org is not None
            conn.execute(
                "INSERT INTO content_jobs (id, org_id, kind, input, status) "
                "SELECT gen_random_uuid(), %s, 'summary', '{}', "
                "CASE WHEN i <= 3 THEN 'failed' ELSE 'succeeded' END "
                "FROM generate_series(1, 10) AS i",
                (org[0],),
            )

        migrations.upgrade(empty_database_url, "0607bc5b8549")

        with psycopg.connect(url, autocommit=True) as conn:
            assert self._counts(conn, "job_status_counts") == {("failed", 3), ("succeeded", 7)}
            conn.execute("UPDATE content_jobs SET status = 'queued' WHERE status = 'failed'")
            # A re-run of the backfill (a migration that failed after it) adds nothing.
            conn.execute(_backfill_sql())
            assert self._counts(conn, "job_status_counts") == self._counts(conn, "content_jobs")


def _backfill_sql() -> str:
    module = ScriptDirectory.from_config(migrations.alembic_config()).get_revision("0607bc5b8549")
    assert module is not None
    sql: str = module.module._BACKFILL
    return sql


class TestBadConfiguration:
    def test_unreachable_database_gives_one_clear_line(self) -> None:
        env = {**os.environ, "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/nowhere"}
        env.pop("PRESSROOM_DATABASE_URL", None)
        result = subprocess.run(
            [sys.executable, "-m", "alembic", "upgrade", "head"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode != 0
        assert "Traceback" not in result.stderr
        assert "cannot connect to PostgreSQL at 127.0.0.1:1/nowhere" in result.stderr

    def test_wrong_scheme_is_named(self) -> None:
        env = {**os.environ, "DATABASE_URL": "mysql://u@h/db"}
        env.pop("PRESSROOM_DATABASE_URL", None)
        result = subprocess.run(
            [sys.executable, "-m", "alembic", "upgrade", "head"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode != 0
        assert "Traceback" not in result.stderr
        assert "DATABASE_URL must start with postgresql://" in result.stderr
