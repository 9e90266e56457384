"""add database indexes for common queries

Revision ID: 0607bc5b8537
Revises: 0607bc5b8536
Create Date: 2026-01-13 09:00:00

Online-safe: every index is built CONCURRENTLY outside a transaction (writes go on while
it builds), lock waits give up after online_ddl.LOCK_TIMEOUT, and a re-run after a failure
rebuilds any index the failure left INVALID. Constraint changes take only a brief lock.

Where a seed index would duplicate an existing uniqueness rule, the seed's index *becomes*
that rule (docs/database-indexes.md): idx_memberships_org_user and
idx_usage_counters_org_period are unique and replace the constraints that would otherwise
index the same columns twice.
"""

from collections.abc import Sequence

from pressroom.db.online_ddl import (
    add_unique_constraint_using_index,
    create_index_concurrently,
    drop_constraint,
    drop_index_concurrently,
)

revision: str = "0607bc5b8537"
down_revision: str | None = "0607bc5b8536"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_index_concurrently(
        "idx_memberships_org_user", "memberships", "org_id, user_id", unique=True
    )
    drop_constraint("memberships", "uq_memberships_org_id_user_id")

    create_index_concurrently("idx_subscriptions_org_status", "subscriptions", "org_id, status")

    create_index_concurrently(
        "idx_usage_counters_org_period", "usage_counters", "org_id, period_month", unique=True
    )
    drop_constraint("usage_counters", "uq_usage_counters_org_id_period_month")

    create_index_concurrently(
        "idx_content_jobs_org_created_desc", "content_jobs", "org_id, created_at DESC"
    )
    create_index_concurrently("idx_content_jobs_status", "content_jobs", "status")

    # Event ids are unique per provider, not globally: widen the rule to the pair.
    create_index_concurrently(
        "uq_billing_events_provider_event_id",
        "billing_events",
        "provider, provider_event_id",
        unique=True,
    )
    add_unique_constraint_using_index("billing_events", "uq_billing_events_provider_event_id")
    drop_constraint("billing_events", "billing_events_provider_event_id_key")


def downgrade() -> None:
    # Narrowing back to a global event-id rule fails if two providers share an id
    # (docs/migration-rollback.md says how to find and resolve those rows first).
    create_index_concurrently(
        "billing_events_provider_event_id_key",
        "billing_events",
        "provider_event_id",
        unique=True,
    )
    add_unique_constraint_using_index("billing_events", "billing_events_provider_event_id_key")
    drop_constraint("billing_events", "uq_billing_events_provider_event_id")

    drop_index_concurrently("idx_content_jobs_status")
    drop_index_concurrently("idx_content_jobs_org_created_desc")

    create_index_concurrently(
        "uq_usage_counters_org_id_period_month",
        "usage_counters",
        "org_id, period_month",
        unique=True,
    )
    add_unique_constraint_using_index("usage_counters", "uq_usage_counters_org_id_period_month")
    drop_index_concurrently("idx_usage_counters_org_period")

    drop_index_concurrently("idx_subscriptions_org_status")

    create_index_concurrently(
        "uq_memberships_org_id_user_id", "memberships", "org_id, user_id", unique=True
    )
    add_unique_constraint_using_index("memberships", "uq_memberships_org_id_user_id")
    drop_index_concurrently("idx_memberships_org_user")
