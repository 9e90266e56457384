"""job queue indexes, idempotency keys and quota tracking on content_jobs

Revision ID: 0607bc5b8540
Revises: 0607bc5b8539
Create Date: 2026-11-25 03:30:00

Online-safe: the new columns are nullable with no default (a catalog-only change under a
brief lock, bounded by lock_timeout); the indexes are partial and built CONCURRENTLY.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from pressroom.db.online_ddl import create_index_concurrently, drop_index_concurrently

revision: str = "0607bc5b8540"
down_revision: str | None = "0607bc5b8539"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_COLUMNS = [
    sa.Column("idempotency_key", sa.Text(), nullable=True),
    sa.Column("request_fingerprint", sa.Text(), nullable=True),
    sa.Column("quota_period", sa.Date(), nullable=True),
    sa.Column("quota_refunded_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("usage", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
]


def upgrade() -> None:
    for column in NEW_COLUMNS:
        op.add_column("content_jobs", column, if_not_exists=True)
    create_index_concurrently(
        "idx_content_jobs_queue",
        "content_jobs",
        "org_id, priority DESC, run_after, id",
        where="status = 'queued'",
    )
    create_index_concurrently(
        "idx_content_jobs_running",
        "content_jobs",
        "org_id, lease_expires_at",
        where="status = 'running'",
    )
    create_index_concurrently(
        "uq_content_jobs_org_idempotency_key",
        "content_jobs",
        "org_id, idempotency_key",
        unique=True,
        where="idempotency_key IS NOT NULL",
    )


def downgrade() -> None:
    drop_index_concurrently("uq_content_jobs_org_idempotency_key")
    drop_index_concurrently("idx_content_jobs_running")
    drop_index_concurrently("idx_content_jobs_queue")
    for column in reversed(NEW_COLUMNS):
        op.drop_column("content_jobs", column.name)
