"""idx_content_jobs_org_status: one org's job counts by status from the index alone

Revision ID: 0607bc5b8546
Revises: 0607bc5b8545
Create Date: 2026-12-01 22:00:00

Online-safe: built CONCURRENTLY (no write lock on content_jobs). The counts endpoint reads
only (org_id, status), so with a current visibility map (the queue's autovacuum settings,
0607bc5b8544) it is an index-only scan over that org's entries and never visits the heap.
"""

from collections.abc import Sequence

from pressroom.db.online_ddl import create_index_concurrently, drop_index_concurrently

revision: str = "0607bc5b8546"
down_revision: str | None = "0607bc5b8545"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_index_concurrently("idx_content_jobs_org_status", "content_jobs", "org_id, status")


def downgrade() -> None:
    drop_index_concurrently("idx_content_jobs_org_status")
