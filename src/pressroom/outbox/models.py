"""The outbox: one row per delivery (an event to one webhook endpoint, or one e-mail)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from pressroom.db.base import Base, IdMixin, TimestampsMixin


class Channel(enum.StrEnum):
    WEBHOOK = "webhook"
    EMAIL = "email"


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    DELIVERING = "delivering"
    DELIVERED = "delivered"
    DEAD = "dead"


class OutboxMessage(IdMixin, TimestampsMixin, Base):
    __tablename__ = "outbox_messages"
    __table_args__ = (
        CheckConstraint("channel IN ('webhook', 'email')", name="channel"),
        CheckConstraint("status IN ('pending', 'delivering', 'delivered', 'dead')", name="status"),
        CheckConstraint("(channel = 'webhook') = (endpoint_id IS NOT NULL)", name="endpoint"),
        # What the delivery loop claims from: due rows, grouped by lane for fair claims.
        Index(
            "idx_outbox_messages_due",
            "lane",
            "run_after",
            "id",
            postgresql_where=text("status = 'pending'"),
        ),
        # In-flight deliveries: per-lane counts and the lease-expiry rescue.
        Index(
            "idx_outbox_messages_delivering",
            "lane",
            "lease_expires_at",
            postgresql_where=text("status = 'delivering'"),
        ),
        # One delivery per event and endpoint: a re-announced event (a usage threshold
        # crossed again after a refund) is not sent twice.
        Index("uq_outbox_messages_endpoint_event", "endpoint_id", "event_id", unique=True),
        Index("ix_outbox_messages_org_id", "org_id"),
    )

    # The org whose event this is (None: mail to a person, e.g. a password reset).
    org_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    # Fairness key: the org, or the nil UUID for mail that belongs to no org.
    lane: Mapped[uuid.UUID] = mapped_column(nullable=False)
    channel: Mapped[str] = mapped_column(Text, nullable=False)
    # Stable across retries and across endpoints: receivers dedupe on it (webhook-id).
    event_id: Mapped[uuid.UUID] = mapped_column(nullable=False)
    event_type: Mapped[str] = mapped_column(Text, nullable=False)
    endpoint_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    # The trace the delivery continues, while tracing is on (pressroom.tracing).
    trace_context: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="pending")
    attempts: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    run_after: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    # Retries stop once this is older than the retry window (a replay restarts it).
    window_started_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    lease_token: Mapped[uuid.UUID | None] = mapped_column()
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
