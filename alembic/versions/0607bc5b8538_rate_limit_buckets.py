"""rate limiting: attempt counters per key and window

Revision ID: 0607bc5b8538
Revises: 0607bc5b8537
Create Date: 2026-01-14 10:00:00

A new table only: no lock is taken on anything that already holds data.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0607bc5b8538"
down_revision: str | None = "0607bc5b8537"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rate_limit_buckets",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hits", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key", "window_start", name=op.f("pk_rate_limit_buckets")),
        if_not_exists=True,
    )
    op.create_index(
        "ix_rate_limit_buckets_window_start",
        "rate_limit_buckets",
        ["window_start"],
        unique=False,
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_index("ix_rate_limit_buckets_window_start", table_name="rate_limit_buckets")
    op.drop_table("rate_limit_buckets")
