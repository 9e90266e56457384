"""content_jobs.lease_expiries: crash rescues counted apart from failed attempts

Revision ID: 0607bc5b8541
Revises: 0607bc5b8540
Create Date: 2026-12-01 20:40:00

Online-safe: a NOT NULL column with a constant default is a catalog-only change since
PostgreSQL 11 (no table rewrite), under a brief lock bounded by lock_timeout.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0607bc5b8541"
down_revision: str | None = "0607bc5b8540"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "content_jobs",
        sa.Column("lease_expiries", sa.BigInteger(), server_default="0", nullable=False),
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_column("content_jobs", "lease_expiries")
