"""billing events pending index

Revision ID: 0607bc5b8539
Revises: 0607bc5b8538
Create Date: 2026-01-20 09:00:00

A partial index over the inbox rows not applied yet (processed_at IS NULL): the checkout
that links an org re-applies that subscription's waiting events, and `pressroom billing
reprocess` walks them oldest first, without scanning every event ever received.
Built CONCURRENTLY (online-safe); the table keeps taking webhooks meanwhile.
"""

from collections.abc import Sequence

from pressroom.db.online_ddl import create_index_concurrently, drop_index_concurrently

revision: str = "0607bc5b8539"
down_revision: str | None = "0607bc5b8538"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_index_concurrently(
        "ix_billing_events_pending",
        "billing_events",
        "provider, received_at",
        where="processed_at IS NULL",
    )


def downgrade() -> None:
    drop_index_concurrently("ix_billing_events_pending")
