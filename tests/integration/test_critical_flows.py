"""The flows the whole product depends on, end to end on a real PostgreSQL."""

from __future__ import annotations

import psycopg

from pressroom.db.url import to_libpq_url
from tests.schema import indexes

# (name, table, key columns in order, unique, backing constraint)
SEED_INDEXES = [
    ("ix_users_email", "users", ("email",), True, None),
    ("idx_memberships_org_user", "memberships", ("org_id", "user_id"), True, None),
    ("idx_subscriptions_org_status", "subscriptions", ("org_id", "status"), False, None),
    ("idx_usage_counters_org_period", "usage_counters", ("org_id", "period_month"), True, None),
    (
        "idx_content_jobs_org_created_desc",
        "content_jobs",
        ("org_id", "created_at DESC"),
        False,
        None,
    ),
    ("idx_content_jobs_status", "content_jobs", ("status",), False, None),
    ("idx_content_artifacts_job_type", "content_artifacts", ("job_id", "type"), False, None),
    (
        "uq_billing_events_provider_event_id",
        "billing_events",
        ("provider", "provider_event_id"),
        True,
        "uq_billing_events_provider_event_id",
    ),
]


class TestDatabaseMigration:
    def test_key_indexes_exist(self, database_url: str) -> None:
        with psycopg.connect(to_libpq_url(database_url)) as conn:
            listed = dict(
                conn.execute(
                    "SELECT indexname, tablename FROM pg_indexes WHERE schemaname = 'public'"
                ).fetchall()
            )
        found = indexes(database_url)
        for name, table, columns, unique, constraint in SEED_INDEXES:
            assert listed.get(name) == table, f"pg_indexes does not list {name} on {table}"
            index = found[name]
            assert index.table == table, name
            assert index.columns == columns, name
            assert index.unique is unique, name
            assert index.valid, f"{name} is INVALID"
            assert index.constraint == constraint, name
