"""outbox, webhook endpoints and attempts, dev mailbox, account tokens, email_verified_at

Revision ID: 0607bc5b8543
Revises: 0607bc5b8541
Create Date: 2026-12-01 20:30:00

Online-safe: new tables (their indexes are built while they are empty, in the same
transaction), and one nullable column without a default on users (a catalog-only change
under a brief lock, bounded by lock_timeout). Existing accounts start unverified: they
verify through the resend endpoint (docs/email.md).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0607bc5b8543"
down_revision: str | None = "0607bc5b8541"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    ]


def _created_at() -> sa.Column[object]:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
    )


def _org_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["org_id"],
        ["organizations.id"],
        name=op.f(f"fk_{table}_org_id_organizations"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.add_column(
        "users",
        sa.Column("email_verified_at", sa.DateTime(timezone=True), nullable=True),
        if_not_exists=True,
    )
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "event_types",
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text("'{}'::text[]"),
            nullable=False,
        ),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("previous_secret", sa.Text(), nullable=True),
        sa.Column("previous_secret_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        *_timestamps(),
        _org_fk("webhook_endpoints"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoints")),
        if_not_exists=True,
    )
    op.create_index(
        "ix_webhook_endpoints_org_id", "webhook_endpoints", ["org_id"], if_not_exists=True
    )
    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=True),
        sa.Column("lane", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("endpoint_id", sa.Uuid(), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("attempts", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column(
            "run_after", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "window_started_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("lease_token", sa.Uuid(), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        *_timestamps(),
        sa.CheckConstraint(
            "channel IN ('webhook', 'email')", name=op.f("ck_outbox_messages_channel")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'delivering', 'delivered', 'dead')",
            name=op.f("ck_outbox_messages_status"),
        ),
        sa.CheckConstraint(
            "(channel = 'webhook') = (endpoint_id IS NOT NULL)",
            name=op.f("ck_outbox_messages_endpoint"),
        ),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoints.id"],
            name=op.f("fk_outbox_messages_endpoint_id_webhook_endpoints"),
            ondelete="CASCADE",
        ),
        _org_fk("outbox_messages"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_messages")),
        if_not_exists=True,
    )
    op.create_index(
        "idx_outbox_messages_due",
        "outbox_messages",
        ["lane", "run_after", "id"],
        postgresql_where=sa.text("status = 'pending'"),
        if_not_exists=True,
    )
    op.create_index(
        "idx_outbox_messages_delivering",
        "outbox_messages",
        ["lane", "lease_expires_at"],
        postgresql_where=sa.text("status = 'delivering'"),
        if_not_exists=True,
    )
    op.create_index(
        "uq_outbox_messages_endpoint_event",
        "outbox_messages",
        ["endpoint_id", "event_id"],
        unique=True,
        if_not_exists=True,
    )
    op.create_index("ix_outbox_messages_org_id", "outbox_messages", ["org_id"], if_not_exists=True)
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("endpoint_id", sa.Uuid(), nullable=False),
        sa.Column("delivery_id", sa.Uuid(), nullable=False),
        sa.Column("attempt", sa.BigInteger(), nullable=False),
        sa.Column("status_code", sa.BigInteger(), nullable=True),
        sa.Column("duration_ms", sa.BigInteger(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        _created_at(),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["outbox_messages.id"],
            name=op.f("fk_webhook_attempts_delivery_id_outbox_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoints.id"],
            name=op.f("fk_webhook_attempts_endpoint_id_webhook_endpoints"),
            ondelete="CASCADE",
        ),
        _org_fk("webhook_attempts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_attempts")),
        if_not_exists=True,
    )
    op.create_index(
        "ix_webhook_attempts_endpoint_id_id",
        "webhook_attempts",
        ["endpoint_id", sa.text("id DESC")],
        if_not_exists=True,
    )
    op.create_index(
        "ix_webhook_attempts_delivery_id", "webhook_attempts", ["delivery_id"], if_not_exists=True
    )
    op.create_table(
        "account_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("token_hash", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        _created_at(),
        sa.CheckConstraint(
            "purpose IN ('password_reset', 'email_verification')",
            name=op.f("ck_account_tokens_purpose"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_account_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_tokens")),
        if_not_exists=True,
    )
    op.create_index(
        "ix_account_tokens_token_hash",
        "account_tokens",
        ["token_hash"],
        unique=True,
        if_not_exists=True,
    )
    op.create_index("ix_account_tokens_user_id", "account_tokens", ["user_id"], if_not_exists=True)
    op.create_table(
        "dev_mail",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("to_address", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("text_body", sa.Text(), nullable=False),
        sa.Column("html_body", sa.Text(), nullable=False),
        _created_at(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dev_mail")),
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_table("dev_mail")
    op.drop_table("account_tokens")
    op.drop_table("webhook_attempts")
    op.drop_table("outbox_messages")
    op.drop_table("webhook_endpoints")
    op.drop_column("users", "email_verified_at")
