from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from pressroom.db.base import Base, CreatedAtMixin, IdMixin, TimestampsMixin


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


class ContentJob(IdMixin, TimestampsMixin, Base):
    __tablename__ = "content_jobs"
    __table_args__ = (
        CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed', 'canceled')", name="status"
        ),
        CheckConstraint("attempts >= 0 AND attempts <= max_attempts + 1", name="attempts"),
        Index("idx_content_jobs_org_created_desc", "org_id", text("created_at DESC")),
        Index("idx_content_jobs_status", "status"),
        # The queue: only queued rows, grouped by org so a claim can visit orgs fairly.
        Index(
            "idx_content_jobs_queue",
            "org_id",
            text("priority DESC"),
            "run_after",
            "id",
            postgresql_where=text("status = 'queued'"),
        ),
        # Running jobs: per-org concurrency counts and the lease-expiry rescue.
        Index(
            "idx_content_jobs_running",
            "org_id",
            "lease_expires_at",
            postgresql_where=text("status = 'running'"),
        ),
        # Retention: finished jobs whose content is still kept, per org, oldest first.
        Index(
            "idx_content_jobs_prunable",
            "org_id",
            "finished_at",
            postgresql_where=text("content_pruned_at IS NULL AND finished_at IS NOT NULL"),
        ),
        Index(
            "uq_content_jobs_org_idempotency_key",
            "org_id",
            "idempotency_key",
            unique=True,
            postgresql_where=text("idempotency_key IS NOT NULL"),
        ),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    input: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="queued")
    priority: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    attempts: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    max_attempts: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="3")
    # Times a worker died holding this job (its lease expired). Counted apart from
    # `attempts`, which are for the job's own failures; capped by the retry policy.
    lease_expiries: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    run_after: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    lease_token: Mapped[uuid.UUID | None] = mapped_column()
    leased_by: Mapped[str | None] = mapped_column(Text)
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancel_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    idempotency_key: Mapped[str | None] = mapped_column(Text)
    # Hash of the submitted request, so a reused key with another body is refused.
    request_fingerprint: Mapped[str | None] = mapped_column(Text)
    # The usage month this job consumed a unit of, and when (if ever) it was given back.
    quota_period: Mapped[date | None] = mapped_column(Date)
    quota_refunded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Engine accounting, e.g. {"model": ..., "prompt_tokens": ..., "completion_tokens": ...}.
    usage: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # When retention blanked the input and deleted the artifacts (pressroom.jobs.retention).
    content_pruned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The submitting request's trace context (pressroom.tracing), while tracing is on.
    trace_context: Mapped[str | None] = mapped_column(Text)


class JobStatusCount(Base):
    """A change to one org's count of jobs in one status, appended by the database as jobs
    change (trigger `pressroom_count_jobs`, 0607bc5b8549): an org's count is the sum of its
    rows, which pressroom.jobs.status_counts folds back to one per status. No foreign key
    to the org, so appending costs no lookup of it on the queue's hot path."""

    __tablename__ = "job_status_counts"
    __table_args__ = (
        Index("idx_job_status_counts_org", "org_id", "status", postgresql_include=["n"]),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    org_id: Mapped[uuid.UUID] = mapped_column(nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False)
    n: Mapped[int] = mapped_column(BigInteger, nullable=False)


class ContentArtifact(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "content_artifacts"
    __table_args__ = (Index("idx_content_artifacts_job_type", "job_id", "type"),)

    job_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("content_jobs.id", ondelete="CASCADE"), nullable=False
    )
    # The job's org, copied by a trigger on insert (0607bc5b8542): row-level security
    # needs it on the row itself, and no writer can set another.
    org_id: Mapped[uuid.UUID] = mapped_column(nullable=False)
    type: Mapped[str] = mapped_column(Text, nullable=False)
    media_type: Mapped[str] = mapped_column(Text, nullable=False)
    content: Mapped[str] = mapped_column(Text, nullable=False)
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    size_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False)
