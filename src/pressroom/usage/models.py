from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from pressroom.db.base import Base, IdMixin, TimestampsMixin


class UsageCounter(IdMixin, TimestampsMixin, Base):
    """Jobs consumed by one organization in one UTC calendar month."""

    __tablename__ = "usage_counters"
    __table_args__ = (
        CheckConstraint("extract(day FROM period_month) = 1", name="period_month_first_day"),
        CheckConstraint("jobs_used >= 0", name="jobs_used_nonnegative"),
        # The seed's index is the uniqueness rule the quota upsert's ON CONFLICT relies on.
        Index("idx_usage_counters_org_period", "org_id", "period_month", unique=True),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    period_month: Mapped[date] = mapped_column(Date, nullable=False)
    jobs_used: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
